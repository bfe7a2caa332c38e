//! The vehicle and session pages, server-rendered.

use crate::helpers::{spawn_scenario, Backend, TestApp, VEHICLE_A};

crate::on_both_backends!(
    error_counts_kept_at_ingest_equal_a_recount,
    vehicle_page_lists_its_sessions,
    session_page_shows_the_numbers_and_readings,
    unknown_vehicle_and_session_pages_are_404,
    sessions_download_as_csv_with_units_in_the_header,
    the_fleet_page_searches_filters_and_sorts,
    the_fleet_sums_energy_over_the_last_7_and_30_days,
    pages_show_times_in_the_viewers_zone,
    the_whole_fleet_exports_as_csv_in_chunks_that_lose_no_tie,
    the_vehicle_page_has_an_energy_chart_and_a_signals_panel,
    pages_are_sent_compressed_to_browsers_that_accept_it,
);

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.get(path).await;
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn pages_are_sent_compressed_to_browsers_that_accept_it(backend: Backend) {
    use std::io::Read;
    let app = spawn_scenario(backend).await;
    let path = format!("/vehicles/{VEHICLE_A}");
    let (_, plain) = page(&app, &path).await;
    let response = app
        .client
        .get(app.url(&path))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-encoding"], "gzip");
    let sent = response.bytes().await.unwrap();
    let mut html = String::new();
    flate2::read::GzDecoder::new(&sent[..])
        .read_to_string(&mut html)
        .unwrap();
    assert!(html.contains("2023 POLESTAR Polestar 2"));
    // The same page (only the nonce of its scripts differs), a fraction of it on the wire.
    assert_eq!(html.len(), plain.len());
    assert!(
        sent.len() * 3 < plain.len(),
        "{} bytes sent for {} of HTML",
        sent.len(),
        plain.len()
    );
}

async fn vehicle_page_lists_its_sessions(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, html) = page(&app, &format!("/vehicles/{VEHICLE_A}")).await;
    assert_eq!(status, 200);
    assert!(html.contains("2023 POLESTAR Polestar 2"));
    assert!(html.contains(&format!("/sessions/{VEHICLE_A}:1773511330000")));
    assert!(html.contains("2026-03-14 18:02"));
    assert!(html.contains("2 h 13 min"));
    assert!(html.contains("41 % → 80 %"));
    assert!(html.contains("33.1 kWh (counter)"));
    assert!(html.contains("59.335, 18.063"), "the place: {html}");
    // A date range without sessions.
    let (_, empty) = page(
        &app,
        &format!("/vehicles/{VEHICLE_A}?from=2026-03-15&to=2026-03-20"),
    )
    .await;
    assert!(empty.contains("No charging sessions in this range."));
}

async fn session_page_shows_the_numbers_and_readings(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, html) = page(&app, &format!("/sessions/{VEHICLE_A}:1773511330000")).await;
    assert_eq!(status, 200);
    assert!(html.contains("Session 2026-03-14 18:02"));
    assert!(html.contains("33.1 kWh (from counter)"));
    assert!(html.contains("10.9 kW"));
    assert!(html.contains("2026-03-14 20:15"), "the end");
    assert!(html.contains("class=\"line-power\""), "a charge curve");
    // Five reading times, each a row.
    assert_eq!(
        html.matches("<tr>").count(),
        1 + 5 + 1,
        "readings' header and rows, the deliveries' header: {html}"
    );
}

async fn pages_show_times_in_the_viewers_zone(backend: Backend) {
    let app = spawn_scenario(backend).await;
    // Stockholm is UTC+1 in March.
    let (status, html) = app
        .get_in_zone(
            &format!("/sessions/{VEHICLE_A}:1773511330000"),
            "Europe/Stockholm",
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Session 2026-03-14 19:02"), "{html}");
    assert!(html.contains(">Europe/Stockholm<"), "{html}");
    // An unknown zone falls back to the server's default rather than failing.
    let (status, html) = app
        .get_in_zone(
            &format!("/sessions/{VEHICLE_A}:1773511330000"),
            "Mars/Olympus",
        )
        .await;
    assert_eq!(status, 200);
    assert!(html.contains("Session 2026-03-14 18:02"));
}

async fn the_vehicle_page_has_an_energy_chart_and_a_signals_panel(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let path = format!("/vehicles/{VEHICLE_A}?from=2026-03-01&to=2026-03-31");
    let (_, html) = page(&app, &path).await;
    assert!(html.contains("class=\"chart energy-chart\""), "{html}");
    // 31 day bars; the 14th holds the session.
    assert_eq!(html.matches("class=\"bar\"").count(), 31, "{html}");
    assert!(
        html.contains("Sat 14 Mar 2026: 33.1 kWh in 1 session"),
        "{html}"
    );
    // Signals: newest values, the erroring signal of fixture 07, the VEHICLE_ERRORs.
    assert!(
        html.contains("data-signal=\"tractionbattery-stateofcharge\""),
        "{html}"
    );
    assert!(html.contains("Signals that report errors"));
    assert!(!html.contains("None: every signal has answered."), "{html}");
    assert!(!html.contains("No VEHICLE_ERROR received."), "{html}");
    let (_, weeks) = page(&app, &format!("{path}&chart=week")).await;
    assert!(weeks.contains("Week of 9 Mar 2026: 33.1 kWh"), "{weeks}");
    let (_, months) = page(
        &app,
        &format!("/vehicles/{VEHICLE_A}?chart=month&from=2026-01-10&to=2026-03-31"),
    )
    .await;
    assert_eq!(months.matches("class=\"bar\"").count(), 3, "{months}");
    let (status, bad) = page(&app, &format!("/vehicles/{VEHICLE_A}?chart=year")).await;
    assert_eq!(status, 400);
    assert!(bad.contains("`chart` must be day, week or month"), "{bad}");
    // The hydrated app's calls get the same statuses.
    let (status, _) = app.server_fn("vehicle_view", &[("id", "nope")]).await;
    assert_eq!(status, 404);
}

async fn unknown_vehicle_and_session_pages_are_404(backend: Backend) {
    let app = spawn_scenario(backend).await;
    for path in ["/vehicles/nope", "/sessions/nope"] {
        let (status, html) = page(&app, path).await;
        assert_eq!(status, 404, "{path}");
        assert!(html.contains("Page not found"));
    }
}

async fn sessions_download_as_csv_with_units_in_the_header(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let response = app
        .get(&format!(
            "/vehicles/{VEHICLE_A}/sessions.csv?from=2026-03-14&to=2026-03-14"
        ))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert!(response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("attachment"));
    let text = response.text().await.unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("id,vehicle_id,status,started_at_utc"));
    assert!(header.contains("energy_added_kwh") && header.contains("soc_start_percent"));
    let row = lines.next().unwrap();
    assert!(row.contains(&format!("{VEHICLE_A}:1773511330000")));
    assert!(
        row.contains(",completed,2026-03-14T18:02:10+00:00,"),
        "{row}"
    );
    assert!(row.contains(",8000,true,false,41,80,33.1"), "{row}");
    assert_eq!(lines.next(), None);

    // Outside the range: the header alone.
    let empty = app
        .get(&format!(
            "/vehicles/{VEHICLE_A}/sessions.csv?from=2026-04-01"
        ))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(empty.lines().count(), 1);
    let bad = app
        .get(&format!(
            "/vehicles/{VEHICLE_A}/sessions.csv?from=yesterday"
        ))
        .await;
    assert_eq!(bad.status(), 400);
    // Dates are local: 18:02 UTC on the 14th is 08:02 on the 15th at UTC+14.
    let rows = |path: String| {
        let app = &app;
        async move { app.get(&path).await.text().await.unwrap().lines().count() - 1 }
    };
    let base = format!("/vehicles/{VEHICLE_A}/sessions.csv");
    assert_eq!(
        rows(format!(
            "{base}?from=2026-03-15&to=2026-03-15&tz=Pacific/Kiritimati"
        ))
        .await,
        1
    );
    assert_eq!(
        rows(format!(
            "{base}?from=2026-03-14&to=2026-03-14&tz=Pacific/Kiritimati"
        ))
        .await,
        0
    );
    let (_, from_cookie) = app
        .get_in_zone(
            &format!("{base}?from=2026-03-15&to=2026-03-15"),
            "Pacific/Kiritimati",
        )
        .await;
    assert_eq!(from_cookie.lines().count(), 2, "{from_cookie}");
    assert_eq!(
        app.get(&format!("{base}?tz=Nowhere/Land")).await.status(),
        400
    );
    let unknown = app.get("/vehicles/nope/sessions.csv").await;
    assert_eq!(unknown.status(), 404);
}

async fn the_fleet_page_searches_filters_and_sorts(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (_, tesla) = page(&app, "/?q=tesla").await;
    assert!(tesla.contains("2021 TESLA Model 3") && !tesla.contains("POLESTAR Polestar 2</a>"));
    assert!(tesla.contains("1 of 2 vehicles"));
    let (_, charging) = page(&app, "/?status=charging").await;
    assert!(charging.contains("TESLA") && !charging.contains("POLESTAR Polestar 2</a>"));
    let (_, none) = page(&app, "/?q=volvo").await;
    assert!(none.contains("No vehicle matches (of 2)."));
    // By state of charge, highest first: the Polestar (80 %) before the Tesla (47 %).
    let (_, by_soc) = page(&app, "/?sort=soc&dir=desc").await;
    let polestar = by_soc.find("2023 POLESTAR Polestar 2").unwrap();
    let tesla = by_soc.find("2021 TESLA Model 3").unwrap();
    assert!(polestar < tesla);
    assert!(by_soc.contains("aria-sort=\"descending\""));
    let (_, by_soc_up) = page(&app, "/?sort=soc").await;
    assert!(
        by_soc_up.find("2021 TESLA Model 3").unwrap()
            < by_soc_up.find("2023 POLESTAR Polestar 2").unwrap()
    );
}

async fn the_fleet_sums_energy_over_the_last_7_and_30_days(backend: Backend) {
    use crate::helpers::{engine_for_fixtures, fixture, sign, spawn_app_with, TOKEN};
    use serde_json::{json, Value};
    let app = spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await;
    let now = chrono::Utc::now().timestamp_millis();
    let day = 86_400_000_i64;
    // Two 33.1 kWh sessions: 2 days ago and 20 days ago (and one 60 days ago, outside).
    for (n, start) in [(0, now - 2 * day), (1, now - 20 * day), (2, now - 60 * day)] {
        for (name, offset) in [
            ("03_charge_start.json", 0),
            ("10_charge_stop.json", 3_600_000),
        ] {
            let mut e: Value = serde_json::from_slice(&fixture(name)).unwrap();
            e["eventId"] = json!(format!("recent-{n}-{offset}"));
            for s in e["data"]["signals"].as_array_mut().unwrap() {
                if s["meta"]["oemUpdatedAt"].as_i64().is_some_and(|t| t > 0) {
                    s["meta"]["oemUpdatedAt"] = json!(start + offset);
                }
            }
            let body = serde_json::to_vec(&e).unwrap();
            let sig = sign(&body);
            assert_eq!(app.post_webhook(body, Some(&sig)).await.status(), 200);
        }
    }
    let json = app.fleet_page().await;
    let v = &json["vehicles"][0];
    assert!(
        (v["energy_7d_kwh"].as_f64().unwrap() - 33.1).abs() < 1e-9,
        "{v}"
    );
    assert!(
        (v["energy_30d_kwh"].as_f64().unwrap() - 66.2).abs() < 1e-9,
        "{v}"
    );
    let (_, html) = page(&app, "/").await;
    assert!(html.contains(">33.1<") && html.contains(">66.2<"), "{html}");
    // The fleet chart: 30 days, holding the two recent sessions (not the 60-day-old one).
    let daily = json["daily"].as_array().unwrap();
    assert_eq!(daily.len(), 30);
    let sum: f64 = daily
        .iter()
        .map(|b| b["energy_kwh"].as_f64().unwrap())
        .sum();
    assert!((sum - 66.2).abs() < 1e-9, "{sum}");
    assert_eq!(json["totals"]["vehicles"], 1);
    assert_eq!(json["totals"]["charging_now"], 0);
    assert_eq!(json["totals"]["kwh_today"], 0.0);
    assert!(html.contains("Fleet energy added per day, last 30 days"));
}

async fn the_whole_fleet_exports_as_csv_in_chunks_that_lose_no_tie(backend: Backend) {
    let app = spawn_scenario(backend).await;
    // A third vehicle whose session starts at the same instant as A's.
    let mut e: serde_json::Value =
        serde_json::from_slice(&crate::helpers::fixture("03_charge_start.json")).unwrap();
    let twin = "0f0e0d0c-0b0a-4909-8807-060504030201";
    e["eventId"] = serde_json::json!("twin-start");
    e["vehicleId"] = serde_json::json!(twin);
    if e["data"]["vehicle"].is_object() {
        e["data"]["vehicle"]["id"] = serde_json::json!(twin);
    }
    assert_eq!(
        app.post_signed(serde_json::to_vec(&e).unwrap())
            .await
            .status(),
        200
    );

    let csv = app.get("/sessions.csv").await;
    assert_eq!(csv.status(), 200);
    assert!(csv.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .contains("chargelog-fleet-sessions.csv"));
    let text = csv.text().await.unwrap();
    let ids: Vec<&str> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{text}");
    assert!(
        ids.contains(&format!("{twin}:1773511330000").as_str()),
        "{text}"
    );
    assert!(
        ids.contains(&format!("{VEHICLE_A}:1773511330000").as_str()),
        "{text}"
    );

    // Chunks of one row walk the same rows in the same order, ties included.
    let now = app::domain::time::EpochMs::from_datetime(chrono::Utc::now()).unwrap();
    let engine = crate::helpers::engine_for_fixtures();
    let mut walked = Vec::new();
    let mut after = None;
    loop {
        let (rows, next) = app::server::sessions::export_chunk(
            &app.db, None, None, None, None, after, 1, &engine, now,
        )
        .await
        .unwrap();
        walked.extend(rows.into_iter().map(|s| s.id));
        match next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(walked, ids);
    // A date range applies to the fleet too.
    let none = app
        .get("/sessions.csv?from=2026-04-01")
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(none.lines().count(), 1);
}

/// A server in demo mode says so on every page, and fills its empty database with the
/// simulated fleet through its own webhook; a normal server says nothing of the kind.
#[tokio::test]
async fn demo_mode_is_marked_on_every_page_and_fills_an_empty_database() {
    let normal = crate::helpers::spawn_app(Backend::Sqlite).await;
    let (_, html) = page(&normal, "/").await;
    assert!(!html.contains("Demo mode"), "no banner without --demo");

    let (mut settings, dir) = crate::helpers::test_settings(Backend::Sqlite).await;
    settings.demo = true;
    let demo = crate::helpers::spawn_configured(Backend::Sqlite, settings, dir).await;
    for path in ["/", "/events"] {
        let (status, html) = page(&demo, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            html.contains("Demo mode.") && html.contains("simulated"),
            "{path}: the banner"
        );
    }
    // The history arrives through the webhook, signed with the demo's own key.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while demo.count("deliveries").await < 50 {
        assert!(
            std::time::Instant::now() < deadline,
            "the demo history is being stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The per-signal error counts the vehicle page shows are kept at ingest; they equal a
/// count of the errored readings, and the migration that introduced them counts the same.
async fn error_counts_kept_at_ingest_equal_a_recount(backend: Backend) {
    use migrations::MigratorTrait;
    use sea_orm::{ConnectionTrait, Statement};
    let app = spawn_scenario(backend).await;
    // Fixture 07 again under another eventId would be a new delivery; the scenario has
    // it once. A retry of it (same eventId) must not count twice.
    assert_eq!(app.deliver("07_partial_signal_failure.json").await.0, 200);
    let rows = |sql: &'static str| {
        let db = app.db.clone();
        async move {
            let statement = Statement::from_string(db.get_database_backend(), sql);
            let mut out: Vec<(String, String, String, String, i64, i64)> = db
                .query_all_raw(statement)
                .await
                .unwrap()
                .into_iter()
                .map(|r| {
                    (
                        r.try_get_by_index(0).unwrap(),
                        r.try_get_by_index(1).unwrap(),
                        r.try_get_by_index(2).unwrap(),
                        r.try_get_by_index(3).unwrap(),
                        r.try_get_by_index(4).unwrap(),
                        r.try_get_by_index(5).unwrap(),
                    )
                })
                .collect();
            out.sort();
            out
        }
    };
    let kept = "SELECT vehicle_id, code, error_type, error_code, count, last_at \
                FROM signal_error_counts";
    let recount = "SELECT r.vehicle_id, r.code, COALESCE(r.error_type, ''), \
                   COALESCE(r.error_code, ''), CAST(COUNT(*) AS BIGINT), MAX(d.received_at) \
                   FROM signal_readings r JOIN deliveries d ON d.id = r.delivery_row_id \
                   WHERE r.status = 'error' \
                   GROUP BY r.vehicle_id, r.code, COALESCE(r.error_type, ''), \
                   COALESCE(r.error_code, '')";
    let at_ingest = rows(kept).await;
    assert!(!at_ingest.is_empty(), "the scenario has errored signals");
    assert_eq!(at_ingest, rows(recount).await);
    migrations::Migrator::down(&app.db, Some(1)).await.unwrap();
    migrations::Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(rows(kept).await, at_ingest, "the migration counts the same");
}
