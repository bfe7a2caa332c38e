//! `/api/v1/openapi.json` describes what the API really answers: every documented path is
//! called, and each answer is validated against the schema the document gives for its
//! path and status.

use crate::helpers::{spawn_scenario, Backend, TestApp, VEHICLE_A};
use serde_json::{json, Value};
use std::collections::BTreeSet;

crate::on_both_backends!(the_openapi_document_matches_the_real_responses);

/// The schema errors of `body` as the answer of `template` with `status`.
fn errors(doc: &Value, method: &str, template: &str, status: u16, body: &Value) -> Vec<String> {
    let response = &doc["paths"][template][method]["responses"][status.to_string()];
    assert!(
        response.is_object(),
        "{method} {template} documents no {status}"
    );
    let schema = &response["content"]["application/json"]["schema"];
    if status == 204 {
        assert!(schema.is_null(), "{method} {template}: a 204 has no body");
        return Vec::new();
    }
    assert!(
        schema.is_object(),
        "{method} {template} documents no {status} body"
    );
    // The schema's references point into the document's components.
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "allOf": [schema],
        "components": doc["components"],
    });
    let validator = jsonschema::validator_for(&root).expect("a valid JSON Schema");
    validator
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// One documented call: method, path template, URL, body, expected status.
type Call = (&'static str, &'static str, String, Option<Value>, u16);

/// Makes the call and checks its answer against the document's schema for `template`;
/// returns the answer.
async fn check(app: &TestApp, doc: &Value, call: &Call) -> Value {
    let (method, template, url, body, status) = call;
    let mut request = app
        .client
        .request(method.to_uppercase().parse().unwrap(), app.url(url));
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status().as_u16(), *status, "{method} {url}");
    let text = response.text().await.unwrap();
    let answer: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let errors = errors(doc, method, template, *status, &answer);
    assert!(
        errors.is_empty(),
        "{method} {url} ({status}): {errors:#?}\n{answer:#}"
    );
    answer
}

async fn the_openapi_document_matches_the_real_responses(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    // The check can fail: a body that breaks the schema is caught.
    let wrong = json!({ "vehicles": [{ "id": 7, "latest": {}, "session_count": "many" }] });
    assert!(!errors(&doc, "get", "/api/v1/vehicles", 200, &wrong).is_empty());

    let session = format!("{VEHICLE_A}:1773511330000");
    let mut calls: Vec<Call> = vec![
        ("get", "/api/v1/vehicles", "/api/v1/vehicles".to_owned(), None, 200),
        ("get", "/api/v1/vehicles",
            "/api/v1/vehicles?limit=1&sort=-soc&q=a&status=idle".to_owned(), None, 200),
        ("get", "/api/v1/vehicles",
            "/api/v1/vehicles?sort=colour".to_owned(), None, 400),
        ("get", "/api/v1/vehicles/{id}/sessions",
            format!("/api/v1/vehicles/{VEHICLE_A}/sessions?limit=1"), None, 200),
        ("get", "/api/v1/vehicles/{id}/sessions",
            format!("/api/v1/vehicles/{VEHICLE_A}/sessions?limit=0"), None, 400),
        ("get", "/api/v1/vehicles/{id}/sessions",
            "/api/v1/vehicles/nope/sessions".to_owned(), None, 404),
        ("get", "/api/v1/sessions/{id}", format!("/api/v1/sessions/{session}"), None, 200),
        ("get", "/api/v1/sessions/{id}", "/api/v1/sessions/nope".to_owned(), None, 404),
        ("get", "/api/v1/vehicles/{id}/energy",
            format!(
                "/api/v1/vehicles/{VEHICLE_A}/energy?bucket=week&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&tz=Europe/Stockholm"
            ), None, 200),
        ("get", "/api/v1/vehicles/{id}/energy",
            format!("/api/v1/vehicles/{VEHICLE_A}/energy?bucket=year"), None, 400),
        ("get", "/api/v1/vehicles/{id}/energy",
            "/api/v1/vehicles/nope/energy".to_owned(), None, 404),
    ];
    for call in &calls {
        check(&app, &doc, call).await;
    }
    calls.extend(places_and_tariffs(&app, &doc, &session).await);
    calls.extend(schedules_and_readiness(&app, &doc).await);
    calls.extend(alerts(&app, &doc).await);
    // Every documented path was called, and every documented status.
    let documented: BTreeSet<(String, String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .flat_map(move |(method, op)| {
                    op["responses"]
                        .as_object()
                        .unwrap()
                        .keys()
                        .map(move |status| (method.clone(), path.clone(), status.clone()))
                })
        })
        .collect();
    let called: BTreeSet<(String, String, String)> = calls
        .iter()
        .map(|(m, t, _, _, s)| ((*m).to_owned(), (*t).to_owned(), s.to_string()))
        .collect();
    assert_eq!(documented, called);
    // A session's answer really carries what the schema promises beyond the basics.
    let detail: Value = app
        .get(&format!("/api/v1/sessions/{session}"))
        .await
        .json()
        .await
        .unwrap();
    assert!(!detail["samples"].as_array().unwrap().is_empty());
    assert!(!detail["deliveries"].as_array().unwrap().is_empty());
}

/// The calls of places, tariffs and manual costs, made in order (each answer may name
/// what the next call uses).
async fn places_and_tariffs(app: &TestApp, doc: &Value, session: &str) -> Vec<Call> {
    let place =
        json!({"name": "Depot", "kind": "depot", "latitude": 59.3346, "longitude": 18.0632});
    let tariff = json!({
        "currency": "EUR", "valid_from": "2026-01-01", "session_fee": "0.00",
        "per_minute": "0.00", "default_per_kwh": "0.30", "charger_type": null,
        "bands": [{"days": ["mon", "tue"], "from": "22:00", "to": "06:00", "months": [1, 2],
                   "price_per_kwh": "0.12"}]
    });
    let mut calls: Vec<Call> = vec![
        (
            "post",
            "/api/v1/places",
            "/api/v1/places".into(),
            Some(place.clone()),
            201,
        ),
        (
            "post",
            "/api/v1/places",
            "/api/v1/places".into(),
            Some(place.clone()),
            409,
        ),
        (
            "post",
            "/api/v1/places",
            "/api/v1/places".into(),
            Some(json!({"name": "x"})),
            400,
        ),
        (
            "post",
            "/api/v1/places",
            "/api/v1/places".into(),
            Some(json!({"name": "x".repeat(70_000)})),
            413,
        ),
    ];
    let created = check(app, doc, &calls[0]).await;
    for call in &calls[1..] {
        check(app, doc, call).await;
    }
    let id = created["id"].as_str().unwrap().to_owned();
    let place_path = format!("/api/v1/places/{id}");
    let tariffs_path = format!("/api/v1/places/{id}/tariffs");
    let mut next: Vec<Call> = vec![
        ("get", "/api/v1/places", "/api/v1/places".into(), None, 200),
        (
            "get",
            "/api/v1/places",
            "/api/v1/places?limit=1".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/places",
            "/api/v1/places?limit=0".into(),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/places/suggestions",
            "/api/v1/places/suggestions".into(),
            None,
            200,
        ),
        ("get", "/api/v1/places/{id}", place_path.clone(), None, 200),
        (
            "get",
            "/api/v1/places/{id}/load",
            format!("{place_path}/load?from=2026-03-01&to=2026-03-31&interval=15m"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/places/{id}/load",
            format!("{place_path}/load?interval=7m"),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/places/{id}/load",
            "/api/v1/places/nope/load".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/places/{id}/what-if",
            format!("{place_path}/what-if?cap_kw=11&from=2026-03-08&to=2026-03-14"),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/places/{id}/what-if",
            format!("{place_path}/what-if?cap_kw=0"),
            None,
            400,
        ),
        (
            "get",
            "/api/v1/places/{id}/what-if",
            "/api/v1/places/nope/what-if?cap_kw=11".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/places/{id}",
            "/api/v1/places/nope".into(),
            None,
            404,
        ),
        (
            "patch",
            "/api/v1/places/{id}",
            place_path.clone(),
            Some(json!({"radius_m": 200})),
            200,
        ),
        (
            "patch",
            "/api/v1/places/{id}",
            place_path.clone(),
            Some(json!({"radius_m": 1})),
            400,
        ),
        (
            "patch",
            "/api/v1/places/{id}",
            "/api/v1/places/nope".into(),
            Some(json!({})),
            404,
        ),
        (
            "post",
            "/api/v1/places",
            "/api/v1/places".into(),
            Some(json!({"name": "Other", "kind": "home", "latitude": 1.0, "longitude": 2.0})),
            201,
        ),
        (
            "patch",
            "/api/v1/places/{id}",
            place_path.clone(),
            Some(json!({"name": "OTHER"})),
            409,
        ),
        (
            "post",
            "/api/v1/places/{id}/tariffs",
            tariffs_path.clone(),
            Some(tariff.clone()),
            201,
        ),
        (
            "post",
            "/api/v1/places/{id}/tariffs",
            tariffs_path.clone(),
            Some(tariff.clone()),
            400,
        ),
        (
            "post",
            "/api/v1/places/{id}/tariffs",
            "/api/v1/places/nope/tariffs".into(),
            Some(tariff.clone()),
            404,
        ),
        (
            "get",
            "/api/v1/places/{id}/tariffs",
            tariffs_path.clone(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/places/{id}/tariffs",
            "/api/v1/places/nope/tariffs".into(),
            None,
            404,
        ),
        (
            "post",
            "/api/v1/tariffs/default",
            "/api/v1/tariffs/default".into(),
            Some(tariff.clone()),
            201,
        ),
        (
            "post",
            "/api/v1/tariffs/default",
            "/api/v1/tariffs/default".into(),
            Some(json!({"currency": "EUR"})),
            400,
        ),
        (
            "get",
            "/api/v1/tariffs/default",
            "/api/v1/tariffs/default".into(),
            None,
            200,
        ),
        (
            "put",
            "/api/v1/sessions/{id}/cost",
            format!("/api/v1/sessions/{session}/cost"),
            Some(json!({"amount": "12.30", "currency": "EUR", "note": "receipt"})),
            200,
        ),
        (
            "put",
            "/api/v1/sessions/{id}/cost",
            format!("/api/v1/sessions/{session}/cost"),
            Some(json!({"amount": "-1", "currency": "EUR"})),
            400,
        ),
        (
            "put",
            "/api/v1/sessions/{id}/cost",
            "/api/v1/sessions/nope/cost".into(),
            Some(json!({"amount": "1", "currency": "EUR"})),
            404,
        ),
        (
            "get",
            "/api/v1/sessions/{id}",
            format!("/api/v1/sessions/{session}"),
            None,
            200,
        ),
        (
            "delete",
            "/api/v1/sessions/{id}/cost",
            format!("/api/v1/sessions/{session}/cost"),
            None,
            204,
        ),
        (
            "delete",
            "/api/v1/sessions/{id}/cost",
            format!("/api/v1/sessions/{session}/cost"),
            None,
            404,
        ),
        (
            "delete",
            "/api/v1/tariffs/{id}",
            "/api/v1/tariffs/nope".into(),
            None,
            404,
        ),
        (
            "get",
            "/api/v1/reports/monthly",
            "/api/v1/reports/monthly?month=2026-03&tz=Europe/Stockholm".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/reports/monthly",
            "/api/v1/reports/monthly?month=2026-3".into(),
            None,
            400,
        ),
    ];
    let mut tariff_id = None;
    for call in &next {
        let answer = check(app, doc, call).await;
        if call.0 == "post" && call.2 == tariffs_path && call.4 == 201 {
            tariff_id = answer["id"].as_str().map(str::to_owned);
        }
    }
    let last: Vec<Call> = vec![
        (
            "delete",
            "/api/v1/tariffs/{id}",
            format!("/api/v1/tariffs/{}", tariff_id.unwrap()),
            None,
            204,
        ),
        (
            "delete",
            "/api/v1/places/{id}",
            place_path.clone(),
            None,
            204,
        ),
        ("delete", "/api/v1/places/{id}", place_path, None, 404),
    ];
    for call in &last {
        check(app, doc, call).await;
    }
    calls.append(&mut next);
    calls.extend(last);
    calls
}

/// The schedule and readiness calls, in an order where each answers as expected (the
/// fleet default is missing before it is set).
async fn schedules_and_readiness(app: &TestApp, doc: &Value) -> Vec<Call> {
    let good = json!({"timezone": "Europe/Berlin", "required_soc": 80,
                      "departures": [{"days": ["mon", "fri"], "time": "06:00"}]});
    let bad = json!({"timezone": "Mars/Olympus", "departures": []});
    let huge = json!({"timezone": "UTC", "departures": [], "pad": "x".repeat(70_000)});
    let default = "/api/v1/schedules/default";
    let own = "/api/v1/vehicles/{id}/schedule";
    let mine = format!("/api/v1/vehicles/{VEHICLE_A}/schedule");
    let nobody = "/api/v1/vehicles/nope/schedule".to_owned();
    let calls: Vec<Call> = vec![
        ("get", default, default.into(), None, 404),
        ("put", default, default.into(), Some(good.clone()), 200),
        ("put", default, default.into(), Some(bad.clone()), 400),
        ("put", default, default.into(), Some(huge.clone()), 413),
        ("get", default, default.into(), None, 200),
        ("get", own, mine.clone(), None, 200),
        ("get", own, nobody.clone(), None, 404),
        ("put", own, mine.clone(), Some(good.clone()), 200),
        ("put", own, mine.clone(), Some(bad), 400),
        ("put", own, mine.clone(), Some(huge), 413),
        ("put", own, nobody.clone(), Some(good), 404),
        ("delete", own, mine, None, 200),
        ("delete", own, nobody, None, 404),
        (
            "get",
            "/api/v1/readiness",
            "/api/v1/readiness?limit=5&status=no_data".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/readiness",
            "/api/v1/readiness".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/readiness",
            "/api/v1/readiness?status=late".into(),
            None,
            400,
        ),
    ];
    for call in &calls {
        check(app, doc, call).await;
    }
    calls
}

/// The calls of alerts and their settings (the scenario's vehicle, long silent, has an
/// open alert).
async fn alerts(app: &TestApp, doc: &Value) -> Vec<Call> {
    let list: Call = ("get", "/api/v1/alerts", "/api/v1/alerts".into(), None, 200);
    let found = check(app, doc, &list).await;
    let id = found["alerts"][0]["id"].as_i64().expect("an open alert");
    let one = format!("/api/v1/alerts/{id}");
    let ack = format!("/api/v1/alerts/{id}/acknowledge");
    let settings = "/api/v1/alerts/settings";
    let defaults = json!({
        "not_plugged": {"enabled": true, "minutes": 120},
        "plugged_not_charging": {"enabled": true, "minutes": 15},
        "ended_below_required": {"enabled": true},
        "vehicle_silent": {"enabled": true, "plugged_hours": 6, "unplugged_hours": 24},
        "vehicle_error": {"enabled": true},
        "slow_charging": {"enabled": true, "percent_of_median": 50},
    });
    let mut bad = defaults.clone();
    bad["slow_charging"]["percent_of_median"] = json!(100);
    let big = json!({"note": "x".repeat(70_000)});
    let calls: Vec<Call> = vec![
        (
            "get",
            "/api/v1/alerts",
            "/api/v1/alerts?status=open&kind=vehicle_silent&limit=1".into(),
            None,
            200,
        ),
        (
            "get",
            "/api/v1/alerts",
            "/api/v1/alerts?kind=bogus".into(),
            None,
            400,
        ),
        ("get", "/api/v1/alerts/{id}", one.clone(), None, 200),
        (
            "get",
            "/api/v1/alerts/{id}",
            "/api/v1/alerts/nope".into(),
            None,
            404,
        ),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            ack.clone(),
            Some(json!({"note": "on it"})),
            200,
        ),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            ack.clone(),
            Some(json!({"note": "x".repeat(501)})),
            400,
        ),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            "/api/v1/alerts/999999/acknowledge".into(),
            Some(json!({})),
            404,
        ),
        (
            "post",
            "/api/v1/alerts/{id}/acknowledge",
            ack,
            Some(big.clone()),
            413,
        ),
        ("get", "/api/v1/alerts/settings", settings.into(), None, 200),
        (
            "put",
            "/api/v1/alerts/settings",
            settings.into(),
            Some(defaults),
            200,
        ),
        (
            "put",
            "/api/v1/alerts/settings",
            settings.into(),
            Some(bad),
            400,
        ),
        (
            "put",
            "/api/v1/alerts/settings",
            settings.into(),
            Some(big),
            413,
        ),
    ];
    for call in &calls {
        check(app, doc, call).await;
    }
    let mut all = vec![list];
    all.extend(calls);
    all
}
