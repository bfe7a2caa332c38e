//! The input of `ingest` and `ingest_db`, read the same way by both: webhook bodies
//! separated by the byte 0x1E (the record separator of RFC 7464 JSON text sequences), the
//! `i`th received `i` seconds after the fixtures' "now", and the "now" sessions are
//! derived at, drawn from a hash of the input.

use app::domain::time::EpochMs;

/// Separates the bodies of one input.
const SEPARATOR: u8 = 0x1E;
/// More bodies than this are ignored: each one re-derives everything.
const MAX_BODIES: usize = 48;
/// 2026-03-14 21:50 UTC, the fixtures' "now".
const NOW_MS: i64 = 1_773_525_000_000;
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

pub struct Input<'a> {
    data: &'a [u8],
    /// A hash of the whole input, for choices that must replay (`ingest`'s shuffles;
    /// `ingest_db` has none).
    #[allow(dead_code)]
    pub seed: u64,
    /// When the sessions are derived: "now" decides only whether a session still
    /// charging at the end went stale, so both sides of the fixtures' times are tried.
    pub as_of: EpochMs,
}

impl<'a> Input<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        let seed = fnv1a(data);
        let as_of = EpochMs::new(if seed & 1 == 0 {
            NOW_MS
        } else {
            NOW_MS + DAY_MS
        })
        .expect("a valid time");
        Input { data, seed, as_of }
    }

    /// Each body with its index and the time it was received.
    pub fn bodies(&self) -> impl Iterator<Item = (usize, &'a [u8], EpochMs)> {
        self.data
            .split(|b| *b == SEPARATOR)
            .take(MAX_BODIES)
            .enumerate()
            .map(|(i, body)| {
                let received_at = EpochMs::new(NOW_MS + i as i64 * 1000).expect("a valid time");
                (i, body, received_at)
            })
    }
}

fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
