//! Database outage: PostgreSQL stopped at once in the middle of the load, then started
//! again. Deliveries during the outage get 503 in time for Smartcar to retry, `/readyz`
//! says the database is unreachable, the same server process recovers by itself, and the
//! retried deliveries complete the data: the sessions equal the simulated truth.

use crate::crash::{integrity_check, sessions_equal_a_fresh_rederive};
use crate::helpers::{sign, Backend};
use crate::process::{
    all_applied, deliver_all, history_ending_now, seed, PrivateCluster, ServerProcess, Targets,
};
use futures::StreamExt;
use sea_orm::{Database, EntityTrait};
use simulator::{self, Delivery, Noise};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// Smartcar waits this long for an answer before it counts the attempt as failed.
const SMARTCAR_TIMEOUT: Duration = Duration::from_secs(15);

/// Deliveries sent as the database stops: a sixth answered before, the rest around and
/// during the outage.
const DURING: usize = 96;

#[tokio::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL skipped: set CHARGELOG_TEST_POSTGRES_URL to run it"
)]
async fn a_database_outage_is_answered_503_and_the_server_recovers_by_itself() {
    // `OUTAGE_TEST_SEED` replays a run.
    let seed = seed("OUTAGE_TEST_SEED");
    let sim = history_ending_now(6, 5.0, seed, Noise::REALISTIC);
    // A third before the outage, a few dozen around its start (each waits up to the
    // server's 5 s for a connection), and the rest after it.
    let (before, rest) = sim.deliveries.split_at(sim.deliveries.len() / 3);
    let (during, after) = rest.split_at(DURING);

    let cluster = PrivateCluster::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(&cluster.url(), dir.path()).await;
    let targets: Targets = Arc::new(RwLock::new(vec![server.url("/webhooks/smartcar")]));
    let first = deliver_all(before, &targets, 8, seed, &AtomicUsize::new(0)).await;
    assert!(first.refused.is_empty() && first.retried == 0, "{first:?}");

    // Each sent once; the database stops once a sixth are answered.
    let answered = AtomicUsize::new(0);
    let stop = async {
        while answered.load(Ordering::SeqCst) < during.len() / 6 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        cluster.stop().await;
    };
    let (answers, ()) = tokio::join!(send_once(during, &server, &answered), stop);
    let unavailable: Vec<&Delivery> = answers
        .iter()
        .filter(|(_, status, _)| *status == 503)
        .map(|(d, _, _)| *d)
        .collect();
    let other: Vec<_> = answers
        .iter()
        .filter(|(_, status, _)| !matches!(status, 200..=299 | 503))
        .map(|(d, status, _)| (status, &d.event_id))
        .collect();
    assert!(
        other.is_empty(),
        "seed {seed}: answers besides 2xx and 503: {other:?}"
    );
    assert!(
        unavailable.len() >= during.len() / 4,
        "seed {seed}: only {} of {} deliveries sent during the outage got 503",
        unavailable.len(),
        during.len()
    );
    let slowest = answers.iter().map(|(_, _, took)| *took).max().unwrap();
    assert!(
        slowest < SMARTCAR_TIMEOUT,
        "seed {seed}: an answer took {slowest:?}, past Smartcar's timeout"
    );

    let client = reqwest::Client::new();
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        503,
        "seed {seed}: /readyz during the outage"
    );
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "database unreachable");
    let alive = client.get(server.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), 200, "the process itself is alive");

    // The database returns; the same process (never restarted) becomes ready again.
    let outage_ended = Instant::now();
    cluster.resume().await;
    loop {
        let ready = client.get(server.url("/readyz")).send().await;
        if ready.is_ok_and(|r| r.status() == 200) {
            break;
        }
        assert!(
            outage_ended.elapsed() < Duration::from_secs(30),
            "seed {seed}: not ready 30 s after the database returned:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let recovered_in = outage_ended.elapsed();

    // Smartcar retries what got 503; the last third arrives as usual.
    let retried: Vec<Delivery> = unavailable.into_iter().chain(after).cloned().collect();
    let last = deliver_all(&retried, &targets, 8, seed, &AtomicUsize::new(0)).await;
    assert!(last.refused.is_empty(), "seed {seed}: {:?}", last.refused);

    let db = Database::connect(cluster.url()).await.unwrap();
    all_applied(&db, &[&server], seed).await;
    eprintln!(
        "seed {seed}: {} deliveries; during the outage {} of {} got 503 (slowest answer \
         {slowest:?}); ready {recovered_in:?} after the database returned; {} retried",
        sim.deliveries.len(),
        answers.iter().filter(|(_, s, _)| *s == 503).count(),
        during.len(),
        retried.len()
    );
    integrity_check(&db, Backend::Postgres).await;
    sessions_equal_a_fresh_rederive(&db, seed).await;

    let derived: Vec<app::domain::sessions::Session> =
        app::server::entities::sessions::Entity::find()
            .all(&db)
            .await
            .unwrap()
            .iter()
            .filter_map(app::server::sessions::from_row)
            .collect();
    let problems = simulator::compare(&sim.truth.sessions, &derived);
    assert!(
        problems.is_empty(),
        "seed {seed}: {} of {} sessions differ from the truth, first: {:?}",
        problems.len(),
        sim.truth.sessions.len(),
        problems.first()
    );
}

/// Sends each delivery once, 24 at a time: `(delivery, status, time to answer)`,
/// status 0 for no answer.
async fn send_once<'a>(
    deliveries: &'a [Delivery],
    server: &ServerProcess,
    answered: &AtomicUsize,
) -> Vec<(&'a Delivery, u16, Duration)> {
    let client = reqwest::Client::builder()
        .timeout(SMARTCAR_TIMEOUT * 2)
        .build()
        .unwrap();
    let url = server.url("/webhooks/smartcar");
    futures::stream::iter(deliveries)
        .map(|delivery| {
            let (client, url) = (&client, &url);
            async move {
                let started = Instant::now();
                let status = client
                    .post(url)
                    .header("content-type", "application/json")
                    .header("sc-signature", sign(delivery.body.as_bytes()))
                    .body(delivery.body.clone())
                    .send()
                    .await
                    .map_or(0, |r| r.status().as_u16());
                answered.fetch_add(1, Ordering::SeqCst);
                (delivery, status, started.elapsed())
            }
        })
        .buffer_unordered(24)
        .collect()
        .await
}
