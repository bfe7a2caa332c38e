//! The webhook log behind `/events`, and live updates on `/live`.

use crate::helpers::{
    fixture, sign, spawn_app, spawn_scenario, Backend, TestApp, VEHICLE_A, VEHICLE_B,
};
use std::time::Duration;

crate::on_both_backends!(
    every_request_is_logged_with_its_outcome,
    the_log_filters_by_vehicle_and_outcome_and_pages,
    the_deliveries_page_renders_and_refuses_unknown_outcomes,
    live_updates_announce_a_delivery_after_it_is_stored,
    a_session_lists_the_deliveries_that_built_it,
    the_log_migration_copies_earlier_deliveries_and_dead_letters,
    old_log_lines_of_requests_that_stored_nothing_are_pruned,
);

async fn old_log_lines_of_requests_that_stored_nothing_are_pruned(backend: Backend) {
    let app = spawn_scenario(backend).await;
    app.post_webhook(b"{}".to_vec(), None).await;
    let before = app.count("webhook_log").await;
    let soon = app::domain::time::EpochMs::from_datetime(chrono::Utc::now()).unwrap();
    assert_eq!(
        server::tasks::sweep::prune_log(&app.db, soon)
            .await
            .unwrap(),
        0
    );
    let later =
        app::domain::time::EpochMs::new(soon.as_millis() + server::tasks::sweep::LOG_KEEP_MS + 1)
            .unwrap();
    // The VERIFY answer, the duplicate and the refusal go; the 10 stored stay.
    assert_eq!(
        server::tasks::sweep::prune_log(&app.db, later)
            .await
            .unwrap(),
        3
    );
    assert_eq!(app.count("webhook_log").await, before - 3);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) AS n FROM webhook_log WHERE outcome = 'stored'")
            .await,
        10
    );
}

async fn log(app: &TestApp, form: &[(&str, &str)]) -> serde_json::Value {
    let (status, json) = app.server_fn("webhook_log", form).await;
    assert_eq!(status, 200, "{json}");
    json
}

fn outcomes(json: &serde_json::Value) -> Vec<String> {
    json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap_or("?").to_owned())
        .collect()
}

async fn every_request_is_logged_with_its_outcome(backend: Backend) {
    let app = spawn_scenario(backend).await;
    // A bad signature and an unprocessable signed body.
    let refused = app
        .post_webhook(fixture("03_charge_start.json"), Some("00"))
        .await;
    assert_eq!(refused.status(), 401);
    let letter = br#"{"eventType":"VEHICLE_STATE","eventId":"dl-1","data":{}}"#.to_vec();
    let signature = sign(&letter);
    assert_eq!(
        app.post_webhook(letter, Some(&signature)).await.status(),
        202
    );

    let json = log(&app, &[]).await;
    let got = outcomes(&json);
    // Newest first: the scenario (VERIFY, 10 stored, one duplicate), then the two above.
    assert_eq!(got[0], "dead_letter");
    assert_eq!(got[1], "rejected_signature");
    assert_eq!(got.len(), 14, "{got:?}");
    assert_eq!(got.iter().filter(|o| *o == "stored").count(), 10);
    assert_eq!(got.iter().filter(|o| *o == "duplicate").count(), 1);
    assert_eq!(got.last().map(String::as_str), Some("verified"));
    let duplicate = json["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["outcome"] == "duplicate")
        .unwrap();
    assert_eq!(duplicate["vehicle_id"], VEHICLE_A);
    assert!(duplicate["event_id"].as_str().is_some());
    // The refused request's body is not trusted: nothing from it is shown.
    let rejected = &json["entries"][1];
    assert!(rejected["vehicle_id"].is_null() && rejected["event_id"].is_null());
    assert!(rejected["detail"].as_str().unwrap().contains("signature"));
    // A duplicate still stores no second delivery.
    assert_eq!(app.count("deliveries").await, 10);
}

async fn the_log_filters_by_vehicle_and_outcome_and_pages(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let b = log(&app, &[("vehicle", VEHICLE_B)]).await;
    assert!(!b["entries"].as_array().unwrap().is_empty());
    assert!(b["entries"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["vehicle_id"] == VEHICLE_B));
    let dups = log(&app, &[("outcome", "duplicate")]).await;
    assert_eq!(outcomes(&dups), vec!["duplicate"]);
    // Both vehicles are offered as filters, by name.
    let names: Vec<&str> = b["vehicles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[1].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec!["2021 TESLA Model 3", "2023 POLESTAR Polestar 2"]
    );
    // Paging: 60 more deliveries make two pages of 50 and a third.
    for n in 0..60 {
        let mut e: serde_json::Value =
            serde_json::from_slice(&fixture("04_charge_mid_session.json")).unwrap();
        e["eventId"] = serde_json::json!(format!("paging-{n}"));
        let body = serde_json::to_vec(&e).unwrap();
        assert_eq!(app.post_signed(body).await.status(), 200);
    }
    let first = log(&app, &[]).await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 50);
    let before = first["next_before"].as_i64().unwrap().to_string();
    let second = log(&app, &[("before", &before)]).await;
    assert_eq!(second["entries"].as_array().unwrap().len(), 22);
    assert!(second["next_before"].is_null());
    let last_of_first = first["entries"][49]["id"].as_i64().unwrap();
    assert!(second["entries"][0]["id"].as_i64().unwrap() < last_of_first);
}

async fn the_deliveries_page_renders_and_refuses_unknown_outcomes(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let html = app.get("/events").await.text().await.unwrap();
    assert!(html.contains("<h1>Deliveries</h1>"), "{html}");
    assert!(html.contains("VERIFY answered") && html.contains("Duplicate"));
    assert!(html.contains(&format!("/vehicles/{VEHICLE_A}")));
    let html = app
        .get("/events?outcome=duplicate")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("data-outcome=\"duplicate\"").count(), 1);
    assert_eq!(html.matches("data-outcome=\"stored\"").count(), 0);
    let (status, json) = app
        .server_fn("webhook_log", &[("outcome", "nonsense")])
        .await;
    assert_eq!(status, 400, "{json}");
    assert!(
        json.to_string().contains("no outcome called nonsense"),
        "{json}"
    );
}

/// Reads the SSE stream until an event named `name` arrives; returns its data.
async fn next_event(response: &mut reqwest::Response, name: &str) -> String {
    let mut buffer = String::new();
    loop {
        let chunk = tokio::time::timeout(Duration::from_secs(5), response.chunk())
            .await
            .expect("an event within 5 s")
            .expect("stream")
            .expect("stream still open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.lines().any(|l| l == format!("event: {name}")) {
                return event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data: "))
                    .collect();
            }
        }
    }
}

async fn live_updates_announce_a_delivery_after_it_is_stored(backend: Backend) {
    let app = spawn_app(backend).await;
    let mut stream = app.get("/live").await;
    assert_eq!(stream.status(), 200);
    assert!(stream.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    next_event(&mut stream, "hello").await;
    let started = std::time::Instant::now();
    assert_eq!(app.deliver("03_charge_start.json").await.0, 200);
    let data = next_event(&mut stream, "delivery").await;
    let event: serde_json::Value = serde_json::from_str(&data).unwrap();
    assert_eq!(event["outcome"], "stored");
    assert_eq!(event["vehicle_id"], VEHICLE_A);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // A refusal is news too (an operator watching /events sees it).
    app.post_webhook(b"{}".to_vec(), None).await;
    let data = next_event(&mut stream, "delivery").await;
    assert!(data.contains("rejected_signature"), "{data}");
}

async fn a_session_lists_the_deliveries_that_built_it(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, json) = app
        .server_fn(
            "session_detail",
            &[("id", &format!("{VEHICLE_A}:1773511330000"))],
        )
        .await;
    assert_eq!(status, 200, "{json}");
    let deliveries = json["deliveries"].as_array().unwrap();
    // Start, mid-session, the late older one, the partial failure, stop.
    assert!(deliveries.len() >= 4, "{json}");
    assert!(deliveries.iter().all(|d| d["outcome"] == "stored"));
    assert!(deliveries.iter().all(|d| d["vehicle_id"] == VEHICLE_A));
    let html = app
        .get(&format!("/sessions/{VEHICLE_A}:1773511330000"))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("Deliveries that built this session"));
}

/// A database from before the webhook log gets one, filled from what it already holds.
async fn the_log_migration_copies_earlier_deliveries_and_dead_letters(backend: Backend) {
    use app::domain::events::Outcome;
    use app::server::entities::{dead_letters, deliveries, webhook_log};
    use migrations::MigratorTrait;
    use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let settings = server::config::DatabaseSettings::parse(&url).unwrap();
    let db = server::db::connect(&settings).await.unwrap();
    migrations::Migrator::up(&db, Some(2)).await.unwrap();
    let delivery = |event: &str, at: i64| deliveries::ActiveModel {
        event_id: Set(Some(event.to_owned())),
        event_type: Set("VEHICLE_STATE".to_owned()),
        vehicle_id: Set(Some(VEHICLE_A.to_owned())),
        triggers: Set(serde_json::json!(["IsCharging"])),
        received_at: Set(at),
        outcome: Set(Outcome::Stored),
        signal_count: Set(1),
        raw_body: Set(b"{}".to_vec()),
        ..Default::default()
    };
    deliveries::Entity::insert(delivery("e-late", 3_000))
        .exec(&db)
        .await
        .unwrap();
    deliveries::Entity::insert(delivery("e-early", 1_000))
        .exec(&db)
        .await
        .unwrap();
    dead_letters::Entity::insert(dead_letters::ActiveModel {
        received_at: Set(2_000),
        error: Set("missing eventId".to_owned()),
        raw_body: Set(b"{}".to_vec()),
        ..Default::default()
    })
    .exec(&db)
    .await
    .unwrap();
    migrations::Migrator::up(&db, None).await.unwrap();
    let rows = webhook_log::Entity::find()
        .order_by_asc(webhook_log::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let got: Vec<(i64, &str, Option<&str>)> = rows
        .iter()
        .map(|r| (r.received_at, r.outcome.as_str(), r.event_id.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1_000, "stored", Some("e-early")),
            (2_000, "dead_letter", None),
            (3_000, "stored", Some("e-late")),
        ]
    );
    assert_eq!(rows[1].detail.as_deref(), Some("missing eventId"));
    let triggers: Vec<String> = serde_json::from_str(rows[0].triggers.as_deref().unwrap()).unwrap();
    assert_eq!(triggers, vec!["IsCharging"]);
}
