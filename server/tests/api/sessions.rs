//! Sessions derived at ingest, inside the delivery's transaction.

use crate::helpers::{
    engine_for_fixtures, spawn_app_with, Backend, TestApp, TOKEN, VEHICLE_A, VEHICLE_B,
};
use crate::ingest::SCENARIO;
use app::domain::sessions::{EnergySource, SessionStatus};
use app::server::entities::sessions;

crate::on_both_backends!(
    the_fixture_scenario_gives_the_documented_sessions,
    sessions_follow_each_delivery_once_processed,
    concurrent_deliveries_for_one_vehicle_give_the_same_sessions,
    test_mode_and_vehicle_errors_never_touch_sessions,
    rederive_rebuilds_the_same_sessions_and_is_idempotent,
    incremental_updates_equal_a_full_rederive,
    the_sweep_closes_sessions_that_went_silent,
);

async fn app(backend: Backend) -> TestApp {
    spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await
}

fn of<'a>(all: &'a [sessions::Model], vehicle: &str) -> Vec<&'a sessions::Model> {
    all.iter().filter(|s| s.vehicle_id == vehicle).collect()
}

async fn the_fixture_scenario_gives_the_documented_sessions(backend: Backend) {
    let app = app(backend).await;
    for name in SCENARIO {
        assert_eq!(app.deliver(name).await.0, 200, "{name}");
    }
    let all = app.sessions().await;
    let a = of(&all, VEHICLE_A);
    assert_eq!(a.len(), 1, "{a:#?}");
    let a = a[0];
    assert_eq!(a.status, SessionStatus::Completed);
    assert_eq!(a.started_at, 1_773_511_330_000); // 18:02:10
    assert_eq!(a.ended_at, Some(1_773_519_330_000)); // 20:15:30
    assert_eq!(a.duration_s, 8000);
    assert!(a.start_observed);
    assert_eq!((a.soc_start, a.soc_end), (Some(41.0), Some(80.0)));
    assert!((a.energy_added_kwh.unwrap() - 33.1).abs() < 1e-9);
    assert_eq!(a.energy_source, Some(EnergySource::Counter));
    assert_eq!(a.max_power_kw, Some(10.9));
    assert_eq!(a.unplugged_at, Some(1_773_521_285_000));

    let b = of(&all, VEHICLE_B);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].status, SessionStatus::Charging);
    assert!(!b[0].start_observed);
    assert_eq!(b[0].ended_at, None);
    assert_eq!(b[0].soc_start, Some(47.0));
}

async fn sessions_follow_each_delivery_once_processed(backend: Backend) {
    let app = app(backend).await;
    app.deliver("02_first_delivery.json").await;
    assert!(
        app.sessions().await.is_empty(),
        "parked and unplugged: no session"
    );
    app.deliver("03_charge_start.json").await;
    let open = app.sessions().await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].status, SessionStatus::Charging);
    assert_eq!(open[0].soc_start, Some(41.0));
    app.deliver("04_charge_mid_session.json").await;
    assert_eq!(app.sessions().await[0].soc_end, Some(56.0));
    app.deliver("10_charge_stop.json").await;
    let closed = app.sessions().await;
    assert_eq!(closed[0].status, SessionStatus::Completed);
    assert_eq!(closed[0].ended_at, Some(1_773_519_330_000));
}

async fn concurrent_deliveries_for_one_vehicle_give_the_same_sessions(backend: Backend) {
    let reference = app(backend).await;
    for name in SCENARIO {
        reference.deliver(name).await;
    }
    let expected = reference.sessions().await;

    // Everything at once, twice over: two writers per delivery racing each other.
    let app = app(backend).await;
    let posts = SCENARIO
        .iter()
        .chain(SCENARIO.iter())
        .map(|name| app.deliver(name));
    let results = futures::future::join_all(posts).await;
    assert!(
        results.iter().all(|(status, _)| *status == 200),
        "{results:?}"
    );
    assert_eq!(app.sessions().await, expected);
}

async fn test_mode_and_vehicle_errors_never_touch_sessions(backend: Backend) {
    let app = app(backend).await;
    for name in [
        "02_first_delivery.json",
        "03_charge_start.json",
        "08_vehicle_error_unreachable.json",
    ] {
        app.deliver(name).await;
    }
    let before = app.sessions().await;
    assert_eq!(before.len(), 1);
    assert_eq!(
        before[0].status,
        SessionStatus::Charging,
        "an unreachable vehicle is still charging"
    );
    // A TEST delivery that would stop the charge changes nothing.
    let mut stop: serde_json::Value =
        serde_json::from_slice(&crate::helpers::fixture("10_charge_stop.json")).unwrap();
    stop["meta"]["mode"] = serde_json::json!("TEST");
    assert_eq!(
        app.post_signed(serde_json::to_vec(&stop).unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(app.sessions().await, before);
}

async fn rederive_rebuilds_the_same_sessions_and_is_idempotent(backend: Backend) {
    use sea_orm::EntityTrait;
    let app = app(backend).await;
    for name in SCENARIO {
        app.deliver(name).await;
    }
    let expected = app.sessions().await;
    let as_of = app::domain::time::EpochMs::from_datetime(chrono::Utc::now()).unwrap();

    sessions::Entity::delete_many().exec(&app.db).await.unwrap();
    assert!(app.sessions().await.is_empty());
    let summary = server::cli::rederive::run(&app.db, None, &engine_for_fixtures(), as_of, false)
        .await
        .unwrap();
    assert_eq!(
        summary,
        server::cli::rederive::Summary {
            vehicles: 2,
            sessions: 2
        }
    );
    assert_eq!(app.sessions().await, expected);

    // Again, and for one vehicle: nothing changes.
    server::cli::rederive::run(&app.db, None, &engine_for_fixtures(), as_of, false)
        .await
        .unwrap();
    server::cli::rederive::run(
        &app.db,
        Some(VEHICLE_A),
        &engine_for_fixtures(),
        as_of,
        false,
    )
    .await
    .unwrap();
    assert_eq!(app.sessions().await, expected);

    let unknown =
        server::cli::rederive::run(&app.db, Some("nope"), &engine_for_fixtures(), as_of, false)
            .await;
    assert!(matches!(
        unknown,
        Err(server::cli::rederive::RederiveError::UnknownVehicle(_))
    ));
}

/// Five days of charging, delivered out of order: each ingest re-derives only from the
/// session its readings touch, and the result equals rebuilding everything.
async fn incremental_updates_equal_a_full_rederive(backend: Backend) {
    use crate::helpers::{fixture, sign};
    use serde_json::{json, Value};
    let app = app(backend).await;
    let templates: Vec<(Value, i64)> = [
        ("02_first_delivery.json", -3_000_000),
        ("03_charge_start.json", 0),
        ("04_charge_mid_session.json", 1_800_000),
        ("10_charge_stop.json", 3_600_000),
        ("11_cable_unplugged.json", 3_900_000),
    ]
    .into_iter()
    .map(|(name, offset)| (serde_json::from_slice(&fixture(name)).unwrap(), offset))
    .collect();
    let mut bodies = Vec::new();
    for day in 0..5_i64 {
        for (i, (template, offset)) in templates.iter().enumerate() {
            let mut e = template.clone();
            e["eventId"] = json!(format!("inc-{day}-{i}"));
            let at = 1_773_511_330_000 + day * 86_400_000 + offset;
            for s in e["data"]["signals"].as_array_mut().unwrap() {
                if s["meta"]["oemUpdatedAt"].as_i64().is_some_and(|t| t > 0) {
                    s["meta"]["oemUpdatedAt"] = json!(at);
                }
                // Unplugged, the charge limit reads null: stored, but no value to use.
                if i == 4 && s["code"] == "charge-chargelimits" {
                    s["body"]["activeLimit"] = Value::Null;
                }
            }
            bodies.push(serde_json::to_vec(&e).unwrap());
        }
    }
    // A fixed shuffle: every fifth delivery first, then the rest backwards.
    let mut order: Vec<usize> = (0..bodies.len()).step_by(5).collect();
    order.extend((0..bodies.len()).rev().filter(|i| i % 5 != 0));
    for i in order {
        let sig = sign(&bodies[i]);
        assert_eq!(
            app.post_webhook(bodies[i].clone(), Some(&sig))
                .await
                .status(),
            200
        );
    }
    let incremental = app.sessions().await;
    assert_eq!(incremental.len(), 5, "{incremental:#?}");
    assert!(incremental
        .iter()
        .all(|s| s.status == SessionStatus::Completed && s.start_observed));

    let as_of = app::domain::time::EpochMs::from_datetime(chrono::Utc::now()).unwrap();
    server::cli::rederive::run(&app.db, None, &engine_for_fixtures(), as_of, false)
        .await
        .unwrap();
    assert_eq!(app.sessions().await, incremental);
}

async fn the_sweep_closes_sessions_that_went_silent(backend: Backend) {
    let app = app(backend).await;
    for name in [
        "02_first_delivery.json",
        "03_charge_start.json",
        "04_charge_mid_session.json",
    ] {
        app.deliver(name).await;
    }
    assert_eq!(app.sessions().await[0].status, SessionStatus::Charging);
    let now = app::domain::time::EpochMs::from_datetime(chrono::Utc::now()).unwrap();
    // Nothing is silent for ten years yet.
    assert_eq!(
        server::tasks::sweep::sweep_once(&app.db, &engine_for_fixtures(), now)
            .await
            .unwrap(),
        0
    );
    // With the ordinary 12 hours, the March session has gone silent.
    let engine = app::domain::sessions::EngineConfig::default();
    assert_eq!(
        server::tasks::sweep::sweep_once(&app.db, &engine, now)
            .await
            .unwrap(),
        1
    );
    let swept = app.sessions().await;
    assert_eq!(swept.len(), 1);
    assert_eq!(swept[0].status, SessionStatus::Stale);
    assert!(swept[0].end_inferred);
    assert_eq!(swept[0].ended_at, Some(1_773_515_140_000)); // 04's time, the last heard
    assert_eq!(
        server::tasks::sweep::sweep_once(&app.db, &engine, now)
            .await
            .unwrap(),
        0
    );
}
