//! Durable ingest throughput against the ceiling of this machine, as printed figures.
//!
//! `cargo bench -p server --bench ingest` sends the same unique, signed deliveries of a
//! simulated fleet (`chargelog simulate`'s generator, no noise) over HTTP:
//! 1. to a bare axum endpoint that reads the body and answers 200: the most this machine
//!    does with this client, server and HTTP stack;
//! 2. to the durable floor: the same bare endpoint, plus what any durable receiver must
//!    do at least: check `SC-Signature` and append the raw body to an SQLite table with no
//!    index, answering after a group commit (WAL, synchronous=FULL). No parsing, no
//!    duplicate check, no delivery log. It shows what SQLite's durable commit itself
//!    leaves of the ceiling on this machine;
//! 3. to chargelog on SQLite (WAL, synchronous=FULL, group commit): a 2xx only after the
//!    commit;
//! 4. to chargelog on PostgreSQL, when `CHARGELOG_BENCH_POSTGRES_URL` names an empty
//!    database.
//!
//! It then checks every acknowledged delivery is in the database, and prints throughput,
//! latency percentiles, errors, the CPU time per delivery (client and server together, as
//! they share this process) and the process's memory (RSS) as it went; then how long
//! the processor took to apply everything (readings, sessions) after acknowledging it.
//! The bare endpoint, the floor and chargelog on SQLite take turns for `BENCH_ROUNDS`
//! rounds (each SQLite target on a new database each time) and the median round of each
//! is printed, with every round's rate: one run of a few seconds moves by ±20 % on a
//! shared machine. PostgreSQL runs once.
//! Knobs: `BENCH_VEHICLES` (200), `BENCH_DAYS` (3), `BENCH_CONCURRENCY` (32),
//! `BENCH_ROUNDS` (3).

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use axum::routing::post;
use secrecy::SecretString;
use server::webhook::signature::Verifier;
use simulator::{self, send, Delivery, Noise, SimConfig};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

const TOKEN: &str = "bench-token";
/// 2026-11-01T00:00:00Z.
const START_MS: i64 = 1_793_491_200_000;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Resident memory of this process, MiB (Linux).
fn rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// CPU time this process has used (user and system, all threads), seconds. `/proc`
/// counts it in ticks of 1/100 s on every Linux.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // Fields after the command name (which may hold spaces, in parentheses):
            // utime and stime are the 12th and 13th.
            let rest = &s[s.rfind(')')? + 2..];
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| fields.get(i)?.parse::<f64>().ok();
            Some((ticks(11)? + ticks(12)?) / 100.0)
        })
        .unwrap_or(0.0)
}

struct Row {
    target: String,
    report: send::SendReport,
    rss: (f64, f64, f64),
    /// CPU time per acknowledged delivery while sending, client and server together, µs.
    cpu_us: f64,
}

/// Sends everything with `concurrency` in flight, sampling memory meanwhile.
async fn drive(target: &str, url: String, deliveries: &[Delivery], concurrency: usize) -> Row {
    let verifier = Verifier::new(SecretString::from(TOKEN.to_owned()));
    let options = send::SendOptions {
        url,
        rate: None,
        concurrency,
        progress: false,
        // One attempt: a failure is counted, not hidden by a retry.
        attempts: 1,
    };
    let start = rss_mib();
    let cpu_start = cpu_seconds();
    let peak = Arc::new(AtomicU64::new(start.to_bits()));
    let sampler = {
        let peak = peak.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(100)).await;
                let now = rss_mib();
                if now > f64::from_bits(peak.load(Ordering::Relaxed)) {
                    peak.store(now.to_bits(), Ordering::Relaxed);
                }
            }
        })
    };
    let report = send::send(deliveries, |body| verifier.sign(body), &options)
        .await
        .unwrap_or_else(|e| panic!("{target}: {e}"));
    sampler.abort();
    let cpu_us = (cpu_seconds() - cpu_start) * 1e6 / report.accepted.max(1) as f64;
    eprintln!(
        "{target}: {:.0} deliveries/s acknowledged",
        report.per_second()
    );
    Row {
        target: target.to_owned(),
        report,
        rss: (
            start,
            f64::from_bits(peak.load(Ordering::Relaxed)),
            rss_mib(),
        ),
        cpu_us,
    }
}

/// Serves `app` with plain `axum::serve` on a free local port; returns its webhook URL.
async fn serve(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let addr = listener
        .local_addr()
        .unwrap_or_else(|e| panic!("addr: {e}"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}/webhooks/smartcar")
}

async fn bare_endpoint() -> String {
    let app = axum::Router::new().route(
        "/webhooks/smartcar",
        post(|body: axum::body::Bytes| async move {
            std::hint::black_box(body.len());
            "ok"
        }),
    );
    serve(app).await
}

/// A raw body waiting for the floor's writer, and where its commit is reported.
type Append = (Vec<u8>, tokio::sync::oneshot::Sender<bool>);

/// The least any durable SQLite receiver does, served like the bare endpoint: check
/// `SC-Signature`, append the raw body to a table with no index but its rowid, and answer
/// after the commit. One writer thread commits whatever queued meanwhile as one
/// transaction (`synchronous=FULL`, WAL, as chargelog). No parsing, no duplicate check,
/// no delivery log: what it does not do, chargelog must.
async fn durable_floor(path: &std::path::Path) -> String {
    let (queue, inbox) = std::sync::mpsc::channel::<Append>();
    let conn = rusqlite::Connection::open(path).unwrap_or_else(|e| panic!("floor db: {e}"));
    conn.execute_batch(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
         CREATE TABLE inbox (id INTEGER PRIMARY KEY, received_at INTEGER NOT NULL, raw BLOB NOT NULL)",
    )
    .unwrap_or_else(|e| panic!("floor schema: {e}"));
    std::thread::spawn(move || {
        while let Ok(first) = inbox.recv() {
            let mut batch = vec![first];
            while batch.len() < server::webhook::ingestor::MAX_BATCH {
                match inbox.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            let committed = (|| -> rusqlite::Result<()> {
                let txn = conn.unchecked_transaction()?;
                {
                    let mut insert =
                        txn.prepare_cached("INSERT INTO inbox (received_at, raw) VALUES (?1, ?2)")?;
                    for (raw, _) in &batch {
                        insert.execute(rusqlite::params![
                            chrono::Utc::now().timestamp_millis(),
                            raw
                        ])?;
                    }
                }
                txn.commit()
            })()
            .is_ok();
            for (_, reply) in batch {
                let _ = reply.send(committed);
            }
        }
    });
    let verifier = Arc::new(Verifier::new(SecretString::from(TOKEN.to_owned())));
    let app = axum::Router::new().route(
        "/webhooks/smartcar",
        post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| async move {
                use axum::http::StatusCode;
                let signature = headers.get("sc-signature").map(|v| v.as_bytes());
                if verifier.verify(&body, signature).is_err() {
                    return StatusCode::UNAUTHORIZED;
                }
                let (reply, committed) = tokio::sync::oneshot::channel();
                if queue.send((body.to_vec(), reply)).is_err() {
                    return StatusCode::SERVICE_UNAVAILABLE;
                }
                match committed.await {
                    Ok(true) => StatusCode::OK,
                    _ => StatusCode::SERVICE_UNAVAILABLE,
                }
            },
        ),
    );
    serve(app).await
}

async fn chargelog(url: &str, dir: &std::path::Path) -> (String, sea_orm::DatabaseConnection) {
    let (base, db) = common::start(url, dir, TOKEN).await;
    (format!("{base}/webhooks/smartcar"), db)
}

/// Waits until every stored delivery has been applied (readings, sessions); returns the
/// wait, and the sessions stored then.
async fn drained(db: &sea_orm::DatabaseConnection) -> (Duration, u64) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    let started = std::time::Instant::now();
    while server::webhook::queue::count_waiting(db)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"))
        > 0
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let sessions = app::server::entities::sessions::Entity::find()
        .count(db)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"));
    (started.elapsed(), sessions)
}

/// Every acknowledged delivery is a row (in `deliveries`, or on SQLite still in the
/// inbox): durable means acknowledged only after commit.
async fn check_stored(db: &sea_orm::DatabaseConnection, row: &Row) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    // The inbox first: a delivery moved in between is counted twice, never missed.
    let in_inbox = match db.get_database_backend() {
        sea_orm::DatabaseBackend::Sqlite => {
            server::webhook::inbox::waiting(db)
                .await
                .unwrap_or_else(|e| panic!("count: {e}"))
                .0
        }
        _ => 0,
    };
    let in_deliveries = app::server::entities::deliveries::Entity::find()
        .count(db)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"));
    let stored = in_deliveries + in_inbox;
    assert!(
        stored as usize >= row.report.accepted,
        "{}: {} acknowledged but {stored} stored",
        row.target,
        row.report.accepted
    );
}

fn print(rows: &[&Row]) {
    println!("| target | deliveries/s | p50 | p99 | max | errors | CPU per delivery | RSS start → peak → end |");
    println!("|---|---|---|---|---|---|---|---|");
    for row in rows {
        let r = &row.report;
        println!(
            "| {} | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {} | {:.0} µs | {:.0} → {:.0} → {:.0} MiB |",
            row.target,
            r.per_second(),
            r.percentile(50.0),
            r.percentile(99.0),
            r.percentile(100.0),
            r.failed.len(),
            row.cpu_us,
            row.rss.0,
            row.rss.1,
            row.rss.2,
        );
    }
}

/// The middle one of `rows` by rate (the lower middle for an even count).
fn median(rows: &[Row]) -> &Row {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| a.report.per_second().total_cmp(&b.report.per_second()));
    sorted[(sorted.len() - 1) / 2]
}

fn middle(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[(values.len() - 1) / 2]
}

/// One target's runs: each round's row, and how long applying took after it.
struct Runs {
    rows: Vec<Row>,
    /// Sending time, the wait for the processor after it, and the sessions then.
    applied: Vec<(Duration, Duration, u64)>,
}

async fn run() {
    let vehicles = knob("BENCH_VEHICLES", 200);
    let days = knob("BENCH_DAYS", 3);
    let concurrency = knob("BENCH_CONCURRENCY", 32);
    let rounds = knob("BENCH_ROUNDS", 3).max(1);
    let sim = simulator::generate(&SimConfig {
        vehicles,
        days: days as f64,
        seed: 42,
        // A fixed start: the same deliveries in every run, so runs compare.
        start_ms: START_MS,
        noise: Noise::NONE,
        misbehave: false,
    });
    let deliveries = sim.deliveries;
    println!(
        "# Ingest: {} unique signed deliveries ({vehicles} vehicles, {days} days), {concurrency} in flight, {} cores, {rounds} rounds",
        deliveries.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    let bare = bare_endpoint().await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    let mut ceiling = Runs {
        rows: Vec::new(),
        applied: Vec::new(),
    };
    let mut floor = Runs {
        rows: Vec::new(),
        applied: Vec::new(),
    };
    let mut sqlite = Runs {
        rows: Vec::new(),
        applied: Vec::new(),
    };
    // Rounds alternate the targets, so a slow spell of the machine touches both.
    for round in 0..rounds {
        ceiling.rows.push(
            drive(
                "bare axum endpoint (ceiling)",
                bare.clone(),
                &deliveries,
                concurrency,
            )
            .await,
        );
        let path = dir.path().join(format!("floor-{round}.db"));
        let url = durable_floor(&path).await;
        let row = drive(
            "durable floor: signature check + raw append (SQLite)",
            url,
            &deliveries,
            concurrency,
        )
        .await;
        let stored: i64 = rusqlite::Connection::open(&path)
            .and_then(|c| c.query_row("SELECT count(*) FROM inbox", [], |r| r.get(0)))
            .unwrap_or_else(|e| panic!("floor count: {e}"));
        assert!(
            stored as usize >= row.report.accepted,
            "floor: {} acknowledged but {stored} stored",
            row.report.accepted
        );
        floor.rows.push(row);
        let url = format!(
            "sqlite://{}",
            dir.path().join(format!("bench-{round}.db")).display()
        );
        let (url, db) = chargelog(&url, dir.path()).await;
        let row = drive("chargelog, SQLite", url, &deliveries, concurrency).await;
        check_stored(&db, &row).await;
        let (drain, sessions) = drained(&db).await;
        sqlite.applied.push((row.report.elapsed, drain, sessions));
        sqlite.rows.push(row);
    }
    let mut postgres = None;
    if let Ok(pg) = std::env::var("CHARGELOG_BENCH_POSTGRES_URL") {
        // One round: the database must start empty.
        let (url, db) = chargelog(&pg, dir.path()).await;
        let row = drive("chargelog, PostgreSQL", url, &deliveries, concurrency).await;
        check_stored(&db, &row).await;
        let (drain, sessions) = drained(&db).await;
        postgres = Some(Runs {
            applied: vec![(row.report.elapsed, drain, sessions)],
            rows: vec![row],
        });
    }

    let targets: Vec<&Runs> = [
        Some(&ceiling),
        Some(&floor),
        Some(&sqlite),
        postgres.as_ref(),
    ]
    .into_iter()
    .flatten()
    .collect();
    println!("The median round of each target, by rate:");
    println!();
    print(&targets.iter().map(|t| median(&t.rows)).collect::<Vec<_>>());
    println!();
    println!("Every round, deliveries/s:");
    println!();
    for runs in &targets {
        let rates: Vec<String> = runs
            .rows
            .iter()
            .map(|r| format!("{:.0}", r.report.per_second()))
            .collect();
        println!("- {}: {}", runs.rows[0].target, rates.join(", "));
    }
    println!();
    println!(
        "Applied (readings and sessions; {} true sessions in the simulation), median round:",
        sim.truth.sessions.len()
    );
    println!();
    println!("| target | last acknowledged | all applied | applied/s | sessions |");
    println!("|---|---|---|---|---|");
    for runs in &targets[2..] {
        let mut applied = runs.applied.clone();
        applied.sort_by_key(|(sending, drain, _)| *sending + *drain);
        let (sending, drain, sessions) = applied[(applied.len() - 1) / 2];
        let total = sending + drain;
        println!(
            "| {} | {:.1} s | {:.1} s | {:.0} | {sessions} |",
            runs.rows[0].target,
            sending.as_secs_f64(),
            total.as_secs_f64(),
            deliveries.len() as f64 / total.as_secs_f64()
        );
    }
    println!();
    for runs in [&floor, &sqlite] {
        let ratio = middle(
            ceiling
                .rows
                .iter()
                .zip(&runs.rows)
                .map(|(bare, db)| db.report.per_second() / bare.report.per_second())
                .collect(),
        );
        println!(
            "{}: {:.0} % of the bare endpoint's rate (the median of the rounds' ratios)",
            runs.rows[0].target,
            ratio * 100.0
        );
    }
    if let Some(pg) = &postgres {
        println!(
            "chargelog, PostgreSQL: {:.0} % of the bare endpoint's median rate",
            pg.rows[0].report.per_second() / median(&ceiling.rows).report.per_second() * 100.0
        );
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}
