//! The simulator's ground truth equals the sessions chargelog derives from its
//! deliveries: several seeds, with delivery noise (retries, reordering, failing signals,
//! VEHICLE_ERRORs, TEST deliveries), sent concurrently over HTTP, on both databases.

use crate::helpers::{spawn_app, Backend, TestApp, TOKEN};
use app::server::entities::sessions;
use sea_orm::EntityTrait;
use secrecy::SecretString;
use server::webhook::signature::Verifier;
use simulator::{self, send, Noise, SimConfig};

crate::on_both_backends!(derived_sessions_equal_the_simulated_truth);

/// When the simulated history ends: now, or `SIMULATE_TEST_END_MS` to replay a failure
/// (its message names the end it had).
fn end_ms() -> i64 {
    static END: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *END.get_or_init(|| {
        std::env::var("SIMULATE_TEST_END_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| chrono::Utc::now().timestamp_millis())
    })
}

async fn run(app: &TestApp, seed: u64, noise: Noise) {
    let days = 4.0;
    let config = SimConfig {
        vehicles: 4,
        days,
        seed,
        // The history ends now, so sessions still charging at the end are not stale.
        start_ms: end_ms() - (days * 86_400_000.0) as i64,
        noise,
        misbehave: false,
    };
    let sim = simulator::generate(&config);
    let verifier = Verifier::new(SecretString::from(TOKEN.to_owned()));
    let options = send::SendOptions {
        url: app.url("/webhooks/smartcar"),
        rate: None,
        concurrency: 4,
        progress: false,
        attempts: 4,
    };
    let report = send::send(&sim.deliveries, |body| verifier.sign(body), &options)
        .await
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed.first());
    app.settle().await;
    eprintln!(
        "seed {seed}: {} deliveries in {:.1} s ({:.0}/s)",
        report.sent,
        report.elapsed.as_secs_f64(),
        report.per_second()
    );
    let ids: Vec<&str> = sim.truth.vehicles.iter().map(|v| v.id.as_str()).collect();
    let derived: Vec<app::domain::sessions::Session> = sessions::Entity::find()
        .all(&app.db)
        .await
        .unwrap()
        .iter()
        .filter(|row| ids.contains(&row.vehicle_id.as_str()))
        .filter_map(app::server::sessions::from_row)
        .collect();
    let mut problems = simulator::compare(&sim.truth.sessions, &derived);
    for v in &sim.truth.vehicles {
        for p in problems.iter_mut().filter(|p| p.contains(&v.id)) {
            p.push_str(&format!(" [{} {}, {}]", v.make, v.model, v.energy_counter));
        }
    }
    assert!(
        problems.is_empty(),
        "seed {seed}, history ending at {} (SIMULATE_TEST_END_MS): {} of {} sessions differ:\n{}",
        end_ms(),
        problems.len(),
        sim.truth.sessions.len(),
        problems
            .iter()
            .take(15)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(sim.truth.sessions.len() >= 8, "seed {seed}: a real test");
}

async fn derived_sessions_equal_the_simulated_truth(backend: Backend) {
    let app = spawn_app(backend).await;
    run(&app, 4, Noise::HEAVY).await;
    run(&app, 2, Noise::REALISTIC).await;
    run(&app, 5, Noise::REALISTIC).await;
}
