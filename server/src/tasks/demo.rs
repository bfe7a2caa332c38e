//! Demo mode (`chargelog serve --demo`): a simulated fleet to look at before any real car
//! is connected. An empty database gets a few weeks of history from the simulator, sent
//! through the real webhook endpoint, with each vehicle's home or depot as a place and a
//! fleet departure schedule; three vehicles misbehave in the last day (one left unplugged,
//! one plugged in that never charges, one silent), so the readiness board and the alerts
//! have something to say. Then one vehicle keeps charging and driving in real time. Every
//! page says the data is simulated. Off unless asked for.

use crate::webhook::signature::Verifier;
use app::domain::schedule::Schedule;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait};
use simulator::arrangement::{arrangement, Arrangement};
use simulator::live::{LiveVehicle, EVERY_MS};
use simulator::{self, send, Noise, SimConfig};
use std::time::Duration;

pub const VEHICLES: usize = 8;
pub const DAYS: f64 = 21.0;
const SEED: u64 = 2026;

/// Fills an empty database with history, then runs the live vehicle until shutdown.
pub async fn run(
    db: DatabaseConnection,
    webhook_url: String,
    verifier: Verifier,
    timezone: chrono_tz::Tz,
) {
    match app::server::entities::deliveries::Entity::find()
        .count(&db)
        .await
    {
        Ok(0) => seed(&db, &webhook_url, &verifier, timezone).await,
        Ok(_) => tracing::info!(
            "demo mode: the database already holds deliveries; only the live vehicle is added"
        ),
        Err(err) => {
            tracing::warn!(error = %err, "demo mode: could not read the database; no demo data");
            return;
        }
    }
    live(&webhook_url, &verifier).await;
}

/// Stores the fleet's places and default schedule (`simulator::arrangement`).
async fn arrange(
    db: &DatabaseConnection,
    plan: &Arrangement,
    timezone: chrono_tz::Tz,
) -> Result<(), String> {
    for body in &plan.places {
        let input: app::wire::PlaceInput =
            serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
        match app::server::places::create(db, input, timezone).await {
            Ok(_) | Err(app::server::places::WriteError::Duplicate(_)) => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    let fleet: Schedule =
        serde_json::from_value(plan.fleet_schedule.clone()).map_err(|e| e.to_string())?;
    app::server::schedules::set_fleet_default(db, &fleet)
        .await
        .map_err(|e| e.to_string())
}

/// The vehicle that keeps no departures (once it exists, after its first delivery).
async fn keep_no_schedule(db: &DatabaseConnection, plan: &Arrangement) -> Result<(), String> {
    let Some((id, body)) = &plan.no_departures else {
        return Ok(());
    };
    let id = app::domain::ids::VehicleId::parse(id).map_err(|e| e.to_string())?;
    let none: Schedule = serde_json::from_value(body.clone()).map_err(|e| e.to_string())?;
    app::server::schedules::set_vehicle(db, &id, &none)
        .await
        .map_err(|e| e.to_string())
}

async fn seed(
    db: &DatabaseConnection,
    webhook_url: &str,
    verifier: &Verifier,
    timezone: chrono_tz::Tz,
) {
    let now = crate::clock::now_ms();
    let sim = simulator::generate(&SimConfig {
        vehicles: VEHICLES,
        days: DAYS,
        seed: SEED,
        start_ms: now - (DAYS * 86_400_000.0) as i64,
        noise: Noise::REALISTIC,
        misbehave: true,
    });
    let plan = arrangement(&sim.truth.vehicles, timezone.name());
    if let Err(err) = arrange(db, &plan, timezone).await {
        tracing::warn!(error = %err, "demo mode: could not set up places and schedules");
    }
    tracing::info!(
        vehicles = VEHICLES,
        days = DAYS,
        deliveries = sim.deliveries.len(),
        "demo mode: sending a simulated history through the webhook"
    );
    let options = send::SendOptions {
        url: webhook_url.to_owned(),
        rate: None,
        concurrency: 4,
        progress: false,
        attempts: 4,
    };
    match send::send(&sim.deliveries, |body| verifier.sign(body), &options).await {
        Ok(report) if report.failed.is_empty() => tracing::info!(
            deliveries = report.accepted,
            sessions = sim.truth.sessions.len(),
            seconds = format!("{:.1}", report.elapsed.as_secs_f64()),
            "demo mode: history stored"
        ),
        Ok(report) => tracing::warn!(
            failed = report.failed.len(),
            first = ?report.failed.first(),
            "demo mode: some simulated deliveries were not accepted"
        ),
        Err(err) => tracing::warn!(error = %err, "demo mode: could not send the history"),
    }
    if let Err(err) = keep_no_schedule(db, &plan).await {
        tracing::warn!(error = %err, "demo mode: could not clear a vehicle's schedule");
    }
}

async fn live(webhook_url: &str, verifier: &Verifier) {
    let Ok(client) = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
    else {
        return;
    };
    let mut car = LiveVehicle::new(SEED + 1);
    tracing::info!(
        vehicle = car.id(),
        "demo mode: a live vehicle reports every 10 s"
    );
    let mut tick = tokio::time::interval(Duration::from_millis(EVERY_MS as u64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let body = car.tick(crate::clock::now_ms());
        let sent = client
            .post(webhook_url)
            .header("content-type", "application/json")
            .header("sc-signature", verifier.sign(body.as_bytes()))
            .body(body)
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), "demo mode: the live delivery was refused")
            }
            Err(err) => tracing::debug!(error = %err, "demo mode: the live delivery failed"),
        }
    }
}
