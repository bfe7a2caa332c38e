//! Signature checks through the real endpoint: only the exact signed bytes get in.

use crate::helpers::{fixture, sign, spawn_app, spawn_app_with_token, Backend, TestApp};
use serde_json::Value;

crate::on_both_backends!(
    missing_wrong_and_reserialised_signatures_are_refused_and_store_nothing,
    the_fixture_file_signature_and_the_compact_form_signature_both_work,
    without_a_token_webhooks_are_refused_with_503,
);

async fn assert_nothing_stored(app: &TestApp) {
    for table in [
        "deliveries",
        "dead_letters",
        "vehicles",
        "signal_readings",
        "vehicle_latest",
    ] {
        assert_eq!(app.count(table).await, 0, "{table}");
    }
}

async fn missing_wrong_and_reserialised_signatures_are_refused_and_store_nothing(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = fixture("03_charge_start.json");
    let file_signature = sign(&body);

    let missing = app.post_webhook(body.clone(), None).await;
    assert_eq!(missing.status(), 401);

    let wrong = app.post_webhook(body.clone(), Some(&"0".repeat(64))).await;
    assert_eq!(wrong.status(), 401);
    let json: Value = wrong.json().await.unwrap();
    assert!(json["error"].as_str().unwrap().contains("signature"));

    let malformed = app.post_webhook(body.clone(), Some("sha256=abcdef")).await;
    assert_eq!(malformed.status(), 401);

    // Re-serialising (sorted keys, compact) changes the bytes: the file's signature no
    // longer matches, which is the point of hashing raw bytes.
    let parsed: Value = serde_json::from_slice(&body).unwrap();
    let sorted: std::collections::BTreeMap<String, Value> = serde_json::from_value(parsed).unwrap();
    let reserialised = serde_json::to_vec(&sorted).unwrap();
    assert_ne!(reserialised, body);
    let response = app.post_webhook(reserialised, Some(&file_signature)).await;
    assert_eq!(response.status(), 401);

    // Signed with another key.
    let other =
        server::webhook::signature::Verifier::new("another-token".to_owned().into()).sign(&body);
    assert_eq!(app.post_webhook(body, Some(&other)).await.status(), 401);

    assert_nothing_stored(&app).await;
    assert_eq!(app.rejected.load(std::sync::atomic::Ordering::Relaxed), 5);
}

async fn the_fixture_file_signature_and_the_compact_form_signature_both_work(backend: Backend) {
    let app = spawn_app(backend).await;
    // Column 3 of signatures.tsv, for the file bytes.
    let body = fixture("04_charge_mid_session.json");
    let response = app
        .post_webhook(
            body,
            Some("0f2561ffee9a5e48d2c817960bf0f70758d57264f62df840edaed345aaeb4494"),
        )
        .await;
    assert_eq!(response.status(), 200);
    // Column 5, for the compact form (key order kept).
    let parsed: Value = serde_json::from_slice(&fixture("03_charge_start.json")).unwrap();
    let compact = serde_json::to_vec(&parsed).unwrap();
    let response = app
        .post_webhook(
            compact,
            Some("d5eacd74ed4336dd4c06a59e3aae5b53618a3c06f0c2c7c727c5ded7cb2dc62b"),
        )
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(app.count("deliveries").await, 2);
}

async fn without_a_token_webhooks_are_refused_with_503(backend: Backend) {
    let app = spawn_app_with_token(backend, None).await;
    let response = app.post_fixture("03_charge_start.json").await;
    assert_eq!(response.status(), 503);
    let verify = app.post_fixture("01_verify.json").await;
    assert_eq!(verify.status(), 503);
    assert_nothing_stored(&app).await;
}
