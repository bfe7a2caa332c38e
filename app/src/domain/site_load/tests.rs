use super::*;
use proptest::prelude::*;

const MIN: i64 = MINUTE_MS;
// 2026-03-14 15:00 UTC: a multiple of an hour.
const T0: i64 = 1_773_500_400_000;

fn energy(pieces: &[Piece]) -> f64 {
    pieces
        .iter()
        .map(|p| p.kw * (p.to_ms - p.from_ms) as f64 / 3_600_000.0)
        .sum()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn wattage_readings_hold_until_the_next_while_charging() {
    let charging = [(T0, T0 + 30 * MIN)];
    let wattage = [
        (T0 - 5 * MIN, 10.0),
        (T0 + 10 * MIN, 20.0),
        (T0 + 40 * MIN, 3.0),
    ];
    let pieces = profile(&Recorded {
        charging: &charging,
        wattage: &wattage,
        energy_kwh: Some(99.0),
        ..Default::default()
    });
    assert_eq!(
        pieces,
        vec![
            Piece {
                from_ms: T0,
                to_ms: T0 + 10 * MIN,
                kw: 10.0,
                source: PowerSource::Wattage
            },
            Piece {
                from_ms: T0 + 10 * MIN,
                to_ms: T0 + 30 * MIN,
                kw: 20.0,
                source: PowerSource::Wattage
            },
        ]
    );
    assert!(close(energy(&pieces), 10.0 / 6.0 + 20.0 / 3.0));
}

#[test]
fn energy_samples_are_spread_over_the_charging_time_between_them() {
    // Charging 0–20 and 40–60 min; 10 kWh between samples at 0 and 60 min: 15 kW while
    // charging, nothing in the pause.
    let charging = [(T0, T0 + 20 * MIN), (T0 + 40 * MIN, T0 + 60 * MIN)];
    let curve = [(T0, 0.0), (T0 + 60 * MIN, 10.0)];
    let pieces = profile(&Recorded {
        charging: &charging,
        energy_curve: &curve,
        energy_kwh: Some(10.0),
        ..Default::default()
    });
    assert_eq!(pieces.len(), 2);
    assert!(pieces
        .iter()
        .all(|p| close(p.kw, 15.0) && p.source == PowerSource::EnergySamples));
    assert!(close(energy(&pieces), 10.0));
}

#[test]
fn the_average_fills_what_samples_do_not_cover_with_the_rest_of_the_energy() {
    // 11 kWh in an hour; samples cover the first half with 3 kWh: 16 kW for the rest.
    let charging = [(T0, T0 + 60 * MIN)];
    let curve = [(T0, 0.0), (T0 + 30 * MIN, 3.0)];
    let pieces = profile(&Recorded {
        charging: &charging,
        energy_curve: &curve,
        energy_kwh: Some(11.0),
        ..Default::default()
    });
    assert_eq!(pieces.len(), 2);
    assert!(close(pieces[0].kw, 6.0));
    assert_eq!(pieces[1].source, PowerSource::Average);
    assert!(close(pieces[1].kw, 16.0));
    assert!(close(energy(&pieces), 11.0));
    // Nothing but an average power.
    let only = profile(&Recorded {
        charging: &charging,
        avg_power_kw: Some(7.4),
        ..Default::default()
    });
    assert_eq!(
        only,
        vec![Piece {
            from_ms: T0,
            to_ms: T0 + 60 * MIN,
            kw: 7.4,
            source: PowerSource::Average
        }]
    );
    // Nothing known: no load.
    assert_eq!(
        profile(&Recorded {
            charging: &charging,
            ..Default::default()
        }),
        vec![]
    );
}

#[test]
fn minutes_split_a_stretch_at_the_clock() {
    let pieces = [Piece {
        from_ms: T0 + 30_000,
        to_ms: T0 + 90_000,
        kw: 60.0,
        source: PowerSource::Wattage,
    }];
    let m = minutes(&pieces);
    assert_eq!(m.len(), 2);
    assert!(close(m[&T0][0], 0.5));
    assert!(close(m[&(T0 + MIN)][0], 0.5));
}

#[test]
fn intervals_sum_vehicles_and_sources_aligned_to_the_clock() {
    // One vehicle at 11 kW (wattage) 15:10–15:40, another at 22 kW (average) 15:20–15:30.
    let a = minutes(&[Piece {
        from_ms: T0 + 10 * MIN,
        to_ms: T0 + 40 * MIN,
        kw: 11.0,
        source: PowerSource::Wattage,
    }]);
    let b = minutes(&[Piece {
        from_ms: T0 + 20 * MIN,
        to_ms: T0 + 30 * MIN,
        kw: 22.0,
        source: PowerSource::Average,
    }]);
    let quarters = intervals([&a, &b], 15);
    assert_eq!(quarters.len(), 3);
    assert_eq!(
        quarters.iter().map(|i| i.start_ms).collect::<Vec<_>>(),
        vec![T0, T0 + 15 * MIN, T0 + 30 * MIN]
    );
    // 15:00–15:15: 5 minutes at 11 kW.
    assert!(close(quarters[0].energy_kwh, 11.0 * 5.0 / 60.0));
    assert!(close(quarters[0].avg_kw, 11.0 / 3.0));
    assert_eq!(quarters[0].max_vehicles, 1);
    // 15:15–15:30: 15 min at 11 kW and 10 min at 22 kW; two at once.
    assert!(close(quarters[1].energy_kwh, 11.0 / 4.0 + 22.0 / 6.0));
    assert_eq!(quarters[1].max_vehicles, 2);
    assert!(close(
        quarters[1].by_source[PowerSource::Wattage as usize],
        11.0 / 4.0
    ));
    assert!(close(
        quarters[1].by_source[PowerSource::Average as usize],
        22.0 / 6.0
    ));
    let hour = intervals([&a, &b], 60);
    assert_eq!(hour.len(), 1);
    assert!(close(hour[0].avg_kw, 11.0 / 2.0 + 22.0 / 6.0));
}

fn steady(from_ms: i64, minutes_long: i64, kw: f64) -> BTreeMap<i64, MinuteEnergy> {
    minutes(&[Piece {
        from_ms,
        to_ms: from_ms + minutes_long * MIN,
        kw,
        source: PowerSource::Wattage,
    }])
}

#[test]
fn each_day_s_peak_is_its_highest_quarter_hour_and_who_drew_in_it() {
    let berlin = chrono_tz::Europe::Berlin;
    // 15:00 UTC is 16:00 in Berlin. Day one: "a" 11 kW 15:00–16:00, "b" 22 kW 15:30–15:45.
    // Day two: "a" alone at 7 kW. 23:30 UTC of day two is already day three in Berlin.
    let day = 86_400_000;
    let a = [
        steady(T0, 60, 11.0),
        steady(T0 + day, 60, 7.0),
        steady(T0 + day + 8 * 60 * MIN + 30 * MIN, 15, 3.0),
    ]
    .into_iter()
    .fold(BTreeMap::new(), |mut all, m| {
        all.extend(m);
        all
    });
    let b = steady(T0 + 30 * MIN, 15, 22.0);
    let days = peaks(&[("a", &a), ("b", &b)], 15, berlin, Period::Day);
    assert_eq!(days.len(), 3);
    assert_eq!(days[0].period.to_string(), "2026-03-14");
    assert_eq!(days[0].interval_start_ms, T0 + 30 * MIN);
    assert!(close(days[0].avg_kw, 33.0));
    assert_eq!(
        days[0]
            .vehicles
            .iter()
            .map(|(v, _)| v.as_str())
            .collect::<Vec<_>>(),
        vec!["b", "a"]
    );
    assert!(close(days[1].avg_kw, 7.0));
    assert_eq!(
        days[1].interval_start_ms,
        T0 + day,
        "the earliest of equal quarters"
    );
    assert_eq!(days[2].period.to_string(), "2026-03-16");
    let months = peaks(&[("a", &a), ("b", &b)], 15, berlin, Period::Month);
    assert_eq!(months.len(), 1);
    assert_eq!(months[0].period.to_string(), "2026-03-01");
    assert!(close(months[0].avg_kw, 33.0));
}

#[test]
fn the_hour_profile_counts_each_local_hour_as_often_as_it_occurs() {
    let berlin = chrono_tz::Europe::Berlin;
    // The week of the spring change in Berlin: Sunday 2026-03-29, 02:00 local does not exist.
    let monday = 1_774_220_400_000; // 2026-03-23 00:00 CET (23:00 UTC the day before)
    let week = 7 * 86_400_000 - 3_600_000; // to 2026-03-30 00:00 CEST
                                           // 10 kW from 01:00 to 03:00 local every day: on Sunday that is 01:00–02:00 and 03:00–04:00.
    let mut all = BTreeMap::new();
    for d in 0..7 {
        let one_am = monday + d * 86_400_000 + 3_600_000;
        all.extend(steady(one_am, 120, 10.0));
    }
    let profile = hour_profile([&all], monday, monday + week, berlin);
    // Monday 01:00 and 02:00: 10 kW each.
    assert!(close(profile.avg_kw[0][1], 10.0));
    assert!(close(profile.avg_kw[0][2], 10.0));
    // Sunday has no 02:00; its charge ran from 01:00 to 04:00 local (the same UTC span).
    assert!(close(profile.avg_kw[6][2], 0.0));
    assert!(close(profile.avg_kw[6][3], 10.0));
    // Every kWh once: 7 days × 20 kWh.
    assert!(close(profile.energy_kwh.iter().sum::<f64>(), 140.0));
    assert!(close(profile.energy_kwh[1], 70.0));
}

proptest! {
    #[test]
    fn intervals_keep_every_kwh_of_the_profiles(
        raw in prop::collection::vec((0_i64..600, 1_i64..200, 0.0_f64..150.0, 0_usize..3), 0..20),
    ) {
        let sessions: Vec<BTreeMap<i64, MinuteEnergy>> = raw
            .iter()
            .map(|&(from, len, kw, source)| {
                let from = T0 + from * 7_000;
                minutes(&[Piece { from_ms: from, to_ms: from + len * 11_000, kw, source: PowerSource::ALL[source] }])
            })
            .collect();
        let expected: f64 = raw.iter().map(|&(_, len, kw, _)| kw * (len * 11_000) as f64 / 3_600_000.0).sum();
        for length in [5, 15, 60] {
            let cut = intervals(&sessions, length);
            let total: f64 = cut.iter().map(|i| i.energy_kwh).sum();
            prop_assert!((total - expected).abs() < 1e-6, "{} vs {}", total, expected);
            for i in &cut {
                prop_assert!((i.by_source.iter().sum::<f64>() - i.energy_kwh).abs() < 1e-9);
                prop_assert!(i.max_vehicles as usize <= sessions.len());
                prop_assert_eq!(i.start_ms.rem_euclid(length * MINUTE_MS), 0);
            }
        }
    }
}
