//! The load of a place (`/api/v1/places/{id}/load`, `/what-if`, `load.csv`): intervals
//! equal what the raw readings give by hand; late and out-of-order deliveries leave the
//! kept sums where a rebuild puts them; a session across a DST change lands in the right
//! local hours. On SQLite and PostgreSQL.

use crate::helpers::{call, priced, spawn_app_with, Backend, TestApp, TOKEN};
use app::server::entities::{place_load, session_load};
use sea_orm::{EntityTrait, QueryOrder};
use serde_json::{json, Value};

crate::on_both_backends!(
    a_place_load_is_its_sessions_power_summed_by_interval,
    late_and_shuffled_deliveries_keep_the_sums_a_rebuild_gives,
    a_session_across_a_dst_change_counts_in_local_hours,
    a_cap_is_replayed_and_bad_parameters_are_refused,
    a_vehicle_never_reported_unplugged_stays_until_its_next_charge,
);

const DEPOT: (f64, f64) = (59.3293, 18.0686);
const WATTAGE_CAR: &str = "5d1c0b2a-0000-4000-8000-00000000aa01";
const SAMPLES_CAR: &str = "5d1c0b2a-0000-4000-8000-00000000aa02";
const STAYS_CAR: &str = "5d1c0b2a-0000-4000-8000-00000000aa03";

/// 2026-03-10 (a Tuesday) at `h:m` UTC, epoch ms.
fn t(h: i64, m: i64) -> i64 {
    1_773_100_800_000 + (h * 60 + m) * 60_000
}

/// A delivery of `signals` observed at `at` at the depot.
fn delivery(vehicle: &str, at: i64, signals: &[(&str, Value)]) -> Vec<u8> {
    let meta = json!({"oemUpdatedAt": at, "fetchedAt": at + 5_000});
    let mut list: Vec<Value> = signals
        .iter()
        .map(|(code, body)| json!({"code": code, "body": body, "meta": meta}))
        .collect();
    list.push(json!({
        "code": "location-preciselocation",
        "body": {"latitude": DEPOT.0, "longitude": DEPOT.1, "heading": 0, "direction": "N",
                 "locationType": "LAST_PARKED"},
        "meta": meta,
    }));
    let codes: Vec<&str> = signals.iter().map(|(c, _)| *c).collect();
    json!({
        "eventId": format!("{vehicle}-{at}-{}", codes.join("+")),
        "eventType": "VEHICLE_STATE",
        "vehicleId": vehicle,
        "data": {
            "user": {"id": "c0ffee00-1b2c-4d3e-8f40-5a6b7c8d9e0f"},
            "vehicle": {"id": vehicle, "make": "KIA", "model": "EV6", "year": 2024},
            "triggers": [{"code": "SCHEDULED"}],
            "signals": list,
        },
        "meta": {"version": "4.0", "deliveryId": format!("d-{vehicle}-{at}-{}", codes.join("+")),
                 "deliveredAt": at + 10_000, "webhookId": "w", "webhookName": "t", "mode": "LIVE"},
    })
    .to_string()
    .into_bytes()
}

fn charging(on: bool) -> (&'static str, Value) {
    ("charge-ischarging", json!({"value": on}))
}

fn plugged(on: bool) -> (&'static str, Value) {
    ("charge-ischargingcableconnected", json!({"value": on}))
}

fn watts(w: f64) -> (&'static str, Value) {
    ("charge-wattage", json!({"value": w, "unit": "watts"}))
}

fn added(kwh: f64) -> (&'static str, Value) {
    (
        "charge-energyadded",
        json!({"value": kwh, "unit": "kilowatt_hours"}),
    )
}

/// The wattage car: 11 kW from 16:00, 7 kW from 16:30, stops at 17:00 UTC. Its energy
/// samples agree, and give way to the wattage.
fn wattage_session() -> Vec<Vec<u8>> {
    let v = WATTAGE_CAR;
    let on = |w: f64, kwh: f64| [plugged(true), charging(true), watts(w), added(kwh)];
    vec![
        delivery(v, t(16, 0), &on(11_000.0, 0.0)),
        delivery(v, t(16, 30), &on(7_000.0, 5.5)),
        delivery(
            v,
            t(17, 0),
            &[plugged(true), charging(false), watts(0.0), added(9.0)],
        ),
        delivery(v, t(17, 20), &[plugged(false), charging(false)]),
    ]
}

/// The samples car (no wattage): 0 kWh at 16:10, 5 at 16:40, 8 when it stops at 17:10.
fn samples_session() -> Vec<Vec<u8>> {
    let v = SAMPLES_CAR;
    vec![
        delivery(v, t(16, 10), &[plugged(true), charging(true), added(0.0)]),
        delivery(v, t(16, 40), &[plugged(true), charging(true), added(5.0)]),
        delivery(v, t(17, 10), &[plugged(true), charging(false), added(8.0)]),
        delivery(v, t(18, 0), &[plugged(false), charging(false), added(8.0)]),
    ]
}

async fn deliver_all(app: &TestApp, bodies: Vec<Vec<u8>>) {
    for body in bodies {
        let response = app.post_signed(body).await;
        assert_eq!(response.status(), 200);
    }
    app.settle().await;
}

async fn depot(app: &TestApp, zone: &str) -> String {
    let body = json!({"name": "Depot", "kind": "depot", "latitude": DEPOT.0,
                      "longitude": DEPOT.1, "timezone": zone});
    let (status, place) = call(app, "POST", "/api/v1/places", Some(body)).await;
    assert_eq!(status, 201, "{place}");
    place["id"].as_str().unwrap().to_owned()
}

async fn spawn(backend: Backend) -> TestApp {
    spawn_app_with(backend, Some(TOKEN), crate::helpers::engine_for_fixtures()).await
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-5
}

/// Each interval's (start "HH:MM", kWh, vehicles, kWh from wattage, kWh from samples).
fn rows(load: &Value) -> Vec<(String, f64, u64, f64, f64)> {
    load["intervals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["start"].as_str().unwrap()[11..16].to_owned(),
                i["energy_kwh"].as_f64().unwrap(),
                i["max_vehicles"].as_u64().unwrap(),
                i["wattage_kwh"].as_f64().unwrap(),
                i["samples_kwh"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn assert_rows(got: &[(String, f64, u64, f64, f64)], want: &[(&str, f64, u64, f64, f64)]) {
    assert_eq!(got.len(), want.len(), "{got:?}");
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g.0, w.0, "{got:?}");
        assert!(close(g.1, w.1) && g.2 == w.2, "{g:?} != {w:?}");
        assert!(close(g.3, w.3) && close(g.4, w.4), "{g:?} != {w:?}");
    }
}

/// What the readings give by hand, in 15-minute intervals: the wattage car 11 kW for
/// 30 minutes then 7 kW (`late_watts`: 9 kW from 16:45 if that reading arrived); the
/// samples car 10 kW from 16:10 to 16:40 (5 kWh in 30 minutes), then 6 kW to 17:10.
fn by_hand(late_watts: bool) -> Vec<(&'static str, f64, u64, f64, f64)> {
    let last = if late_watts { 9.0 } else { 7.0 } / 4.0;
    vec![
        // (start, kWh, vehicles, from wattage, from samples)
        (
            "16:00",
            2.75 + 10.0 * 5.0 / 60.0,
            2,
            2.75,
            10.0 * 5.0 / 60.0,
        ),
        ("16:15", 2.75 + 2.5, 2, 2.75, 2.5),
        ("16:30", 1.75 + 10.0 / 6.0 + 0.5, 2, 1.75, 10.0 / 6.0 + 0.5),
        ("16:45", last + 1.5, 2, last, 1.5),
        ("17:00", 1.0, 1, 0.0, 1.0),
    ]
}

async fn load(app: &TestApp, place: &str, query: &str) -> Value {
    let (status, body) = call(
        app,
        "GET",
        &format!("/api/v1/places/{place}/load?{query}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn a_place_load_is_its_sessions_power_summed_by_interval(backend: Backend) {
    let app = spawn(backend).await;
    let mut all = wattage_session();
    all.extend(samples_session());
    deliver_all(&app, all).await;
    let place = depot(&app, "Europe/Stockholm").await;
    priced(&app).await;

    let day = load(&app, &place, "from=2026-03-10&to=2026-03-10&interval=15m").await;
    assert_eq!(day["interval_minutes"], 15);
    assert_eq!(day["timezone"], "Europe/Stockholm");
    assert_rows(&rows(&day), &by_hand(false));
    let total: f64 = by_hand(false).iter().map(|r| r.1).sum();
    assert!(close(day["energy_kwh"].as_f64().unwrap(), total), "{day}");

    // The day's and the month's peak: 16:15 UTC (17:15 in Stockholm), 5.25 kWh in a
    // quarter, 21 kW, the wattage car first.
    let peaks = day["peaks"].as_array().unwrap();
    assert_eq!(peaks.len(), 2, "{peaks:?}");
    for (peak, (period, date)) in peaks
        .iter()
        .zip([("day", "2026-03-10"), ("month", "2026-03-01")])
    {
        assert_eq!(peak["period"], period);
        assert_eq!(peak["date"], date);
        assert_eq!(peak["start"], "2026-03-10T16:15:00Z");
        assert!(close(peak["avg_kw"].as_f64().unwrap(), 21.0), "{peak}");
        assert_eq!(peak["vehicles_charging"], 2);
        let vehicles = peak["vehicles"].as_array().unwrap();
        assert_eq!(vehicles.len(), 2);
        assert_eq!(vehicles[0]["vehicle_id"], WATTAGE_CAR);
        assert_eq!(vehicles[0]["name"], "2024 KIA EV6");
        assert!(close(vehicles[0]["energy_kwh"].as_f64().unwrap(), 2.75));
        assert!(close(vehicles[1]["energy_kwh"].as_f64().unwrap(), 2.5));
    }

    // Over more than 31 days, only a month's peak names its vehicles.
    let long = load(&app, &place, "from=2026-03-01&to=2026-04-15").await;
    let (day, month) = (&long["peaks"][0], &long["peaks"][1]);
    assert_eq!(
        (&day["period"], &month["period"]),
        (&json!("day"), &json!("month"))
    );
    assert_eq!(day["vehicles"], json!([]));
    assert_eq!(day["vehicles_charging"], 2);
    assert_eq!(month["vehicles"].as_array().unwrap().len(), 2);

    // An hour at a time: 16:00 and 17:00 UTC, 17 and 18 in Stockholm, a Tuesday.
    let hourly = load(&app, &place, "from=2026-03-10&to=2026-03-10&interval=60m").await;
    let hours = rows(&hourly);
    assert_eq!(hours.len(), 2);
    assert!(close(hours[0].1 + hours[1].1, total));
    assert!(close(hours[1].1, 1.0));
    let tuesday = &hourly["weekday_hour_kw"][1];
    assert!(
        close(tuesday[17].as_f64().unwrap(), hours[0].1),
        "{tuesday}"
    );
    assert!(close(hourly["hour_kwh"][18].as_f64().unwrap(), 1.0));

    // Five minutes: the samples car joins at 16:10.
    let fine = rows(&load(&app, &place, "from=2026-03-10&to=2026-03-10&interval=5m").await);
    assert_eq!(fine[0].0, "16:00");
    assert_eq!((fine[1].2, fine[2].2), (1, 2), "{fine:?}");

    // The CSV has the same intervals, in local time too.
    let response = app
        .client
        .get(app.url(&format!(
            "/places/{place}/load.csv?from=2026-03-10&to=2026-03-10"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("start_utc,start_local,avg_kw,max_vehicles,energy_kwh"));
    assert_eq!(lines.len(), 6, "{csv}");
    assert!(
        lines[2].starts_with("2026-03-10T16:15:00+00:00,2026-03-10 17:15,21.000,2,5.250000"),
        "{csv}"
    );

    // Deleting the place takes its load with it.
    let (status, _) = call(&app, "DELETE", &format!("/api/v1/places/{place}"), None).await;
    assert_eq!(status, 204);
    priced(&app).await;
    assert_eq!(app.count("place_load").await, 0);
    assert_eq!(app.count("session_load").await, 0);
}

type Snapshot = (Vec<session_load::Model>, Vec<place_load::Model>);

async fn snapshot(app: &TestApp) -> Snapshot {
    let sessions = session_load::Entity::find()
        .order_by_asc(session_load::Column::PlaceId)
        .order_by_asc(session_load::Column::SliceMs)
        .order_by_asc(session_load::Column::SessionId)
        .all(&app.db)
        .await
        .unwrap();
    let places = place_load::Entity::find()
        .order_by_asc(place_load::Column::PlaceId)
        .order_by_asc(place_load::Column::SliceMs)
        .all(&app.db)
        .await
        .unwrap();
    (sessions, places)
}

async fn late_and_shuffled_deliveries_keep_the_sums_a_rebuild_gives(backend: Backend) {
    let app = spawn(backend).await;
    // The place exists first: every delivery now moves the kept sums.
    let place = depot(&app, "Europe/Stockholm").await;
    let mut all = wattage_session();
    all.extend(samples_session());
    // Newest first, then one car's first half again (repeats), priced in between.
    all.reverse();
    let (first, rest) = all.split_at(3);
    deliver_all(&app, first.to_vec()).await;
    priced(&app).await;
    deliver_all(&app, rest.to_vec()).await;
    priced(&app).await;
    // A wattage reading from the middle of a closed session, delivered last: it changes
    // nothing of the session's row, only its load.
    deliver_all(
        &app,
        vec![delivery(
            WATTAGE_CAR,
            t(16, 45),
            &[plugged(true), charging(true), watts(9_000.0)],
        )],
    )
    .await;
    priced(&app).await;

    let kept = snapshot(&app).await;
    let day = load(&app, &place, "from=2026-03-10&to=2026-03-10").await;
    assert_rows(&rows(&day), &by_hand(true));

    // A rebuild from scratch: both tables emptied, every session priced again.
    session_load::Entity::delete_many()
        .exec(&app.db)
        .await
        .unwrap();
    place_load::Entity::delete_many()
        .exec(&app.db)
        .await
        .unwrap();
    app::server::pricing::mark_vehicle(&app.db, None)
        .await
        .unwrap();
    priced(&app).await;
    let rebuilt = snapshot(&app).await;
    assert!(!rebuilt.1.is_empty());
    assert_eq!(kept, rebuilt);
}

async fn a_session_across_a_dst_change_counts_in_local_hours(backend: Backend) {
    let app = spawn(backend).await;
    let place = depot(&app, "Europe/Stockholm").await;
    // 2026-03-29 00:30 to 02:30 UTC at 6 kW: Stockholm goes from 02:00 to 03:00 at 01:00
    // UTC, so it is 01:30 to 04:30 local, with no hour 2.
    let base = 1_774_742_400_000; // 2026-03-29T00:00:00Z
    let at = |m: i64| base + m * 60_000;
    let v = WATTAGE_CAR;
    deliver_all(
        &app,
        vec![
            delivery(v, at(30), &[plugged(true), charging(true), watts(6_000.0)]),
            delivery(v, at(150), &[plugged(true), charging(false), watts(0.0)]),
        ],
    )
    .await;
    priced(&app).await;
    let day = load(&app, &place, "from=2026-03-29&to=2026-03-29&interval=60m").await;
    let hours: Vec<f64> = day["hour_kwh"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_f64().unwrap())
        .collect();
    let mut want = [0.0; 24];
    (want[1], want[3], want[4]) = (3.0, 6.0, 3.0);
    assert!(
        hours.iter().zip(want).all(|(g, w)| close(*g, w)),
        "{hours:?}"
    );
    // A Sunday: 03:00 occurs once that day, so its average is the 6 kW it drew.
    assert!(
        close(day["weekday_hour_kw"][6][3].as_f64().unwrap(), 6.0),
        "{day}"
    );
    assert!(close(day["energy_kwh"].as_f64().unwrap(), 12.0));
    // The day before holds none of it; the day is the local one.
    let before = load(&app, &place, "from=2026-03-28&to=2026-03-28").await;
    assert_eq!(before["intervals"], json!([]));
    assert_eq!(day["peaks"][0]["date"], "2026-03-29");
}

async fn a_cap_is_replayed_and_bad_parameters_are_refused(backend: Backend) {
    let app = spawn(backend).await;
    let mut all = wattage_session();
    all.extend(samples_session());
    deliver_all(&app, all).await;
    let place = depot(&app, "Europe/Stockholm").await;
    priced(&app).await;
    let what_if = |cap: &str| {
        let path =
            format!("/api/v1/places/{place}/what-if?cap_kw={cap}&from=2026-03-10&to=2026-03-10");
        let app = &app;
        async move { call(app, "GET", &path, None).await }
    };

    // No cap that bites: the record.
    let (status, free) = what_if("1000").await;
    assert_eq!(status, 200, "{free}");
    assert_eq!(free["sessions"], 2);
    assert!(
        close(free["recorded_peak_kw"].as_f64().unwrap(), 21.0),
        "{free}"
    );
    assert!(close(free["new_peak_kw"].as_f64().unwrap(), 21.0), "{free}");
    assert_eq!(free["sessions_later"], 0);
    assert_eq!(free["departure_aware"]["sessions_short"], 0);

    // 12 kW: never above it; both cars had time until they left, so some finish later.
    // Asked four times at once (replays take their turns), the answers are the same.
    let answers = futures::future::join_all((0..4).map(|_| what_if("12"))).await;
    let (status, capped) = answers[0].clone();
    assert_eq!(status, 200, "{capped}");
    assert!(answers.iter().all(|a| *a == answers[0]), "{answers:?}");
    assert_eq!(capped["cap_kw"], 12.0);
    for figures in [&capped, &capped["departure_aware"]] {
        assert!(
            figures["new_peak_kw"].as_f64().unwrap() <= 12.0 + 1e-9,
            "{capped}"
        );
        assert!(figures["sessions_later"].as_u64().unwrap() >= 1, "{capped}");
        assert!(
            figures["worst_delay_min"].as_f64().unwrap() > 0.0,
            "{capped}"
        );
    }

    for (path, param) in [
        (
            format!("/api/v1/places/{place}/load?interval=10m"),
            "interval",
        ),
        (
            format!("/api/v1/places/{place}/load?from=2025-01-01&to=2026-03-10"),
            "from",
        ),
        (format!("/api/v1/places/{place}/load?to=2026-02-30"), "to"),
        (
            format!("/api/v1/places/{place}/what-if?cap_kw=-5"),
            "cap_kw",
        ),
        (format!("/api/v1/places/{place}/what-if"), "cap_kw"),
        (
            format!("/api/v1/places/{place}/what-if?cap_kw=10&from=2026-01-01&to=2026-03-10"),
            "from",
        ),
    ] {
        let (status, body) = call(&app, "GET", &path, None).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains(&format!("`{param}`")),
            "{path}: {body}"
        );
    }
    let (status, _) = call(&app, "GET", "/api/v1/places/nowhere/load", None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, "GET", "/api/v1/places/nowhere/what-if?cap_kw=5", None).await;
    assert_eq!(status, 404);
}

async fn a_vehicle_never_reported_unplugged_stays_until_its_next_charge(backend: Backend) {
    let app = spawn(backend).await;
    // 10 kW from 16:00 to 17:00, then 10 kW from 19:00 to 19:30; the cable is never
    // reported out.
    let v = STAYS_CAR;
    let on = |kwh: f64| [plugged(true), charging(true), watts(10_000.0), added(kwh)];
    let off = |kwh: f64| [plugged(true), charging(false), watts(0.0), added(kwh)];
    deliver_all(
        &app,
        vec![
            delivery(v, t(16, 0), &on(0.0)),
            delivery(v, t(16, 30), &on(5.0)),
            delivery(v, t(17, 0), &off(10.0)),
            delivery(v, t(19, 0), &on(0.0)),
            delivery(v, t(19, 30), &off(5.0)),
        ],
    )
    .await;
    let place = depot(&app, "Europe/Stockholm").await;
    priced(&app).await;
    let path = format!("/api/v1/places/{place}/what-if?cap_kw=3&from=2026-03-10&to=2026-03-10");
    let (status, capped) = call(&app, "GET", &path, None).await;
    assert_eq!(status, 200, "{capped}");
    assert_eq!(capped["sessions"], 2, "{capped}");
    for figures in [&capped, &capped["departure_aware"]] {
        // The first charge had until 19:00 (3 h at 3 kW: 9 of its 10 kWh), not until its
        // charge stopped at 17:00, nor a day.
        assert_eq!(figures["sessions_short"], 1, "{capped}");
        assert!(
            close(figures["kwh_short"].as_f64().unwrap(), 1.0),
            "{capped}"
        );
        // The second had time: 5 kWh at 3 kW take 100 minutes instead of 30.
        assert_eq!(figures["sessions_later"], 1, "{capped}");
        assert!(
            close(figures["worst_delay_min"].as_f64().unwrap(), 70.0),
            "{capped}"
        );
    }
}
