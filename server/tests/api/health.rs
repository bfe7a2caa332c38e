//! The data health page (`/health`): each vehicle's and each make and model's deliveries
//! and lags over the week, counted as deliveries are applied and counted again alike
//! after an upgrade, old days pruned; the signals each reports, with errors; vehicles paged by name and
//! filtered by make and model; bad queries refused. On SQLite and PostgreSQL.

use crate::helpers::{
    engine_for_fixtures, plugged, report_aged, soc, spawn_app_with, Backend, TestApp, TOKEN,
    VEHICLE_A,
};
use serde_json::{json, Value};

crate::on_both_backends!(
    data_health_counts_deliveries_lags_and_signals,
    counting_again_after_an_upgrade_gives_the_same_counts,
    vehicles_are_paged_by_name_and_filtered_by_make_and_model,
);

const KIA_1: &str = "0d1e2f3a-4b5c-4d6e-8f70-81a2b3c4d5e6";
const KIA_2: &str = "1e2f3a4b-5c6d-4e7f-8a81-92b3c4d5e6f7";
const MINUTE: i64 = 60_000;

async fn health(app: &TestApp, form: &[(&str, &str)]) -> Value {
    let (code, view) = app.server_fn("health_page", form).await;
    assert_eq!(code, 200, "{view}");
    view
}

fn group<'a>(view: &'a Value, make: &str) -> &'a Value {
    view["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["make"] == make)
        .unwrap_or_else(|| panic!("no {make} in {view}"))
}

fn vehicle<'a>(view: &'a Value, id: &str) -> &'a Value {
    view["vehicles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["id"] == id)
        .unwrap_or_else(|| panic!("no {id} in {view}"))
}

/// A signal's cell of a row, by code.
fn signal<'a>(view: &'a Value, row: &'a Value, code: &str) -> &'a Value {
    let at = view["signals"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c == code)
        .unwrap_or_else(|| panic!("no {code} in {view}"));
    &row["signals"][at]
}

/// Two KIA EV6 (one with eleven deliveries, one 10 minutes late; one with a single
/// delivery) and the fixtures' Polestar (a delivery 9.5 s late with a failed signal, and
/// a VEHICLE_ERROR, which has no lag).
async fn deliver_mixed_fleet(app: &TestApp) {
    for _ in 0..10 {
        report_aged(app, KIA_1, 3_000, &[soc(50.0)]).await;
    }
    report_aged(app, KIA_1, 10 * MINUTE, &[soc(51.0), plugged(true)]).await;
    report_aged(app, KIA_2, 3_000, &[soc(70.0)]).await;
    for name in [
        "07_partial_signal_failure.json",
        "08_vehicle_error_unreachable.json",
    ] {
        assert_eq!(app.deliver(name).await.0, 200, "{name}");
    }
    app.settle().await;
}

async fn data_health_counts_deliveries_lags_and_signals(backend: Backend) {
    let app = spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await;
    let empty = health(&app, &[]).await;
    assert_eq!(empty["groups"], json!([]), "{empty}");
    deliver_mixed_fleet(&app).await;
    let view = health(&app, &[]).await;

    // Most vehicles first; lags as the bucket they fall in (nearest rank).
    let kia = group(&view, "KIA");
    assert_eq!(view["groups"][0]["make"], "KIA", "{view}");
    assert_eq!(kia["model"], "EV6");
    assert_eq!(kia["vehicles"], 2);
    assert_eq!(kia["figures"]["deliveries"], 12);
    assert_eq!(kia["figures"]["lag_p50"], json!({"AtMost": 5}));
    assert_eq!(
        kia["figures"]["lag_p95"],
        json!({"AtMost": 600}),
        "12th of 12"
    );
    // Both new: each counted over a day at least.
    assert_eq!(kia["figures"]["per_day"], 6.0);
    let polestar = group(&view, "POLESTAR");
    assert_eq!(polestar["figures"]["deliveries"], 2, "the error counts too");
    assert_eq!(polestar["figures"]["lag_p50"], json!({"AtMost": 10}));
    assert_eq!(polestar["figures"]["lag_p95"], json!({"AtMost": 10}));

    let one = vehicle(&view, KIA_1);
    assert_eq!(one["figures"]["deliveries"], 11);
    assert_eq!(one["figures"]["per_day"], 11.0);
    assert_eq!(one["figures"]["lag_p50"], json!({"AtMost": 5}));
    assert_eq!(one["figures"]["lag_p95"], json!({"AtMost": 600}));
    let two = vehicle(&view, KIA_2);
    assert_eq!(two["figures"]["lag_p95"], json!({"AtMost": 5}));

    // Coverage: which vehicles have a value of each signal, and the errors.
    let plug = "charge-ischargingcableconnected";
    assert_eq!(signal(&view, kia, plug)["reporting"], 1);
    assert_eq!(
        signal(&view, kia, "tractionbattery-stateofcharge")["reporting"],
        2
    );
    assert_eq!(signal(&view, kia, "charge-wattage")["reporting"], 0);
    assert_eq!(signal(&view, polestar, "charge-wattage")["errors"], 1);
    let car = vehicle(&view, VEHICLE_A);
    let wattage = signal(&view, car, "charge-wattage");
    assert_eq!(wattage["reported"], false, "{wattage}");
    assert_eq!(wattage["errors"], 1);
    assert_eq!(wattage["error_kinds"], json!(["SERVER:INTERNAL"]));
    assert_eq!(signal(&view, two, plug)["reported"], false);
    assert_eq!(signal(&view, one, plug)["reported"], true);

    // The page itself, as a browser without JavaScript reads it.
    let (code, html) = app.get_in_zone("/health", "UTC").await;
    assert_eq!(code, 200);
    assert!(html.contains(r#"data-group="KIA EV6""#), "{html}");
    assert!(html.contains(&format!(r#"data-vehicle-id="{KIA_1}""#)));
    assert!(html.contains("≤ 10 min"), "{html}");
    assert!(html.contains("SERVER:INTERNAL"));
}

async fn counting_again_after_an_upgrade_gives_the_same_counts(backend: Backend) {
    let app = spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await;
    deliver_mixed_fleet(&app).await;
    use app::server::entities::delivery_stats::{Column, Entity};
    use sea_orm::{ConnectionTrait, EntityTrait, QueryOrder};
    let counts = || async {
        Entity::find()
            .order_by_asc(Column::Day)
            .order_by_asc(Column::VehicleId)
            .order_by_asc(Column::Bucket)
            .all(&app.db)
            .await
            .unwrap()
    };
    let applied = counts().await;
    assert_eq!(applied.iter().map(|r| r.count).sum::<i64>(), 14);
    // As after the upgrade that brought the table: counted again from the deliveries.
    for sql in [
        "DELETE FROM rebuilds WHERE name = 'delivery_stats'",
        "DELETE FROM delivery_stats",
    ] {
        app.db.execute_unprepared(sql).await.unwrap();
    }
    let now = server::clock::now_ms();
    let counted = app::server::health::rebuild_if_outdated(&app.db, now)
        .await
        .unwrap();
    assert_eq!(counted, 14);
    assert_eq!(counts().await, applied);
    // Current now: not counted a third time.
    let again = app::server::health::rebuild_if_outdated(&app.db, now)
        .await
        .unwrap();
    assert_eq!(again, 0);

    // Days past keeping are pruned; the week's are not.
    let today = app::domain::health::day_of(now);
    let old = today - app::server::health::KEEP_DAYS - 1;
    app.db
        .execute_unprepared(&format!(
            "INSERT INTO delivery_stats (day, vehicle_id, bucket, count) \
             VALUES ({old}, '{KIA_1}', 0, 3)"
        ))
        .await
        .unwrap();
    let pruned = app::server::health::prune(&app.db, now).await.unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(counts().await, applied);
}

async fn vehicles_are_paged_by_name_and_filtered_by_make_and_model(backend: Backend) {
    let app = spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await;
    let page = app::server::health::VEHICLES_PAGE as usize;
    let ids: Vec<String> = (0..page + 3)
        .map(|i| format!("{i:08x}-0000-4000-8000-000000000000"))
        .collect();
    for id in &ids {
        report_aged(&app, id, 3_000, &[soc(60.0)]).await;
    }
    assert_eq!(app.deliver("07_partial_signal_failure.json").await.0, 200);
    app.settle().await;

    // Every vehicle once, in name order, a page at a time.
    let first = health(&app, &[]).await;
    assert_eq!(first["vehicles"].as_array().unwrap().len(), page);
    let cursor = first["next_cursor"].as_str().unwrap().to_owned();
    let second = health(&app, &[("after", &cursor)]).await;
    assert_eq!(second["next_cursor"], Value::Null);
    let seen: Vec<String> = [&first, &second]
        .iter()
        .flat_map(|v| v["vehicles"].as_array().unwrap().clone())
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected: Vec<String> = ids.clone();
    expected.push(VEHICLE_A.to_owned());
    // KIA's sort names ("kia ev6 2024 …") come before POLESTAR's.
    assert_eq!(seen.len(), expected.len());
    assert_eq!(seen.last().map(String::as_str), Some(VEHICLE_A));
    let mut sorted = seen.clone();
    sorted[..ids.len()].sort();
    assert_eq!(seen, sorted, "name order");

    // Only one make and model.
    let polestar = health(&app, &[("make", "POLESTAR"), ("model", "Polestar 2")]).await;
    let only: Vec<&Value> = polestar["vehicles"].as_array().unwrap().iter().collect();
    assert_eq!(only.len(), 1, "{polestar}");
    assert_eq!(only[0]["id"], VEHICLE_A);
    assert_eq!(
        polestar["groups"].as_array().unwrap().len(),
        2,
        "every group still"
    );

    // Bad queries: a clear refusal, not a page.
    let long = "x".repeat(201);
    for form in [
        vec![("make", long.as_str())],
        vec![("after", "no-such-vehicle")],
    ] {
        let (code, body) = app.server_fn("health_page", &form).await;
        assert_eq!(code, 400, "{form:?}: {body}");
    }
    let (code, html) = app
        .get_in_zone("/health?after=no-such-vehicle", "UTC")
        .await;
    assert_eq!(code, 400);
    assert!(html.contains("broken"), "{html}");
}
