//! Signature checks cost the same whatever the signature: printed figures, per check, for
//! a right one, wrong ones differing in the first or the last byte, and a malformed one.
//!
//! `cargo bench -p server --bench signature`. The HMAC over the body is computed for every
//! request before the received value is looked at, and compared with `Mac::verify_slice`
//! (constant time), so a wrong signature teaches a prober nothing by its timing.

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use secrecy::SecretString;
use server::webhook::signature::Verifier;
use std::time::Instant;

const ROUNDS: usize = 9;
const CHECKS: usize = 20_000;

fn main() {
    let verifier = Verifier::new(SecretString::from("bench-token".to_owned()));
    let body = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/03_charge_start.json"),
    )
    .unwrap_or_else(|e| panic!("fixture: {e}"));
    let right = verifier.sign(&body);
    let flip = |at: usize| {
        let mut bytes = right.clone().into_bytes();
        bytes[at] = if bytes[at] == b'0' { b'1' } else { b'0' };
        String::from_utf8(bytes).unwrap_or_else(|e| panic!("{e}"))
    };
    let cases = [
        ("right", right.clone()),
        ("wrong first byte", flip(0)),
        ("wrong last byte", flip(right.len() - 1)),
        ("malformed (not hex)", "zz".repeat(32)),
    ];
    // Rounds interleave the cases, so drift of the machine touches all of them alike.
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
    for _ in 0..ROUNDS {
        for (i, (name, header)) in cases.iter().enumerate() {
            let started = Instant::now();
            let mut accepted = 0;
            for _ in 0..CHECKS {
                if verifier
                    .verify(std::hint::black_box(&body), Some(header.as_bytes()))
                    .is_ok()
                {
                    accepted += 1;
                }
            }
            let expected = if *name == "right" { CHECKS } else { 0 };
            assert_eq!(accepted, expected, "{name}");
            times[i].push(started.elapsed().as_nanos() as f64 / CHECKS as f64);
        }
    }
    println!(
        "# Signature checks over a {} byte body, median of {ROUNDS} rounds of {CHECKS}\n",
        body.len()
    );
    println!("| signature | per check | fastest round | slowest round |");
    println!("|---|---|---|---|");
    for ((name, _), mut t) in cases.iter().zip(times) {
        t.sort_by(f64::total_cmp);
        println!(
            "| {name} | {:.0} ns | {:.0} ns | {:.0} ns |",
            t[ROUNDS / 2],
            t[0],
            t[ROUNDS - 1]
        );
    }
}
