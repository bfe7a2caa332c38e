//! `/api/v1/openapi.json` describes what the API really answers: every documented path is
//! called, and each answer is validated against the schema the document gives for its
//! path and status.

use crate::helpers::{spawn_scenario, Backend, TestApp, VEHICLE_A};
use serde_json::{json, Value};
use std::collections::BTreeSet;

crate::on_both_backends!(the_openapi_document_matches_the_real_responses);

/// The schema errors of `body` as the answer of `template` with `status`.
fn errors(doc: &Value, template: &str, status: u16, body: &Value) -> Vec<String> {
    let schema = &doc["paths"][template]["get"]["responses"][status.to_string()]["content"]
        ["application/json"]["schema"];
    assert!(schema.is_object(), "{template} documents no {status} body");
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

/// Calls `url` and checks its JSON against the document's schema for `template`.
async fn check(app: &TestApp, doc: &Value, template: &str, url: &str, status: u16) {
    let response = app.get(url).await;
    assert_eq!(response.status().as_u16(), status, "{url}");
    let body: Value = response.json().await.unwrap();
    let errors = errors(doc, template, status, &body);
    assert!(errors.is_empty(), "{url} ({status}): {errors:#?}\n{body:#}");
}

async fn the_openapi_document_matches_the_real_responses(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
    let doc: Value = response.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));

    // The check can fail: a body that breaks the schema is caught.
    let wrong = json!({ "vehicles": [{ "id": 7, "latest": {}, "session_count": "many" }] });
    assert!(!errors(&doc, "/api/v1/vehicles", 200, &wrong).is_empty());

    let session = format!("{VEHICLE_A}:1773511330000");
    let calls = [
        ("/api/v1/vehicles", "/api/v1/vehicles".to_owned(), 200),
        (
            "/api/v1/vehicles",
            "/api/v1/vehicles?limit=1&sort=-soc&q=a&status=idle".to_owned(),
            200,
        ),
        (
            "/api/v1/vehicles",
            "/api/v1/vehicles?sort=colour".to_owned(),
            400,
        ),
        (
            "/api/v1/vehicles/{id}/sessions",
            format!("/api/v1/vehicles/{VEHICLE_A}/sessions?limit=1"),
            200,
        ),
        (
            "/api/v1/vehicles/{id}/sessions",
            format!("/api/v1/vehicles/{VEHICLE_A}/sessions?limit=0"),
            400,
        ),
        (
            "/api/v1/vehicles/{id}/sessions",
            "/api/v1/vehicles/nope/sessions".to_owned(),
            404,
        ),
        ("/api/v1/sessions/{id}", format!("/api/v1/sessions/{session}"), 200),
        ("/api/v1/sessions/{id}", "/api/v1/sessions/nope".to_owned(), 404),
        (
            "/api/v1/vehicles/{id}/energy",
            format!(
                "/api/v1/vehicles/{VEHICLE_A}/energy?bucket=week&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z&tz=Europe/Stockholm"
            ),
            200,
        ),
        (
            "/api/v1/vehicles/{id}/energy",
            format!("/api/v1/vehicles/{VEHICLE_A}/energy?bucket=year"),
            400,
        ),
        (
            "/api/v1/vehicles/{id}/energy",
            "/api/v1/vehicles/nope/energy".to_owned(),
            404,
        ),
    ];
    for (template, url, status) in &calls {
        check(&app, &doc, template, url, *status).await;
    }
    // Every documented path was called, and every documented status.
    let documented: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item["get"]["responses"]
                .as_object()
                .unwrap()
                .keys()
                .map(move |status| (path.clone(), status.clone()))
        })
        .collect();
    let called: BTreeSet<(String, String)> = calls
        .iter()
        .map(|(t, _, s)| ((*t).to_owned(), s.to_string()))
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
