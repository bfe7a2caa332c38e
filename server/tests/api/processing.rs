//! The processor: deliveries are acknowledged once stored raw, then applied. A delivery
//! left waiting (a crash between the two) is applied at the next start, and one that
//! cannot be applied is marked and does not hold up the others.

use crate::helpers::{
    fixture, spawn_app, spawn_configured, spawn_scenario, test_settings, Backend, VEHICLE_A,
};
use app::domain::events::Outcome;
use app::domain::time::EpochMs;
use app::server::entities::deliveries;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use server::webhook::{accept, apply, queue};

crate::on_both_backends!(
    deliveries_left_waiting_are_applied_at_the_next_start,
    a_delivery_that_cannot_be_applied_is_marked_and_the_rest_go_on,
    the_backlog_is_reported,
    pruning_removes_old_applied_bodies_and_nothing_sessions_need,
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
        if let Ok((record, effect)) = server::webhook::plan::plan_body(&fixture(name), now) {
            accept::accept(&db, record, &effect).await.unwrap();
        }
    }
    let waiting = queue::count_waiting(&db).await.unwrap();
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
        outcome: Set(Outcome::Stored),
        signal_count: Set(0),
        raw_body: Set(b"{\"not\": \"a delivery\"".to_vec()),
        processed_at: Set(None),
        ..Default::default()
    })
    .exec(&app.db)
    .await
    .unwrap()
    .last_insert_id;
    // A value the database refuses to store as a reading (a trigger plays the part).
    let refuse = match backend {
        Backend::Sqlite => vec![
            "CREATE TRIGGER refuse_value BEFORE INSERT ON signal_readings \
             WHEN NEW.value_text = 'REFUSED' BEGIN SELECT RAISE(ABORT, 'refused'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse_value() RETURNS trigger AS $$ BEGIN \
             IF NEW.value_text = 'REFUSED' THEN RAISE EXCEPTION 'refused'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_value BEFORE INSERT ON signal_readings \
             FOR EACH ROW EXECUTE FUNCTION refuse_value()",
        ],
    };
    for statement in refuse {
        sea_orm::ConnectionTrait::execute_unprepared(&app.db, statement)
            .await
            .unwrap();
    }
    let mut refused: serde_json::Value =
        serde_json::from_slice(&fixture("04_charge_mid_session.json")).unwrap();
    refused["eventId"] = "refused-value".into();
    for signal in refused["data"]["signals"].as_array_mut().unwrap() {
        if signal["code"] == "charge-detailedchargingstatus" {
            signal["body"]["value"] = "REFUSED".into();
        }
    }
    assert_eq!(
        app.post_signed(serde_json::to_vec(&refused).unwrap())
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
    let refused_row = deliveries::Entity::find()
        .filter(deliveries::Column::EventId.eq("refused-value"))
        .one(&app.db)
        .await
        .unwrap()
        .unwrap();
    assert!(refused_row.processed_at.is_some());
    assert!(refused_row.process_error.is_some());
    // The delivery behind them was applied.
    assert!(app
        .latest_num(VEHICLE_A, "tractionbattery-stateofcharge")
        .await
        .is_some());
    assert_eq!(queue::count_waiting(&app.db).await.unwrap(), 0);
}

async fn the_backlog_is_reported(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.deliver("03_charge_start.json").await.0, 200);
    let ready: serde_json::Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(ready["waiting"], 0);
    assert_eq!(ready["failed"], 0);
    let backlog = queue::backlog(&app.db).await.unwrap();
    assert_eq!(backlog.waiting, 0);
    assert_eq!(backlog.oldest_received_at, None);
}

/// `chargelog prune --raw-older-than`: the raw bodies of old, applied deliveries go; a
/// delivery still waiting or marked failed keeps its body, new ones are untouched, the
/// rows stay (a retry is still a duplicate), and sessions re-derived afterwards are the
/// same.
async fn pruning_removes_old_applied_bodies_and_nothing_sessions_need(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let (settings, _dir) = test_settings(backend).await;
    let db = server::db::connect(&settings.database).await.unwrap();
    server::db::migrate(&db).await.unwrap();
    let engine = crate::helpers::engine_for_fixtures();
    let now = EpochMs::new(chrono::Utc::now().timestamp_millis()).unwrap();
    for name in crate::ingest::SCENARIO {
        if let Ok((record, effect)) = server::webhook::plan::plan_body(&fixture(name), now) {
            accept::accept(&db, record, &effect).await.unwrap();
        }
    }
    apply::drain(&db, &engine, 128, now).await.unwrap();
    let sessions = |rows: Vec<app::server::entities::sessions::Model>| {
        rows.iter()
            .filter_map(app::server::sessions::from_row)
            .collect::<Vec<_>>()
    };
    let before = sessions(
        app::server::entities::sessions::Entity::find()
            .all(&db)
            .await
            .unwrap(),
    );
    assert!(!before.is_empty());
    let applied = queue::count_waiting(&db).await.unwrap();
    assert_eq!(applied, 0);
    // Everything so far is 100 days old; then one waiting, one failed, one new.
    let day = 86_400_000i64;
    db.execute_unprepared(&format!(
        "UPDATE deliveries SET received_at = received_at - {}",
        100 * day
    ))
    .await
    .unwrap();
    let old_count = crate::helpers::scalar_i64(&db, "SELECT COUNT(*) FROM deliveries").await;
    let mut extra = Vec::new();
    for (event_id, age_days) in [("waiting-old", 100), ("failed-old", 100), ("new", 1)] {
        let mut value: serde_json::Value =
            serde_json::from_slice(&fixture("04_charge_mid_session.json")).unwrap();
        value["eventId"] = serde_json::json!(event_id);
        let body = serde_json::to_vec(&value).unwrap();
        let at = EpochMs::new(now.as_millis() - age_days * day).unwrap();
        let (record, effect) = server::webhook::plan::plan_body(&body, at).unwrap();
        let stored = accept::accept(&db, record, &effect).await.unwrap();
        let accept::Stored::New {
            delivery_row_id, ..
        } = stored
        else {
            panic!("{stored:?}")
        };
        extra.push(delivery_row_id);
    }
    queue::mark_failed(&db, extra[1], "refused", now)
        .await
        .unwrap();
    db.execute_unprepared(&format!(
        "UPDATE deliveries SET processed_at = {} WHERE id = {}",
        now.as_millis(),
        extra[2]
    ))
    .await
    .unwrap();

    let cutoff = now.as_millis() - 90 * day;
    let dry = server::cli::prune::prune_raw(&db, cutoff, now.as_millis(), true)
        .await
        .unwrap();
    assert_eq!(dry.deliveries as i64, old_count);
    assert!(dry.bytes > 1000 * old_count, "{dry:?}");
    assert_eq!(dry.kept_unapplied, 2);
    assert_eq!(
        crate::helpers::scalar_i64(
            &db,
            "SELECT COUNT(*) FROM deliveries WHERE raw_pruned_at IS NOT NULL"
        )
        .await,
        0
    );

    let pruned = server::cli::prune::prune_raw(&db, cutoff, now.as_millis(), false)
        .await
        .unwrap();
    assert_eq!(pruned, dry);
    assert_eq!(
        crate::helpers::scalar_i64(
            &db,
            "SELECT COUNT(*) FROM deliveries WHERE raw_pruned_at IS NOT NULL AND length(raw_body) = 0"
        )
        .await,
        old_count
    );
    for id in &extra {
        let body_len = crate::helpers::scalar_i64(
            &db,
            &format!("SELECT length(raw_body) FROM deliveries WHERE id = {id}"),
        )
        .await;
        assert!(body_len > 1000, "delivery {id} lost its body");
    }
    // Again: nothing left to prune.
    let again = server::cli::prune::prune_raw(&db, cutoff, now.as_millis(), false)
        .await
        .unwrap();
    assert_eq!(again.deliveries, 0);
    // The rows stay, so a retry of a pruned event is still a repeat.
    let (record, effect) =
        server::webhook::plan::plan_body(&fixture("03_charge_start.json"), now).unwrap();
    assert!(matches!(
        accept::accept(&db, record, &effect).await.unwrap(),
        accept::Stored::Duplicate { .. }
    ));
    // Sessions re-derived from what is left are the ones before.
    server::cli::rederive::run(&db, None, &engine, now, false)
        .await
        .unwrap();
    let after = sessions(
        app::server::entities::sessions::Entity::find()
            .all(&db)
            .await
            .unwrap(),
    );
    assert_eq!(after, before);
}
