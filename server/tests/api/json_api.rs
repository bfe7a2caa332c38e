//! `/api/v1`: sessions, vehicles and energy as JSON, on SQLite and PostgreSQL.

use crate::helpers::{
    engine_for_fixtures, spawn_app_with, spawn_scenario, Backend, TestApp, TOKEN, VEHICLE_A,
    VEHICLE_B,
};
use serde_json::{json, Value};

crate::on_both_backends!(
    vehicles_list_their_latest_state_and_session_count,
    sessions_of_a_vehicle_newest_first_with_filters_and_paging,
    a_session_with_its_charge_curve,
    energy_buckets_in_a_time_zone,
    unknown_ids_are_404_and_bad_parameters_400,
);

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let response = app.get(path).await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn vehicles_list_their_latest_state_and_session_count(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, body) = get(&app, "/api/v1/vehicles").await;
    assert_eq!(status, 200);
    let vehicles = body["vehicles"].as_array().unwrap();
    assert_eq!(vehicles.len(), 2);
    let a = vehicles.iter().find(|v| v["id"] == VEHICLE_A).unwrap();
    assert_eq!(a["make"], "POLESTAR");
    assert_eq!(a["year"], 2023);
    assert_eq!(a["session_count"], 1);
    assert_eq!(a["latest"]["soc_percent"], 80.0);
    assert_eq!(a["latest"]["is_charging"], false);
    assert_eq!(a["latest"]["is_plugged_in"], false);
    assert_eq!(a["latest"]["latitude"], 59.334591);
    assert_eq!(a["latest"]["updated_at"], "2026-03-14T20:48:05Z");
    let b = vehicles.iter().find(|v| v["id"] == VEHICLE_B).unwrap();
    assert_eq!(b["latest"]["power_kw"], 7.2);
}

async fn sessions_of_a_vehicle_newest_first_with_filters_and_paging(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, body) = get(&app, &format!("/api/v1/vehicles/{VEHICLE_A}/sessions")).await;
    assert_eq!(status, 200);
    assert_eq!(body["next_cursor"], Value::Null);
    let s = &body["sessions"][0];
    assert_eq!(s["id"], format!("{VEHICLE_A}:1773511330000"));
    assert_eq!(s["vehicle_id"], VEHICLE_A);
    assert_eq!(s["status"], "completed");
    assert_eq!(s["started_at"], "2026-03-14T18:02:10Z");
    assert_eq!(s["ended_at"], "2026-03-14T20:15:30Z");
    assert_eq!(s["duration_s"], 8000);
    assert_eq!(s["start_observed"], true);
    assert_eq!(s["end_inferred"], false);
    assert_eq!(s["plugged_in_at"], "2026-03-14T18:02:10Z");
    assert_eq!(s["unplugged_at"], "2026-03-14T20:48:05Z");
    assert_eq!(s["soc_start"], 41.0);
    assert_eq!(s["soc_end"], 80.0);
    assert_eq!(s["energy_source"], "counter");
    assert!((s["energy_added_kwh"].as_f64().unwrap() - 33.1).abs() < 1e-9);
    assert_eq!(s["max_power_kw"], 10.9);
    assert_eq!(s["charge_limit_percent"], 80.0);
    assert_eq!(s["charger_type"], "AC");
    for field in [
        "range_start_km",
        "range_end_km",
        "avg_power_kw",
        "latitude",
        "longitude",
    ] {
        assert!(s[field].is_number(), "{field}: {s}");
    }

    // Filter out by date range.
    let (_, none) = get(
        &app,
        &format!("/api/v1/vehicles/{VEHICLE_A}/sessions?from=2026-03-15T00:00:00Z"),
    )
    .await;
    assert_eq!(none["sessions"], json!([]));
    let (_, some) = get(
        &app,
        &format!("/api/v1/vehicles/{VEHICLE_A}/sessions?from=2026-03-14T00:00:00Z&to=2026-03-15T00:00:00Z"),
    )
    .await;
    assert_eq!(some["sessions"].as_array().unwrap().len(), 1);
}

async fn a_session_with_its_charge_curve(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, body) = get(&app, &format!("/api/v1/sessions/{VEHICLE_A}:1773511330000")).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "completed");
    let samples = body["samples"].as_array().unwrap();
    // 03, 06, 04, 07, 10: five reading times inside the session.
    assert_eq!(samples.len(), 5, "{samples:#?}");
    assert_eq!(samples[0]["at"], "2026-03-14T18:02:10Z");
    assert_eq!(samples[0]["soc_percent"], 41.0);
    assert_eq!(samples[0]["power_kw"], 10.9);
    assert_eq!(samples[0]["voltage_v"], 228.0);
    assert_eq!(samples[0]["current_a"], 16.0);
    assert_eq!(samples[3]["power_kw"], Value::Null, "07's wattage failed");
    assert_eq!(samples[4]["energy_added_kwh"], 33.1);
}

async fn energy_buckets_in_a_time_zone(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, body) = get(
        &app,
        &format!(
            "/api/v1/vehicles/{VEHICLE_A}/energy?bucket=day&from=2026-03-13T00:00:00Z&to=2026-03-16T00:00:00Z&tz=Europe/Stockholm"
        ),
    )
    .await;
    assert_eq!(status, 200);
    let buckets = body["buckets"].as_array().unwrap();
    let starts: Vec<&str> = buckets
        .iter()
        .map(|b| b["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-03-12T23:00:00Z",
            "2026-03-13T23:00:00Z",
            "2026-03-14T23:00:00Z",
            "2026-03-15T23:00:00Z"
        ]
    );
    assert_eq!(buckets[1]["sessions"], 1);
    assert!((buckets[1]["energy_kwh"].as_f64().unwrap() - 33.1).abs() < 1e-9);
    assert_eq!(buckets[0]["energy_kwh"], 0.0);

    let (_, month) = get(&app, &format!("/api/v1/vehicles/{VEHICLE_A}/energy?bucket=month&from=2026-03-01T00:00:00Z&to=2026-04-01T00:00:00Z")).await;
    assert_eq!(month["buckets"].as_array().unwrap().len(), 1);
    assert_eq!(month["buckets"][0]["sessions"], 1);
}

async fn unknown_ids_are_404_and_bad_parameters_400(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, body) = get(&app, "/api/v1/sessions/nope").await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("nope"));
    let (status, _) = get(&app, "/api/v1/vehicles/nope/sessions").await;
    assert_eq!(status, 404);
    let (status, _) = get(&app, "/api/v1/vehicles/nope/energy").await;
    assert_eq!(status, 404);
    let (status, _) = get(&app, "/api/v1/no-such-thing").await;
    assert_eq!(status, 404);
    // A name that cannot be a vehicle id (whitespace, or longer than 128 characters) is
    // refused where it arrives, as an unknown vehicle, before any query.
    let long = "x".repeat(129);
    for id in ["a%20b", "%09", long.as_str()] {
        for path in ["sessions", "energy"] {
            let (status, body) = get(&app, &format!("/api/v1/vehicles/{id}/{path}")).await;
            assert_eq!(status, 404, "{id}/{path}");
            assert!(
                body["error"].as_str().unwrap().contains("no vehicle"),
                "{body}"
            );
        }
        let csv = app.get(&format!("/vehicles/{id}/sessions.csv")).await;
        assert_eq!(csv.status(), 404, "{id}");
    }
    for (query, param) in [
        ("sessions?from=yesterday", "from"),
        ("sessions?limit=0", "limit"),
        ("sessions?limit=abc", "limit"),
        ("sessions?cursor=x", "cursor"),
        (
            "sessions?from=2026-03-15T00:00:00Z&to=2026-03-14T00:00:00Z",
            "to",
        ),
        ("energy?bucket=year", "bucket"),
        ("energy?tz=Mars/Olympus", "tz"),
        ("energy?bucket=day&from=1990-01-01T00:00:00Z", "from"),
    ] {
        let (status, body) = get(&app, &format!("/api/v1/vehicles/{VEHICLE_A}/{query}")).await;
        assert_eq!(status, 400, "{query}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains(&format!("`{param}`")),
            "{query}: {body}"
        );
    }
}

/// Paging walks every session exactly once, newest first.
#[tokio::test]
async fn paging_walks_all_sessions_once() {
    use crate::helpers::sign;
    let app = spawn_app_with(Backend::Sqlite, Some(TOKEN), engine_for_fixtures()).await;
    // Five one-hour sessions on five days, built from the charge start/stop fixtures.
    let start: Value =
        serde_json::from_slice(&crate::helpers::fixture("03_charge_start.json")).unwrap();
    let stop: Value =
        serde_json::from_slice(&crate::helpers::fixture("10_charge_stop.json")).unwrap();
    for day in 0..5_i64 {
        for (template, offset) in [(&start, 0_i64), (&stop, 3_600_000)] {
            let mut e = template.clone();
            e["eventId"] = json!(format!("paging-{day}-{offset}"));
            let at = 1_773_511_330_000 + day * 86_400_000 + offset;
            for s in e["data"]["signals"].as_array_mut().unwrap() {
                if s["meta"]["oemUpdatedAt"].as_i64().is_some_and(|t| t > 0) {
                    s["meta"]["oemUpdatedAt"] = json!(at);
                }
            }
            let body = serde_json::to_vec(&e).unwrap();
            let sig = sign(&body);
            assert_eq!(app.post_webhook(body, Some(&sig)).await.status(), 200);
        }
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/v1/vehicles/{VEHICLE_A}/sessions?limit=2");
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = get(&app, &path).await;
        assert_eq!(status, 200);
        for s in page["sessions"].as_array().unwrap() {
            seen.push(s["started_at"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.reverse();
    assert_eq!(seen, sorted, "newest first, no repeats");
}
