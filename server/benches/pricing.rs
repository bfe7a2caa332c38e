//! Pricing and month reports at fleet scale, as printed figures against the targets of
//! docs/PERFORMANCE.md.
//!
//! `cargo bench -p server --bench pricing` builds a SQLite database of its own: a fleet
//! of `BENCH_VEHICLES` (1 000) vehicles, each with a home (a place with a charging
//! efficiency and a time-of-use tariff) where it charges every night of a month (21:00
//! to 05:00 in Berlin, so the first and last nights cross the month's edges) and a depot
//! where it fast-charges every third day, with a fleet default tariff for everything
//! else; and one vehicle with ten years of nightly sessions. It times pricing every
//! session (what the background pricer does after a change), the month report
//! (`/api/v1/reports/monthly`'s query and its JSON), and re-pricing the ten years
//! (`chargelog reprice --vehicle`). `BENCH_RUNS` (20) sets the report's repetitions;
//! with `BENCH_KEEP_DB` set the database stays, for `sqlite3` and `EXPLAIN QUERY PLAN`.

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

use app::domain::places::PlaceKind;
use app::domain::sessions::{ChargerType, EnergySource, SessionStatus};
use app::server::entities::{places, sessions, tariffs, vehicles};
use chrono::{NaiveDate, TimeZone};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, TransactionTrait};
use serde_json::json;
use std::time::Instant;

/// The month report must stay under this for 1 000 vehicles (the target).
const MAX_REPORT_MS: f64 = 200.0;
const BERLIN: chrono_tz::Tz = chrono_tz::Europe::Berlin;
const MINUTE_MS: i64 = 60_000;

fn knob<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn local_ms(date: NaiveDate, hour: u32, minute: u32) -> i64 {
    BERLIN
        .from_local_datetime(&date.and_hms_opt(hour, minute, 0).unwrap_or_default())
        .earliest()
        .map_or(0, |t| t.timestamp_millis())
}

/// A completed session from `start` for `minutes`, adding `kwh` evenly, its curve a
/// point every ten minutes, due for pricing.
#[allow(
    clippy::too_many_arguments,
    reason = "one row's columns, named at the call"
)]
fn session(
    vehicle: &str,
    start: i64,
    minutes: i64,
    kwh: f64,
    charger: ChargerType,
    at: (f64, f64),
) -> sessions::ActiveModel {
    let end = start + minutes * MINUTE_MS;
    let steps = (minutes / 10).max(1);
    let curve: Vec<(i64, f64)> = (0..=steps)
        .map(|i| (start + i * 10 * MINUTE_MS, kwh * i as f64 / steps as f64))
        .collect();
    sessions::ActiveModel {
        id: Set(format!("{vehicle}:{start}")),
        vehicle_id: Set(vehicle.to_owned()),
        status: Set(SessionStatus::Completed),
        started_at: Set(start),
        ended_at: Set(Some(end)),
        start_observed: Set(true),
        end_inferred: Set(false),
        duration_s: Set(minutes * 60),
        plugged_in_at: Set(Some(start)),
        unplugged_at: Set(Some(end)),
        last_reading_at: Set(end),
        soc_start: Set(Some(30.0)),
        soc_end: Set(Some(70.0)),
        range_start_km: Set(None),
        range_end_km: Set(None),
        energy_added_kwh: Set(Some(kwh)),
        energy_source: Set(Some(EnergySource::Counter)),
        max_power_kw: Set(Some(11.0)),
        avg_power_kw: Set(Some(kwh * 60.0 / minutes as f64)),
        charge_limit_percent: Set(Some(80.0)),
        charger_type: Set(Some(charger)),
        latitude: Set(Some(at.0)),
        longitude: Set(Some(at.1)),
        intervals: Set(json!([{ "start": start, "end": end }])),
        energy_curve: Set(Some(json!(curve))),
        place_id: Set(None),
        grid_energy_kwh: Set(None),
        cost_amount: Set(None),
        cost_currency: Set(None),
        tariff_id: Set(None),
        cost_breakdown: Set(None),
        pricing_due: Set(Some(1)),
        cost_minor: Set(None),
    }
}

fn vehicle(id: &str, year: i32) -> vehicles::ActiveModel {
    vehicles::ActiveModel {
        id: Set(id.to_owned()),
        make: Set(Some("RENAULT".into())),
        model: Set(Some("Megane E-Tech".into())),
        year: Set(Some(year)),
        first_seen_at: Set(0),
        last_delivery_at: Set(0),
        sort_name: Set(format!("renault megane e-tech {year} {id}")),
        ..Default::default()
    }
}

fn place(id: &str, name: &str, kind: PlaceKind, at: (f64, f64)) -> places::ActiveModel {
    places::ActiveModel {
        id: Set(id.to_owned()),
        name: Set(name.to_owned()),
        name_key: Set(name.to_lowercase()),
        kind: Set(kind),
        latitude: Set(at.0),
        longitude: Set(at.1),
        radius_m: Set(150.0),
        timezone: Set("Europe/Berlin".into()),
        charging_efficiency: Set((kind == PlaceKind::Home).then_some(0.9)),
        cost_center: Set(None),
        created_at: Set(0),
        updated_at: Set(0),
    }
}

/// A tariff with a cheap night band and a dearer evening band.
fn tariff(id: &str, place_id: Option<&str>, charger: Option<ChargerType>) -> tariffs::ActiveModel {
    let body = json!({
        "currency": "EUR", "valid_from": "2020-01-01", "session_fee": "0.35",
        "per_minute": "0.00", "default_per_kwh": "0.32", "charger_type": charger,
        "bands": [
            {"days": ["mon","tue","wed","thu","fri","sat","sun"], "from": "22:00", "to": "06:00", "months": null, "price_per_kwh": "0.19"},
            {"days": ["mon","tue","wed","thu","fri"], "from": "17:00", "to": "21:00", "months": [11, 12, 1, 2], "price_per_kwh": "0.41"}
        ]
    });
    let charger_key = charger.map_or("any", |c| c.as_str());
    tariffs::ActiveModel {
        id: Set(id.to_owned()),
        place_id: Set(place_id.map(str::to_owned)),
        scope_key: Set(format!(
            "{}|{charger_key}|2020-01-01",
            place_id.unwrap_or("default")
        )),
        valid_from: Set("2020-01-01".into()),
        charger_type: Set(charger),
        body: Set(body),
        created_at: Set(0),
    }
}

async fn insert_sessions(db: &DatabaseConnection, rows: Vec<sessions::ActiveModel>) {
    let txn = db.begin().await.unwrap_or_else(|e| panic!("{e}"));
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(200).collect();
        sessions::Entity::insert_many(chunk)
            .exec_without_returning(&txn)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
}

/// Prices every due session; `(sessions, seconds)`.
async fn price_all(db: &DatabaseConnection) -> (usize, f64) {
    let started = Instant::now();
    let n = app::server::pricing::price_all_due(db, chrono_tz::Tz::UTC)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (n, started.elapsed().as_secs_f64())
}

async fn run() {
    let fleet: usize = knob("BENCH_VEHICLES", 1000);
    let runs: usize = knob("BENCH_RUNS", 20);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = dir.path().join("pricing.db");
    let url = format!("sqlite://{}", file.display());
    let _dir = if std::env::var_os("BENCH_KEEP_DB").is_some() {
        eprintln!("BENCH_KEEP_DB: the database stays at {}", file.display());
        let _ = dir.keep();
        None
    } else {
        Some(dir)
    };
    let settings = server::config::DatabaseSettings::parse(&url).unwrap_or_else(|e| panic!("{e}"));
    let db = server::db::connect(&settings)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    server::db::migrate(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    // The fleet: homes a kilometre apart, three depots, a tariff each, a default.
    let depots = [(52.52, 13.40), (52.40, 13.06), (52.48, 13.55)];
    let mut place_rows = Vec::new();
    let mut tariff_rows = vec![tariff("default", None, None)];
    for (i, at) in depots.iter().enumerate() {
        let id = format!("depot-{i}");
        place_rows.push(place(&id, &format!("Depot {i}"), PlaceKind::Depot, *at));
        tariff_rows.push(tariff(&format!("t-{id}"), Some(&id), Some(ChargerType::Dc)));
        tariff_rows.push(tariff(&format!("t-{id}-any"), Some(&id), None));
    }
    let home = |v: usize| {
        (
            52.0 + (v / 100) as f64 * 0.01,
            13.0 + (v % 100) as f64 * 0.015,
        )
    };
    let ids: Vec<String> = (0..=fleet)
        .map(|v| format!("00000000-0000-4000-8000-{v:012}"))
        .collect();
    for (v, id) in ids.iter().enumerate() {
        place_rows.push(place(
            &format!("home-{v}"),
            &format!("Home {v}"),
            PlaceKind::Home,
            home(v),
        ));
        tariff_rows.push(tariff(
            &format!("t-home-{v}"),
            Some(&format!("home-{v}")),
            None,
        ));
        vehicles::Entity::insert(vehicle(id, 2020 + (v % 6) as i32))
            .exec_without_returning(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for chunk in place_rows.chunks(200) {
        places::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for chunk in tariff_rows.chunks(200) {
        tariffs::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }

    // March 2026: every night at home (28 February to 31 March, so two nights cross the
    // month's edges), a depot fast charge every third day.
    let first = NaiveDate::from_ymd_opt(2026, 2, 28).unwrap_or_default();
    let started = Instant::now();
    let mut count = 0;
    for (v, id) in ids.iter().take(fleet).enumerate() {
        let mut rows = Vec::new();
        for day in 0..32 {
            let date = first + chrono::Days::new(day);
            rows.push(session(
                id,
                local_ms(date, 21, 0),
                8 * 60,
                18.0 + (v % 7) as f64,
                ChargerType::Ac,
                home(v),
            ));
            if day % 3 == 1 {
                let depot = depots[v % depots.len()];
                rows.push(session(
                    id,
                    local_ms(date, 11, 15),
                    35,
                    40.0,
                    ChargerType::Dc,
                    depot,
                ));
            }
        }
        count += rows.len();
        insert_sessions(&db, rows).await;
    }
    eprintln!(
        "loaded {count} sessions of {fleet} vehicles in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let (priced, seconds) = price_all(&db).await;

    // The month report, as the API answers it (the query and the JSON).
    let month = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap_or_default();
    let mut times = Vec::new();
    let mut bytes = 0;
    let mut sessions_in_month = 0;
    for i in 0..runs + 2 {
        let started = Instant::now();
        let report = app::server::reports::monthly(&db, month, BERLIN, chrono_tz::Tz::UTC)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|| panic!("a month"));
        let json = serde_json::to_vec(&report).unwrap_or_default();
        if i >= 2 {
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        bytes = json.len();
        sessions_in_month = report.fleet.totals.sessions;
    }
    times.sort_by(f64::total_cmp);
    let (median, slowest) = (times[times.len() / 2], times[times.len() - 1]);

    // Ten years of one vehicle's nights at home, re-priced as `chargelog reprice
    // --vehicle` does.
    let veteran = &ids[fleet];
    let mut rows = Vec::new();
    let start = NaiveDate::from_ymd_opt(2016, 3, 1).unwrap_or_default();
    for day in 0..3653 {
        let date = start + chrono::Days::new(day);
        rows.push(session(
            veteran,
            local_ms(date, 21, 0),
            8 * 60,
            20.0,
            ChargerType::Ac,
            home(fleet),
        ));
    }
    let years = rows.len();
    insert_sessions(&db, rows).await;
    price_all(&db).await;
    let started = Instant::now();
    let repriced = server::cli::reprice::run(&db, Some(veteran), chrono_tz::Tz::UTC, false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let reprice_s = started.elapsed().as_secs_f64();

    println!(
        "# Pricing and month reports ({} cores, SQLite)",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| what | figure |");
    println!("|---|---|");
    println!(
        "| price every session ({priced} sessions of {fleet} vehicles, time-of-use tariffs) | {seconds:.2} s ({:.0} sessions/s) |",
        priced as f64 / seconds
    );
    println!(
        "| month report, {fleet} vehicles, {sessions_in_month} sessions touching the month | median {median:.1} ms, slowest {slowest:.1} ms, {:.0} KB JSON |",
        bytes as f64 / 1024.0
    );
    println!(
        "| re-price 10 years of one vehicle ({years} sessions; {repriced} priced) | {:.2} s ({:.0} sessions/s) |",
        reprice_s,
        repriced as f64 / reprice_s
    );
    println!();
    let missed = usize::from(median > MAX_REPORT_MS);
    if missed > 0 {
        println!("MISSED: the month report's median {median:.1} ms is over {MAX_REPORT_MS} ms");
    }
    println!("targets missed: {missed}");
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(run());
}
