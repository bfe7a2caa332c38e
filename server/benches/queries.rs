//! How long pages and queries take as history grows, as printed figures.
//!
//! `cargo bench -p server --bench queries` loads simulated histories (`chargelog
//! simulate`'s generator) into SQLite through the same parse-and-store path as the
//! webhook, re-derives the sessions, and times, over HTTP with a logged-in operator:
//! the vehicle page (server-rendered), its session list and its energy buckets, for one
//! vehicle with 1 year and with 10 years of history; and the fleet page and vehicle list
//! for a fleet of 1 000 vehicles. Knobs: `BENCH_FLEET` (1000), `BENCH_FLEET_DAYS` (3).

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use app::domain::sessions::EngineConfig;
use app::domain::time::EpochMs;
use sea_orm::{DatabaseConnection, TransactionTrait};
use simulator::{self, Noise, SimConfig};
use std::time::{Duration, Instant};

const DAY_MS: i64 = 86_400_000;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct Server {
    base: String,
    cookie: String,
    db: DatabaseConnection,
    _dir: tempfile::TempDir,
}

async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (base, db) = common::start(&url, dir.path(), "bench-token").await;
    let now = server::clock::now_ms();
    let user = server::http::auth::add_user(
        &db,
        &Default::default(),
        "bench",
        "a long bench password",
        now,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let token = server::http::auth::start_session(&db, user, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    Server {
        base,
        cookie: format!("{}={token}", server::http::auth::SESSION_COOKIE),
        db,
        _dir: dir,
    }
}

/// Stores a simulated history through the webhook's parse-and-store path, in large
/// transactions, then processes it in large batches. Returns the vehicle ids.
async fn load(db: &DatabaseConnection, vehicles: usize, days: usize, seed: u64) -> Vec<String> {
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let sim = simulator::generate(&SimConfig {
        vehicles,
        days: days as f64,
        seed,
        start_ms: now - days as i64 * DAY_MS,
        noise: Noise::NONE,
    });
    let count = sim.deliveries.len();
    for chunk in sim.deliveries.chunks(2_000) {
        let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
        for delivery in chunk {
            let at = EpochMs::new(delivery.delivered_at).unwrap_or_else(|e| panic!("{e}"));
            let (record, effect) = server::webhook::plan::plan_body(delivery.body.as_bytes(), at)
                .unwrap_or_else(|e| panic!("{e}"));
            server::webhook::accept::accept_in(&txn, record, &effect)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
        }
        txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    }
    let as_of = EpochMs::new(now).unwrap_or_else(|e| panic!("{e}"));
    server::webhook::apply::drain(db, &EngineConfig::default(), 2_000, as_of)
        .await
        .unwrap_or_else(|e| panic!("{:?}", e.error));
    let ids: Vec<String> = sim.truth.vehicles.iter().map(|v| v.id.clone()).collect();
    eprintln!(
        "loaded {count} deliveries, {} sessions ({vehicles} vehicles × {days} days) in {:.0} s",
        sim.truth.sessions.len(),
        started.elapsed().as_secs_f64()
    );
    ids
}

/// Median and slowest of `runs` sequential GETs (after two to warm up), ms.
async fn time_get(server: &Server, path: &str, runs: usize) -> (f64, f64, usize) {
    let client = reqwest::Client::new();
    let mut times = Vec::with_capacity(runs);
    let mut bytes = 0;
    for i in 0..runs + 2 {
        let started = Instant::now();
        let response = client
            .get(format!("{}{path}", server.base))
            .header("cookie", &server.cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert!(
            response.status().is_success(),
            "{path}: {}",
            response.status()
        );
        bytes = response.bytes().await.map_or(0, |b| b.len());
        if i >= 2 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    (
        ms(times[times.len() / 2]),
        ms(times[times.len() - 1]),
        bytes,
    )
}

fn row(what: &str, (median, max, bytes): (f64, f64, usize)) {
    println!(
        "| {what} | {median:.1} ms | {max:.1} ms | {} KB |",
        bytes / 1024
    );
}

async fn run() {
    println!(
        "# Query and page times ({} cores, SQLite)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| request | median | slowest | answer |");
    println!("|---|---|---|---|");
    for years in [1, 10] {
        let server = server().await;
        let days = 365 * years;
        let ids = load(&server.db, 1, days, 7).await;
        let id = &ids[0];
        let from = chrono::DateTime::from_timestamp_millis(
            chrono::Utc::now().timestamp_millis() - days as i64 * DAY_MS,
        )
        .map(|t| t.format("%Y-%m-%dT00:00:00Z").to_string())
        .unwrap_or_default();
        let label = format!("{years} year{}", if years > 1 { "s" } else { "" });
        row(
            &format!("vehicle page, {label}"),
            time_get(&server, &format!("/vehicles/{id}"), 20).await,
        );
        row(
            &format!("session list (API, first 50), {label}"),
            time_get(&server, &format!("/api/v1/vehicles/{id}/sessions"), 20).await,
        );
        row(
            &format!("energy by day, last 30 days, {label}"),
            time_get(
                &server,
                &format!("/api/v1/vehicles/{id}/energy?bucket=day"),
                20,
            )
            .await,
        );
        row(
            &format!("energy by month, whole history, {label}"),
            time_get(
                &server,
                &format!("/api/v1/vehicles/{id}/energy?bucket=month&from={from}"),
                20,
            )
            .await,
        );
    }
    let fleet = knob("BENCH_FLEET", 1000);
    let fleet_days = knob("BENCH_FLEET_DAYS", 3);
    let server = server().await;
    load(&server.db, fleet, fleet_days, 11).await;
    row(
        &format!("fleet page, {fleet} vehicles"),
        time_get(&server, "/", 10).await,
    );
    row(
        &format!("vehicle list (API), {fleet} vehicles"),
        time_get(&server, "/api/v1/vehicles", 10).await,
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}
