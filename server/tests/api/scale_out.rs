//! Scale-out: three `chargelog` processes on one PostgreSQL database, started together on
//! an empty database (so they race to migrate it), with deliveries for the same vehicles
//! spread across them at random, concurrently and out of order. What they derive must
//! equal what a single process derives from the same deliveries.

use crate::crash::{integrity_check, sessions_equal_a_fresh_rederive};
use crate::helpers::{database_url, Backend};
use crate::process::{
    all_applied, assert_same_sessions, deliver_all, history_ending_now, seed, LoadReport,
    ServerProcess, Targets,
};
use sea_orm::DatabaseConnection;
use simulator::{Delivery, Noise};
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, RwLock};
use std::time::Instant;

#[tokio::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL skipped: set CHARGELOG_TEST_POSTGRES_URL to run it"
)]
async fn three_processes_on_one_database_derive_what_one_process_does() {
    // The seed of the simulation and of where each request goes; `SCALE_OUT_TEST_SEED`
    // replays a run.
    let seed = seed("SCALE_OUT_TEST_SEED");
    let sim = history_ending_now(6, 5.0, seed, Noise::HEAVY);
    let dir = tempfile::tempdir().unwrap();

    let shared = database_url(Backend::Postgres, &dir).await;
    let (a, b, c) = tokio::join!(
        ServerProcess::start(&shared, dir.path()),
        ServerProcess::start(&shared, dir.path()),
        ServerProcess::start(&shared, dir.path()),
    );
    let three = [&a, &b, &c];
    let started = Instant::now();
    let report = send(&sim.deliveries, &three, 24, seed).await;
    let spread_s = started.elapsed().as_secs_f64();
    let shared = settled(&shared, &three, seed).await;

    let single = database_url(Backend::Postgres, &dir).await;
    let one = ServerProcess::start(&single, dir.path()).await;
    send(&sim.deliveries, &[&one], 8, seed).await;
    let single = settled(&single, &[&one], seed).await;

    eprintln!(
        "seed {seed}: {} deliveries ({} requests) to three processes in {spread_s:.1} s",
        sim.deliveries.len(),
        report.requests,
    );
    let spread = sessions(&shared).await;
    let alone = sessions(&single).await;
    assert!(alone.len() >= 10, "seed {seed}: a real test");
    assert_same_sessions(
        &spread,
        &alone,
        &format!("seed {seed}: three processes (left) and one (right)"),
    );
    assert_eq!(
        latest(&shared).await,
        latest(&single).await,
        "seed {seed}: latest state"
    );
    integrity_check(&shared, Backend::Postgres).await;
    sessions_equal_a_fresh_rederive(&shared, seed).await;
}

async fn send(
    deliveries: &[Delivery],
    servers: &[&ServerProcess],
    concurrency: usize,
    seed: u64,
) -> LoadReport {
    let targets: Targets = Arc::new(RwLock::new(
        servers
            .iter()
            .map(|s| s.url("/webhooks/smartcar"))
            .collect(),
    ));
    let report = deliver_all(
        deliveries,
        &targets,
        concurrency,
        seed,
        &AtomicUsize::new(0),
    )
    .await;
    assert!(
        report.refused.is_empty(),
        "seed {seed}: {:?}",
        report.refused
    );
    assert_eq!(report.retried, 0, "seed {seed}: every request answered 2xx");
    report
}

/// Connects to `url` once the servers have applied everything.
async fn settled(url: &str, servers: &[&ServerProcess], seed: u64) -> DatabaseConnection {
    let db = crate::process::connect(url).await;
    all_applied(&db, servers, seed).await;
    db
}

async fn sessions(db: &DatabaseConnection) -> Vec<app::server::entities::sessions::Model> {
    use app::server::entities::sessions;
    use sea_orm::{EntityTrait, QueryOrder};
    sessions::Entity::find()
        .order_by_asc(sessions::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// The latest-state table without its reading ids (each database numbers its own).
async fn latest(db: &DatabaseConnection) -> Vec<String> {
    use app::server::entities::vehicle_latest;
    use sea_orm::{EntityTrait, QueryOrder};
    vehicle_latest::Entity::find()
        .order_by_asc(vehicle_latest::Column::VehicleId)
        .order_by_asc(vehicle_latest::Column::Code)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            format!(
                "{} {} {:?} {:?} {:?} {:?} {:?} {:?} {}",
                r.vehicle_id,
                r.code,
                r.oem_updated_at,
                r.retrieved_at,
                r.value_num,
                r.value_bool,
                r.value_text,
                r.unit,
                r.body
            )
        })
        .collect()
}
