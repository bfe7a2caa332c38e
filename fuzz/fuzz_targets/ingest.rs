//! The pure ingest path, end to end (docs/FUZZING.md).
//!
//! The input is a sequence of webhook bodies separated by the byte 0x1E (ASCII record
//! separator, as in RFC 7464 JSON text sequences); the seeds are the fixtures joined that
//! way. Each body is planned with `server::webhook::plan::plan_body`; the readings of every
//! VEHICLE_STATE effect are kept as the store keeps them (the first delivery of an
//! `eventId` wins, a repeat stores nothing), and then, per vehicle:
//!
//! 1. **Order and repeats do not matter** (the engine's contract, app/src/domain/sessions):
//!    the readings reversed, and shuffled with some of them repeated, derive the same
//!    sessions.
//! 2. **What the engine promises about a session** holds: it ends no earlier than it
//!    starts, its newest reading and its charging intervals lie inside it, it has no end
//!    exactly while it is charging, its end is inferred exactly when it is stale, and no
//!    two sessions share a start (their id).
//! 3. **Incremental = from scratch**: the deliveries are applied one at a time the way
//!    `app::server::sessions::{touched, update_vehicle}` apply them (the same rule of what
//!    a delivery touches, `app::domain::sessions::touched`, fed here from memory; the
//!    rest mirrored without a database: see `Store`), and after each one the kept
//!    sessions equal `derive` over every stored reading, as that module's doc promises.
//!
//! Nothing may panic on the way.
#![no_main]

mod input;

use app::domain::reading::{Reading, ReadingOutcome, ReadingValue};
use app::domain::sessions::{
    derive, derive_from, new_capacity, repeat_times, touched, EngineConfig, Observation, Resume,
    Session, SessionStatus, Touched, ValueKind,
};
use app::domain::signals;
use app::domain::time::EpochMs;
use app::server::sessions::ENGINE_CODES;
use input::Input;
use libfuzzer_sys::fuzz_target;
use server::webhook::plan::plan_body;
use server::webhook::plan::Effect;
use std::collections::{BTreeMap, BTreeSet};

fuzz_target!(|data: &[u8]| {
    let input = Input::new(data);
    let (seed, as_of) = (input.seed, input.as_of);
    let config = EngineConfig::default();

    // Plan every body; keep what the store would keep, in arrival order, per vehicle.
    let mut event_ids = BTreeSet::new();
    let mut deliveries: BTreeMap<String, Vec<Vec<Row>>> = BTreeMap::new();
    for (_, body, received_at) in input.bodies() {
        let Ok((record, effect)) = plan_body(body, received_at) else {
            continue;
        };
        let Effect::State {
            vehicle,
            readings,
            first_delivery,
        } = effect
        else {
            continue;
        };
        let event_id = record.event_id.expect("VEHICLE_STATE has an eventId");
        if !event_ids.insert(event_id.as_str().to_owned()) {
            continue; // a repeated eventId: stored once, the repeat changes nothing
        }
        let rows = readings
            .iter()
            .map(|r| Row::new(r, first_delivery))
            .collect();
        deliveries
            .entry(vehicle.id.as_str().to_owned())
            .or_default()
            .push(rows);
    }

    for (vehicle, deliveries) in &deliveries {
        // Check 3, which also leaves every stored row in `store`.
        let mut store = Store::default();
        for rows in deliveries {
            store.apply(vehicle, rows.clone(), &config, as_of);
            let expected = derive(vehicle, &store.observations(), &config, as_of);
            let mut kept = store.sessions.clone();
            kept.sort_by_key(|s| s.started_at);
            assert_same(
                &kept,
                &expected,
                "sessions kept up to date one delivery at a time differ from a full derivation",
            );
        }

        let observations = store.observations();
        let expected = derive(vehicle, &observations, &config, as_of);

        // Check 1.
        let mut reversed = observations.clone();
        reversed.reverse();
        assert_same(
            &derive(vehicle, &reversed, &config, as_of),
            &expected,
            "reversing the readings changed the sessions",
        );
        let mut mixed = observations.clone();
        let mut rng = seed | 1;
        for o in &observations {
            if next(&mut rng) % 3 == 0 {
                mixed.push(o.clone());
            }
        }
        shuffle(&mut mixed, &mut rng);
        assert_same(
            &derive(vehicle, &mixed, &config, as_of),
            &expected,
            "shuffling and repeating the readings changed the sessions",
        );

        // Check 2.
        check_sessions(&expected);
    }
});

/// One stored `signal_readings` row, as far as the session code reads it.
#[derive(Debug, Clone)]
struct Row {
    code: String,
    at: Option<i64>,
    /// `status = 'ok'`.
    ok: bool,
    /// Which of `value_num`, `value_bool` and `value_text` is set, if one is.
    scalar: Option<ValueKind>,
    value_num: Option<f64>,
    /// `observation(row)`: equal to `Observation::from_reading` on an `ok` row.
    observation: Option<Observation>,
}

impl Row {
    fn new(reading: &Reading, first_delivery: bool) -> Row {
        let (ok, scalar, value_num) = match &reading.outcome {
            ReadingOutcome::Value { value, .. } => match value {
                ReadingValue::Number(n) => (true, Some(ValueKind::Number), Some(*n)),
                ReadingValue::Bool(_) => (true, Some(ValueKind::Bool), None),
                ReadingValue::Text(_) => (true, Some(ValueKind::Text), None),
                ReadingValue::None => (true, None, None),
            },
            ReadingOutcome::Error { .. } => (false, None, None),
        };
        Row {
            code: reading.code.to_string(),
            at: reading.oem_updated_at.map(EpochMs::as_millis),
            ok,
            scalar,
            value_num,
            observation: Observation::from_reading(reading, first_delivery),
        }
    }

    fn engine(&self) -> bool {
        self.ok && ENGINE_CODES.contains(&self.code.as_str())
    }

    /// `of_engine_kind()` in `resume_input` and `usable_before`: a value of the kind the
    /// engine reads from the signal (any location row: coordinates are checked later).
    fn usable(&self) -> bool {
        self.ok
            && match ValueKind::of_signal(&self.code) {
                Some(ValueKind::Location) | None => true,
                kind => self.scalar == kind,
            }
    }
}

/// One vehicle's stored readings (with the delivery each came in) and sessions: a
/// database-free copy of what `apply` in server/src/webhook/apply.rs does with them
/// through `app::server::sessions::{touched, update_vehicle, resume_input}`.
#[derive(Default)]
struct Store {
    rows: Vec<(usize, Row)>,
    deliveries: usize,
    sessions: Vec<Session>,
}

impl Store {
    /// `observations()`: the engine's whole input for the vehicle.
    fn observations(&self) -> Vec<Observation> {
        self.rows
            .iter()
            .filter(|(_, r)| r.engine())
            .filter_map(|(_, r)| r.observation.clone())
            .collect()
    }

    fn apply(&mut self, vehicle: &str, rows: Vec<Row>, config: &EngineConfig, as_of: EpochMs) {
        let delivery = self.deliveries;
        self.deliveries += 1;
        self.rows.extend(rows.into_iter().map(|r| (delivery, r)));
        let touched = self.touched(delivery);
        self.update(vehicle, touched, config, as_of);
    }

    /// `touched()`: the same rule (`app::domain::sessions::touched`), fed from memory.
    fn touched(&self, delivery: usize) -> Touched {
        let new: Vec<Observation> = self
            .rows
            .iter()
            .filter(|(d, r)| *d == delivery && r.engine())
            .filter_map(|(_, r)| r.observation.clone())
            .collect();
        let capacity_covered = new_capacity(&new).is_none_or(|largest| {
            self.rows.iter().any(|(d, r)| {
                *d != delivery
                    && r.ok
                    && r.code == signals::NOMINAL_CAPACITY
                    && r.at.is_none()
                    && r.value_num.is_some_and(|n| n >= largest)
            })
        });
        let times: BTreeSet<i64> = repeat_times(&new).into_iter().collect();
        let stored: Vec<Observation> = self
            .rows
            .iter()
            .filter(|(d, r)| *d != delivery && r.engine())
            .filter(|(_, r)| r.at.is_some_and(|t| times.contains(&t)))
            .filter_map(|(_, r)| r.observation.clone())
            .collect();
        touched(&new, capacity_covered, &stored)
    }

    /// `update_vehicle()`.
    fn update(&mut self, vehicle: &str, touched: Touched, config: &EngineConfig, as_of: EpochMs) {
        let earliest = match touched {
            Touched::Nothing => return,
            Touched::Everything => return self.rederive(vehicle, config, as_of),
            Touched::From(t) => t.as_millis(),
        };
        let anchor = self
            .sessions
            .iter()
            .filter(|s| s.started_at.as_millis() <= earliest)
            .max_by_key(|s| s.started_at);
        let Some(anchor) = anchor else {
            return self.rederive(vehicle, config, as_of);
        };
        let resume = Resume {
            from: anchor.started_at,
            plugged_in_at: anchor.plugged_in_at,
        };
        let from = resume.from.as_millis();
        let input = self.resume_input(from);
        let derived = derive_from(vehicle, &input, config, as_of, resume);
        self.sessions.retain(|s| s.started_at.as_millis() < from);
        self.sessions.extend(derived);
    }

    /// `rederive_vehicle()`.
    fn rederive(&mut self, vehicle: &str, config: &EngineConfig, as_of: EpochMs) {
        self.sessions = derive(vehicle, &self.observations(), config, as_of);
    }

    /// `resume_input()`.
    fn resume_input(&self, from: i64) -> Vec<Observation> {
        let rows = || self.rows.iter().map(|(_, r)| r).filter(|r| r.ok);
        let mut observations = Vec::new();
        // Each engine signal's latest usable time before the resume point.
        let pairs: Vec<(&str, i64)> = ENGINE_CODES
            .iter()
            .filter_map(|code| {
                let last = rows()
                    .filter(|r| r.code == *code && r.usable())
                    .filter_map(|r| r.at.filter(|t| *t < from))
                    .max()?;
                Some((*code, last))
            })
            .collect();
        let found: Vec<Observation> = rows()
            .filter(|r| pairs.iter().any(|(c, t)| r.code == *c && r.at == Some(*t)))
            .filter_map(|r| r.observation.clone())
            .collect();
        for (code, last) in &pairs {
            if !found.iter().any(|o| o.code == *code) {
                observations.extend(self.usable_before(code, *last));
            }
        }
        observations.extend(found);
        // Of the readings without a time, only the largest capacity.
        let capacity = rows()
            .filter(|r| r.code == signals::NOMINAL_CAPACITY && r.at.is_none())
            .filter_map(|r| Some((r, r.value_num?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(r, _)| r);
        observations.extend(
            rows()
                .filter(|r| ENGINE_CODES.contains(&r.code.as_str()))
                .filter(|r| r.at.is_some_and(|t| t >= from))
                .chain(capacity)
                .filter_map(|r| r.observation.clone()),
        );
        observations
    }

    /// `usable_before()`: looks back at most 16 distinct times.
    fn usable_before(&self, code: &str, mut bound: i64) -> Vec<Observation> {
        let rows = || {
            self.rows
                .iter()
                .map(|(_, r)| r)
                .filter(move |r| r.ok && r.code == code)
        };
        for _ in 0..16 {
            let Some(last) = rows()
                .filter(|r| r.usable())
                .filter_map(|r| r.at.filter(|t| *t < bound))
                .max()
            else {
                break;
            };
            let usable: Vec<Observation> = rows()
                .filter(|r| r.at == Some(last))
                .filter_map(|r| r.observation.clone())
                .collect();
            if !usable.is_empty() {
                return usable;
            }
            bound = last;
        }
        Vec::new()
    }
}

/// What `Session`'s own docs promise.
fn check_sessions(sessions: &[Session]) {
    let mut starts = BTreeSet::new();
    for s in sessions {
        assert!(
            starts.insert(s.started_at),
            "two sessions start at once: {sessions:#?}"
        );
        let end = s.ended_at.unwrap_or(s.last_reading_at);
        assert!(
            s.started_at <= end,
            "a session ends before it starts: {s:#?}"
        );
        assert!(
            s.started_at <= s.last_reading_at && s.last_reading_at <= end,
            "the newest reading lies outside its session: {s:#?}"
        );
        assert_eq!(
            s.ended_at.is_none(),
            s.status == SessionStatus::Charging,
            "only a charging session has no end: {s:#?}"
        );
        assert_eq!(
            s.end_inferred,
            s.status == SessionStatus::Stale,
            "the end is inferred exactly when stale: {s:#?}"
        );
        for i in &s.intervals {
            assert!(
                s.started_at <= i.start && i.end.is_none_or(|e| i.start <= e && e <= end),
                "a charging interval lies outside its session: {s:#?}"
            );
        }
    }
}

/// Equal sessions; a NaN (a value from an overflowing unit conversion, say) compares
/// equal to itself here, so only a real difference fails.
fn assert_same(actual: &[Session], expected: &[Session], what: &str) {
    if actual != expected && format!("{actual:?}") != format!("{expected:?}") {
        panic!("{what}\n got: {actual:#?}\nwant: {expected:#?}");
    }
}

/// xorshift64, as the engine's property tests use.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

fn shuffle<T>(items: &mut [T], rng: &mut u64) {
    for i in (1..items.len()).rev() {
        let j = (next(rng) % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}
