//! A fleet simulator that behaves like Smartcar: realistic vehicles charge at home, at the
//! depot and on the road, and their deliveries come out as Smartcar sends them (every
//! signal, triggers, `FIRST_DELIVERY`, both payload shapes, OEM quirks) with the noise of
//! real delivery: retries, reordering, failing signals, `VEHICLE_ERROR`s, TEST deliveries.
//! It also writes down what really happened, so chargelog's sessions can be checked.

pub mod arrangement;
pub mod catalog;
pub mod live;
pub mod payload;
pub mod send;
pub mod vehicle;

use app::domain::sessions::Session;
use payload::Envelope;
use serde::{Deserialize, Serialize};
use vehicle::{Event, Kind, Profile, VehicleSim};

/// How messy delivery is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Noise {
    /// Chance a delivery is sent again (1 to 3 more attempts, same `eventId`).
    pub retries: f64,
    /// Chance an update has one or two signals fail (`SERVER`/`INTERNAL`).
    pub signal_errors: f64,
    /// Chance a vehicle has a `VEHICLE_ERROR` (and its resolution) on a given day.
    pub vehicle_errors: f64,
    /// Dashboard TEST deliveries per vehicle; they must change nothing.
    pub test_deliveries: usize,
    /// Chance a delivery is held back and arrives after later ones.
    pub reorder: f64,
    /// How far back a held delivery can fall, ms.
    pub reorder_window_ms: i64,
}

impl Noise {
    pub const NONE: Noise = Noise {
        retries: 0.0,
        signal_errors: 0.0,
        vehicle_errors: 0.0,
        test_deliveries: 0,
        reorder: 0.0,
        reorder_window_ms: 0,
    };
    pub const REALISTIC: Noise = Noise {
        retries: 0.03,
        signal_errors: 0.05,
        vehicle_errors: 0.1,
        test_deliveries: 1,
        reorder: 0.05,
        reorder_window_ms: 15 * 60_000,
    };
    pub const HEAVY: Noise = Noise {
        retries: 0.25,
        signal_errors: 0.25,
        vehicle_errors: 0.5,
        test_deliveries: 3,
        reorder: 0.3,
        reorder_window_ms: 2 * 3_600_000,
    };
}

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub vehicles: usize,
    /// Simulated time from `start_ms`.
    pub days: f64,
    pub seed: u64,
    /// When the history begins (epoch ms); it ends `days` later.
    pub start_ms: i64,
    pub noise: Noise,
    /// The first vehicles misbehave in the last day (`vehicle::Misbehaviour`): one is
    /// left unplugged, one plugs in and never charges, one goes silent. The truth then
    /// follows the simulation, not what a reader of the deliveries could know of it.
    pub misbehave: bool,
}

/// A vehicle of the fleet, for the truth file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct VehicleInfo {
    pub id: String,
    pub make: String,
    pub model: String,
    pub capacity_kwh: f64,
    pub energy_counter: String,
    pub reports_power: bool,
    pub payload_shape: String,
    /// Where it charges overnight (its home or depot).
    pub home_latitude: f64,
    pub home_longitude: f64,
}

/// A charging session as it really happened.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TruthSession {
    pub vehicle_id: String,
    pub started_at: i64,
    /// `None`: still charging when the simulation ended.
    pub ended_at: Option<i64>,
    pub start_observed: bool,
    pub soc_start: f64,
    pub soc_end: Option<f64>,
    /// Energy into the battery. For a session already under way when first seen, what a
    /// counter reports (all of it) or what was seen (power, state of charge).
    pub energy_kwh: f64,
    /// Which signal chargelog has to work from: `counter`, `power` or `soc`.
    pub energy_source: String,
    pub charger_type: String,
    pub latitude: f64,
    pub longitude: f64,
    /// Spans of charging (a short pause makes two).
    pub intervals: usize,
    pub capacity_kwh: f64,
}

/// What the simulation produced.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Truth {
    pub seed: u64,
    pub start_ms: i64,
    pub end_ms: i64,
    pub vehicles: Vec<VehicleInfo>,
    pub sessions: Vec<TruthSession>,
}

/// One HTTP request body, ready to sign and send.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub event_id: String,
    pub vehicle_id: String,
    pub body: String,
    /// When Smartcar would send it (epoch ms).
    pub delivered_at: i64,
    /// 0 for the first attempt.
    pub attempt: u8,
    pub test_mode: bool,
}

pub struct Simulation {
    pub deliveries: Vec<Delivery>,
    pub truth: Truth,
}

const MINUTE: i64 = 60_000;

/// A random (version 4) UUID from the simulation's generator, so a seed repeats it.
pub(crate) fn uuid(rng: &mut fastrand::Rng) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn profile(rng: &mut fastrand::Rng, index: usize, seed: u64) -> Profile {
    use catalog::{AC_CHARGERS_KW, MODELS};
    // Every model appears in a fleet of ten, in an order the seed picks.
    let model = MODELS[(index + seed as usize) % MODELS.len()];
    // Around a city (Stockholm), each vehicle with its own home, but every third at the
    // depot, a bay each, charging as soon as it is back (the depot's evening peak).
    let own_home = (
        59.33 + (rng.f64() - 0.5) * 0.4,
        18.06 + (rng.f64() - 0.5) * 0.8,
    );
    let at_depot = arrangement::at_depot(index);
    let home = if at_depot {
        let bay = (index / 3 % 10) as f64;
        (arrangement::DEPOT.0 + bay * 0.000_15, arrangement::DEPOT.1)
    } else {
        own_home
    };
    Profile {
        id: uuid(rng),
        model,
        home,
        home_charger_kw: AC_CHARGERS_KW[rng.usize(0..AC_CHARGERS_KW.len())],
        scheduled: rng.f64() < 0.3 && !at_depot,
        limit: [80.0, 90.0, 100.0][rng.usize(0..3)],
        daily_km: 20.0 + rng.f64() * 160.0,
        // chargelog integrates power only across samples at most 15 min apart.
        ac_update_min: [5, 10][rng.usize(0..2)],
        doc_shape: rng.f64() < 0.2,
        misbehaviour: vehicle::Misbehaviour::None,
    }
}

/// Signals that may fail in an update without making the truth unknowable.
const FLAKY: [&str; 8] = [
    app::domain::signals::ENERGY_ADDED,
    app::domain::signals::AMPERAGE,
    app::domain::signals::VOLTAGE,
    app::domain::signals::RANGE,
    app::domain::signals::ODOMETER,
    app::domain::signals::PRECISE_LOCATION,
    app::domain::signals::CHARGE_LIMITS,
    app::domain::signals::TIME_TO_COMPLETE,
];

/// Runs the fleet and turns what happened into deliveries, in the order they arrive.
pub fn generate(config: &SimConfig) -> Simulation {
    let mut rng = fastrand::Rng::with_seed(config.seed);
    let end_ms = config.start_ms + (config.days * 86_400_000.0) as i64;
    let noise = config.noise;
    let mut deliveries = Vec::new();
    let mut vehicles = Vec::new();
    let mut sessions = Vec::new();
    // The fleet and its history come from the seed alone; the noise draws from its own
    // generator, so turning noise up changes how the history arrives, not the history.
    let fleet: Vec<(Profile, u64, u64)> = (0..config.vehicles)
        .map(|index| {
            let mut profile = profile(&mut rng, index, config.seed);
            if config.misbehave {
                profile.misbehaviour = vehicle::Misbehaviour::ALL
                    .get(index)
                    .copied()
                    .unwrap_or_default();
            }
            (profile, rng.u64(..), rng.u64(..))
        })
        .collect();
    let mut rng = fastrand::Rng::with_seed(rng.u64(..));
    for (profile, sim_seed, noise_seed) in fleet {
        let sim_rng = fastrand::Rng::with_seed(sim_seed);
        let noise_rng = fastrand::Rng::with_seed(noise_seed);
        let sim = VehicleSim::new(
            profile,
            sim_rng,
            noise_rng,
            config.start_ms,
            end_ms,
            noise.vehicle_errors,
        )
        .run();
        let profile = &sim.profile;
        vehicles.push(VehicleInfo {
            id: profile.id.clone(),
            make: profile.model.make.to_owned(),
            model: profile.model.model.to_owned(),
            capacity_kwh: profile.model.capacity_kwh,
            energy_counter: format!("{:?}", profile.model.counter),
            reports_power: profile.model.reports_power,
            payload_shape: if profile.doc_shape {
                "documentation"
            } else {
                "live"
            }
            .to_owned(),
            home_latitude: profile.home.0,
            home_longitude: profile.home.1,
        });
        let last_few = sim.events.len().saturating_sub(3);
        for (i, event) in sim.events.iter().enumerate() {
            let delivered_at = event.at() + rng.i64(2_000..12_000);
            let event_id = uuid(&mut rng);
            let envelope = |rng: &mut fastrand::Rng, attempt: u8, test_mode: bool| Envelope {
                event_id: event_id.clone(),
                delivery_id: uuid(rng),
                delivered_at: delivered_at + [0, 25_000, 75_000, 175_000][attempt as usize],
                test_mode,
            };
            let transient: Vec<&str> = match event {
                Event::State(s) if s.kind == Kind::Update && i < last_few => {
                    if rng.f64() < noise.signal_errors {
                        let n = rng.usize(1..=2);
                        (0..n)
                            .map(|_| FLAKY[rng.usize(0..FLAKY.len())])
                            // A counter that resets late still shows the last total when
                            // a session starts; if its first reading after the reset were
                            // lost, nobody could tell a reset from a counter carrying on.
                            .filter(|code| {
                                *code != app::domain::signals::ENERGY_ADDED
                                    || profile.model.counter != catalog::EnergyCounter::LateReset
                            })
                            .collect()
                    } else {
                        Vec::new()
                    }
                }
                _ => Vec::new(),
            };
            let attempts = if rng.f64() < noise.retries {
                rng.u8(2..=4)
            } else {
                1
            };
            for attempt in 0..attempts {
                let envelope = envelope(&mut rng, attempt, false);
                let body = match event {
                    Event::State(s) => payload::vehicle_state(profile, s, &envelope, &transient),
                    Event::Error(e) => payload::vehicle_error(profile, e, &envelope),
                };
                deliveries.push(Delivery {
                    event_id: event_id.clone(),
                    vehicle_id: profile.id.clone(),
                    body,
                    delivered_at: envelope.delivered_at,
                    attempt,
                    test_mode: false,
                });
            }
        }
        // Dashboard test deliveries: a real vehicle, charging, in TEST mode.
        let charging: Vec<&vehicle::Snapshot> = sim
            .events
            .iter()
            .filter_map(|e| match e {
                Event::State(s) if s.is_charging => Some(s),
                _ => None,
            })
            .collect();
        for _ in 0..noise.test_deliveries {
            let Some(snapshot) = charging.get(rng.usize(0..charging.len().max(1))) else {
                break;
            };
            let envelope = Envelope {
                event_id: uuid(&mut rng),
                delivery_id: uuid(&mut rng),
                delivered_at: snapshot.at + 5 * MINUTE,
                test_mode: true,
            };
            let mut shifted = (*snapshot).clone();
            shifted.at += 5 * MINUTE;
            deliveries.push(Delivery {
                event_id: envelope.event_id.clone(),
                vehicle_id: profile.id.clone(),
                body: payload::vehicle_state(profile, &shifted, &envelope, &[]),
                delivered_at: envelope.delivered_at,
                attempt: 0,
                test_mode: true,
            });
        }
        sessions.extend(sim.truth);
    }
    // Arrival order: by send time, but some deliveries are held back behind later ones.
    let mut keyed: Vec<(i64, Delivery)> = deliveries
        .into_iter()
        .map(|d| {
            let delay = if noise.reorder > 0.0 && rng.f64() < noise.reorder {
                rng.i64(0..=noise.reorder_window_ms.max(1))
            } else {
                0
            };
            (d.delivered_at + delay, d)
        })
        .collect();
    keyed.sort_by_key(|(at, _)| *at);
    sessions.sort_by(|a, b| {
        (a.vehicle_id.as_str(), a.started_at).cmp(&(b.vehicle_id.as_str(), b.started_at))
    });
    Simulation {
        deliveries: keyed.into_iter().map(|(_, d)| d).collect(),
        truth: Truth {
            seed: config.seed,
            start_ms: config.start_ms,
            end_ms,
            vehicles,
            sessions,
        },
    }
}

/// How far a derived energy may be from the truth, kWh. A counter is exact to its
/// rounding; a power integral misses what happens between samples; a state of charge
/// reported in whole percent is exact to one percent of the battery.
pub fn energy_tolerance(truth: &TruthSession) -> f64 {
    match truth.energy_source.as_str() {
        "counter" => 0.02,
        "power" => 0.3 + truth.energy_kwh * 0.05,
        _ => truth.capacity_kwh / 100.0 + 0.01,
    }
}

/// Every difference between the truth and chargelog's sessions, as readable lines.
pub fn compare(truth: &[TruthSession], derived: &[Session]) -> Vec<String> {
    let mut problems = Vec::new();
    let key = |vehicle: &str, at: i64| format!("{vehicle}:{at}");
    let by_id: std::collections::HashMap<&str, &Session> =
        derived.iter().map(|s| (s.id.as_str(), s)).collect();
    for t in truth {
        let id = key(&t.vehicle_id, t.started_at);
        let Some(d) = by_id.get(id.as_str()) else {
            problems.push(format!("missing session {id}"));
            continue;
        };
        let mut differ = |what: &str, want: String, got: String| {
            if want != got {
                problems.push(format!("{id}: {what} should be {want}, is {got}"));
            }
        };
        differ(
            "end",
            format!("{:?}", t.ended_at),
            format!("{:?}", d.ended_at.map(|e| e.as_millis())),
        );
        differ(
            "start observed",
            t.start_observed.to_string(),
            d.start_observed.to_string(),
        );
        differ(
            "state of charge at start",
            format!("{:?}", Some(t.soc_start)),
            format!("{:?}", d.soc_start),
        );
        differ(
            "state of charge at end",
            format!("{:?}", t.soc_end),
            format!("{:?}", d.soc_end),
        );
        differ(
            "energy source",
            t.energy_source.clone(),
            d.energy_source.map_or("none", |s| s.as_str()).to_owned(),
        );
        differ(
            "charging spans",
            t.intervals.to_string(),
            d.intervals.len().to_string(),
        );
        differ(
            "place",
            format!("{:.6},{:.6}", t.latitude, t.longitude),
            format!(
                "{:.6},{:.6}",
                d.latitude.unwrap_or(f64::NAN),
                d.longitude.unwrap_or(f64::NAN)
            ),
        );
        let charger = d.charger_type.map(|c| c.as_str());
        // Without power or a fast-charger signal, the type is unknown: never wrong.
        if charger != Some(t.charger_type.as_str()) && charger.is_some() {
            problems.push(format!(
                "{id}: charger should be {}, is {charger:?}",
                t.charger_type
            ));
        }
        match d.energy_added_kwh {
            Some(kwh) if (kwh - t.energy_kwh).abs() <= energy_tolerance(t) => {}
            other => problems.push(format!(
                "{id}: energy should be {:.3} kWh (±{:.2}), is {other:?}",
                t.energy_kwh,
                energy_tolerance(t)
            )),
        }
    }
    let known: std::collections::HashSet<String> = truth
        .iter()
        .map(|t| key(&t.vehicle_id, t.started_at))
        .collect();
    for d in derived {
        if !known.contains(&d.id) {
            problems.push(format!("unexpected session {}", d.id));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(seed: u64, noise: Noise) -> SimConfig {
        SimConfig {
            vehicles: 10,
            days: 14.0,
            seed,
            start_ms: 1_767_225_600_000,
            noise,
            misbehave: false,
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_fleet() {
        let a = generate(&config(7, Noise::REALISTIC));
        let b = generate(&config(7, Noise::REALISTIC));
        assert_eq!(a.truth.sessions, b.truth.sessions);
        assert_eq!(
            a.deliveries.iter().map(|d| &d.body).collect::<Vec<_>>(),
            b.deliveries.iter().map(|d| &d.body).collect::<Vec<_>>()
        );
        let c = generate(&config(8, Noise::REALISTIC));
        assert_ne!(a.truth.sessions, c.truth.sessions);
    }

    #[test]
    fn a_fortnight_of_a_fleet_looks_like_charging() {
        let sim = generate(&config(1, Noise::NONE));
        let sessions = &sim.truth.sessions;
        assert!(sessions.len() >= 40, "{} sessions", sessions.len());
        assert!(
            sessions.iter().any(|s| s.charger_type == "DC"),
            "fast charging"
        );
        assert!(sessions.iter().any(|s| s.charger_type == "AC"));
        assert!(sessions.iter().any(|s| s.intervals > 1), "merged pauses");
        for source in ["counter", "power", "soc"] {
            assert!(
                sessions.iter().any(|s| s.energy_source == source),
                "{source}"
            );
        }
        for s in sessions {
            assert!(
                s.energy_kwh >= 0.0 && s.energy_kwh <= s.capacity_kwh,
                "{s:?}"
            );
            if let Some(end) = s.ended_at {
                assert!(end > s.started_at, "{s:?}");
            }
        }
        // Every vehicle begins with FIRST_DELIVERY, and every delivery is JSON.
        for v in &sim.truth.vehicles {
            let first = sim
                .deliveries
                .iter()
                .find(|d| d.vehicle_id == v.id && d.body.contains("VEHICLE_STATE"))
                .unwrap();
            assert!(first.body.contains("FIRST_DELIVERY"), "{}", first.body);
        }
        for d in &sim.deliveries {
            serde_json::from_str::<serde_json::Value>(&d.body).unwrap();
        }
    }

    #[test]
    fn noise_adds_retries_and_test_deliveries() {
        let clean = generate(&config(3, Noise::NONE));
        let noisy = generate(&config(3, Noise::HEAVY));
        // Noise changes how the history is delivered, not the history.
        assert!(clean.truth.sessions == noisy.truth.sessions);
        assert!(noisy.deliveries.iter().any(|d| d.attempt > 0));
        assert!(noisy.deliveries.iter().any(|d| d.test_mode));
        assert!(noisy
            .deliveries
            .iter()
            .any(|d| d.body.contains("\"SERVER\"")));
        assert!(noisy
            .deliveries
            .iter()
            .any(|d| d.body.contains("VEHICLE_ERROR")));
        let arrival: Vec<i64> = noisy.deliveries.iter().map(|d| d.delivered_at).collect();
        assert!(arrival.windows(2).any(|w| w[1] < w[0]), "out of order");
    }

    #[test]
    fn misbehaving_vehicles_do_wrong_only_in_the_last_day() {
        use vehicle::MISBEHAVES_FOR;
        let mut config = config(3, Noise::NONE);
        config.misbehave = true;
        let sim = generate(&config);
        let end = config.start_ms + (config.days * 86_400_000.0) as i64;
        let window = end - MISBEHAVES_FOR;
        let ids: Vec<&str> = sim.truth.vehicles.iter().map(|v| v.id.as_str()).collect();
        // What each vehicle reported in the last day: (charging, plugged) per delivery.
        let reported = |id: &str, from: i64| -> Vec<(bool, bool)> {
            sim.deliveries
                .iter()
                .filter(|d| d.vehicle_id == id && d.delivered_at >= from && !d.test_mode)
                .map(|d| {
                    let body: serde_json::Value = serde_json::from_str(&d.body).unwrap();
                    let flag = |code: &str| {
                        body["data"]["signals"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|s| s["code"] == code)
                            .and_then(|s| s["body"]["value"].as_bool())
                            .unwrap_or(false)
                    };
                    (
                        flag(app::domain::signals::IS_CHARGING),
                        flag(app::domain::signals::IS_CABLE_CONNECTED),
                    )
                })
                .collect()
        };
        // Left unplugged: never plugged in, though it reports.
        let unplugged = reported(ids[0], window);
        assert!(!unplugged.is_empty());
        assert!(
            unplugged.iter().all(|(_, plugged)| !plugged),
            "{unplugged:?}"
        );
        // Never charges: plugged in, reporting, not charging.
        let idle = reported(ids[1], window);
        assert!(idle.iter().any(|(_, plugged)| *plugged), "{idle:?}");
        assert!(idle.iter().all(|(charging, _)| !charging), "{idle:?}");
        // Silent: nothing at all.
        assert!(reported(ids[2], window + 60_000).is_empty());
        // Every session before the last day, as without misbehaviour.
        let mut calm = config;
        calm.misbehave = false;
        let before = |s: &Simulation| -> Vec<TruthSession> {
            s.truth
                .sessions
                .iter()
                .filter(|t| t.ended_at.is_some_and(|e| e < window))
                .cloned()
                .collect()
        };
        let earlier = before(&sim);
        assert!(earlier.len() > 20);
        assert_eq!(earlier, before(&generate(&calm)));
    }
}
