//! VERIFY challenges: answered for Smartcar, refused as a signing oracle.

use crate::helpers::{fixture, sign, spawn_app, Backend};
use serde_json::{json, Value};

crate::on_both_backends!(
    verify_challenge_is_answered_with_the_hmac,
    legacy_v2_verify_is_answered,
    verify_cannot_be_used_to_sign_arbitrary_bodies,
);

async fn verify_challenge_is_answered_with_the_hmac(backend: Backend) {
    let app = spawn_app(backend).await;
    // Unsigned, as Smartcar's examples send it.
    let response = app.post_webhook(fixture("01_verify.json"), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let expected =
        json!({"challenge": "f4412cc75c8f51e0f394c002b45d7a706248f4ec12eacf86f7c9cc75ede35d0b"});
    assert_eq!(response.json::<Value>().await.unwrap(), expected);
    // Signed with the fixture file's signature: also fine.
    let response = app
        .post_webhook(
            fixture("01_verify.json"),
            Some("2628fc4593c5edb0fbf77f3bebd8322e8686e02329ffe87ba6ebe3b41b0552ca"),
        )
        .await;
    assert_eq!(response.json::<Value>().await.unwrap(), expected);
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.count("vehicles").await, 0);
}

async fn legacy_v2_verify_is_answered(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = br#"{"version":"2.0","webhookId":"w","eventName":"verify","payload":{"challenge":"6f1d2c3b-8a9e-4f70-b1c2-d3e4f5a6b7c8"}}"#;
    let response = app.post_webhook(body.to_vec(), None).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"challenge": "f4412cc75c8f51e0f394c002b45d7a706248f4ec12eacf86f7c9cc75ede35d0b"})
    );
}

async fn verify_cannot_be_used_to_sign_arbitrary_bodies(backend: Backend) {
    let app = spawn_app(backend).await;
    // The attack: ask the server to "answer" a challenge that is a forged delivery.
    let forged = String::from_utf8(fixture("03_charge_start.json")).unwrap();
    let compact_forged =
        serde_json::to_string(&serde_json::from_str::<Value>(&forged).unwrap()).unwrap();
    for challenge in [
        forged.clone(),
        compact_forged.clone(),
        "[1,2]".to_owned(),
        "x".repeat(129),
    ] {
        let body = json!({"eventId": "v", "eventType": "VERIFY", "data": {"challenge": challenge}});
        let response = app
            .post_webhook(serde_json::to_vec(&body).unwrap(), None)
            .await;
        // 400 for a challenge not of Smartcar's form; 401 for a VERIFY too large to be
        // read without a signature (the pretty-printed fixture).
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(
            !text.contains(&sign(challenge.as_bytes())),
            "must not sign it"
        );
        match status.as_u16() {
            400 => assert!(text.contains("VERIFY refused"), "{text}"),
            401 => assert!(challenge.len() > server::webhook::endpoint::MAX_UNSIGNED_BYTES / 2),
            other => panic!("{other}: {text}"),
        }
    }
    // A VERIFY that carries a wrong SC-Signature is refused before any signing.
    let response = app
        .post_webhook(fixture("01_verify.json"), Some(&"f".repeat(64)))
        .await;
    assert_eq!(response.status(), 401);
    // And nothing got stored by any of it.
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.count("dead_letters").await, 0);
}
