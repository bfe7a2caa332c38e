//! Steady load: does chargelog apply deliveries as fast as they come, and how long does
//! Smartcar wait for each answer meanwhile? Printed as figures.
//!
//! `cargo bench -p server --bench steady` sends unique signed deliveries of a simulated
//! fleet (`chargelog simulate`'s generator, 200 vehicles, no noise) at a steady rate for
//! `BENCH_SECONDS` (60) per rate, to a new chargelog each time, and samples every second
//! how many deliveries wait to be applied. A rate is kept up with when the backlog stays
//! flat: at the end no more wait than arrive in a second, and it never grew above that
//! for longer than a second or two. Then it waits for the rest to be applied.
//!
//! Knobs: `BENCH_RATES` (`500,1000,2000`), `BENCH_SECONDS` (60), `BENCH_VEHICLES` (200),
//! `BENCH_IN_FLIGHT` (250: enough that the client seldom waits for an answer before
//! sending the next delivery, as Smartcar does not, and under the 256 connections one
//! client address may hold, beyond which the server answers 503). `CHARGELOG_BENCH_POSTGRES_URL`
//! (an empty database, emptied again between rates by this bench) runs on PostgreSQL
//! instead, with `BENCH_PROCESSES` (1) servers on that one database, the load shared
//! between them in turn (each server has its own pool and processor, as a server process
//! has; they share this process's two cores, as two processes on this machine would).

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use secrecy::SecretString;
use server::webhook::signature::Verifier;
use simulator::{self, send, Delivery, Noise, SimConfig};
use std::time::{Duration, Instant};

const TOKEN: &str = "bench-token";
/// 2026-11-01T00:00:00Z.
const START_MS: i64 = 1_793_491_200_000;

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// What one rate did.
struct Steady {
    rate: usize,
    acknowledged: f64,
    p50: f64,
    p99: f64,
    failed: usize,
    /// Waiting deliveries, sampled every second while sending.
    backlog: Vec<u64>,
    /// How long the rest took to apply once sending stopped.
    drain: Duration,
}

impl Steady {
    /// Every delivery acknowledged at the rate offered, and the backlog flat: at the
    /// end, no more wait than arrive in a second.
    fn kept_up(&self) -> bool {
        self.failed == 0
            && self.acknowledged >= self.rate as f64 * 0.98
            && self.backlog.last().is_none_or(|&b| b as usize <= self.rate)
    }
}

async fn waiting(db: &sea_orm::DatabaseConnection) -> u64 {
    server::webhook::queue::count_waiting(db)
        .await
        .unwrap_or_else(|e| panic!("count: {e}"))
}

/// Empties the PostgreSQL database (between rates): every table of the public schema.
async fn empty_postgres(url: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect: {e}"));
    db.execute_unprepared("DROP SCHEMA public CASCADE; CREATE SCHEMA public;")
        .await
        .unwrap_or_else(|e| panic!("empty: {e}"));
}

async fn run_rate(
    rate: usize,
    deliveries: &[Delivery],
    database: &str,
    processes: usize,
    in_flight: usize,
    dir: &std::path::Path,
) -> Steady {
    let mut servers = Vec::new();
    for _ in 0..processes {
        servers.push(common::start(database, dir, TOKEN).await);
    }
    let db = servers[0].1.clone();
    // In turn: the deliveries of one vehicle reach every server, as behind a balancer.
    let shares: Vec<Vec<Delivery>> = (0..processes)
        .map(|p| {
            deliveries
                .iter()
                .skip(p)
                .step_by(processes)
                .cloned()
                .collect()
        })
        .collect();
    let (samples_tx, mut samples_rx) = tokio::sync::mpsc::unbounded_channel();
    let sampler = {
        let db = db.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut n = 0u64;
            loop {
                n += 1;
                let next = Duration::from_secs(n);
                tokio::time::sleep(next.saturating_sub(started.elapsed())).await;
                if samples_tx.send(waiting(&db).await).is_err() {
                    return;
                }
            }
        })
    };
    let verifier = Verifier::new(SecretString::from(TOKEN.to_owned()));
    let sends = servers.iter().zip(&shares).map(|((base, _), share)| {
        let options = send::SendOptions {
            url: format!("{base}/webhooks/smartcar"),
            rate: Some(u32::try_from(rate / processes).unwrap_or(u32::MAX)),
            concurrency: in_flight,
            progress: false,
            attempts: 1,
        };
        let verifier = &verifier;
        async move {
            send::send(share, |body| verifier.sign(body), &options)
                .await
                .unwrap_or_else(|e| panic!("send: {e}"))
        }
    });
    let reports = futures::future::join_all(sends).await;
    sampler.abort();
    let mut backlog = Vec::new();
    while let Ok(sample) = samples_rx.try_recv() {
        backlog.push(sample);
    }
    let stopped = Instant::now();
    while waiting(&db).await > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let drain = stopped.elapsed();
    let mut all = send::SendReport::default();
    for report in reports {
        all.accepted += report.accepted;
        all.failed.extend(report.failed);
        all.latencies_ms.extend(report.latencies_ms);
        all.elapsed = all.elapsed.max(report.elapsed);
    }
    Steady {
        rate,
        acknowledged: all.per_second(),
        p50: all.percentile(50.0),
        p99: all.percentile(99.0),
        failed: all.failed.len(),
        backlog,
        drain,
    }
}

async fn run() {
    let vehicles = knob("BENCH_VEHICLES", 200);
    let seconds = knob("BENCH_SECONDS", 60);
    let in_flight = knob("BENCH_IN_FLIGHT", 250);
    let rates: Vec<usize> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "500,1000,2000".to_owned())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let postgres = std::env::var("CHARGELOG_BENCH_POSTGRES_URL").ok();
    let processes = if postgres.is_some() {
        knob("BENCH_PROCESSES", 1).max(1)
    } else {
        1
    };
    let most = rates.iter().max().copied().unwrap_or(0) * seconds;
    // Days of simulation enough for the fastest rate (about 30 deliveries a vehicle a day).
    let mut days = 3.0;
    let sim = loop {
        let sim = simulator::generate(&SimConfig {
            vehicles,
            days,
            seed: 42,
            start_ms: START_MS,
            noise: Noise::NONE,
            misbehave: false,
        });
        if sim.deliveries.len() >= most {
            break sim;
        }
        days *= (most as f64 / sim.deliveries.len().max(1) as f64 * 1.1).max(1.5);
    };
    let database = match &postgres {
        Some(_) => format!("PostgreSQL, {processes} server(s) on one database"),
        None => "SQLite (WAL, synchronous=FULL for deliveries)".to_owned(),
    };
    println!(
        "# Steady load: unique signed deliveries of {vehicles} vehicles, {seconds} s a rate, {database}, {} cores",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| offered/s | acknowledged/s | ack p50 | ack p99 | failed | waiting after 10 s, 30 s, end | most waiting | rest applied in | kept up |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("temp dir: {e}"));
    for rate in rates {
        let database = match &postgres {
            Some(url) => {
                empty_postgres(url).await;
                url.clone()
            }
            None => format!(
                "sqlite://{}",
                dir.path().join(format!("steady-{rate}.db")).display()
            ),
        };
        let deliveries = &sim.deliveries[..(rate * seconds).min(sim.deliveries.len())];
        let s = run_rate(
            rate,
            deliveries,
            &database,
            processes,
            in_flight,
            dir.path(),
        )
        .await;
        let at = |second: usize| {
            s.backlog
                .get(second.saturating_sub(1))
                .or(s.backlog.last())
                .map_or_else(|| "-".to_owned(), u64::to_string)
        };
        println!(
            "| {} | {:.0} | {:.1} ms | {:.1} ms | {} | {}, {}, {} | {} | {:.1} s | {} |",
            s.rate,
            s.acknowledged,
            s.p50,
            s.p99,
            s.failed,
            at(10),
            at(30),
            at(s.backlog.len()),
            s.backlog.iter().max().copied().unwrap_or(0),
            s.drain.as_secs_f64(),
            if s.kept_up() { "yes" } else { "no" }
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
