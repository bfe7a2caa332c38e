//! Places and tariffs through `/api/v1`: sessions are re-assigned and re-priced in the
//! background after every change, tariff versions apply by the session's local start
//! date, a manual cost wins and outlives re-derivation, and bad input is refused naming
//! the field. On SQLite and PostgreSQL.

use crate::helpers::{
    call, engine_for_fixtures, priced, spawn_scenario, Backend, TestApp, VEHICLE_A,
};
use sea_orm::ConnectionTrait;
use serde_json::{json, Value};

crate::on_both_backends!(
    a_place_holds_its_sessions_and_its_tariff_prices_them,
    tariff_versions_apply_by_the_local_start_date,
    moving_and_deleting_a_place_reassigns_its_sessions,
    a_manual_cost_wins_and_outlives_rederive,
    bad_places_and_tariffs_are_refused_naming_the_field,
    the_month_report_adds_up_its_sessions,
    energy_counts_in_the_day_it_was_added,
);

/// The fixtures' completed AC session: 33.1 kWh, 2026-03-14 18:02:10 to 20:15:30 UTC.
fn session_a() -> String {
    format!("{VEHICLE_A}:1773511330000")
}

async fn session(app: &TestApp, id: &str) -> Value {
    let (status, body) = call(app, "GET", &format!("/api/v1/sessions/{id}"), None).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A place around where the session started.
async fn place_at_session_a(app: &TestApp, name: &str, extra: Value) -> Value {
    let s = session(app, &session_a()).await;
    let mut body = json!({
        "name": name,
        "kind": "depot",
        "latitude": s["latitude"],
        "longitude": s["longitude"],
        "timezone": "Europe/Stockholm",
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let (status, place) = call(app, "POST", "/api/v1/places", Some(body)).await;
    assert_eq!(status, 201, "{place}");
    place
}

fn flat(valid_from: &str, per_kwh: &str) -> Value {
    json!({
        "currency": "EUR", "valid_from": valid_from, "session_fee": "1.00",
        "per_minute": "0.00", "default_per_kwh": per_kwh, "charger_type": null, "bands": []
    })
}

async fn add_tariff(app: &TestApp, place: &Value, tariff: Value) -> Value {
    let path = format!("/api/v1/places/{}/tariffs", place["id"].as_str().unwrap());
    let (status, added) = call(app, "POST", &path, Some(tariff)).await;
    assert_eq!(status, 201, "{added}");
    added
}

async fn a_place_holds_its_sessions_and_its_tariff_prices_them(backend: Backend) {
    let app = spawn_scenario(backend).await;
    priced(&app).await;
    let before = session(&app, &session_a()).await;
    assert_eq!(before["place"], Value::Null);
    assert_eq!(before["cost"], Value::Null);

    let place = place_at_session_a(&app, "Depot North", json!({"charging_efficiency": 0.9})).await;
    assert_eq!(place["radius_m"], 150.0);
    priced(&app).await;
    let s = session(&app, &session_a()).await;
    assert_eq!(s["place"]["name"], "Depot North");
    assert_eq!(s["place"]["kind"], "depot");
    let grid = s["grid_energy_kwh"].as_f64().unwrap();
    assert!((grid - 33.1 / 0.9).abs() < 1e-9, "{grid}");
    assert_eq!(s["cost"], Value::Null, "no tariff yet");
    let (_, list) = call(&app, "GET", "/api/v1/places", None).await;
    assert_eq!(list["places"][0]["session_count"], 1);

    // Saturday 19:02:10 to 21:15:30 in Stockholm: 20:00 to 24:00 on Saturdays is cheap.
    let tariff = json!({
        "currency": "EUR", "valid_from": "2026-01-01", "session_fee": "0.50",
        "per_minute": "0.01", "default_per_kwh": "0.30", "charger_type": null,
        "bands": [{"days": ["sat"], "from": "20:00", "to": "24:00", "months": null,
                   "price_per_kwh": "0.10"}]
    });
    let added = add_tariff(&app, &place, tariff).await;
    assert_eq!(added["tariff"]["bands"][0]["from"], "20:00");
    priced(&app).await;
    let cost = &session(&app, &session_a()).await["cost"];
    assert_eq!(cost["source"], "tariff");
    assert_eq!(cost["currency"], "EUR");
    assert_eq!(cost["tariff_id"], added["id"]);
    let b = &cost["breakdown"];
    assert_eq!(b["session_fee"], "0.50");
    // 8 000 s is 133.33… minutes.
    assert!(b["minutes"].as_str().unwrap().starts_with("133.33"), "{b}");
    let lines = b["energy"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{b}");
    let num = |v: &Value| v.as_str().unwrap().parse::<f64>().unwrap();
    let battery: f64 = lines.iter().map(|l| num(&l["battery_kwh"])).sum();
    assert!((battery - 33.1).abs() < 1e-5, "{battery}");
    let grid_lines: f64 = lines.iter().map(|l| num(&l["grid_kwh"])).sum();
    assert!((grid_lines - grid).abs() < 1e-5, "{grid_lines}");
    // The total is the fee, the minutes and each line, rounded once.
    let sum = num(&b["session_fee"])
        + num(&b["minutes"]) * 0.01
        + lines.iter().map(|l| num(&l["amount"])).sum::<f64>();
    assert!((num(&cost["amount"]) - sum).abs() <= 0.005, "{cost}");
    let cheap = lines.iter().find(|l| l["band"] == 0).unwrap();
    assert_eq!(cheap["price_per_kwh"], "0.10");
    assert!(num(&cheap["battery_kwh"]) > 0.0 && num(&cheap["battery_kwh"]) < 33.1);

    // The list shows it too, and pricing again changes nothing.
    let (_, page) = call(
        &app,
        "GET",
        &format!("/api/v1/vehicles/{VEHICLE_A}/sessions"),
        None,
    )
    .await;
    assert_eq!(page["sessions"][0]["cost"], *cost);
    let again = server::cli::reprice::run(&app.db, Some(VEHICLE_A), chrono_tz::Tz::UTC, false)
        .await
        .unwrap();
    assert!(again >= 1);
    assert_eq!(session(&app, &session_a()).await["cost"], *cost);
}

async fn tariff_versions_apply_by_the_local_start_date(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let place = place_at_session_a(&app, "Depot", json!({})).await;
    let amount = |s: Value| s["cost"]["amount"].as_str().map(str::to_owned);
    add_tariff(&app, &place, flat("2026-01-01", "0.30")).await;
    // A price from the day after the session does not rewrite it: 1 + 33.1 × 0.30.
    add_tariff(&app, &place, flat("2026-03-15", "0.50")).await;
    priced(&app).await;
    assert_eq!(
        amount(session(&app, &session_a()).await).as_deref(),
        Some("10.93")
    );
    // One from its own local date does: 1 + 33.1 × 0.40.
    let same_day = add_tariff(&app, &place, flat("2026-03-14", "0.40")).await;
    priced(&app).await;
    assert_eq!(
        amount(session(&app, &session_a()).await).as_deref(),
        Some("14.24")
    );
    // One version per date.
    let path = format!("/api/v1/places/{}/tariffs", place["id"].as_str().unwrap());
    let (status, body) = call(&app, "POST", &path, Some(flat("2026-03-14", "0.45"))).await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("`valid_from`"),
        "{body}"
    );
    // …but a DC-only version may start the same day, and does not apply to AC.
    let mut dc = flat("2026-03-14", "0.70");
    dc["charger_type"] = json!("DC");
    add_tariff(&app, &place, dc).await;
    let (_, list) = call(&app, "GET", &path, None).await;
    let dates: Vec<&str> = list["tariffs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tariff"]["valid_from"].as_str().unwrap())
        .collect();
    assert_eq!(
        dates,
        ["2026-03-15", "2026-03-14", "2026-03-14", "2026-01-01"]
    );
    priced(&app).await;
    assert_eq!(
        amount(session(&app, &session_a()).await).as_deref(),
        Some("14.24")
    );
    // Deleting the same-day version brings back the earlier one.
    let (status, _) = call(
        &app,
        "DELETE",
        &format!("/api/v1/tariffs/{}", same_day["id"].as_str().unwrap()),
        None,
    )
    .await;
    assert_eq!(status, 204);
    priced(&app).await;
    assert_eq!(
        amount(session(&app, &session_a()).await).as_deref(),
        Some("10.93")
    );
    let (status, _) = call(&app, "DELETE", "/api/v1/tariffs/nope", None).await;
    assert_eq!(status, 404);
}

async fn moving_and_deleting_a_place_reassigns_its_sessions(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/tariffs/default",
        Some(flat("2020-01-01", "0.20")),
    )
    .await;
    assert_eq!(status, 201);
    let place = place_at_session_a(&app, "Home of A", json!({"kind": "home"})).await;
    add_tariff(&app, &place, flat("2020-01-01", "0.10")).await;
    priced(&app).await;
    let s = session(&app, &session_a()).await;
    assert_eq!(s["place"]["kind"], "home");
    assert_eq!(s["cost"]["amount"], "4.31", "1 + 33.1 × 0.10");

    // Moved 1 km north: the session is at no place, and the fleet default prices it.
    let id = place["id"].as_str().unwrap();
    let north = place["latitude"].as_f64().unwrap() + 0.009;
    let (status, moved) = call(
        &app,
        "PATCH",
        &format!("/api/v1/places/{id}"),
        Some(json!({"latitude": north})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["name"], "Home of A");
    assert_eq!(moved["kind"], "home");
    priced(&app).await;
    let s = session(&app, &session_a()).await;
    assert_eq!(s["place"], Value::Null);
    assert_eq!(s["cost"]["amount"], "7.62", "1 + 33.1 × 0.20");

    // Grown to 1.5 km, it holds the session again.
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/api/v1/places/{id}"),
        Some(json!({"radius_m": 1500})),
    )
    .await;
    assert_eq!(status, 200);
    priced(&app).await;
    assert_eq!(session(&app, &session_a()).await["cost"]["amount"], "4.31");

    // Deleted, with its tariffs: the fleet default again.
    let (status, _) = call(&app, "DELETE", &format!("/api/v1/places/{id}"), None).await;
    assert_eq!(status, 204);
    priced(&app).await;
    let s = session(&app, &session_a()).await;
    assert_eq!(s["place"], Value::Null);
    assert_eq!(s["cost"]["amount"], "7.62");
    let (status, _) = call(&app, "GET", &format!("/api/v1/places/{id}"), None).await;
    assert_eq!(status, 404);
    assert_eq!(
        app.count("tariffs").await,
        1,
        "the place's tariff went with it"
    );
}

async fn a_manual_cost_wins_and_outlives_rederive(backend: Backend) {
    let app = spawn_scenario(backend).await;
    call(
        &app,
        "POST",
        "/api/v1/tariffs/default",
        Some(flat("2020-01-01", "0.20")),
    )
    .await;
    let path = format!("/api/v1/sessions/{}/cost", session_a());
    let receipt = json!({"amount": "18.40", "currency": "SEK", "note": "Ionity receipt 4711"});
    let (status, cost) = call(&app, "PUT", &path, Some(receipt)).await;
    assert_eq!(status, 200, "{cost}");
    assert_eq!(cost["source"], "manual");
    priced(&app).await;
    let shown = session(&app, &session_a()).await["cost"].clone();
    assert_eq!(shown, cost);
    assert_eq!(shown["amount"], "18.40");
    assert_eq!(shown["note"], "Ionity receipt 4711");

    // Re-deriving every session keeps it, and so does a tariff change.
    let as_of = server::clock::checked_now().unwrap();
    server::cli::rederive::run(&app.db, None, &engine_for_fixtures(), as_of, false)
        .await
        .unwrap();
    call(
        &app,
        "POST",
        "/api/v1/tariffs/default",
        Some(flat("2026-01-01", "0.25")),
    )
    .await;
    priced(&app).await;
    assert_eq!(session(&app, &session_a()).await["cost"], cost);

    // A session that re-derivation removed keeps its cost, listed as unattached.
    app.db
        .execute_unprepared(&format!(
            "DELETE FROM sessions WHERE id = '{}'",
            session_a()
        ))
        .await
        .unwrap();
    let unattached = app::server::places::unattached_costs(&app.db, VEHICLE_A)
        .await
        .unwrap();
    assert_eq!(unattached.len(), 1);
    assert_eq!(unattached[0].0, session_a());
    assert_eq!(unattached[0].1.amount, "18.40");
    // Clearing it works without its session; clearing twice finds nothing.
    assert_eq!(call(&app, "DELETE", &path, None).await.0, 204);
    assert_eq!(call(&app, "DELETE", &path, None).await.0, 404);
    // A cost for a session that does not exist is refused.
    let (status, _) = call(
        &app,
        "PUT",
        &path,
        Some(json!({"amount": "1", "currency": "EUR"})),
    )
    .await;
    assert_eq!(status, 404);
}

async fn bad_places_and_tariffs_are_refused_naming_the_field(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let place = place_at_session_a(&app, "Depot", json!({})).await;
    let id = place["id"].as_str().unwrap();
    let good = json!({"name": "Other", "kind": "work", "latitude": 1.0, "longitude": 2.0});
    let place_with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let places_cases = [
        (place_with("radius_m", json!(5)), "radius_m"),
        (place_with("radius_m", json!(5001)), "radius_m"),
        (place_with("timezone", json!("Mars/Olympus")), "timezone"),
        (place_with("latitude", json!(91)), "latitude"),
        (place_with("latitude", json!("north")), "latitude"),
        (place_with("kind", json!("garage")), "kind"),
        (
            place_with("charging_efficiency", json!(0.3)),
            "charging_efficiency",
        ),
        (place_with("name", json!("  ")), "name"),
        (place_with("name", json!("x".repeat(101))), "name"),
        (place_with("colour", json!("red")), "colour"),
        (json!({"kind": "home"}), "name"),
    ];
    for (body, field) in places_cases {
        let (status, answer) = call(&app, "POST", "/api/v1/places", Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(field), "{body}: {error}");
    }
    // A name taken in any case is a conflict; so is renaming onto it.
    let (status, answer) = call(
        &app,
        "POST",
        "/api/v1/places",
        Some(place_with("name", json!("DEPOT"))),
    )
    .await;
    assert_eq!(status, 409, "{answer}");
    let (_, other) = call(&app, "POST", "/api/v1/places", Some(good.clone())).await;
    let other_id = other["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        "PATCH",
        &format!("/api/v1/places/{other_id}"),
        Some(json!({"name": "depot"})),
    )
    .await;
    assert_eq!(status, 409);
    let (status, answer) = call(
        &app,
        "PATCH",
        &format!("/api/v1/places/{other_id}"),
        Some(json!({"kind": null})),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("kind"),
        "{answer}"
    );
    assert_eq!(
        call(&app, "PATCH", "/api/v1/places/nope", Some(json!({})))
            .await
            .0,
        404
    );
    assert_eq!(
        call(&app, "DELETE", "/api/v1/places/nope", None).await.0,
        404
    );

    let tariff = flat("2026-01-01", "0.30");
    let with = |path: &[&str], value: Value| {
        let mut body = tariff.clone();
        let mut at = &mut body;
        for key in &path[..path.len() - 1] {
            at = &mut at[*key];
        }
        at[path[path.len() - 1]] = value;
        body
    };
    let band = json!([{"days": ["mon"], "from": "22:00", "to": "06:00", "months": null, "price_per_kwh": "0.1"}]);
    let with_band = |field: &str, value: Value| {
        let mut b = band.clone();
        b[0][field] = value;
        with(&["bands"], b)
    };
    let tariff_cases = [
        (with(&["currency"], json!("XXX")), "currency"),
        (with(&["currency"], json!("EURO")), "currency"),
        (
            with(&["default_per_kwh"], json!("-0.01")),
            "default_per_kwh",
        ),
        (with(&["session_fee"], json!("lots")), "session_fee"),
        (with(&["valid_from"], json!("2026-13-01")), "valid_from"),
        (with_band("to", json!("22:00")), "bands[0].to"),
        (with_band("from", json!("25:00")), "bands[0].from"),
        (with_band("days", json!(["someday"])), "bands[0].days[0]"),
        (with_band("months", json!([13])), "bands[0].months"),
        (
            with_band("price_per_kwh", json!("-1")),
            "bands[0].price_per_kwh",
        ),
    ];
    let path = format!("/api/v1/places/{id}/tariffs");
    for (body, field) in tariff_cases {
        let (status, answer) = call(&app, "POST", &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap();
        assert!(error.contains(&format!("`{field}`")), "{body}: {error}");
    }
    assert_eq!(
        call(
            &app,
            "POST",
            "/api/v1/places/nope/tariffs",
            Some(tariff.clone())
        )
        .await
        .0,
        404
    );
    assert_eq!(
        call(&app, "GET", "/api/v1/places/nope/tariffs", None)
            .await
            .0,
        404
    );

    let cost = format!("/api/v1/sessions/{}/cost", session_a());
    for (body, field) in [
        (json!({"amount": "-1", "currency": "EUR"}), "amount"),
        (json!({"amount": "1.234", "currency": "EUR"}), "amount"),
        (json!({"amount": "1.5", "currency": "JPY"}), "amount"),
        (json!({"amount": "1", "currency": "ZZZ"}), "currency"),
        (
            json!({"amount": "1", "currency": "EUR", "note": "n".repeat(501)}),
            "note",
        ),
    ] {
        let (status, answer) = call(&app, "PUT", &cost, Some(body.clone())).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(
            answer["error"].as_str().unwrap().contains(field),
            "{answer}"
        );
    }

    // Bodies are JSON, and bounded.
    let response = app
        .client
        .post(app.url("/api/v1/places"))
        .header("content-type", "text/plain")
        .body(good.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    let huge = place_with("name", json!("x".repeat(70 * 1024)));
    let (status, answer) = call(&app, "POST", "/api/v1/places", Some(huge)).await;
    assert_eq!(status, 413, "{answer}");

    // Strangers write nothing; a token writes like an operator.
    let anonymous = TestApp::anonymous();
    let response = anonymous
        .post(app.url("/api/v1/places"))
        .json(&place_with("name", json!("Sneaky")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let token = server::http::auth::create_token(&app.db, "finance", server::clock::now_ms())
        .await
        .unwrap();
    let response = anonymous
        .post(app.url("/api/v1/places"))
        .bearer_auth(token)
        .json(&place_with("name", json!("Scripted")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn the_month_report_adds_up_its_sessions(backend: Backend) {
    let app = spawn_scenario(backend).await;
    call(
        &app,
        "POST",
        "/api/v1/tariffs/default",
        Some(flat("2020-01-01", "0.20")),
    )
    .await;
    let place = place_at_session_a(&app, "Depot", json!({"charging_efficiency": 0.9})).await;
    add_tariff(&app, &place, flat("2020-01-01", "0.10")).await;
    priced(&app).await;

    let (status, report) = call(
        &app,
        "GET",
        "/api/v1/reports/monthly?month=2026-03&tz=Europe/Stockholm",
        None,
    )
    .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["month"], "2026-03");
    assert_eq!(report["from"], "2026-02-28T23:00:00Z");
    assert_eq!(report["pricing_pending"], 0);
    // Every session of every vehicle, as the sessions API shows them.
    let mut sessions = Vec::new();
    for vehicle in [VEHICLE_A, crate::helpers::VEHICLE_B] {
        let (_, page) = call(
            &app,
            "GET",
            &format!("/api/v1/vehicles/{vehicle}/sessions"),
            None,
        )
        .await;
        sessions.extend(page["sessions"].as_array().unwrap().iter().cloned());
    }
    assert!(sessions.len() >= 2, "{sessions:?}");
    let fleet = &report["fleet"]["totals"];
    assert_eq!(fleet["sessions"], sessions.len());
    let energy: f64 = sessions
        .iter()
        .filter_map(|s| s["energy_added_kwh"].as_f64())
        .sum();
    assert!(
        (fleet["battery_kwh"].as_f64().unwrap() - energy).abs() < 1e-6,
        "{fleet}"
    );
    let cents = |v: &Value| (v.as_str().unwrap().parse::<f64>().unwrap() * 100.0).round() as i64;
    let cost: i64 = sessions
        .iter()
        .filter(|s| s["cost"]["currency"] == "EUR")
        .map(|s| cents(&s["cost"]["amount"]))
        .sum();
    assert_eq!(cents(&fleet["cost"]["EUR"]), cost, "{fleet}");
    let unpriced = sessions.iter().filter(|s| s["cost"].is_null()).count();
    assert_eq!(fleet["unpriced_sessions"], unpriced);
    let open = sessions
        .iter()
        .filter(|s| s["status"] == "charging")
        .count();
    assert_eq!(fleet["open_sessions"], open);

    // Per vehicle, per kind and per place, the same sessions add up to the fleet.
    let vehicles = report["vehicles"].as_array().unwrap();
    let per_vehicle: u64 = vehicles
        .iter()
        .map(|v| v["totals"]["sessions"].as_u64().unwrap())
        .sum();
    assert_eq!(per_vehicle, sessions.len() as u64);
    let a = vehicles
        .iter()
        .find(|v| v["vehicle_id"] == VEHICLE_A)
        .unwrap();
    assert!(a["name"].as_str().unwrap().contains("POLESTAR"), "{a}");
    let depot = a["by_kind"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kind"] == "depot")
        .unwrap();
    assert_eq!(depot["sessions"], 1);
    assert_eq!(depot["cost"]["EUR"], "4.68", "1 + 33.1 / 0.9 × 0.10");
    assert!((depot["grid_kwh"].as_f64().unwrap() - 33.1 / 0.9).abs() < 1e-6);
    let places = report["places"].as_array().unwrap();
    assert_eq!(places[0]["place"]["name"], "Depot");
    let per_place: u64 = places.iter().map(|p| p["sessions"].as_u64().unwrap()).sum();
    assert_eq!(per_place, sessions.len() as u64);

    // Another month has nothing; bad months and zones are refused by name.
    let (_, february) = call(&app, "GET", "/api/v1/reports/monthly?month=2026-02", None).await;
    assert_eq!(february["fleet"]["totals"]["sessions"], 0);
    assert_eq!(february["vehicles"], json!([]));
    for (query, param) in [
        ("month=2026-13", "month"),
        ("month=March", "month"),
        ("tz=Mars/Base", "tz"),
    ] {
        let (status, body) = call(
            &app,
            "GET",
            &format!("/api/v1/reports/monthly?{query}"),
            None,
        )
        .await;
        assert_eq!(status, 400, "{query}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains(&format!("`{param}`")),
            "{body}"
        );
    }
}

async fn energy_counts_in_the_day_it_was_added(backend: Backend) {
    let app = spawn_scenario(backend).await;
    // In Karachi (UTC+5) the session runs from 23:02 on 14 March to 01:15 on the 15th.
    let (status, body) = call(
        &app,
        "GET",
        &format!(
            "/api/v1/vehicles/{VEHICLE_A}/energy?bucket=day&from=2026-03-13T19:00:00Z&to=2026-03-16T19:00:00Z&tz=Asia/Karachi"
        ),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let buckets = body["buckets"].as_array().unwrap();
    let day = |i: usize| {
        (
            buckets[i]["energy_kwh"].as_f64().unwrap(),
            buckets[i]["sessions"].as_i64().unwrap(),
        )
    };
    assert_eq!(buckets[0]["start"], "2026-03-13T19:00:00Z", "{body}");
    let ((d14, n14), (d15, n15)) = (day(0), day(1));
    assert_eq!((n14, n15), (1, 0), "the session counts where it started");
    assert!(d14 > 0.0 && d15 > 0.0, "{body}");
    assert!(d15 > d14, "58 of its 133 minutes were on the 14th: {body}");
    assert!((d14 + d15 - 33.1).abs() < 1e-6, "{body}");
}
