//! A place's load over a year of a 200-vehicle depot, as printed figures.
//!
//! `cargo bench -p server --bench site_load` creates a depot and stores what the pricer
//! would have kept for a year of it (`session_load`: every vehicle back each evening
//! between 16:00 and 20:00 UTC, 11 kW until 15 to 60 kWh are in, one row per session and
//! 5-minute slice; `place_load`: their sums; the sessions themselves, never reported
//! unplugged, so a what-if looks for each one's next session), then times sequential requests over HTTP
//! as a logged-in operator: `GET /api/v1/places/{id}/load` for the year in 15 and 60
//! minute intervals, a month, a day, the load page for the year, and a week's what-if.
//! Knobs: `BENCH_VEHICLES` (200), `BENCH_DAYS` (365), `BENCH_RUNS` (20).

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;
use app::domain::sessions::SessionStatus;
use app::server::entities::{place_load, session_load, sessions};
use common::pages::{knob, row, server, time_get, DAY_MS};
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, EntityTrait};
use std::collections::BTreeMap;
use std::time::Instant;

const SLICE_MS: i64 = app::server::site_load::SLICE_MS;

/// A session as the pricer leaves it: placed, priced, its unplugging never reported.
fn session(id: &str, vehicle: &str, place: &str, start: i64, end: i64) -> sessions::ActiveModel {
    let kwh = 11.0 * (end - start) as f64 / 3_600_000.0;
    sessions::ActiveModel {
        id: Set(id.to_owned()),
        vehicle_id: Set(vehicle.to_owned()),
        status: Set(SessionStatus::Completed),
        started_at: Set(start),
        ended_at: Set(Some(end)),
        start_observed: Set(true),
        end_inferred: Set(false),
        duration_s: Set((end - start) / 1_000),
        plugged_in_at: Set(Some(start)),
        unplugged_at: Set(None),
        last_reading_at: Set(end),
        energy_added_kwh: Set(Some(kwh)),
        max_power_kw: Set(Some(11.0)),
        avg_power_kw: Set(Some(11.0)),
        intervals: Set(serde_json::json!([{ "start": start, "end": end }])),
        place_id: Set(Some(place.to_owned())),
        pricing_due: Set(None),
        ..Default::default()
    }
}

/// Stores a year of the depot's load; returns (sessions, session_load rows, place_load rows).
async fn fill(
    db: &sea_orm::DatabaseConnection,
    place: &str,
    vehicles: usize,
    days: i64,
) -> (usize, usize, usize) {
    let mut rng = fastrand::Rng::with_seed(22);
    let today = server::clock::now_ms().div_euclid(DAY_MS) * DAY_MS;
    let kw = 11.0;
    let slice_mwh = (kw * SLICE_MS as f64 / 3_600_000.0 * 1_000_000.0).round() as i64;
    let mut sums: BTreeMap<i64, [i64; 2]> = BTreeMap::new();
    let mut rows: Vec<session_load::ActiveModel> = Vec::new();
    let mut placed: Vec<sessions::ActiveModel> = Vec::new();
    let (mut sessions, mut stored) = (0, 0);
    for v in 0..vehicles {
        let vehicle = format!("bench-vehicle-{v:04}");
        for d in 0..days {
            let arrives = today - (days - d) * DAY_MS + 16 * 3_600_000 + rng.i64(0..4 * 3_600_000);
            let first = arrives.div_euclid(SLICE_MS) * SLICE_MS;
            let hours = rng.f64() * 45.0 / kw + 15.0 / kw;
            let slices = (hours * 12.0).ceil() as i64;
            let session = format!("{vehicle}:{arrives}");
            sessions += 1;
            placed.push(self::session(
                &session,
                &vehicle,
                place,
                arrives,
                first + slices * SLICE_MS,
            ));
            for k in 0..slices {
                let slice = first + k * SLICE_MS;
                rows.push(session_load::ActiveModel {
                    place_id: Set(place.to_owned()),
                    slice_ms: Set(slice),
                    session_id: Set(session.clone()),
                    vehicle_id: Set(vehicle.clone()),
                    wattage_mwh: Set(slice_mwh),
                    samples_mwh: Set(0),
                    average_mwh: Set(0),
                });
                let sum = sums.entry(slice).or_default();
                sum[0] += 1;
                sum[1] += slice_mwh;
            }
        }
        if rows.len() > 200_000 || v + 1 == vehicles {
            stored += rows.len();
            for chunk in rows.chunks(4_000) {
                session_load::Entity::insert_many(chunk.to_vec())
                    .exec_without_returning(db)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            rows.clear();
            for chunk in placed.chunks(500) {
                sessions::Entity::insert_many(chunk.to_vec())
                    .exec_without_returning(db)
                    .await
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            placed.clear();
        }
    }
    let sums: Vec<place_load::ActiveModel> = sums
        .into_iter()
        .map(|(slice, [vehicles, mwh])| place_load::ActiveModel {
            place_id: Set(place.to_owned()),
            slice_ms: Set(slice),
            vehicles: Set(vehicles),
            wattage_mwh: Set(mwh),
            samples_mwh: Set(0),
            average_mwh: Set(0),
        })
        .collect();
    for chunk in sums.chunks(4_000) {
        place_load::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    db.execute_unprepared("ANALYZE")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (sessions, stored, sums.len())
}

async fn run() {
    let vehicles: usize = knob("BENCH_VEHICLES", 200);
    let days: i64 = knob("BENCH_DAYS", 365);
    let runs: usize = knob("BENCH_RUNS", 20);
    let server = server().await;
    let input: app::wire::PlaceInput = serde_json::from_value(serde_json::json!({
        "name": "Bench depot", "kind": "depot", "latitude": 59.3, "longitude": 18.1,
        "timezone": "Europe/Stockholm"
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let place = app::server::places::create(&server.db, input, chrono_tz::Tz::UTC)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .id;
    let started = Instant::now();
    let (sessions, rows, sums) = fill(&server.db, &place, vehicles, days).await;
    eprintln!(
        "stored {sessions} sessions as {rows} session slices and {sums} place slices in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let today = chrono::Utc::now().date_naive();
    let ago = |n: u64| today - chrono::Days::new(n);
    let year = format!("from={}&to={today}", ago(days.max(1) as u64 - 1));
    println!(
        "# Site load: {vehicles} vehicles × {days} days at one depot ({sessions} sessions, {rows} session slices, {sums} place slices; {} cores, SQLite, median of {runs})",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!();
    println!("| request | median | slowest | answer |");
    println!("|---|---|---|---|");
    let api = format!("/api/v1/places/{place}");
    for (label, path) in [
        (
            "load API, a year in 15-minute intervals",
            format!("{api}/load?{year}&interval=15m"),
        ),
        (
            "load API, a year in 60-minute intervals",
            format!("{api}/load?{year}&interval=60m"),
        ),
        (
            "load API, 30 days in 15-minute intervals",
            format!("{api}/load?from={}&to={today}", ago(29)),
        ),
        (
            "load API, a day in 5-minute intervals",
            format!("{api}/load?from={}&to={}&interval=5m", ago(1), ago(1)),
        ),
        ("load page, a year", format!("/places/{place}/load?{year}")),
        (
            "load CSV, a year",
            format!("/places/{place}/load.csv?{year}"),
        ),
        (
            "what-if API, 7 days under 500 kW",
            format!("{api}/what-if?cap_kw=500&from={}&to={today}", ago(6)),
        ),
        (
            "what-if API, 31 days under 500 kW",
            format!("{api}/what-if?cap_kw=500&from={}&to={today}", ago(30)),
        ),
    ] {
        row(label, time_get(&server, &path, runs).await);
    }
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    runtime.block_on(run());
}
