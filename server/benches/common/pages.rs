//! Pages over HTTP for the page benchmarks: a server with a logged-in operator, a
//! simulated history loaded through the webhook's own path, and timed GETs.

use app::domain::sessions::EngineConfig;
use app::domain::time::EpochMs;
use sea_orm::{DatabaseConnection, TransactionTrait};
use simulator::{self, Noise, SimConfig};
use std::time::{Duration, Instant};

pub const DAY_MS: i64 = 86_400_000;

/// A number from the environment, or `default`.
pub fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

pub struct Server {
    pub base: String,
    pub cookie: String,
    pub db: DatabaseConnection,
    _dir: Option<tempfile::TempDir>,
}

pub async fn server() -> Server {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    if std::env::var_os("BENCH_KEEP_DB").is_some() {
        let kept = dir.path().join("bench.db");
        eprintln!("BENCH_KEEP_DB: the database stays at {}", kept.display());
    }
    let (base, db) = super::start(&url, dir.path(), "bench-token").await;
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
        _dir: if std::env::var_os("BENCH_KEEP_DB").is_some() {
            let _ = dir.keep();
            None
        } else {
            Some(dir)
        },
    }
}

/// Stores a simulated history through the webhook's parse-and-store path, in large
/// transactions, then processes it in large batches. Returns the vehicle ids.
pub async fn load(db: &DatabaseConnection, vehicles: usize, days: f64, seed: u64) -> Vec<String> {
    let now = chrono::Utc::now().timestamp_millis();
    load_config(
        db,
        &SimConfig {
            vehicles,
            days,
            seed,
            start_ms: now - (days * DAY_MS as f64) as i64,
            noise: Noise::NONE,
            misbehave: false,
        },
    )
    .await
}

/// [`load`] for any simulation (processed as of now).
pub async fn load_config(db: &DatabaseConnection, config: &SimConfig) -> Vec<String> {
    let started = Instant::now();
    let now = chrono::Utc::now().timestamp_millis();
    let (vehicles, days) = (config.vehicles, config.days);
    let sim = simulator::generate(config);
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
pub async fn time_get(server: &Server, path: &str, runs: usize) -> (f64, f64, usize) {
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

pub fn row(what: &str, (median, max, bytes): (f64, f64, usize)) {
    println!(
        "| {what} | {median:.1} ms | {max:.1} ms | {} KB |",
        bytes / 1024
    );
}
