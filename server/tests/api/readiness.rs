//! Departure schedules and the readiness board through `/api/v1`: the fleet default, a
//! vehicle's own schedule over it (none at all, too), refusals that name the field, and
//! a board that says, most urgent first, which vehicle will not be ready. On SQLite and
//! PostgreSQL.

use crate::helpers::{
    call, capacity, charging, limit, plugged, report, soc, spawn_scenario, watts, Backend, TestApp,
    VEHICLE_A, VEHICLE_B,
};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

crate::on_both_backends!(
    a_vehicle_follows_its_own_schedule_else_the_fleet_default,
    bad_schedules_are_refused_naming_the_field,
    the_board_says_who_will_be_ready_most_urgent_first,
);

/// Waits until the board holds `vehicle` with `status` (deliveries are evaluated as they
/// are applied; schedule changes in the background), and returns the board.
async fn board_once(app: &TestApp, vehicle: &str, status: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (code, board) = call(app, "GET", "/api/v1/readiness?limit=500", None).await;
        assert_eq!(code, 200, "{board}");
        let found = board["vehicles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["vehicle_id"] == vehicle && v["status"] == status);
        if found {
            return board;
        }
        assert!(
            Instant::now() < deadline,
            "{vehicle} never became {status}: {board}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn weekdays_at(time: &str) -> Value {
    json!({
        "timezone": "Europe/Berlin",
        "required_soc": 80,
        "departures": [{"days": ["mon", "tue", "wed", "thu", "fri"], "time": time}],
    })
}

async fn a_vehicle_follows_its_own_schedule_else_the_fleet_default(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let vehicle = format!("/api/v1/vehicles/{VEHICLE_A}/schedule");

    let (status, _) = call(&app, "GET", "/api/v1/schedules/default", None).await;
    assert_eq!(status, 404, "no default yet");
    let (status, none) = call(&app, "GET", &vehicle, None).await;
    assert_eq!(status, 200, "{none}");
    assert_eq!(none["source"], Value::Null);
    assert_eq!(none["next_departure"], Value::Null);

    let (status, stored) = call(
        &app,
        "PUT",
        "/api/v1/schedules/default",
        Some(weekdays_at("06:00")),
    )
    .await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(stored, weekdays_at("06:00"));
    let (status, read) = call(&app, "GET", "/api/v1/schedules/default", None).await;
    assert_eq!((status, &read), (200, &weekdays_at("06:00")));

    let (_, fleet) = call(&app, "GET", &vehicle, None).await;
    assert_eq!(fleet["source"], "fleet");
    assert_eq!(fleet["vehicle_id"], VEHICLE_A);
    assert_eq!(fleet["required_soc"], 80);
    let next = fleet["next_departure"].as_str().expect("a next departure");
    let next = chrono::DateTime::parse_from_rfc3339(next).unwrap();
    let ahead = next.to_utc() - chrono::Utc::now();
    assert!(
        ahead > chrono::TimeDelta::zero() && ahead <= chrono::TimeDelta::days(4),
        "{next}"
    );

    // Its own: a later shift and a higher requirement; the default stays as it was.
    let mut own = weekdays_at("14:30");
    own["required_soc"] = json!(95);
    own["timezone"] = json!("America/New_York");
    let (status, put) = call(&app, "PUT", &vehicle, Some(own.clone())).await;
    assert_eq!(status, 200, "{put}");
    assert_eq!(put["source"], "vehicle");
    assert_eq!(put["required_soc"], 95);
    assert_eq!(put["timezone"], "America/New_York");
    assert_eq!(put["departures"], own["departures"]);
    let (_, read) = call(&app, "GET", "/api/v1/schedules/default", None).await;
    assert_eq!(read, weekdays_at("06:00"));

    // No departures of its own: it keeps none, whatever the fleet's.
    let (_, keeps_none) = call(
        &app,
        "PUT",
        &vehicle,
        Some(json!({"timezone": "UTC", "departures": []})),
    )
    .await;
    assert_eq!(keeps_none["source"], "vehicle");
    assert_eq!(keeps_none["required_soc"], 80, "80 unless given");
    assert_eq!(keeps_none["next_departure"], Value::Null);

    let (status, back) = call(&app, "DELETE", &vehicle, None).await;
    assert_eq!(status, 200, "{back}");
    assert_eq!(back["source"], "fleet");
    assert_eq!(back["next_departure"], fleet["next_departure"]);
}

async fn bad_schedules_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let with = |field: &str, value: Value| {
        let mut body = weekdays_at("06:00");
        body[field] = value;
        body
    };
    let cases = [
        (with("timezone", json!("Mars/Olympus")), "timezone"),
        (with("required_soc", json!(0)), "required_soc"),
        (with("required_soc", json!(101)), "required_soc"),
        (with("required_soc", json!(300)), "required_soc"),
        (with("required_soc", json!("eighty")), "required_soc"),
        (
            with("departures", json!([{"days": ["mon"], "time": "6am"}])),
            "departures[0].time",
        ),
        (
            with("departures", json!([{"days": ["mon"], "time": "24:00"}])),
            "departures[0].time",
        ),
        (
            with("departures", json!([{"days": [], "time": "06:00"}])),
            "departures[0].days",
        ),
        (
            with("departures", json!([{"days": ["funday"], "time": "06:00"}])),
            "departures[0].days[0]",
        ),
        (
            with(
                "departures",
                json!(vec![json!({"days": ["mon"], "time": "06:00"}); 15]),
            ),
            "departures",
        ),
        (with("colour", json!("red")), "colour"),
        (json!({"required_soc": 80, "departures": []}), "timezone"),
    ];
    let vehicle = format!("/api/v1/vehicles/{VEHICLE_A}/schedule");
    for path in ["/api/v1/schedules/default", vehicle.as_str()] {
        for (body, field) in &cases {
            let (status, answer) = call(&app, "PUT", path, Some(body.clone())).await;
            assert_eq!(status, 400, "{path} {body}: {answer}");
            let error = answer["error"].as_str().unwrap();
            assert!(error.contains(field), "{path} {body}: {error}");
        }
    }
    // Nothing refused was stored.
    assert_eq!(
        call(&app, "GET", "/api/v1/schedules/default", None).await.0,
        404
    );
    let (_, unchanged) = call(&app, "GET", &vehicle, None).await;
    assert_eq!(unchanged["source"], Value::Null);

    // Vehicles never heard from, ids that are no ids.
    for path in [
        "/api/v1/vehicles/0f0f0f0f-0000-4000-8000-000000000000/schedule",
        "/api/v1/vehicles/not%20an%20id/schedule",
    ] {
        assert_eq!(call(&app, "GET", path, None).await.0, 404, "{path}");
        assert_eq!(call(&app, "DELETE", path, None).await.0, 404, "{path}");
        let (status, _) = call(&app, "PUT", path, Some(weekdays_at("06:00"))).await;
        assert_eq!(status, 404, "{path}");
    }

    // Not JSON, and too large.
    let response = app
        .client
        .put(app.url("/api/v1/schedules/default"))
        .header("content-type", "text/plain")
        .body(weekdays_at("06:00").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    let huge = json!({"timezone": "UTC", "departures": [], "pad": "x".repeat(70 * 1024)});
    let (status, _) = call(&app, "PUT", "/api/v1/schedules/default", Some(huge)).await;
    assert_eq!(status, 413);
}

fn vehicle(n: u8) -> String {
    format!("00000000-0000-4000-8000-0000000000{n:02x}")
}

async fn the_board_says_who_will_be_ready_most_urgent_first(backend: Backend) {
    let app = spawn_scenario(backend).await;
    // Every day, five hours from now (UTC), 80 % needed.
    let departure = chrono::Utc::now() + chrono::TimeDelta::hours(5);
    let default = json!({
        "timezone": "UTC",
        "required_soc": 80,
        "departures": [{
            "days": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
            "time": departure.format("%H:%M").to_string(),
        }],
    });
    let (status, _) = call(&app, "PUT", "/api/v1/schedules/default", Some(default)).await;
    assert_eq!(status, 200);

    let (on_track, at_risk, idle, unplugged, ready, low_limit, keeps_none) = (
        vehicle(1),
        vehicle(2),
        vehicle(3),
        vehicle(4),
        vehicle(5),
        vehicle(6),
        vehicle(7),
    );
    // 30 % of 60 kWh: 11 kW takes 1.6 h (on track); 2 kW adds 17 % in 5 h (at risk).
    let charging_at = |kw: f64| {
        vec![
            soc(50.0),
            charging(true),
            plugged(true),
            watts(kw * 1000.0),
            capacity(60.0),
        ]
    };
    report(&app, &on_track, &charging_at(11.0)).await;
    report(&app, &at_risk, &charging_at(2.0)).await;
    report(&app, &idle, &[soc(40.0), charging(false), plugged(true)]).await;
    report(
        &app,
        &unplugged,
        &[soc(30.0), charging(false), plugged(false)],
    )
    .await;
    report(&app, &ready, &[soc(90.0), charging(false), plugged(false)]).await;
    let mut limited = charging_at(11.0);
    limited.push(limit(70.0));
    report(&app, &low_limit, &limited).await;
    report(
        &app,
        &keeps_none,
        &[soc(20.0), charging(false), plugged(false)],
    )
    .await;
    let (status, _) = call(
        &app,
        "PUT",
        &format!("/api/v1/vehicles/{keeps_none}/schedule"),
        Some(json!({"timezone": "UTC", "departures": []})),
    )
    .await;
    assert_eq!(status, 200);

    // The fixtures' vehicles were last heard in March: no data to judge by, once the
    // background pass has seen the new default.
    board_once(&app, VEHICLE_A, "no_data").await;
    let board = board_once(&app, VEHICLE_B, "no_data").await;
    let rows = board["vehicles"].as_array().unwrap();
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|v| {
            (
                v["vehicle_id"].as_str().unwrap(),
                v["status"].as_str().unwrap(),
            )
        })
        .collect();
    let mut no_data = [VEHICLE_A, VEHICLE_B];
    no_data.sort();
    assert_eq!(
        order,
        [
            (at_risk.as_str(), "at_risk"),
            (unplugged.as_str(), "not_plugged"),
            (idle.as_str(), "plugged_not_charging"),
            (low_limit.as_str(), "limit_too_low"),
            (no_data[0], "no_data"),
            (no_data[1], "no_data"),
            (on_track.as_str(), "on_track"),
            (ready.as_str(), "ready"),
            (keeps_none.as_str(), "no_schedule"),
        ]
    );

    let row = |id: &str| rows.iter().find(|v| v["vehicle_id"] == id).unwrap().clone();
    let risky = row(&at_risk);
    assert_eq!(risky["name"], "KIA EV6 2024");
    assert_eq!(risky["required_soc"], 80.0);
    assert_eq!(risky["soc_now"], 50.0);
    assert_eq!(risky["plugged"], true);
    assert_eq!(risky["power_kw"], 2.0);
    assert_eq!(
        risky["inputs"],
        json!(["power_now", "capacity_signal", "default_taper"])
    );
    assert_eq!(risky["confidence"], "high");
    // From 50 % a minute ago: 2 kW for 5 h 1 min on 60 kWh is about 16.7 %.
    let predicted = risky["predicted_soc"].as_f64().unwrap();
    assert!((66.0..67.5).contains(&predicted), "{risky}");
    assert!(risky["data_age_s"].as_i64().unwrap() < 600, "{risky}");
    let next = chrono::DateTime::parse_from_rfc3339(risky["next_departure"].as_str().unwrap())
        .unwrap()
        .to_utc();
    assert!(
        (next - departure).num_seconds().abs() < 60,
        "{next} vs {departure}"
    );
    assert_eq!(row(&on_track)["predicted_soc"], 100.0, "11 kW fills it");
    assert_eq!(row(&low_limit)["charge_limit"], 70.0);
    assert_eq!(
        row(&unplugged)["predicted_soc"],
        30.0,
        "not charging: it keeps 30 %"
    );
    assert_eq!(row(&keeps_none)["next_departure"], Value::Null);
    let counts: Vec<(String, u64)> = board["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["status"].as_str().unwrap().to_owned(),
                c["vehicles"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts.len(), 8);
    assert!(counts.contains(&("no_data".to_owned(), 2)), "{counts:?}");

    // Pages of three walk the same order; a status filters.
    let mut walked = Vec::new();
    let mut path = "/api/v1/readiness?limit=3".to_owned();
    loop {
        let (status, page) = call(&app, "GET", &path, None).await;
        assert_eq!(status, 200, "{page}");
        for v in page["vehicles"].as_array().unwrap() {
            walked.push(v["vehicle_id"].as_str().unwrap().to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/readiness?limit=3&cursor={cursor}"),
            None => break,
        }
    }
    let all: Vec<String> = order.iter().map(|(id, _)| (*id).to_owned()).collect();
    assert_eq!(walked, all);
    let (_, only) = call(&app, "GET", "/api/v1/readiness?status=no_data", None).await;
    assert_eq!(only["vehicles"].as_array().unwrap().len(), 2);

    for (query, param) in [
        ("status=late", "status"),
        ("cursor=nonsense", "cursor"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
    ] {
        let (status, answer) = call(&app, "GET", &format!("/api/v1/readiness?{query}"), None).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(param),
            "{query}: {answer}"
        );
    }

    // Plugging in the idle vehicle's neighbour changes its row as the delivery lands.
    report(
        &app,
        &unplugged,
        &[
            soc(30.0),
            charging(true),
            plugged(true),
            watts(22_000.0),
            capacity(60.0),
        ],
    )
    .await;
    let (_, after) = call(&app, "GET", "/api/v1/readiness?limit=500", None).await;
    let moved = after["vehicles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["vehicle_id"] == unplugged.as_str())
        .unwrap()
        .clone();
    assert_eq!(moved["status"], "on_track", "{moved}");
}
