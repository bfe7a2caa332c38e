//! The first page, server-rendered: what the vehicles' deliveries say.

use crate::helpers::{spawn_app, Backend, VEHICLE_A, VEHICLE_B};

crate::on_both_backends!(
    empty_fleet_explains_how_to_connect_smartcar,
    fleet_page_lists_vehicles_with_their_latest_state,
    unknown_page_is_a_real_404,
    a_fresh_session_without_energy_yet_counts_as_none,
);

async fn empty_fleet_explains_how_to_connect_smartcar(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("No vehicles yet"), "{html}");
    assert!(html.contains("/webhooks/smartcar"));
    assert!(html.contains("This server has a token."));
}

async fn fleet_page_lists_vehicles_with_their_latest_state(backend: Backend) {
    let app = spawn_app(backend).await;
    for name in [
        "02_first_delivery.json",
        "10_charge_stop.json",
        "12_doc_variant_first_delivery_already_charging.json",
    ] {
        assert_eq!(app.deliver(name).await.0, 200);
    }
    let html = app.get("/").await.text().await.unwrap();
    assert!(html.contains(VEHICLE_A) && html.contains(VEHICLE_B));
    assert!(html.contains("2023 POLESTAR Polestar 2"));
    assert!(html.contains("2021 TESLA Model 3"));
    // A: stopped at 80 %, still plugged in. B: charging at 47 %, 7.2 kW, in March: both
    // are stale now, so B's power is not shown, and its status says what it was.
    assert!(html.contains("80 %"));
    assert!(html.contains("47 %"));
    assert!(!html.contains("7.2 kW"), "{html}");
    assert!(html.contains("(was Charging)"), "{html}");
    assert!(html.contains("Plugged in"));
    // The last update is the newest OEM time: 12's 2026-03-14T21:29:00Z.
    assert!(html.contains("2026-03-14 21:29"), "{html}");
    assert!(
        html.contains("Times are shown in <span class=\"zone-name\">UTC</span>"),
        "{html}"
    );

    // The same data through the server function the hydrated page calls.
    let json = app.fleet_page().await;
    assert_eq!(json["vehicles"].as_array().unwrap().len(), 2);
    assert_eq!(json["webhooks_enabled"], true);
}

async fn unknown_page_is_a_real_404(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(response.text().await.unwrap().contains("Page not found"));
}

/// A session that started in the last days but has no energy figure yet (just begun, or
/// a vehicle that reports none) sums as nothing, and the pages still answer. Found by
/// demo mode: SQLite summed such rows as the integer 0, which then failed to read as a
/// number of kWh.
async fn a_fresh_session_without_energy_yet_counts_as_none(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = spawn_app(backend).await;
    assert_eq!(app.deliver("02_first_delivery.json").await.0, 200);
    let now = server::clock::now_ms();
    for (n, started) in [(1, now - 3_600_000), (2, now - 10 * 86_400_000)] {
        app.db
            .execute_unprepared(&format!(
                "INSERT INTO sessions (id, vehicle_id, status, started_at, start_observed, \
                 end_inferred, duration_s, last_reading_at, intervals) VALUES \
                 ('{VEHICLE_A}:{n}', '{VEHICLE_A}', 'charging', {started}, true, false, 0, \
                 {started}, '[]')"
            ))
            .await
            .unwrap();
    }
    for path in ["/", "/api/v1/vehicles", &format!("/vehicles/{VEHICLE_A}")] {
        let response = app.get(path).await;
        assert_eq!(response.status(), 200, "{path}");
    }
}
