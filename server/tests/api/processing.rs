//! The processor: deliveries are acknowledged once stored raw, then applied. A delivery
//! left waiting (a crash between the two) is applied at the next start, and one that
//! cannot be applied is marked and does not hold up the others.

use crate::helpers::{
    fixture, spawn_app, spawn_configured, spawn_scenario, test_settings, Backend, VEHICLE_A,
};
use app::domain::time::EpochMs;
use app::server::entities::deliveries;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use server::webhook::store;

crate::on_both_backends!(
    deliveries_left_waiting_are_applied_at_the_next_start,
    a_delivery_that_cannot_be_applied_is_marked_and_the_rest_go_on,
    the_backlog_is_reported,
);

/// The same end state as the scenario delivered over HTTP, from deliveries that were
/// stored but not processed when the server stopped.
async fn deliveries_left_waiting_are_applied_at_the_next_start(backend: Backend) {
    let (settings, dir) = test_settings(backend).await;
    let db = server::db::connect(&settings.database).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let now = EpochMs::new(chrono::Utc::now().timestamp_millis()).unwrap();
    for name in crate::ingest::SCENARIO {
        // The VERIFY challenge is answered, never stored.
        if let Ok((record, effect)) = server::webhook::plan_body(&fixture(name), now) {
            store::accept(&db, record, &effect).await.unwrap();
        }
    }
    let waiting = store::count_waiting(&db).await.unwrap();
    assert!(waiting >= 8, "{waiting} waiting");
    assert!(app::server::entities::sessions::Entity::find()
        .all(&db)
        .await
        .unwrap()
        .is_empty());
    db.close().await.unwrap();

    let restarted = spawn_configured(backend, settings, dir).await;
    restarted.settle().await;
    let reference = spawn_scenario(backend).await;
    let sessions = |rows: Vec<app::server::entities::sessions::Model>| {
        rows.iter()
            .filter_map(app::server::sessions::from_row)
            .collect::<Vec<_>>()
    };
    let got = sessions(restarted.sessions().await);
    assert!(!got.is_empty());
    assert_eq!(got, sessions(reference.sessions().await));
    assert_eq!(
        restarted.latest_snapshot().await,
        reference.latest_snapshot().await
    );
    assert_eq!(
        restarted.count("signal_readings").await,
        reference.count("signal_readings").await
    );
}

/// A stored delivery whose body no longer parses (or that the database refuses) is
/// marked failed with its error, its body kept and a log row written; deliveries
/// behind it are applied.
async fn a_delivery_that_cannot_be_applied_is_marked_and_the_rest_go_on(backend: Backend) {
    let app = spawn_app(backend).await;
    let now = chrono::Utc::now().timestamp_millis();
    let broken = deliveries::Entity::insert(deliveries::ActiveModel {
        event_id: Set(Some("broken-1".to_owned())),
        event_type: Set("VEHICLE_STATE".to_owned()),
        vehicle_id: Set(Some(VEHICLE_A.to_owned())),
        triggers: Set(serde_json::json!([])),
        received_at: Set(now),
        outcome: Set("stored".to_owned()),
        signal_count: Set(0),
        raw_body: Set(b"{\"not\": \"a delivery\"".to_vec()),
        processed_at: Set(None),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap()
    .last_insert_id;
    // A text value PostgreSQL cannot store (NUL); SQLite stores it.
    let mut nul: serde_json::Value =
        serde_json::from_slice(&fixture("04_charge_mid_session.json")).unwrap();
    nul["eventId"] = "nul-in-a-value".into();
    for signal in nul["data"]["signals"].as_array_mut().unwrap() {
        if signal["code"] == "charge-detailedchargingstatus" {
            signal["body"]["value"] = "CHARGING\u{0}".into();
        }
    }
    assert_eq!(
        app.post_signed(serde_json::to_vec(&nul).unwrap())
            .await
            .status(),
        200
    );
    assert_eq!(app.deliver("03_charge_start.json").await.0, 200);
    app.settle().await;

    let row = deliveries::Entity::find_by_id(broken)
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(row.processed_at.is_some());
    let error = row.process_error.unwrap();
    assert!(error.contains("could not be processed"), "{error}");
    assert!(row.raw_body.starts_with(b"{\"not\""));
    assert_eq!(
        app.scalar_i64(&format!(
            "SELECT COUNT(*) FROM webhook_log WHERE outcome = 'dead_letter' AND delivery_row_id = {broken}"
        ))
        .await,
        1
    );
    let nul_row = deliveries::Entity::find()
        .filter(deliveries::Column::EventId.eq("nul-in-a-value"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(nul_row.processed_at.is_some());
    match backend {
        Backend::Postgres => assert!(nul_row.process_error.is_some()),
        Backend::Sqlite => assert_eq!(nul_row.process_error, None),
    }
    // The delivery behind them was applied.
    assert!(app
        .latest_num(VEHICLE_A, "tractionbattery-stateofcharge")
        .await
        .is_some());
    assert_eq!(store::count_waiting(&app.db).await.unwrap(), 0);
}

async fn the_backlog_is_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.deliver("03_charge_start.json").await.0, 200);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["waiting"], 0);
    assert_eq!(ready["failed"], 0);
    let backlog = store::backlog(&app.db).await.unwrap();
    assert_eq!(backlog.waiting, 0);
    assert_eq!(backlog.oldest_received_at, None);
}
