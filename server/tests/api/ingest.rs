//! The fixtures' scenario through the real endpoint, in order and out of order, plus
//! each ingest rule on its own.

use crate::helpers::{
    fixture, fixture_names, sign, spawn_app, Backend, TestApp, VEHICLE_A, VEHICLE_B,
};
use serde_json::{json, Value};

crate::on_both_backends!(
    fixtures_in_scenario_order_give_the_documented_outcomes,
    fixtures_in_other_orders_reach_the_same_state,
    late_older_observation_never_moves_latest_state_back,
    partial_signal_failure_keeps_the_last_known_power,
    same_event_id_twice_is_stored_once,
    concurrent_retries_of_one_event_are_stored_once,
    a_delivery_the_database_refuses_fails_alone,
    nul_characters_are_stored_as_replacement_characters,
    test_mode_is_stored_but_changes_nothing,
    vehicle_errors_are_stored_and_attached_to_their_vehicle,
    unprocessable_signed_bodies_become_dead_letters,
    unknown_event_types_and_legacy_events_are_kept_raw,
    oversize_body_is_refused_with_413,
    database_gone_answers_503_and_stores_nothing,
    doc_shape_units_are_normalised,
);

/// The wire order the fixtures' README calls realistic: 04, 06, 05.
pub const SCENARIO: [&str; 12] = [
    "01_verify.json",
    "02_first_delivery.json",
    "03_charge_start.json",
    "04_charge_mid_session.json",
    "06_out_of_order_older.json",
    "05_duplicate_retry_of_04.json",
    "07_partial_signal_failure.json",
    "08_vehicle_error_unreachable.json",
    "09_vehicle_error_resolved.json",
    "10_charge_stop.json",
    "11_cable_unplugged.json",
    "12_doc_variant_first_delivery_already_charging.json",
];

async fn deliver_all(app: &TestApp, names: &[&str]) {
    for name in names {
        let (status, body) = app.deliver(name).await;
        assert_eq!(status, 200, "{name}: {body}");
    }
}

async fn fixtures_in_scenario_order_give_the_documented_outcomes(backend: Backend) {
    let app = spawn_app(backend).await;
    for name in SCENARIO {
        let (status, body) = app.deliver(name).await;
        assert_eq!(status, 200, "{name}");
        match name {
            "01_verify.json" => assert_eq!(
                body,
                json!({"challenge": "f4412cc75c8f51e0f394c002b45d7a706248f4ec12eacf86f7c9cc75ede35d0b"})
            ),
            "05_duplicate_retry_of_04.json" => assert_eq!(body, json!({"status": "duplicate"})),
            _ => assert_eq!(body, json!({"status": "stored"}), "{name}"),
        }
    }
    // 11 files are deliveries; VERIFY stores nothing and 05 repeats 04's eventId.
    assert_eq!(app.count("deliveries").await, 10);
    assert_eq!(app.count("vehicles").await, 2);
    assert_eq!(app.count("dead_letters").await, 0);
    assert_eq!(app.count("vehicle_errors").await, 2);
    // 7 VEHICLE_STATEs of vehicle A with 15 signals each, and B's 6.
    assert_eq!(app.count("signal_readings").await, 7 * 15 + 6);
    assert_eq!(
        app.latest_num(VEHICLE_A, "tractionbattery-stateofcharge")
            .await,
        Some(80.0)
    );
    assert_eq!(
        app.latest_num(VEHICLE_A, "charge-energyadded").await,
        Some(33.1)
    );
    assert_eq!(app.latest_num(VEHICLE_A, "charge-wattage").await, Some(0.0));
    assert_eq!(
        app.latest_num(VEHICLE_B, "tractionbattery-stateofcharge")
            .await,
        Some(47.0)
    );
    assert_eq!(
        app.latest_num(VEHICLE_B, "charge-energyadded").await,
        Some(6.4)
    );
}

async fn fixtures_in_other_orders_reach_the_same_state(backend: Backend) {
    let reference = spawn_app(backend).await;
    deliver_all(&reference, &SCENARIO).await;
    let expected = reference.latest_snapshot().await;
    assert!(!expected.is_empty());
    let expected_sessions = reference.sessions().await;
    assert_eq!(expected_sessions.len(), 2);

    let mut reversed: Vec<&str> = SCENARIO.to_vec();
    reversed.reverse();
    // A fixed interleaving that puts the stop before the start and the retry first.
    let shuffled = [
        "10_charge_stop.json",
        "05_duplicate_retry_of_04.json",
        "12_doc_variant_first_delivery_already_charging.json",
        "07_partial_signal_failure.json",
        "02_first_delivery.json",
        "09_vehicle_error_resolved.json",
        "11_cable_unplugged.json",
        "04_charge_mid_session.json",
        "01_verify.json",
        "03_charge_start.json",
        "08_vehicle_error_unreachable.json",
        "06_out_of_order_older.json",
    ];
    for order in [reversed, shuffled.to_vec()] {
        let app = spawn_app(backend).await;
        deliver_all(&app, &order).await;
        // and everything once more: retries change nothing
        deliver_all(&app, &order).await;
        assert_eq!(app.latest_snapshot().await, expected, "order {order:?}");
        assert_eq!(app.sessions().await, expected_sessions, "order {order:?}");
        assert_eq!(app.count("deliveries").await, 10);
        assert_eq!(app.count("signal_readings").await, 7 * 15 + 6);
        assert_eq!(app.count("vehicle_errors").await, 2);
    }
}

async fn late_older_observation_never_moves_latest_state_back(backend: Backend) {
    let app = spawn_app(backend).await;
    deliver_all(
        &app,
        &["04_charge_mid_session.json", "06_out_of_order_older.json"],
    )
    .await;
    assert_eq!(
        app.latest_num(VEHICLE_A, "tractionbattery-stateofcharge")
            .await,
        Some(56.0)
    );
    assert_eq!(
        app.latest_num(VEHICLE_A, "charge-energyadded").await,
        Some(12.8)
    );
    // The older reading is still stored, for the session engine.
    let n = app
        .scalar_i64("SELECT COUNT(*) FROM signal_readings WHERE code = 'charge-energyadded'")
        .await;
    assert_eq!(n, 2);
}

async fn partial_signal_failure_keeps_the_last_known_power(backend: Backend) {
    let app = spawn_app(backend).await;
    deliver_all(
        &app,
        &[
            "04_charge_mid_session.json",
            "07_partial_signal_failure.json",
        ],
    )
    .await;
    assert_eq!(
        app.latest_num(VEHICLE_A, "charge-wattage").await,
        Some(10850.0)
    );
    assert_eq!(
        app.latest_num(VEHICLE_A, "tractionbattery-stateofcharge")
            .await,
        Some(63.0)
    );
    let errored = app
        .scalar_i64(
            "SELECT COUNT(*) FROM signal_readings WHERE code = 'charge-wattage' \
             AND status = 'error' AND error_type = 'SERVER' AND error_code = 'INTERNAL'",
        )
        .await;
    assert_eq!(errored, 1);
}

async fn same_event_id_twice_is_stored_once(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.deliver("04_charge_mid_session.json").await.1,
        json!({"status": "stored"})
    );
    let before = app.latest_snapshot().await;
    assert_eq!(
        app.deliver("04_charge_mid_session.json").await.1,
        json!({"status": "duplicate"})
    );
    assert_eq!(
        app.deliver("05_duplicate_retry_of_04.json").await.1,
        json!({"status": "duplicate"})
    );
    assert_eq!(app.count("deliveries").await, 1);
    assert_eq!(app.count("signal_readings").await, 15);
    assert_eq!(app.latest_snapshot().await, before);
}

async fn concurrent_retries_of_one_event_are_stored_once(backend: Backend) {
    let app = spawn_app(backend).await;
    let posts = (0..8).map(|_| app.deliver("03_charge_start.json"));
    let results = futures::future::join_all(posts).await;
    let stored = results
        .iter()
        .filter(|(_, b)| b["status"] == "stored")
        .count();
    let duplicate = results
        .iter()
        .filter(|(_, b)| b["status"] == "duplicate")
        .count();
    assert!(results.iter().all(|(s, _)| *s == 200), "{results:?}");
    assert_eq!((stored, duplicate), (1, 7));
    assert_eq!(app.count("deliveries").await, 1);
    assert_eq!(app.count("signal_readings").await, 15);
}

/// Deliveries that arrive together are committed together (SQLite's group commit); one
/// the database refuses is answered 503 and stores nothing, and the others are stored
/// and applied as usual. A trigger plays the refusing database.
async fn a_delivery_the_database_refuses_fails_alone(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(backend).await;
    let trigger = match backend {
        // On SQLite in both files: the inbox refuses it, and so does the general path.
        Backend::Sqlite => vec![
            "CREATE TRIGGER inbox.refuse_some BEFORE INSERT ON pending \
             WHEN NEW.event_id LIKE 'refuse-%' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
            "CREATE TRIGGER refuse_some BEFORE INSERT ON deliveries \
             WHEN NEW.event_id LIKE 'refuse-%' \
             BEGIN SELECT RAISE(ABORT, 'refused by the test'); END",
        ],
        Backend::Postgres => vec![
            "CREATE FUNCTION refuse_some() RETURNS trigger AS $$ BEGIN \
             IF NEW.event_id LIKE 'refuse-%' THEN RAISE EXCEPTION 'refused by the test'; END IF; \
             RETURN NEW; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER refuse_some BEFORE INSERT ON deliveries \
             FOR EACH ROW EXECUTE FUNCTION refuse_some()",
        ],
    };
    for statement in trigger {
        app.db.execute_unprepared(statement).await.unwrap();
    }
    let body = |event_id: String| {
        let mut value: Value = serde_json::from_slice(&fixture("03_charge_start.json")).unwrap();
        value["eventId"] = json!(event_id);
        serde_json::to_vec(&value).unwrap()
    };
    let ids: Vec<String> = (0..24)
        .map(|i| {
            if i == 11 {
                "refuse-1".to_owned()
            } else {
                format!("kept-{i}")
            }
        })
        .collect();
    let posts = ids.iter().map(|id| async {
        let response = app.post_signed(body(id.clone())).await;
        (id.clone(), response.status().as_u16())
    });
    let results = futures::future::join_all(posts).await;
    for (id, status) in &results {
        let expected = if id.starts_with("refuse-") { 503 } else { 200 };
        assert_eq!(*status, expected, "{id}: {results:?}");
    }
    app.settle().await;
    assert_eq!(app.count("deliveries").await, 23);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM deliveries WHERE event_id LIKE 'refuse-%'")
            .await,
        0
    );
    assert_eq!(app.count("signal_readings").await, 23 * 15);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM deliveries WHERE processed_at IS NULL")
            .await,
        0
    );
}

/// Found by the property test (`bad_input`): PostgreSQL's text columns refuse NUL, so a
/// body carrying `\u0000` was answered 503 there. Now it is read as U+FFFD on both
/// databases (the raw bytes are kept as sent).
async fn nul_characters_are_stored_as_replacement_characters(backend: Backend) {
    let app = spawn_app(backend).await;
    let legacy = br#"{"eventName":"\u0000","payload":{}}"#.to_vec();
    assert_eq!(app.post_signed(legacy.clone()).await.status(), 200);
    let mut value: Value = serde_json::from_slice(&fixture("03_charge_start.json")).unwrap();
    value["meta"]["deliveryId"] = json!("d\u{0}1");
    value["data"]["vehicle"]["make"] = json!("\u{0}");
    let state = serde_json::to_vec(&value).unwrap();
    assert_eq!(app.post_signed(state.clone()).await.status(), 200);
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM deliveries WHERE event_type = 'legacy:\u{fffd}' \
             OR delivery_id = 'd\u{fffd}1'"
        )
        .await,
        2
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM vehicles WHERE make = '\u{fffd}'")
            .await,
        1
    );
    assert_eq!(app.count("signal_readings").await, 15);
}

fn with_mode(name: &str, mode: &str) -> Vec<u8> {
    let mut value: Value = serde_json::from_slice(&fixture(name)).unwrap();
    value["meta"]["mode"] = json!(mode);
    serde_json::to_vec(&value).unwrap()
}

async fn test_mode_is_stored_but_changes_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app
        .post_signed(with_mode("03_charge_start.json", "TEST"))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"status": "stored"})
    );
    assert_eq!(app.count("deliveries").await, 1);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM deliveries WHERE outcome = 'test' AND mode = 'TEST'")
            .await,
        1
    );
    assert_eq!(app.count("vehicles").await, 0);
    assert_eq!(app.count("signal_readings").await, 0);
    assert_eq!(app.count("vehicle_latest").await, 0);
}

async fn vehicle_errors_are_stored_and_attached_to_their_vehicle(backend: Backend) {
    let app = spawn_app(backend).await;
    deliver_all(
        &app,
        &[
            "08_vehicle_error_unreachable.json",
            "09_vehicle_error_resolved.json",
        ],
    )
    .await;
    use app::server::entities::vehicle_errors;
    use sea_orm::{EntityTrait, QueryOrder};
    let rows = vehicle_errors::Entity::find()
        .order_by_asc(vehicle_errors::Column::ReportedAt)
        .all(&app.db)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.vehicle_id == VEHICLE_A));
    assert_eq!(rows[0].state.as_deref(), Some("ERROR"));
    assert_eq!(rows[0].error_type.as_deref(), Some("VEHICLE_STATE"));
    assert_eq!(rows[0].code.as_deref(), Some("UNREACHABLE"));
    assert_eq!(rows[0].resolution.as_deref(), Some("RETRY_LATER"));
    assert_eq!(
        rows[0].signals,
        json!([
            "charge-ischarging",
            "charge-energyadded",
            "tractionbattery-stateofcharge"
        ])
    );
    assert_eq!(rows[1].state.as_deref(), Some("RESOLVED"));
    assert_eq!(app.count("vehicles").await, 1);
}

async fn unprocessable_signed_bodies_become_dead_letters(backend: Backend) {
    let app = spawn_app(backend).await;
    let no_event_id = {
        let mut v: Value = serde_json::from_slice(&fixture("03_charge_start.json")).unwrap();
        v.as_object_mut().unwrap().remove("eventId");
        serde_json::to_vec(&v).unwrap()
    };
    let no_vehicle = {
        let mut v: Value = serde_json::from_slice(&fixture("03_charge_start.json")).unwrap();
        v["data"].as_object_mut().unwrap().remove("vehicle");
        serde_json::to_vec(&v).unwrap()
    };
    let bodies: Vec<(Vec<u8>, &str)> = vec![
        (b"{this is not json \xff".to_vec(), "not JSON"),
        (br#"{"hello":"world"}"#.to_vec(), "eventType is required"),
        (no_event_id, "eventId is required"),
        (no_vehicle, "data.vehicle.id is required"),
        (
            br#"{"eventId":"x","eventType":"VEHICLE_STATE","data":{"vehicle":{"id":"v"},"signals":[{"code":"a b"}]}}"#.to_vec(),
            "data.signals[0].code",
        ),
    ];
    for (i, (body, expect)) in bodies.iter().enumerate() {
        let response = app.post_signed(body.clone()).await;
        assert_eq!(response.status(), 202, "{expect}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["status"], "dead_letter");
        assert!(
            json["error"].as_str().unwrap().contains(expect),
            "{json} should mention {expect}"
        );
        // kept whole, byte for byte
        use app::server::entities::dead_letters;
        use sea_orm::EntityTrait;
        let id = json["id"].as_i64().unwrap();
        let row = dead_letters::Entity::find_by_id(id)
            .one(&app.db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&row.raw_body, body);
        assert_eq!(row.signature.as_deref(), Some(sign(body).as_str()));
        assert_eq!(app.count("dead_letters").await, i as i64 + 1);
    }
    // A body that does not even begin a JSON object is no delivery: refused, not kept.
    for body in [&b"[1,2,3]"[..], b"not json", b""] {
        let response = app.post_signed(body.to_vec()).await;
        assert_eq!(response.status(), 400);
        let json: Value = response.json().await.unwrap();
        assert!(json["error"]
            .as_str()
            .unwrap()
            .contains("not a JSON object"));
    }
    assert_eq!(app.count("dead_letters").await, bodies.len() as i64);
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.count("vehicles").await, 0);
}

async fn unknown_event_types_and_legacy_events_are_kept_raw(backend: Backend) {
    let app = spawn_app(backend).await;
    let unknown = br#"{"eventId":"77","eventType":"VEHICLE_MOVED","data":{"whatever":[1,2]},"meta":{"mode":"LIVE"}}"#;
    let legacy = br#"{"version":"2.0","webhookId":"w","eventName":"eventBased","mode":"live","payload":{"eventId":"l1","vehicleId":"v9","eventType":"CHARGING_STARTED","eventTime":"2022-05-01T10:00:00Z"}}"#;
    for body in [&unknown[..], &legacy[..]] {
        let response = app.post_signed(body.to_vec()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({"status": "stored"})
        );
    }
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM deliveries WHERE outcome = 'ignored'")
            .await,
        2
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM deliveries WHERE event_type = 'legacy:eventBased' AND event_id = 'l1'").await,
        1
    );
    // the unknown type is idempotent on its eventId too
    let again = app.post_signed(unknown.to_vec()).await;
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"status": "duplicate"})
    );
    assert_eq!(app.count("vehicles").await, 0);
}

async fn oversize_body_is_refused_with_413(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut body = b"{\"pad\":\"".to_vec();
    body.resize(1024 * 1024 + 10, b'a');
    body.extend_from_slice(b"\"}");
    let response = app.post_signed(body).await;
    assert_eq!(response.status(), 413);
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.count("dead_letters").await, 0);
}

async fn database_gone_answers_503_and_stores_nothing(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(backend).await;
    match backend {
        Backend::Postgres => app.db.close_by_ref().await.unwrap(),
        // The webhook writes SQLite through a connection of its own, so closing the
        // pool does not stop it; a database that refuses every write does.
        Backend::Sqlite => {
            for (schema, table) in [
                ("inbox", "pending"),
                ("main", "deliveries"),
                ("main", "dead_letters"),
            ] {
                app.db
                    .execute_unprepared(&format!(
                        "CREATE TRIGGER {schema}.refuse_{table} BEFORE INSERT ON {table} \
                         BEGIN SELECT RAISE(ABORT, 'disk I/O error'); END"
                    ))
                    .await
                    .unwrap();
            }
        }
    }
    let response = app.post_fixture("03_charge_start.json").await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("retry"));
    // A dead letter cannot be kept either: still 503, so Smartcar retries.
    let response = app.post_signed(b"{not json".to_vec()).await;
    assert_eq!(response.status(), 503);
}

async fn doc_shape_units_are_normalised(backend: Backend) {
    let app = spawn_app(backend).await;
    deliver_all(
        &app,
        &["12_doc_variant_first_delivery_already_charging.json"],
    )
    .await;
    let odometer = app
        .latest_num(VEHICLE_B, "odometer-traveleddistance")
        .await
        .unwrap();
    assert!((odometer - 31544.0 * 1.609344).abs() < 1e-6, "{odometer}");
    assert_eq!(
        app.latest_num(VEHICLE_B, "charge-energyadded").await,
        Some(6.4)
    );
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM signal_readings WHERE code = 'charge-energyadded' \
             AND unit = 'kWh' AND raw_unit = 'kilowatt_hours'"
        )
        .await,
        1
    );
    assert_eq!(
        app.scalar_i64(
            "SELECT COUNT(*) FROM deliveries WHERE CAST(triggers AS TEXT) LIKE '%FIRST_DELIVERY%'"
        )
        .await,
        1
    );
}

#[tokio::test]
async fn every_fixture_is_covered_by_the_scenario() {
    let names = fixture_names();
    assert_eq!(names.len(), 12);
    for name in &names {
        assert!(
            SCENARIO.contains(&name.as_str()),
            "{name} is not in the scenario"
        );
    }
}

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_full_sync() {
    use sea_orm::{ConnectionTrait, Statement};
    let app = crate::helpers::spawn_app(Backend::Sqlite).await;
    let pragma = |sql: &str| {
        let db = app.db.clone();
        let sql = sql.to_owned();
        async move {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
                .await
                .unwrap()
                .unwrap();
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<i64>(0).map(|n| n.to_string()))
                .unwrap()
        }
    };
    assert_eq!(pragma("PRAGMA journal_mode").await, "wal");
    assert_eq!(pragma("PRAGMA synchronous").await, "2", "2 is FULL");
    assert_eq!(pragma("PRAGMA foreign_keys").await, "1");
}
