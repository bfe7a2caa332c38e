//! The places, report and statement pages, their plain form posts (no JavaScript) and
//! their CSV downloads.

use crate::helpers::{priced, spawn_scenario, Backend, TestApp, VEHICLE_A};

crate::on_both_backends!(
    a_place_and_tariff_made_by_forms_price_the_session_shown_on_its_pages,
    refused_forms_come_back_naming_the_field_and_are_bounded,
    the_vehicle_page_filters_by_place_and_keeps_costs_without_a_session,
);

/// Posts a form as a browser without JavaScript does: `(status, Location)`.
async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = app
        .client
        .post(app.url(path))
        .form(form)
        .send()
        .await
        .expect("request");
    let location = response
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status().as_u16(), location)
}

async fn page(app: &TestApp, path: &str) -> String {
    let (status, html) = app.get_in_zone(path, "Europe/Stockholm").await;
    assert_eq!(status, 200, "{path}: {html}");
    html
}

async fn a_place_and_tariff_made_by_forms_price_the_session_shown_on_its_pages(backend: Backend) {
    let app = spawn_scenario(backend).await;
    priced(&app).await;
    // Two more sessions at the same spot would make it a suggestion; with one there is none.
    let html = page(&app, "/places").await;
    assert!(
        html.contains("Suggested places") && html.contains("No places yet."),
        "{html}"
    );

    let (status, to) = post_form(
        &app,
        "/forms/places",
        &[
            ("name", "Home of Anna"),
            ("kind", "home"),
            ("latitude", "59.334591"),
            ("longitude", "18.063240"),
            ("radius_m", "300"),
            ("timezone", "Europe/Stockholm"),
            ("charging_efficiency", "0.9"),
            ("cost_center", "CC-42"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/places"));
    let id: String = {
        use sea_orm::EntityTrait;
        app::server::entities::places::Entity::find()
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .id
    };
    let (status, to) = post_form(
        &app,
        &format!("/forms/places/{id}/tariffs"),
        &[
            ("currency", "eur"),
            ("valid_from", "2026-01-01"),
            ("charger_type", ""),
            ("session_fee", "0.00"),
            ("per_minute", "0.00"),
            ("default_per_kwh", "0.30"),
            ("b0_sat", "on"),
            ("b0_from", "20:00"),
            ("b0_to", "24:00"),
            ("b0_price", "0.10"),
        ],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, "/places"));
    priced(&app).await;

    let html = page(&app, "/places").await;
    assert!(
        html.contains("Home of Anna") && html.contains("CC-42"),
        "{html}"
    );
    assert!(html.contains("sat 20:00–24:00: 0.10 per kWh"), "{html}");
    assert!(
        html.contains("https://www.openstreetmap.org/?mlat=59.334591"),
        "{html}"
    );

    let session = format!("{VEHICLE_A}:1773511330000");
    let html = page(&app, &format!("/sessions/{session}")).await;
    assert!(
        html.contains("Place and cost") && html.contains("Home of Anna"),
        "{html}"
    );
    assert!(html.contains("Why it costs this"), "{html}");
    let stored: String = {
        use sea_orm::EntityTrait;
        app::server::entities::sessions::Entity::find_by_id(session.clone())
            .one(&app.db)
            .await
            .unwrap()
            .unwrap()
            .cost_amount
            .unwrap()
    };
    assert!(html.contains(&format!("{stored} EUR")), "{stored}: {html}");
    let html = page(&app, &format!("/vehicles/{VEHICLE_A}")).await;
    assert!(html.contains("Home of Anna") && html.contains(&format!("{stored} EUR")));

    // The month report and the home statement show it, and download as CSV.
    let html = page(&app, "/reports?month=2026-03").await;
    assert!(
        html.contains("Charging in 2026-03") && html.contains("Home of Anna"),
        "{html}"
    );
    assert!(html.contains(&format!("{stored} EUR")), "{html}");
    let html = page(
        &app,
        &format!("/vehicles/{VEHICLE_A}/statement?month=2026-03&kind=home"),
    )
    .await;
    assert!(
        html.contains("Total to reimburse") && html.contains(&format!("{stored} EUR")),
        "{html}"
    );

    let csv = app
        .get("/reports.csv?month=2026-03&tz=Europe/Stockholm")
        .await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "month,vehicle_id,vehicle,place_kind,sessions,open_sessions,battery_kwh,grid_kwh,grid_unknown_sessions,unpriced_sessions,cost_EUR"
    );
    assert!(text.contains(&format!("2026-03,{VEHICLE_A},")), "{text}");
    assert!(
        text.contains(&format!(",home,1,0,33.100,36.778,0,0,{stored}")),
        "{text}"
    );
    let csv = app
        .get(&format!(
            "/vehicles/{VEHICLE_A}/statement.csv?month=2026-03&kind=home&tz=Europe/Stockholm"
        ))
        .await;
    assert_eq!(csv.status(), 200);
    let text = csv.text().await.unwrap();
    assert!(
        text.starts_with("started_local,session_id,place,"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "2026-03-14 19:02,{session},Home of Anna,33.100,36.778,"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("total,,,33.100,36.778,,{stored},EUR,")),
        "{text}"
    );

    // A receipt set by form wins, and is cleared by form.
    let (status, to) = post_form(
        &app,
        &format!("/forms/sessions/{session}/cost"),
        &[
            ("amount", "21.50"),
            ("currency", "eur"),
            ("note", "Receipt 17"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert_eq!(to, format!("/sessions/{session}"));
    let html = page(&app, &format!("/sessions/{session}")).await;
    assert!(
        html.contains("21.50 EUR") && html.contains("Receipt 17"),
        "{html}"
    );
    let (status, _) = post_form(&app, &format!("/forms/sessions/{session}/cost/clear"), &[]).await;
    assert_eq!(status, 303);
    assert!(page(&app, &format!("/sessions/{session}"))
        .await
        .contains(&format!("{stored} EUR")));
}

async fn refused_forms_come_back_naming_the_field_and_are_bounded(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let (status, to) = post_form(
        &app,
        "/forms/places",
        &[
            ("name", "Far"),
            ("kind", "home"),
            ("latitude", "59"),
            ("longitude", "18"),
            ("radius_m", "9000"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/places?error=radius_m"), "{to}");
    let html = page(&app, &to).await;
    assert!(
        html.contains("Not saved: ") && html.contains("radius_m: must be from 10 to 5000 metres"),
        "{html}"
    );
    assert_eq!(app.count("places").await, 0);

    let (_, to) = post_form(
        &app,
        "/forms/places",
        &[("name", "X"), ("kind", "home"), ("latitude", "north")],
    )
    .await;
    assert!(to.contains("error=latitude"), "{to}");
    let (_, to) = post_form(
        &app,
        "/forms/tariffs/default",
        &[
            ("currency", "EUR"),
            ("valid_from", "2026-01-01"),
            ("default_per_kwh", "0.3"),
            ("b1_mon", "on"),
            ("b1_from", "22:00"),
            ("b1_to", "22:00"),
            ("b1_price", "0.1"),
        ],
    )
    .await;
    assert!(to.contains("error=bands%5B0%5D.to"), "{to}");
    let (_, to) = post_form(&app, "/forms/places/nope/delete", &[]).await;
    assert!(to.contains("error=no%20place"), "{to}");

    // A body past the bound is refused before it is read.
    let big = "x".repeat(20 * 1024);
    let (status, _) = post_form(&app, "/forms/places", &[("name", &big)]).await;
    assert_eq!(status, 413);
    // Strangers post nothing.
    let response = TestApp::anonymous()
        .post(app.url("/forms/places"))
        .form(&[("name", "Sneaky")])
        .send()
        .await
        .unwrap();
    assert!(
        matches!(response.status().as_u16(), 401 | 303),
        "{}",
        response.status()
    );
    assert_eq!(app.count("places").await, 0);
    // Bad report parameters are a 400 naming them.
    assert_eq!(app.get("/reports.csv?month=2026-13").await.status(), 400);
    assert_eq!(
        app.get(&format!("/vehicles/{VEHICLE_A}/statement.csv?kind=garage"))
            .await
            .status(),
        400
    );
    assert_eq!(app.get("/vehicles/nope/statement.csv").await.status(), 404);
}

async fn the_vehicle_page_filters_by_place_and_keeps_costs_without_a_session(backend: Backend) {
    use sea_orm::ConnectionTrait;
    let app = spawn_scenario(backend).await;
    let (status, _) = post_form(
        &app,
        "/forms/places",
        &[
            ("name", "Depot West"),
            ("kind", "depot"),
            ("latitude", "59.334591"),
            ("longitude", "18.06324"),
        ],
    )
    .await;
    assert_eq!(status, 303);
    priced(&app).await;
    let id: String = app.scalar_text("SELECT id FROM places").await;
    let at_depot = page(&app, &format!("/vehicles/{VEHICLE_A}?place={id}")).await;
    assert!(
        at_depot.contains("data-session-id") && at_depot.contains("Depot West"),
        "{at_depot}"
    );
    let nowhere = page(&app, &format!("/vehicles/{VEHICLE_A}?place=none")).await;
    assert!(
        nowhere.contains("No charging sessions in this range."),
        "{nowhere}"
    );
    let csv = app
        .get(&format!("/vehicles/{VEHICLE_A}/sessions.csv?place=none"))
        .await;
    assert_eq!(
        csv.text().await.unwrap().lines().count(),
        1,
        "the header alone"
    );
    let (_, api) = {
        let response = app
            .get(&format!("/api/v1/vehicles/{VEHICLE_A}/sessions?place={id}"))
            .await;
        (
            response.status(),
            response.json::<serde_json::Value>().await.unwrap(),
        )
    };
    assert_eq!(api["sessions"][0]["place"]["name"], "Depot West");

    // A receipt whose session re-derivation removed is listed, and cleared from there.
    let session = format!("{VEHICLE_A}:1773511330000");
    post_form(
        &app,
        &format!("/forms/sessions/{session}/cost"),
        &[("amount", "9.99"), ("currency", "SEK")],
    )
    .await;
    app.db
        .execute_unprepared(&format!("DELETE FROM sessions WHERE id = '{session}'"))
        .await
        .unwrap();
    let html = page(&app, &format!("/vehicles/{VEHICLE_A}")).await;
    assert!(
        html.contains("Costs without a session") && html.contains("9.99 SEK"),
        "{html}"
    );
    let back = format!("/vehicles/{VEHICLE_A}");
    let (status, to) = post_form(
        &app,
        &format!("/forms/sessions/{session}/cost/clear"),
        &[("back", &back)],
    )
    .await;
    assert_eq!((status, to.as_str()), (303, back.as_str()));
    assert!(!page(&app, &back).await.contains("Costs without a session"));
    // `back` leads only to this site.
    let (_, to) = post_form(
        &app,
        &format!("/forms/sessions/{session}/cost/clear"),
        &[("back", "//evil.example/")],
    )
    .await;
    assert!(to.starts_with("/sessions/"), "{to}");
}
