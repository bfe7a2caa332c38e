//! The readiness model against what really happened: a backtest over the simulator's
//! fleet, printed as figures (docs/PERFORMANCE.md, "Readiness").
//!
//! `cargo bench -p server --bench readiness` loads `BENCH_VEHICLES` (100) vehicles ×
//! `BENCH_DAYS` (60) days of simulated deliveries through the webhook's own path into a
//! SQLite database, makes a place of every spot where three or more sessions happened (as
//! an operator accepting the suggestions would) and prices the sessions, so each has its
//! place. Then, for every session the simulator says lasted more than an hour, it makes
//! the prediction the board would have made one hour in: from what the vehicle had
//! reported by then (state of charge and its time, power, capacity, charge limit) and its
//! own sessions that had ended before, at the session's place, for a departure at the
//! moment the session really ended. It prints how far that prediction was from the state of
//! charge the session really reached: median and 90th percentile, overall and by the
//! prediction's confidence and by how the session ended, and how often it told "below
//! 80 %" right. The simulation has realistic noise (late and repeated deliveries, failed
//! signals) unless `BENCH_NOISE=none`.

#![allow(
    unused_crate_dependencies,
    reason = "a benchmark shares the package's dependencies and uses a part of them"
)]
#![allow(clippy::print_stdout, reason = "a benchmark prints its figures")]

mod common;

use app::domain::places::{place_of, Place};
use app::domain::readiness::{predict, profile, Confidence, Snapshot};
use app::domain::signals;
use app::server::entities::signal_readings;
use app::wire::PlaceInput;
use chrono::DateTime;
use common::pages::{knob, DAY_MS};
use sea_orm::{
    ColumnTrait, Database, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use simulator::{Noise, SimConfig, TruthSession};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

const HOUR_MS: i64 = 3_600_000;

/// The newest value of `code` the vehicle reported as true at or before `at`.
async fn reported(
    db: &DatabaseConnection,
    vehicle: &str,
    code: &str,
    at: i64,
) -> Option<(f64, i64, Option<String>)> {
    signal_readings::Entity::find()
        .select_only()
        .columns([
            signal_readings::Column::ValueNum,
            signal_readings::Column::OemUpdatedAt,
            signal_readings::Column::Unit,
        ])
        .filter(signal_readings::Column::VehicleId.eq(vehicle))
        .filter(signal_readings::Column::Code.eq(code))
        .filter(signal_readings::Column::OemUpdatedAt.lte(at))
        .filter(signal_readings::Column::ValueNum.is_not_null())
        .order_by_desc(signal_readings::Column::OemUpdatedAt)
        .limit(1)
        .into_tuple::<(Option<f64>, Option<i64>, Option<String>)>()
        .one(db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .and_then(|(value, at, unit)| Some((value?, at?, unit)))
}

/// Places where three or more of the simulator's sessions happened (to 3 decimals of a
/// degree, about 100 m), as an operator accepting the suggestions would make them.
async fn make_places(db: &DatabaseConnection, sessions: &[TruthSession]) -> usize {
    let mut spots: HashMap<(i64, i64), (usize, f64, f64)> = HashMap::new();
    for s in sessions {
        let key = (
            (s.latitude * 1000.0).round() as i64,
            (s.longitude * 1000.0).round() as i64,
        );
        let spot = spots.entry(key).or_insert((0, s.latitude, s.longitude));
        spot.0 += 1;
    }
    let mut made = 0;
    for (n, (count, lat, lon)) in spots.into_values().enumerate() {
        if count < 3 {
            continue;
        }
        let input = PlaceInput {
            name: format!("Spot {n}"),
            kind: app::domain::places::PlaceKind::Other,
            latitude: lat,
            longitude: lon,
            radius_m: 200.0,
            timezone: None,
            charging_efficiency: None,
            cost_center: None,
        };
        if app::server::places::create(db, input, chrono_tz::UTC)
            .await
            .is_ok()
        {
            made += 1;
        }
    }
    made
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i]
}

fn row(label: &str, errors: &mut [f64]) {
    errors.sort_by(f64::total_cmp);
    println!(
        "| {label} | {} | {:.1} | {:.1} |",
        errors.len(),
        percentile(errors, 0.5),
        percentile(errors, 0.9)
    );
}

async fn run() {
    let vehicles: usize = knob("BENCH_VEHICLES", 100);
    let days: f64 = knob("BENCH_DAYS", 60.0);
    let seed: u64 = knob("BENCH_SEED", 21);
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("bench.db").display()
    );
    let db = Database::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    server::db::migrate(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"));

    let now = chrono::Utc::now().timestamp_millis();
    let config = SimConfig {
        vehicles,
        days,
        seed,
        start_ms: now - (days * DAY_MS as f64) as i64,
        noise: match std::env::var("BENCH_NOISE").as_deref() {
            Ok("none") => Noise::NONE,
            _ => Noise::REALISTIC,
        },
        misbehave: false,
    };
    let truth = simulator::generate(&config).truth;
    common::pages::load_config(&db, &config).await;
    let places = make_places(&db, &truth.sessions).await;
    let priced = app::server::pricing::price_all_due(&db, chrono_tz::UTC)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("{places} places; {priced} sessions priced");
    let known: Vec<Place> = app::server::entities::places::Entity::find()
        .all(&db)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .into_iter()
        .map(app::server::pricing::place)
        .collect();

    let started = Instant::now();
    let mut all = Vec::new();
    let mut by_confidence: BTreeMap<Confidence, Vec<f64>> = BTreeMap::new();
    let mut signed = Vec::new();
    let (mut at_limit, mut before_limit) = (Vec::new(), Vec::new());
    // Sessions that really ended below 80 %, and those the prediction said would.
    let (mut short, mut short_seen) = (0_usize, 0_usize);
    let (mut enough, mut enough_seen) = (0_usize, 0_usize);
    // Of those that reached 80 % but were predicted below it, the ones within one point: the
    // departure here is the moment the session ended, often the minute it reached its limit.
    let mut near_miss = 0_usize;
    for session in &truth.sessions {
        let (Some(ended), Some(soc_end)) = (session.ended_at, session.soc_end) else {
            continue;
        };
        if !session.start_observed || ended - session.started_at <= HOUR_MS {
            continue;
        }
        let one_hour_in = session.started_at + HOUR_MS;
        let vehicle = session.vehicle_id.as_str();
        let Some((soc, soc_at, _)) =
            reported(&db, vehicle, signals::STATE_OF_CHARGE, one_hour_in).await
        else {
            continue;
        };
        let power_kw = reported(&db, vehicle, signals::WATTAGE, one_hour_in)
            .await
            .filter(|(_, at, _)| *at >= session.started_at)
            .map(|(w, _, unit)| {
                if unit.as_deref() == Some("kW") {
                    w
                } else {
                    w / 1000.0
                }
            });
        let limit = match reported(&db, vehicle, signals::CHARGE_LIMITS, one_hour_in).await {
            Some((l, _, _)) => Some(l),
            None => reported(&db, vehicle, signals::ACTIVE_LIMIT, one_hour_in)
                .await
                .map(|(l, _, _)| l),
        };
        let capacity = reported(&db, vehicle, signals::NOMINAL_CAPACITY, now)
            .await
            .map(|(c, _, _)| c);
        let snapshot = Snapshot {
            soc: Some(soc),
            soc_at: DateTime::from_timestamp_millis(soc_at),
            plugged: Some(true),
            charging: Some(true),
            power_kw,
            charge_limit: limit,
            capacity_kwh: capacity,
            last_heard: DateTime::from_timestamp_millis(soc_at),
        };
        let place = place_of(&known, (session.latitude, session.longitude)).map(|p| p.id.clone());
        let history = app::server::readiness::history(&db, vehicle, Some(session.started_at))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let profile = profile(&history, place.as_deref());
        let (Some(from), Some(departure)) = (
            DateTime::from_timestamp_millis(soc_at),
            DateTime::from_timestamp_millis(ended),
        ) else {
            continue;
        };
        let prediction = predict(&snapshot, &profile, from, soc, departure);
        let error = prediction.soc - soc_end;
        all.push(error.abs());
        signed.push(error);
        by_confidence
            .entry(prediction.confidence)
            .or_default()
            .push(error.abs());
        if limit.is_some_and(|l| soc_end >= l - 1.0) {
            at_limit.push(error.abs());
        } else {
            before_limit.push(error.abs());
        }
        if soc_end < 80.0 {
            short += 1;
            short_seen += usize::from(prediction.soc < 80.0);
        } else {
            enough += 1;
            enough_seen += usize::from(prediction.soc >= 80.0);
            near_miss += usize::from(prediction.soc < 80.0 && prediction.soc >= 79.0);
        }
    }
    let elapsed = started.elapsed();

    println!("## Readiness: the prediction one hour into each session, against its real end");
    println!(
        "{vehicles} vehicles × {days} days (seed {seed}), {places} places; {} sessions longer than an hour, predicted in {:.1} ms each.",
        all.len(),
        elapsed.as_secs_f64() * 1000.0 / all.len().max(1) as f64
    );
    println!();
    println!("| predictions | sessions | median error (points of SoC) | 90th percentile |");
    println!("|---|---|---|---|");
    row("all", &mut all);
    for confidence in [Confidence::High, Confidence::Medium, Confidence::Low] {
        if let Some(errors) = by_confidence.get_mut(&confidence) {
            row(&format!("{} confidence", confidence.as_str()), errors);
        }
    }
    row("ended at its charge limit", &mut at_limit);
    row(
        "ended before its limit (or no limit known)",
        &mut before_limit,
    );
    signed.sort_by(f64::total_cmp);
    let share = |part: usize, whole: usize| 100.0 * part as f64 / whole.max(1) as f64;
    println!();
    println!(
        "Bias (median of predicted − real): {:+.1} points. Of {short} sessions that ended below 80 %, {:.1} % were predicted to; of {enough} that reached 80 %, {:.1} %.",
        percentile(&signed, 0.5),
        share(short_seen, short),
        share(enough_seen, enough),
    );
    println!(
        "Of the {} that reached 80 % but were predicted below it, {near_miss} were predicted within one point of 80 %.",
        enough - enough_seen
    );
}

fn main() {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
        .block_on(run());
}
