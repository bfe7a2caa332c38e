//! The engine's rules, each as a timestamped event sequence with the sessions expected
//! after it, then the fixtures' scenario, then property tests.

use super::energy::{counter_energy, power_energy};
use super::*;
use crate::domain::signals::*;
use proptest::prelude::*;

const T0: i64 = 1_773_500_000_000;
const MIN: i64 = 60_000;
const HOUR: i64 = 60 * MIN;
const V: &str = "vehicle-1";

fn t(minutes: i64) -> EpochMs {
    EpochMs::new(T0 + minutes * MIN).unwrap()
}

enum Val {
    B(bool),
    N(f64),
    S(&'static str),
}

/// One snapshot: readings that share a time (in minutes after T0).
fn snap(minutes: i64, values: &[(&str, Val)]) -> Vec<Observation> {
    values
        .iter()
        .map(|(code, v)| Observation {
            at: Some(t(minutes)),
            code: (*code).to_owned(),
            value: match v {
                Val::B(b) => ObservedValue::Bool(*b),
                Val::N(n) => ObservedValue::Number(*n),
                Val::S(s) => ObservedValue::Text((*s).to_owned()),
            },
            first_delivery: false,
        })
        .collect()
}

fn first_delivery(mut obs: Vec<Observation>) -> Vec<Observation> {
    for o in &mut obs {
        o.first_delivery = true;
    }
    obs
}

fn charging(minutes: i64, on: bool) -> Vec<Observation> {
    snap(
        minutes,
        &[
            (IS_CHARGING, Val::B(on)),
            (IS_CABLE_CONNECTED, Val::B(true)),
        ],
    )
}

fn run(events: Vec<Vec<Observation>>) -> Vec<Session> {
    run_as_of(events, t(100_000))
}

fn run_as_of(events: Vec<Vec<Observation>>, as_of: EpochMs) -> Vec<Session> {
    let obs: Vec<Observation> = events.into_iter().flatten().collect();
    derive(V, &obs, &EngineConfig::default(), as_of)
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-9)
}

#[test]
fn starts_on_is_charging_true_and_ends_on_false() {
    let s = run(vec![
        snap(
            0,
            &[
                (IS_CHARGING, Val::B(false)),
                (IS_CABLE_CONNECTED, Val::B(false)),
            ],
        ),
        charging(10, true),
        charging(40, true),
        charging(70, false),
        snap(90, &[(IS_CABLE_CONNECTED, Val::B(false))]),
    ]);
    assert_eq!(s.len(), 1);
    let s = &s[0];
    assert_eq!(s.status, SessionStatus::Completed);
    assert_eq!((s.started_at, s.ended_at), (t(10), Some(t(70))));
    assert!(s.start_observed);
    assert!(!s.end_inferred);
    assert_eq!(s.duration_s(), 60 * 60);
    assert_eq!(s.plugged_in_at, Some(t(10)));
    assert_eq!(s.unplugged_at, Some(t(90)));
    assert_eq!(s.id, format!("{V}:{}", T0 + 10 * MIN));
}

#[test]
fn unplugging_ends_a_session_that_never_reported_false() {
    let s = run(vec![
        snap(
            0,
            &[
                (IS_CHARGING, Val::B(false)),
                (IS_CABLE_CONNECTED, Val::B(true)),
            ],
        ),
        snap(5, &[(IS_CHARGING, Val::B(true))]),
        snap(30, &[(IS_CABLE_CONNECTED, Val::B(false))]),
    ]);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].ended_at, Some(t(30)));
    assert_eq!(s[0].unplugged_at, Some(t(30)));
    assert_eq!(s[0].plugged_in_at, Some(t(0)));
}

#[test]
fn detailed_status_stands_in_only_without_is_charging() {
    let dcs = |m, v| snap(m, &[(DETAILED_CHARGING_STATUS, Val::S(v))]);
    let s = run(vec![
        dcs(0, "NOT_CHARGING"),
        dcs(10, "CHARGING"),
        dcs(40, "FULLY_CHARGED"),
    ]);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].started_at, s[0].ended_at), (t(10), Some(t(40))));

    // A vehicle that reports IsCharging: DetailedChargingStatus is ignored.
    let s = run(vec![
        snap(
            0,
            &[
                (IS_CHARGING, Val::B(false)),
                (DETAILED_CHARGING_STATUS, Val::S("CHARGING")),
            ],
        ),
        snap(10, &[(DETAILED_CHARGING_STATUS, Val::S("CHARGING"))]),
    ]);
    assert!(s.is_empty());
}

#[test]
fn a_short_pause_with_the_cable_in_stays_one_session() {
    let s = run(vec![
        charging(0, false),
        charging(10, true),
        charging(20, false),
        charging(25, true),
        charging(60, false),
    ]);
    assert_eq!(s.len(), 1);
    assert_eq!((s[0].started_at, s[0].ended_at), (t(10), Some(t(60))));
    assert_eq!(
        s[0].intervals,
        vec![
            ChargingInterval {
                start: t(10),
                end: Some(t(20))
            },
            ChargingInterval {
                start: t(25),
                end: Some(t(60))
            },
        ]
    );
}

#[test]
fn a_long_pause_makes_two_sessions() {
    let s = run(vec![
        charging(0, false),
        charging(10, true),
        charging(20, false),
        charging(31, true),
        charging(60, false),
    ]);
    assert_eq!(s.len(), 2);
    assert_eq!((s[0].started_at, s[0].ended_at), (t(10), Some(t(20))));
    assert_eq!((s[1].started_at, s[1].ended_at), (t(31), Some(t(60))));
    assert!(s[1].start_observed);
}

#[test]
fn merge_gap_zero_turns_merging_off() {
    let obs: Vec<Observation> = vec![
        charging(0, false),
        charging(10, true),
        charging(20, false),
        charging(22, true),
        charging(30, false),
    ]
    .into_iter()
    .flatten()
    .collect();
    let config = EngineConfig {
        merge_gap_ms: 0,
        ..EngineConfig::default()
    };
    assert_eq!(derive(V, &obs, &config, t(1000)).len(), 2);
}

#[test]
fn an_unplug_during_a_pause_splits_the_session() {
    let s = run(vec![
        charging(0, false),
        charging(10, true),
        charging(20, false),
        snap(22, &[(IS_CABLE_CONNECTED, Val::B(false))]),
        charging(24, true),
        charging(40, false),
    ]);
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].ended_at, Some(t(20)));
    assert_eq!(s[0].unplugged_at, Some(t(22)));
    assert_eq!(s[1].plugged_in_at, Some(t(24)));
}

#[test]
fn already_charging_at_first_sight_is_not_an_observed_start() {
    // The vehicle's very first reading.
    let s = run(vec![charging(0, true), charging(30, false)]);
    assert_eq!(s.len(), 1);
    assert!(!s[0].start_observed);
    assert_eq!(s[0].started_at, t(0));

    // A FIRST_DELIVERY later on (resubscribed) that finds it charging.
    let s = run_as_of(
        vec![charging(0, false), first_delivery(charging(500, true))],
        t(600),
    );
    assert_eq!(s.len(), 1);
    assert!(!s[0].start_observed);
    assert_eq!(s[0].status, SessionStatus::Charging);
    assert_eq!(s[0].ended_at, None);
}

#[test]
fn silence_while_charging_closes_the_session_as_stale() {
    let events = vec![
        charging(0, false),
        charging(10, true),
        snap(70, &[(STATE_OF_CHARGE, Val::N(50.0))]),
    ];
    // Still within 12 h of the last reading: open.
    let open = run_as_of(events.clone(), t(70 + 11 * 60));
    assert_eq!(open[0].status, SessionStatus::Charging);
    // Past it: stale, closed at the last reading, end inferred.
    let stale = run_as_of(events, t(70 + 13 * 60));
    assert_eq!(stale[0].status, SessionStatus::Stale);
    assert_eq!(stale[0].ended_at, Some(t(70)));
    assert!(stale[0].end_inferred);
}

#[test]
fn readings_arriving_inside_a_stale_gap_correct_it() {
    let mut events = vec![
        charging(0, false),
        charging(10, true),
        charging(10 + 13 * 60, true),
        charging(10 + 14 * 60, false),
    ];
    let split = run(events.clone());
    assert_eq!(split.len(), 2, "a 13 h silence splits it");
    assert_eq!(split[0].status, SessionStatus::Stale);
    assert!(!split[1].start_observed, "charging when heard from again");
    // The missing hours arrive late: one session after all.
    for h in 1..13 {
        events.push(snap(
            10 + h * 60,
            &[(STATE_OF_CHARGE, Val::N(40.0 + h as f64))],
        ));
    }
    let joined = run(events);
    assert_eq!(joined.len(), 1);
    assert_eq!(joined[0].status, SessionStatus::Completed);
    assert_eq!(joined[0].ended_at, Some(t(10 + 14 * 60)));
}

#[test]
fn gaps_from_errors_do_not_end_a_session() {
    // Errored readings never reach the engine; 3 h of nothing is just a gap.
    let s = run(vec![
        charging(0, false),
        charging(10, true),
        charging(190, true),
        charging(200, false),
    ]);
    assert_eq!(s.len(), 1);
    assert_eq!(s[0].status, SessionStatus::Completed);
}

#[test]
fn static_facts_without_time_never_start_anything() {
    let mut obs = vec![Observation {
        at: None,
        code: IS_CHARGING.to_owned(),
        value: ObservedValue::Bool(true),
        first_delivery: true,
    }];
    obs.extend(charging(0, false));
    assert!(derive(V, &obs, &EngineConfig::default(), t(100)).is_empty());
}

fn energy_session(events: Vec<Vec<Observation>>) -> Session {
    let s = run(events);
    assert_eq!(s.len(), 1, "{s:?}");
    s.into_iter().next().unwrap()
}

/// A session from `(minute, IsCharging, EnergyAdded)` snapshots; `None` leaves
/// IsCharging out of that snapshot.
fn counter_session(points: &[(i64, Option<bool>, Option<f64>)]) -> Session {
    energy_session(
        points
            .iter()
            .map(|&(m, charging, energy)| {
                let mut values = Vec::new();
                if let Some(c) = charging {
                    values.push((IS_CHARGING, Val::B(c)));
                }
                if let Some(e) = energy {
                    values.push((ENERGY_ADDED, Val::N(e)));
                }
                snap(m, &values)
            })
            .collect(),
    )
}

#[test]
fn counter_that_resets_at_the_start() {
    let s = counter_session(&[
        (0, Some(false), Some(18.2)),
        (10, Some(true), Some(0.1)),
        (60, Some(true), Some(12.8)),
        (120, Some(false), Some(33.1)),
    ]);
    assert!(close(s.energy_added_kwh, 33.1));
    assert_eq!(s.energy_source, Some(EnergySource::Counter));
}

#[test]
fn counter_that_keeps_the_last_total_until_it_resets() {
    let s = counter_session(&[
        (0, Some(false), Some(18.2)),
        (10, Some(true), Some(18.2)),
        (20, Some(true), Some(0.5)),
        (60, Some(false), Some(10.0)),
    ]);
    assert!(close(s.energy_added_kwh, 10.0));
}

#[test]
fn counter_that_resets_mid_session() {
    let s = counter_session(&[
        (0, Some(false), None),
        (10, Some(true), Some(0.1)),
        (20, Some(true), Some(5.0)),
        (30, Some(true), Some(0.3)),
        (40, Some(false), Some(2.0)),
    ]);
    assert!(close(s.energy_added_kwh, 7.0));
}

#[test]
fn counter_that_never_resets_between_sessions() {
    let s = counter_session(&[
        (0, Some(false), Some(100.0)),
        (10, Some(true), Some(100.0)),
        (20, Some(true), Some(105.0)),
        (40, Some(false), Some(112.0)),
    ]);
    assert!(close(s.energy_added_kwh, 12.0));
}

#[test]
fn without_a_counter_power_is_integrated() {
    let s = energy_session(vec![
        snap(0, &[(IS_CHARGING, Val::B(false))]),
        snap(
            10,
            &[(IS_CHARGING, Val::B(true)), (WATTAGE, Val::N(7200.0))],
        ),
        snap(15, &[(WATTAGE, Val::N(7200.0))]),
        snap(20, &[(WATTAGE, Val::N(7200.0))]),
        // 40 minutes of silence: not bridged
        snap(60, &[(IS_CHARGING, Val::B(false)), (WATTAGE, Val::N(0.0))]),
    ]);
    assert_eq!(s.energy_source, Some(EnergySource::Power));
    assert!(close(s.energy_added_kwh, 1.2), "{:?}", s.energy_added_kwh);
    assert!(close(s.max_power_kw, 7.2));
    assert!(close(s.avg_power_kw, 7.2));
    assert_eq!(s.charger_type, Some(ChargerType::Ac));
}

#[test]
fn without_counter_or_power_the_soc_rise_times_capacity() {
    let mut events = vec![
        snap(
            0,
            &[
                (IS_CHARGING, Val::B(false)),
                (STATE_OF_CHARGE, Val::N(40.0)),
            ],
        ),
        snap(10, &[(IS_CHARGING, Val::B(true))]),
        snap(
            70,
            &[
                (IS_CHARGING, Val::B(false)),
                (STATE_OF_CHARGE, Val::N(60.0)),
            ],
        ),
    ];
    events.push(vec![Observation {
        at: None,
        code: NOMINAL_CAPACITY.to_owned(),
        value: ObservedValue::Number(75.0),
        first_delivery: false,
    }]);
    let s = energy_session(events);
    assert_eq!(s.energy_source, Some(EnergySource::Soc));
    assert!(close(s.energy_added_kwh, 15.0));
    assert_eq!((s.soc_start, s.soc_end), (Some(40.0), Some(60.0)));
}

#[test]
fn fast_power_or_a_fast_charger_means_dc() {
    let s = energy_session(vec![
        snap(0, &[(IS_CHARGING, Val::B(false))]),
        snap(
            10,
            &[(IS_CHARGING, Val::B(true)), (WATTAGE, Val::N(150_000.0))],
        ),
        snap(
            20,
            &[(IS_CHARGING, Val::B(false)), (WATTAGE, Val::N(90_000.0))],
        ),
    ]);
    assert_eq!(s.charger_type, Some(ChargerType::Dc));
    let s = energy_session(vec![
        snap(0, &[(IS_CHARGING, Val::B(false))]),
        snap(
            10,
            &[
                (IS_CHARGING, Val::B(true)),
                (IS_FAST_CHARGER_PRESENT, Val::B(true)),
            ],
        ),
        snap(20, &[(IS_CHARGING, Val::B(false))]),
    ]);
    assert_eq!(s.charger_type, Some(ChargerType::Dc));
}

#[test]
fn soc_range_limit_and_place_at_the_ends() {
    let mut events = vec![
        snap(
            0,
            &[
                (IS_CHARGING, Val::B(false)),
                (STATE_OF_CHARGE, Val::N(30.0)),
                (RANGE, Val::N(120.0)),
            ],
        ),
        snap(
            10,
            &[(IS_CHARGING, Val::B(true)), (CHARGE_LIMITS, Val::N(80.0))],
        ),
        snap(
            50,
            &[
                (IS_CHARGING, Val::B(false)),
                (STATE_OF_CHARGE, Val::N(70.0)),
                (RANGE, Val::N(290.0)),
            ],
        ),
        snap(55, &[(STATE_OF_CHARGE, Val::N(71.0))]),
    ];
    events.push(vec![Observation {
        at: Some(t(5)),
        code: PRECISE_LOCATION.to_owned(),
        value: ObservedValue::Location {
            latitude: 59.33,
            longitude: 18.06,
        },
        first_delivery: false,
    }]);
    let s = energy_session(events);
    assert_eq!((s.soc_start, s.soc_end), (Some(30.0), Some(70.0)));
    assert_eq!(
        (s.range_start_km, s.range_end_km),
        (Some(120.0), Some(290.0))
    );
    assert_eq!(s.charge_limit_percent, Some(80.0));
    assert_eq!((s.latitude, s.longitude), (Some(59.33), Some(18.06)));
}

#[test]
fn counter_and_power_helpers() {
    assert!((counter_energy(18.2, &[0.1, 11.9, 12.8, 18.6, 33.1]) - 33.1).abs() < 1e-9);
    assert_eq!(counter_energy(0.0, &[]), 0.0);
    let (kwh, covered) = power_energy(&[(0, 1000.0), (HOUR / 4, 1000.0), (HOUR, 1000.0)], 15 * MIN);
    assert!((kwh - 0.25).abs() < 1e-12);
    assert_eq!(covered, HOUR / 4);
}

/// The fixtures' scenario (server/tests/fixtures/README.md): vehicle A has exactly one
/// closed session, vehicle B one open session first seen while charging.
mod fixtures {
    use super::*;
    use crate::domain::reading::Reading;
    use crate::domain::webhook::{Envelope, EventType, Mode};
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    pub fn observations_by_vehicle() -> BTreeMap<String, Vec<Observation>> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../server/tests/fixtures");
        let mut out: BTreeMap<String, Vec<Observation>> = BTreeMap::new();
        let mut names: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        for path in names
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let e = Envelope::parse(&std::fs::read(&path).unwrap()).unwrap();
            if e.event_type != Some(EventType::VehicleState) || e.mode() == Some(Mode::Test) {
                continue;
            }
            let first = e.is_first_delivery();
            let vehicle = e.vehicle_id().unwrap().to_string();
            for (i, s) in e.signals().iter().enumerate() {
                let r = Reading::from_signal(i, s).unwrap();
                if let Some(o) = Observation::from_reading(&r, first) {
                    out.entry(vehicle.clone()).or_default().push(o);
                }
            }
        }
        out
    }

    #[test]
    fn the_scenario_gives_the_documented_sessions() {
        let by_vehicle = observations_by_vehicle();
        let now = EpochMs::new(1_773_525_000_000).unwrap(); // 2026-03-14 21:50 UTC
        let a = derive(
            "A",
            &by_vehicle["3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60"],
            &EngineConfig::default(),
            now,
        );
        assert_eq!(a.len(), 1, "{a:#?}");
        let a = &a[0];
        assert_eq!(a.status, SessionStatus::Completed);
        assert_eq!(a.started_at.as_millis(), 1_773_511_330_000); // 18:02:10
        assert_eq!(a.ended_at.map(EpochMs::as_millis), Some(1_773_519_330_000)); // 20:15:30
        assert_eq!(a.duration_s(), 8000);
        assert!(a.start_observed);
        assert_eq!((a.soc_start, a.soc_end), (Some(41.0), Some(80.0)));
        assert!(close(a.energy_added_kwh, 33.1), "{:?}", a.energy_added_kwh);
        assert_eq!(a.energy_source, Some(EnergySource::Counter));
        assert!(close(a.max_power_kw, 10.9));
        assert_eq!(
            a.unplugged_at.map(EpochMs::as_millis),
            Some(1_773_521_285_000)
        ); // 20:48:05
        assert_eq!(a.charge_limit_percent, Some(80.0));
        assert_eq!(a.charger_type, Some(ChargerType::Ac));

        let b = derive(
            "B",
            &by_vehicle["9b8a7c6d-1e2f-4a3b-8c5d-0e1f2a3b4c5d"],
            &EngineConfig::default(),
            now,
        );
        assert_eq!(b.len(), 1);
        let b = &b[0];
        assert_eq!(b.status, SessionStatus::Charging);
        assert!(!b.start_observed);
        assert_eq!(b.ended_at, None);
        assert_eq!(b.soc_start, Some(47.0));
        assert!(close(b.energy_added_kwh, 6.4));
    }
}

/// Fisher-Yates with a small deterministic generator (xorshift) seeded by proptest.
fn shuffle(items: &mut [Observation], seed: u64) {
    let mut state = seed | 1;
    for i in (1..items.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        items.swap(i, (state % (i as u64 + 1)) as usize);
    }
}

/// A vehicle's day: plugged in, charging with pauses, a counter, power, SoC, unplugged.
fn day_of_readings() -> Vec<Observation> {
    let mut events = vec![snap(
        0,
        &[
            (IS_CHARGING, Val::B(false)),
            (IS_CABLE_CONNECTED, Val::B(false)),
            (ENERGY_ADDED, Val::N(9.0)),
        ],
    )];
    let mut energy = 0.0;
    for (start, end) in [(30, 120), (125, 200), (400, 460)] {
        for m in (start..end).step_by(10) {
            energy += 1.1;
            events.push(snap(
                m,
                &[
                    (IS_CHARGING, Val::B(true)),
                    (IS_CABLE_CONNECTED, Val::B(true)),
                    (ENERGY_ADDED, Val::N(energy)),
                    (WATTAGE, Val::N(6600.0)),
                    (STATE_OF_CHARGE, Val::N(20.0 + energy)),
                ],
            ));
        }
        events.push(snap(
            end,
            &[(IS_CHARGING, Val::B(false)), (WATTAGE, Val::N(0.0))],
        ));
    }
    events.push(snap(470, &[(IS_CABLE_CONNECTED, Val::B(false))]));
    events.into_iter().flatten().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn shuffling_never_changes_the_sessions(seed in any::<u64>()) {
        let obs = day_of_readings();
        let expected = derive(V, &obs, &EngineConfig::default(), t(10_000));
        let mut shuffled = obs.clone();
        shuffle(&mut shuffled, seed);
        prop_assert_eq!(derive(V, &shuffled, &EngineConfig::default(), t(10_000)), expected);
    }

    #[test]
    fn duplicating_readings_never_changes_the_sessions(picks in proptest::collection::vec(any::<prop::sample::Index>(), 1..40)) {
        let obs = day_of_readings();
        let expected = derive(V, &obs, &EngineConfig::default(), t(10_000));
        let mut doubled = obs.clone();
        for p in picks {
            doubled.push(p.get(&obs).clone());
        }
        prop_assert_eq!(derive(V, &doubled, &EngineConfig::default(), t(10_000)), expected);
    }

    #[test]
    fn two_batches_in_either_order_give_the_same_sessions(split in any::<prop::sample::Index>()) {
        // Ingest re-derives from everything stored: after a second batch arrives, the
        // result must not depend on which batch came first.
        let obs = day_of_readings();
        let expected = derive(V, &obs, &EngineConfig::default(), t(10_000));
        let k = split.index(obs.len());
        let (first, second) = obs.split_at(k);
        let mut both = second.to_vec();
        both.extend_from_slice(first);
        prop_assert_eq!(derive(V, &both, &EngineConfig::default(), t(10_000)), expected);
    }
}

#[test]
fn the_day_has_the_expected_shape() {
    let s = derive(V, &day_of_readings(), &EngineConfig::default(), t(10_000));
    // 120→125 is a 5 min pause (merged); 200→400 is not.
    assert_eq!(s.len(), 2);
    assert_eq!(s[0].intervals.len(), 2);
    assert_eq!(s[0].started_at, t(30));
    assert_eq!(s[0].ended_at, Some(t(200)));
    assert_eq!(s[1].unplugged_at, Some(t(470)));
}

/// What the store does: keep the stored sessions that started before the resume point,
/// re-derive from there with each signal's last reading before it as context.
fn resumed(
    stored: &[Session],
    all: &[Observation],
    earliest_new: i64,
    as_of: EpochMs,
) -> Vec<Session> {
    let config = EngineConfig::default();
    let Some(anchor) = stored
        .iter()
        .rev()
        .find(|s| s.started_at.as_millis() <= earliest_new)
    else {
        return derive(V, all, &config, as_of);
    };
    let from = anchor.started_at.as_millis();
    let mut input: Vec<Observation> = all
        .iter()
        .filter(|o| o.at.is_none_or(|t| t.as_millis() >= from))
        .cloned()
        .collect();
    // each code's last reading before the resume point
    let mut last: std::collections::BTreeMap<&str, &Observation> = Default::default();
    for o in all
        .iter()
        .filter(|o| o.at.is_some_and(|t| t.as_millis() < from))
    {
        let keep = last
            .get(o.code.as_str())
            .is_none_or(|l| (l.at, l.value.sort_key()) <= (o.at, o.value.sort_key()));
        if keep {
            last.insert(o.code.as_str(), o);
        }
    }
    input.extend(last.into_values().cloned());
    let mut out: Vec<Session> = stored
        .iter()
        .filter(|s| s.started_at.as_millis() < from)
        .cloned()
        .collect();
    out.extend(derive_from(
        V,
        &input,
        &config,
        as_of,
        Resume {
            from: anchor.started_at,
            plugged_in_at: anchor.plugged_in_at,
        },
    ));
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn resuming_from_a_stored_session_equals_deriving_everything(
        new_from in 0..560_i64,
        late in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
        as_of_min in prop::sample::select(vec![480_i64, 10_000]),
    ) {
        let all = day_of_readings();
        let as_of = t(as_of_min);
        // Everything from `new_from` on arrives later, plus a few late stragglers.
        let cut = T0 + new_from * MIN;
        let stragglers: Vec<usize> = late.iter().map(|i| i.index(all.len())).collect();
        let is_new = |i: usize, o: &Observation| o.at.is_some_and(|t| t.as_millis() >= cut) || stragglers.contains(&i);
        let old: Vec<Observation> = all.iter().enumerate().filter(|(i, o)| !is_new(*i, o)).map(|(_, o)| o.clone()).collect();
        let earliest_new = all
            .iter()
            .enumerate()
            .filter(|(i, o)| is_new(*i, o))
            .filter_map(|(_, o)| o.at.map(EpochMs::as_millis))
            .min();
        let Some(earliest_new) = earliest_new else { return Ok(()) };
        let stored = derive(V, &old, &EngineConfig::default(), as_of);
        prop_assert_eq!(
            resumed(&stored, &all, earliest_new, as_of),
            derive(V, &all, &EngineConfig::default(), as_of)
        );
    }
}

/// Random histories: steps of 1 to 900 minutes, each a snapshot of some signals.
fn arb_history() -> impl Strategy<Value = Vec<Observation>> {
    let step = (1..900_i64, 0..8_u8, 0.0..100.0_f64, any::<bool>());
    proptest::collection::vec(step, 1..60).prop_map(|steps| {
        let mut minute = 0;
        let mut energy = 0.0;
        let mut out = Vec::new();
        for (gap, kind, x, first) in steps {
            minute += gap;
            let values: Vec<(&str, Val)> = match kind {
                0 => vec![
                    (IS_CHARGING, Val::B(true)),
                    (IS_CABLE_CONNECTED, Val::B(true)),
                ],
                1 => vec![(IS_CHARGING, Val::B(false))],
                2 => vec![
                    (IS_CABLE_CONNECTED, Val::B(false)),
                    (IS_CHARGING, Val::B(false)),
                ],
                3 => vec![(IS_CABLE_CONNECTED, Val::B(true))],
                4 => vec![(STATE_OF_CHARGE, Val::N(x.round()))],
                5 => {
                    energy = if x < 10.0 { x } else { energy + x / 10.0 };
                    vec![(ENERGY_ADDED, Val::N(energy)), (WATTAGE, Val::N(x * 100.0))]
                }
                6 => vec![(IS_CHARGING, Val::B(true))],
                _ => vec![
                    (WATTAGE, Val::N(x * 1000.0)),
                    (STATE_OF_CHARGE, Val::N(x.round())),
                ],
            };
            let s = snap(minute, &values);
            out.extend(if first && kind == 0 {
                first_delivery(s)
            } else {
                s
            });
        }
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_histories_resume_exactly(all in arb_history(), cut in any::<prop::sample::Index>(), as_of_extra in 0..2000_i64) {
        let times: Vec<i64> = all.iter().filter_map(|o| o.at.map(EpochMs::as_millis)).collect();
        let last = times.iter().copied().max().unwrap_or(T0);
        let as_of = EpochMs::new(last + as_of_extra * MIN).unwrap();
        let earliest_new = times[cut.index(times.len())];
        let old: Vec<Observation> = all.iter().filter(|o| o.at.is_some_and(|t| t.as_millis() < earliest_new)).cloned().collect();
        let stored = derive(V, &old, &EngineConfig::default(), as_of);
        prop_assert_eq!(resumed(&stored, &all, earliest_new, as_of), derive(V, &all, &EngineConfig::default(), as_of));
    }

    #[test]
    fn random_histories_ignore_order_and_repeats(all in arb_history(), seed in any::<u64>()) {
        let expected = derive(V, &all, &EngineConfig::default(), t(1_000_000));
        let mut mixed = all.clone();
        mixed.extend(all.iter().step_by(3).cloned());
        shuffle(&mut mixed, seed);
        prop_assert_eq!(derive(V, &mixed, &EngineConfig::default(), t(1_000_000)), expected);
    }
}

/// A vehicle whose IsCharging lags: still `true` after the cable is out.
fn unplugged_still_charging(minutes: i64) -> Vec<Observation> {
    snap(
        minutes,
        &[
            (IS_CHARGING, Val::B(true)),
            (IS_CABLE_CONNECTED, Val::B(false)),
        ],
    )
}

#[test]
fn a_lagging_is_charging_after_an_unplug_starts_nothing() {
    let s = run(vec![
        charging(0, false),
        charging(10, true),
        unplugged_still_charging(30),
        unplugged_still_charging(31),
        snap(40, &[(IS_CHARGING, Val::B(true))]),
    ]);
    assert_eq!(s.len(), 1, "{s:#?}");
    assert_eq!(s[0].ended_at, Some(t(30)));
    // Plugged in again, still reporting true all along: that is a new session.
    let s = run(vec![
        charging(0, false),
        charging(10, true),
        unplugged_still_charging(30),
        snap(
            90,
            &[
                (IS_CHARGING, Val::B(true)),
                (IS_CABLE_CONNECTED, Val::B(true)),
            ],
        ),
        charging(120, false),
    ]);
    assert_eq!(s.len(), 2, "{s:#?}");
    assert_eq!((s[1].started_at, s[1].ended_at), (t(90), Some(t(120))));
}

#[test]
fn detailed_status_counts_until_is_charging_first_appears() {
    let dcs = |m, v| snap(m, &[(DETAILED_CHARGING_STATUS, Val::S(v))]);
    let s = run(vec![
        dcs(0, "NOT_CHARGING"),
        dcs(10, "CHARGING"),
        dcs(40, "NOT_CHARGING"),
        // IsCharging starts to work later; from here on it decides.
        snap(
            500,
            &[
                (IS_CHARGING, Val::B(false)),
                (DETAILED_CHARGING_STATUS, Val::S("CHARGING")),
            ],
        ),
        snap(510, &[(IS_CHARGING, Val::B(true))]),
        snap(540, &[(IS_CHARGING, Val::B(false))]),
    ]);
    assert_eq!(s.len(), 2, "{s:#?}");
    assert_eq!((s[0].started_at, s[0].ended_at), (t(10), Some(t(40))));
    assert_eq!((s[1].started_at, s[1].ended_at), (t(510), Some(t(540))));
}

#[test]
fn a_first_delivery_repeating_an_observed_start_keeps_it_observed() {
    let start = charging(10, true);
    let s = run(vec![
        charging(0, false),
        start.clone(),
        first_delivery(start),
        charging(60, false),
    ]);
    assert_eq!(s.len(), 1);
    assert!(s[0].start_observed);
}

#[test]
fn power_holds_its_value_up_to_a_stop_and_through_a_pause() {
    let min = 60_000;
    // 11 kW for 10 minutes, stopped at the third sample: 11 kW × 10 min, not half of
    // the last step.
    let (kwh, covered) = power_energy(
        &[(0, 11_000.0), (5 * min, 11_000.0), (10 * min, 0.0)],
        15 * min,
    );
    assert!((kwh - 11.0 / 6.0).abs() < 1e-9, "{kwh}");
    assert_eq!(covered, 10 * min);
    // A 5-minute pause between two charging samples adds nothing.
    let (kwh, _) = power_energy(&[(0, 0.0), (5 * min, 7_000.0)], 15 * min);
    assert_eq!(kwh, 0.0);
    // Between two charging samples the trapezoid still applies.
    let (kwh, _) = power_energy(&[(0, 10_000.0), (6 * min, 20_000.0)], 15 * min);
    assert!((kwh - 1.5).abs() < 1e-9, "{kwh}");
    // Further apart than the gap: not bridged.
    assert_eq!(
        power_energy(&[(0, 10_000.0), (16 * min, 10_000.0)], 15 * min),
        (0.0, 0)
    );
}
