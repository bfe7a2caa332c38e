//! Departure schedules through `/api/v1`: the fleet default, a vehicle's own schedule
//! over it (none at all, too), and refusals that name the field. On SQLite and PostgreSQL.

use crate::helpers::{call, spawn_scenario, Backend, VEHICLE_A};
use serde_json::{json, Value};

crate::on_both_backends!(
    a_vehicle_follows_its_own_schedule_else_the_fleet_default,
    bad_schedules_are_refused_naming_the_field,
);

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
