//! Session derivation and ingest cost, printed as figures (not a pass/fail test).
//!
//! `cargo bench -p server --bench sessions` prints:
//! 1. how long the pure engine takes to derive one vehicle's sessions from a year of
//!    readings (full derivation, as `chargelog rederive` does);
//! 2. what one delivery costs end to end (HTTP, signature, one SQLite transaction with
//!    readings, latest state and session update, fsync) as the vehicle's history grows.

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use app::domain::sessions::{derive, EngineConfig, Observation, ObservedValue};
use app::domain::signals::*;
use app::domain::time::EpochMs;
use secrecy::SecretString;
use serde_json::json;
use server::webhook::signature::Verifier;
use std::time::{Duration, Instant};

const T0: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const MIN: i64 = 60_000;
const TOKEN: &str = "bench-token";

/// One snapshot of a synthetic EV day: parked hourly, charging 18:00-21:00 every 5 min.
fn day_snapshots(day: i64) -> Vec<(i64, Vec<(&'static str, ObservedValue)>)> {
    let mut out = Vec::new();
    let base = T0 + day * 1440 * MIN;
    for hour in 0..24 {
        if (18..21).contains(&hour) {
            continue;
        }
        out.push((
            base + hour * 60 * MIN,
            vec![
                (IS_CHARGING, ObservedValue::Bool(false)),
                (IS_CABLE_CONNECTED, ObservedValue::Bool(false)),
                (STATE_OF_CHARGE, ObservedValue::Number(40.0)),
            ],
        ));
    }
    for step in 0..36 {
        let kwh = step as f64 * 0.9;
        out.push((
            base + (18 * 60 + step * 5) * MIN,
            vec![
                (IS_CHARGING, ObservedValue::Bool(step < 35)),
                (IS_CABLE_CONNECTED, ObservedValue::Bool(true)),
                (ENERGY_ADDED, ObservedValue::Number(kwh)),
                (WATTAGE, ObservedValue::Number(11_000.0)),
                (STATE_OF_CHARGE, ObservedValue::Number(40.0 + kwh)),
            ],
        ));
    }
    out.sort_by_key(|(at, _)| *at);
    out
}

fn year_of_observations(days: i64) -> Vec<Observation> {
    (0..days)
        .flat_map(day_snapshots)
        .flat_map(|(at, values)| {
            values.into_iter().map(move |(code, value)| Observation {
                at: EpochMs::new(at).ok(),
                code: code.to_owned(),
                value,
                first_delivery: false,
            })
        })
        .collect()
}

fn bench_engine() {
    println!("## Engine: full derivation of one vehicle");
    println!("| history | readings | sessions | time per derivation |");
    println!("|---|---|---|---|");
    for days in [30, 365] {
        let obs = year_of_observations(days);
        let Ok(as_of) = EpochMs::new(T0 + (days + 1) * 1440 * MIN) else {
            unreachable!("the benchmark's history lies between 1970 and 9999")
        };
        let config = EngineConfig::default();
        let runs = if days > 100 { 5 } else { 20 };
        let mut sessions = 0;
        let started = Instant::now();
        for _ in 0..runs {
            sessions = derive("bench", &obs, &config, as_of).len();
        }
        let each = started.elapsed() / runs;
        println!(
            "| {days} days | {} | {sessions} | {:.1} ms |",
            obs.len(),
            ms(each)
        );
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn delivery(seq: usize, at: i64, values: &[(&'static str, ObservedValue)]) -> Vec<u8> {
    let signals: Vec<serde_json::Value> = values
        .iter()
        .map(|(code, v)| {
            let body = match v {
                ObservedValue::Bool(b) => json!({ "value": b }),
                ObservedValue::Number(n) => json!({ "value": n }),
                _ => json!({}),
            };
            json!({
                "code": code, "body": body,
                "meta": { "oemUpdatedAt": at, "retrievedAt": at + 5000 },
                "status": { "value": "SUCCESS" }
            })
        })
        .chain([
            // Every delivery carries all subscribed signals: a static capacity (no time)
            // and a parked location from the start of the day, as real vehicles send them.
            json!({"code": NOMINAL_CAPACITY, "body": {"capacity": 75, "unit": "kWh"},
                   "meta": {"oemUpdatedAt": 0, "retrievedAt": 0}, "status": {"value": "SUCCESS"}}),
            json!({"code": PRECISE_LOCATION, "body": {"latitude": 59.33, "longitude": 18.06},
                   "meta": {"oemUpdatedAt": at - at % 86_400_000, "retrievedAt": at + 5000},
                   "status": {"value": "SUCCESS"}}),
        ])
        .collect();
    serde_json::to_vec(&json!({
        "eventId": format!("bench-{seq}"),
        "eventType": "VEHICLE_STATE",
        "data": {
            "user": { "id": "u" },
            "vehicle": { "id": "bench-vehicle", "make": "BENCH", "model": "EV", "year": 2026 },
            "signals": signals
        },
        "triggers": [{ "type": "SIGNAL_UPDATED", "signal": { "code": IS_CHARGING } }],
        "meta": { "deliveryId": format!("d-{seq}"), "deliveredAt": at + 6000, "mode": "LIVE", "version": "4.0" }
    }))
    .unwrap_or_default()
}

async fn bench_ingest(days: i64) {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (base, db) = common::start(&url, dir.path(), TOKEN).await;
    let url = format!("{base}/webhooks/smartcar");
    let client = reqwest::Client::new();
    let verifier = Verifier::new(SecretString::from(TOKEN.to_owned()));

    println!();
    println!("## Ingest: one vehicle, deliveries in order, SQLite (WAL, synchronous=FULL)");
    println!(
        "| deliveries stored before | acknowledged: mean | p99 | applied: mean | p99 | deliveries/s (sequential, applied) |"
    );
    println!("|---|---|---|---|---|---|");
    let mut seq = 0;
    let mut window: Vec<Duration> = Vec::new();
    let mut applied: Vec<Duration> = Vec::new();
    let mut window_started = Instant::now();
    let report_every = 2500;
    for day in 0..days {
        for (at, values) in day_snapshots(day) {
            let body = delivery(seq, at, &values);
            let sig = verifier.sign(&body);
            let started = Instant::now();
            let response = client
                .post(&url)
                .header("SC-Signature", sig)
                .body(body)
                .send()
                .await
                .unwrap_or_else(|e| panic!("post: {e}"));
            assert!(response.status().is_success(), "{}", response.status());
            window.push(started.elapsed());
            // Applied: the processor has stored its readings and updated the sessions.
            while server::webhook::queue::count_waiting(&db)
                .await
                .unwrap_or_else(|e| panic!("count: {e}"))
                > 0
            {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
            applied.push(started.elapsed());
            seq += 1;
            if window.len() == report_every {
                let stats = |w: &mut Vec<Duration>| {
                    w.sort();
                    let mean = w.iter().sum::<Duration>() / w.len() as u32;
                    (ms(mean), ms(w[w.len() * 99 / 100]))
                };
                let (ack_mean, ack_p99) = stats(&mut window);
                let (done_mean, done_p99) = stats(&mut applied);
                let rate = window.len() as f64 / window_started.elapsed().as_secs_f64();
                println!(
                    "| {} | {ack_mean:.2} ms | {ack_p99:.2} ms | {done_mean:.2} ms | {done_p99:.2} ms | {rate:.0} |",
                    seq - report_every,
                );
                window.clear();
                applied.clear();
                window_started = Instant::now();
            }
        }
    }
}

fn main() {
    println!(
        "# chargelog session benchmarks ({} cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    bench_engine();
    let days: i64 = std::env::var("BENCH_INGEST_DAYS")
        .ok()
        .and_then(|d| d.parse().ok())
        .unwrap_or(365);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(bench_ingest(days));
}
