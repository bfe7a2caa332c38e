//! Crash: the real binary under simulated load, killed with SIGKILL at random moments and
//! restarted on the same database. Every delivery it acknowledged must be stored and
//! applied, the database must pass its integrity check, and the sessions must equal a
//! fresh `rederive` of what is stored.

use crate::helpers::{database_url, Backend};
use crate::process::{
    all_applied, assert_same_sessions, deliver_all, engine, history_ending_now, seed,
    ServerProcess, Targets,
};
use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use simulator::Noise;
use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

crate::on_both_backends!(acknowledged_deliveries_survive_sigkill_under_load);

/// How many times the server is killed while deliveries arrive, each when a random
/// share of them has been acknowledged; one more kill follows while the processor
/// catches up.
const KILLS: usize = 4;

async fn acknowledged_deliveries_survive_sigkill_under_load(backend: Backend) {
    // The seed of the simulation and the kill moments; `CRASH_TEST_SEED` replays a run.
    let seed = seed("CRASH_TEST_SEED");
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let sim = history_ending_now(8, 6.0, seed, Noise::REALISTIC);
    let total = sim.deliveries.len();
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut thresholds: Vec<usize> = (0..KILLS)
        .map(|_| rng.usize(total / 20..total * 19 / 20))
        .collect();
    thresholds.sort_unstable();

    let mut server = ServerProcess::start(&url, dir.path()).await;
    let targets: Targets = std::sync::Arc::new(std::sync::RwLock::new(vec![
        server.url("/webhooks/smartcar")
    ]));
    let started = Instant::now();
    let acknowledged = AtomicUsize::new(0);
    let mut kills = Vec::new();
    let killer = async {
        for threshold in thresholds {
            while acknowledged.load(Ordering::SeqCst) < threshold {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            // Somewhere in the next few milliseconds, not in step with the polling.
            tokio::time::sleep(Duration::from_micros(rng.u64(0..5_000))).await;
            server.kill().await;
            kills.push(acknowledged.load(Ordering::SeqCst));
            server = ServerProcess::start(&url, dir.path()).await;
            targets.write().unwrap()[0] = server.url("/webhooks/smartcar");
        }
    };
    let (report, ()) = tokio::join!(
        deliver_all(&sim.deliveries, &targets, 16, seed, &acknowledged),
        killer
    );
    let db = crate::process::connect(&url).await;
    let waiting = server::webhook::queue::count_waiting(&db).await.unwrap();
    if waiting > 0 {
        // Killed again while it applies what waits.
        server.kill().await;
        server = ServerProcess::start(&url, dir.path()).await;
    }
    eprintln!(
        "seed {seed} ({backend:?}): {total} deliveries, {} requests, {} retried; killed with \
         {kills:?} acknowledged, then with {waiting} waiting to be applied; {:.1} s",
        report.requests,
        report.retried,
        started.elapsed().as_secs_f64()
    );
    assert!(
        report.refused.is_empty(),
        "seed {seed}: {:?}",
        report.refused
    );
    assert!(
        report.retried > 0,
        "seed {seed}: no request was cut off, so no kill hit the load"
    );

    // The last server applies whatever waited, then dies like the others.
    all_applied(&db, &[&server], seed).await;
    server.kill().await;

    let stored: HashSet<String> = event_ids(&db).await;
    let lost: Vec<&String> = report.acknowledged.difference(&stored).collect();
    assert!(
        lost.is_empty(),
        "seed {seed}: {} acknowledged deliveries are not stored, e.g. {:?}",
        lost.len(),
        lost.first()
    );
    integrity_check(&db, backend).await;
    sessions_equal_a_fresh_rederive(&db, seed).await;
}

async fn event_ids(db: &DatabaseConnection) -> HashSet<String> {
    use app::server::entities::deliveries;
    use sea_orm::{EntityTrait, QuerySelect};
    deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::EventId)
        .into_tuple::<Option<String>>()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .collect()
}

/// SQLite's `integrity_check` and foreign keys; on PostgreSQL, `amcheck` over every
/// B-tree index of the schema, with each heap tuple looked up in its index.
pub async fn integrity_check(db: &DatabaseConnection, backend: Backend) {
    let rows = |sql: &'static str| {
        let statement = Statement::from_string(db.get_database_backend(), sql);
        async move { db.query_all_raw(statement).await.expect(sql) }
    };
    match backend {
        Backend::Sqlite => {
            let result = rows("PRAGMA integrity_check").await;
            let verdict: Vec<String> = result
                .iter()
                .map(|r| r.try_get_by_index::<String>(0).unwrap())
                .collect();
            assert_eq!(verdict, ["ok"], "SQLite integrity check");
            assert!(
                rows("PRAGMA foreign_key_check").await.is_empty(),
                "foreign keys"
            );
        }
        Backend::Postgres => {
            rows("CREATE EXTENSION IF NOT EXISTS amcheck").await;
            let checked = rows(
                "SELECT bt_index_check(c.oid, true) FROM pg_index i \
                 JOIN pg_class c ON c.oid = i.indexrelid \
                 JOIN pg_namespace n ON n.oid = c.relnamespace \
                 JOIN pg_am a ON a.oid = c.relam \
                 WHERE n.nspname = 'public' AND a.amname = 'btree'",
            )
            .await;
            assert!(
                checked.len() >= 10,
                "only {} indexes checked",
                checked.len()
            );
        }
    }
}

/// Rebuilds every vehicle's sessions from the stored readings and compares them with
/// what the server derived as deliveries came in.
pub async fn sessions_equal_a_fresh_rederive(db: &DatabaseConnection, seed: u64) {
    use app::server::entities::sessions;
    use sea_orm::{EntityTrait, QueryOrder};
    let all = || async {
        sessions::Entity::find()
            .order_by_asc(sessions::Column::VehicleId)
            .order_by_asc(sessions::Column::StartedAt)
            .all(db)
            .await
            .unwrap()
    };
    let derived = all().await;
    assert!(derived.len() >= 10, "seed {seed}: a real test");
    let as_of = app::domain::time::EpochMs::from_datetime(chrono::Utc::now()).unwrap();
    server::cli::rederive::run(db, None, &engine(), as_of, false)
        .await
        .unwrap();
    let rederived = all().await;
    assert_same_sessions(
        &derived,
        &rederived,
        &format!("seed {seed}: derived as deliveries came, and re-derived"),
    );
}
