//! Alerts through `/api/v1/alerts`: opened once when a rule's condition holds (however
//! many deliveries repeat it, however many evaluators race), acknowledged with a note by
//! whoever asked, resolved when the condition ends; VEHICLE_ERRORs that need the
//! operator; settings that refuse a bad threshold naming it. On SQLite and PostgreSQL.

use crate::helpers::{
    call, charging, limit, plugged, report, report_aged, soc, spawn_app, spawn_scenario,
    state_body, Backend, TestApp, VEHICLE_A,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::on_both_backends!(
    the_alerts_open_at_the_end_do_not_depend_on_delivery_order,
    an_alert_opens_once_is_acknowledged_and_resolves_when_its_condition_ends,
    errors_that_need_the_operator_open_an_alert_until_resolved,
    settings_refuse_a_bad_threshold_and_switch_a_rule_off,
    racing_evaluators_open_each_alert_once,
);

/// A vehicle of its own for each test (the scenario's are long silent).
const IDLE: &str = "5a1e7c0d-2b3f-4a5e-8c6d-7e8f9a0b1c2d";

const MINUTE: i64 = 60_000;

/// The alerts a query finds, once `until` holds of them (evaluation runs as deliveries
/// are applied, and in the background every few seconds).
async fn alerts_once(app: &TestApp, query: &str, until: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, list) = call(app, "GET", &format!("/api/v1/alerts?{query}"), None).await;
        assert_eq!(code, 200, "{list}");
        let alerts = list["alerts"].as_array().unwrap().clone();
        if until(&alerts) {
            return alerts;
        }
        assert!(
            Instant::now() < deadline,
            "{query}: never as expected: {list}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn an_alert_opens_once_is_acknowledged_and_resolves_when_its_condition_ends(
    backend: Backend,
) {
    let app = spawn_scenario(backend).await;
    let idle = [plugged(true), charging(false), soc(50.0), limit(90.0)];
    // Plugged in and idle for 5 minutes: under the 15-minute threshold.
    report_aged(&app, IDLE, 5 * MINUTE, &idle).await;
    let (_, list) = call(&app, "GET", &format!("/api/v1/alerts?vehicle={IDLE}"), None).await;
    assert_eq!(list["alerts"], json!([]), "too early: {list}");

    // The same state reported from 20 minutes ago: idle since then.
    report_aged(&app, IDLE, 20 * MINUTE, &idle).await;
    let query = format!("status=open&vehicle={IDLE}");
    let open = alerts_once(&app, &query, |a| !a.is_empty()).await;
    assert_eq!(open.len(), 1, "{open:?}");
    let alert = &open[0];
    assert_eq!(alert["kind"], "plugged_not_charging");
    assert_eq!(alert["facts"]["soc"], 50.0);
    assert_eq!(alert["facts"]["charge_limit"], 90.0);
    assert_eq!(alert["resolved_at"], Value::Null);
    let since =
        chrono::DateTime::parse_from_rfc3339(alert["facts"]["since"].as_str().unwrap()).unwrap();
    let idle_for = chrono::Utc::now() - since.to_utc();
    assert!(
        idle_for >= chrono::TimeDelta::minutes(19) && idle_for <= chrono::TimeDelta::minutes(21),
        "idle since the first idle report: {alert}"
    );
    assert!(alert["summary"]
        .as_str()
        .unwrap()
        .contains("not charging since"));

    // Said again: still one alert.
    report(&app, IDLE, &idle).await;
    let (_, again) = call(&app, "GET", &format!("/api/v1/alerts?vehicle={IDLE}"), None).await;
    assert_eq!(again["alerts"].as_array().unwrap().len(), 1, "{again}");
    assert!(again["open"].as_u64().unwrap() >= 1);

    // Acknowledged, by the API token that asked.
    let id = alert["id"].as_i64().unwrap();
    let ack = format!("/api/v1/alerts/{id}/acknowledge");
    let (code, acked) = call(&app, "POST", &ack, Some(json!({"note": "Ali is on it"}))).await;
    assert_eq!(code, 200, "{acked}");
    assert_eq!(acked["note"], "Ali is on it");
    assert!(acked["acknowledged_at"].is_string(), "{acked}");
    assert!(!acked["acknowledged_by"].as_str().unwrap().is_empty());
    let (code, refused) = call(&app, "POST", &ack, Some(json!({"note": "x".repeat(501)}))).await;
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["error"].as_str().unwrap().contains("note"),
        "{refused}"
    );
    let (code, _) = call(
        &app,
        "POST",
        "/api/v1/alerts/999999/acknowledge",
        Some(json!({})),
    )
    .await;
    assert_eq!(code, 404);
    for bad in ["kind=unplugged", "status=closed", "cursor=nonsense"] {
        let (code, body) = call(&app, "GET", &format!("/api/v1/alerts?{bad}"), None).await;
        assert_eq!(code, 400, "{bad}: {body}");
    }

    // Charging: resolved, with its acknowledgement kept.
    report(&app, IDLE, &[plugged(true), charging(true), soc(51.0)]).await;
    let resolved = alerts_once(&app, &format!("status=resolved&vehicle={IDLE}"), |a| {
        !a.is_empty()
    })
    .await;
    assert_eq!(resolved[0]["id"], id);
    assert!(resolved[0]["resolved_at"].is_string());
    assert_eq!(resolved[0]["note"], "Ali is on it");
    let (_, open) = call(&app, "GET", &format!("/api/v1/alerts?{query}"), None).await;
    assert_eq!(open["alerts"], json!([]), "{open}");

    // The scenario's vehicle was last heard in March: silent.
    let silent = alerts_once(
        &app,
        &format!("kind=vehicle_silent&vehicle={VEHICLE_A}"),
        |a| !a.is_empty(),
    )
    .await;
    assert_eq!(silent[0]["kind"], "vehicle_silent");
}

fn vehicle_error(vehicle: &str, state: &str, at_ms: i64, event: &str) -> Vec<u8> {
    let mut error = json!({
        "type": "CONNECTED_SERVICES_ACCOUNT",
        "code": "AUTHENTICATION_FAILED",
        "state": state,
        "description": "The owner's authorisation expired.",
    });
    if state == "ERROR" {
        error["resolution"] = json!({"type": "REAUTHENTICATE"});
    }
    json!({
        "eventId": event,
        "eventType": "VEHICLE_ERROR",
        "vehicleId": vehicle,
        "data": {
            "user": {"id": "c0ffee00-1b2c-4d3e-8f40-5a6b7c8d9e0f"},
            "vehicle": {"id": vehicle, "make": "KIA", "model": "EV6", "year": 2024},
            "errors": [error],
        },
        "meta": {"version": "4.0", "deliveryId": format!("d-{event}"), "deliveredAt": at_ms,
                 "webhookId": "w", "webhookName": "t", "mode": "LIVE"},
    })
    .to_string()
    .into_bytes()
}

async fn errors_that_need_the_operator_open_an_alert_until_resolved(backend: Backend) {
    let app = spawn_scenario(backend).await;
    report(&app, IDLE, &[plugged(false), soc(70.0)]).await;
    let now = server::clock::now_ms();
    // The resolution arrives first, then the (older) error: the error is over.
    let resolved = vehicle_error(IDLE, "RESOLVED", now - MINUTE, "err-2");
    let error = vehicle_error(IDLE, "ERROR", now - 10 * MINUTE, "err-1");
    assert_eq!(app.post_signed(resolved).await.status(), 200);
    assert_eq!(app.post_signed(error).await.status(), 200);
    report(&app, IDLE, &[soc(70.0)]).await;
    let (_, list) = call(&app, "GET", &format!("/api/v1/alerts?vehicle={IDLE}"), None).await;
    assert_eq!(list["alerts"], json!([]), "resolved after it: {list}");

    // A newer error: open until a newer resolution.
    let error = vehicle_error(IDLE, "ERROR", now, "err-3");
    assert_eq!(app.post_signed(error).await.status(), 200);
    let open = alerts_once(&app, &format!("status=open&vehicle={IDLE}"), |a| {
        !a.is_empty()
    })
    .await;
    assert_eq!(open[0]["kind"], "vehicle_error");
    assert_eq!(
        open[0]["facts"]["errors"][0]["resolution"],
        "REAUTHENTICATE"
    );
    assert_eq!(
        open[0]["summary"],
        "CONNECTED_SERVICES_ACCOUNT AUTHENTICATION_FAILED (REAUTHENTICATE)"
    );
    let resolved = vehicle_error(IDLE, "RESOLVED", now + 1, "err-4");
    assert_eq!(app.post_signed(resolved).await.status(), 200);
    alerts_once(&app, &format!("status=resolved&vehicle={IDLE}"), |a| {
        !a.is_empty()
    })
    .await;
}

async fn settings_refuse_a_bad_threshold_and_switch_a_rule_off(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (code, defaults) = call(&app, "GET", "/api/v1/alerts/settings", None).await;
    assert_eq!(code, 200);
    assert_eq!(
        defaults["not_plugged"],
        json!({"enabled": true, "minutes": 120})
    );
    assert_eq!(
        defaults["vehicle_silent"],
        json!({"enabled": true, "plugged_hours": 6, "unplugged_hours": 24})
    );

    let mut bad = defaults.clone();
    bad["vehicle_silent"]["plugged_hours"] = json!(0);
    let (code, refused) = call(&app, "PUT", "/api/v1/alerts/settings", Some(bad)).await;
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap()
            .contains("vehicle_silent.plugged_hours"),
        "{refused}"
    );
    let mut unknown = defaults.clone();
    unknown["not_plugged"]["hours"] = json!(2);
    let (code, _) = call(&app, "PUT", "/api/v1/alerts/settings", Some(unknown)).await;
    assert_eq!(code, 400);

    // The scenario's vehicles are silent; switched off, their alerts resolve.
    alerts_once(&app, "status=open&kind=vehicle_silent", |a| !a.is_empty()).await;
    let mut off = defaults.clone();
    off["vehicle_silent"]["enabled"] = json!(false);
    let (code, stored) = call(&app, "PUT", "/api/v1/alerts/settings", Some(off.clone())).await;
    assert_eq!((code, &stored), (200, &off));
    let (_, read) = call(&app, "GET", "/api/v1/alerts/settings", None).await;
    assert_eq!(read, off);
    alerts_once(&app, "status=open&kind=vehicle_silent", <[Value]>::is_empty).await;
}

async fn racing_evaluators_open_each_alert_once(backend: Backend) {
    let app = spawn_scenario(backend).await;
    // Idle for a minute: nothing yet.
    report(&app, IDLE, &[plugged(true), charging(false), soc(40.0)]).await;
    let id = app::domain::ids::VehicleId::parse(IDLE).unwrap();
    // Twenty minutes on, eight evaluators at once (as many processes would).
    let later = chrono::Utc::now() + chrono::TimeDelta::minutes(20);
    let runs = (0..8).map(|_| {
        let db = app.db.clone();
        let id = id.clone();
        tokio::spawn(async move {
            app::server::readiness::evaluate(&db, std::slice::from_ref(&id), later).await
        })
    });
    let mut opened = 0;
    for run in runs.collect::<Vec<_>>() {
        opened += run.await.unwrap().expect("evaluate").opened.len();
    }
    assert_eq!(opened, 1, "one evaluator opened it");
    let (_, list) = call(&app, "GET", &format!("/api/v1/alerts?vehicle={IDLE}"), None).await;
    let kinds: Vec<&str> = list["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["plugged_not_charging"], "{list}");
}

/// Orders tried by the property test below.
const ORDERS: u64 = 6;

/// The same deliveries, in any order (shuffled from a seed, `ALERT_ORDER_SEED` to replay
/// one), leave the same alerts open once all are in: each rule reads the newest state by
/// Smartcar's times, and the first report of a state after the last of another, never
/// the order of arrival. (While they arrive, an order can open an alert that a delivery
/// still on its way would have prevented, as it would in real life; it resolves when
/// that delivery lands.)
async fn the_alerts_open_at_the_end_do_not_depend_on_delivery_order(backend: Backend) {
    const OTHER: &str = "5a1e7c0d-2b3f-4a5e-8c6d-7e8f9a0b1c3e";
    let now = server::clock::now_ms();
    let deliveries: Vec<Vec<u8>> = vec![
        state_body(
            IDLE,
            40 * MINUTE,
            &[plugged(true), charging(false), soc(50.0), limit(90.0)],
        ),
        state_body(
            IDLE,
            30 * MINUTE,
            &[plugged(true), charging(true), soc(52.0)],
        ),
        state_body(
            IDLE,
            25 * MINUTE,
            &[plugged(true), charging(false), soc(60.0)],
        ),
        vehicle_error(IDLE, "ERROR", now - 20 * MINUTE, "order-1"),
        vehicle_error(IDLE, "RESOLVED", now - 10 * MINUTE, "order-2"),
        state_body(
            OTHER,
            60 * MINUTE,
            &[plugged(true), charging(true), soc(30.0)],
        ),
        state_body(OTHER, 50 * MINUTE, &[plugged(false), charging(false)]),
        state_body(OTHER, 45 * MINUTE, &[plugged(false), soc(40.0)]),
    ];
    let first_seed: u64 = std::env::var("ALERT_ORDER_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    let mut outcomes = Vec::new();
    for seed in first_seed..first_seed + ORDERS {
        let mut order: Vec<&Vec<u8>> = deliveries.iter().collect();
        if seed != first_seed {
            fastrand::Rng::with_seed(seed).shuffle(&mut order);
        }
        let app = spawn_app(backend).await;
        for body in order {
            assert_eq!(app.post_signed(body.clone()).await.status(), 200);
        }
        let ids: Vec<_> = [IDLE, OTHER]
            .iter()
            .map(|v| app::domain::ids::VehicleId::parse(v).unwrap())
            .collect();
        let at = chrono::DateTime::from_timestamp_millis(now + 1_000).unwrap();
        app::server::readiness::evaluate(&app.db, &ids, at)
            .await
            .unwrap();
        let (_, list) = call(&app, "GET", "/api/v1/alerts?status=open", None).await;
        let mut open: Vec<(String, String)> = list["alerts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                (
                    a["vehicle_id"].as_str().unwrap().to_owned(),
                    a["kind"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        open.sort();
        outcomes.push((seed, open));
    }
    let (_, expected) = &outcomes[0];
    assert_eq!(
        expected,
        &vec![(IDLE.to_owned(), "plugged_not_charging".to_owned())],
        "in order: idle since 25 minutes ago, its error resolved"
    );
    for (seed, open) in &outcomes[1..] {
        assert_eq!(
            open, expected,
            "ALERT_ORDER_SEED={first_seed}: order {seed} differs"
        );
    }
}
