use super::*;
use proptest::prelude::*;

const T0: i64 = 1_773_500_400_000; // 2026-03-14 15:00 UTC, a multiple of 15 minutes.
const MIN: i64 = STEP_MS;

fn session(id: &str, start_min: i64, minutes_kw: Vec<f64>, leaves_min: i64) -> Recorded {
    Recorded {
        id: id.to_owned(),
        start_ms: T0 + start_min * MIN,
        minutes_kw,
        leaves_ms: T0 + leaves_min * MIN,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-6
}

#[test]
fn equal_shares_give_what_one_cannot_use_to_the_others() {
    assert_eq!(
        share(&[4.0, 11.0, 11.0], 30.0, Share::Equal),
        vec![4.0, 11.0, 11.0]
    );
    assert_eq!(
        share(&[4.0, 11.0, 11.0], 20.0, Share::Equal),
        vec![4.0, 8.0, 8.0]
    );
    assert_eq!(share(&[11.0, 11.0], 11.0, Share::Equal), vec![5.5, 5.5]);
    assert_eq!(
        share(&[11.0, 4.0], 11.0, Share::SoonestFirst),
        vec![11.0, 0.0]
    );
    assert_eq!(
        share(&[4.0, 11.0], 11.0, Share::SoonestFirst),
        vec![4.0, 7.0]
    );
    assert_eq!(share(&[], 11.0, Share::Equal), Vec::<f64>::new());
}

#[test]
fn two_vehicles_under_a_cap_that_fits_one_take_turns_in_time() {
    // Two vehicles at 11 kW for an hour each, plugged in together, leaving in 3 hours.
    let sessions = vec![
        session("a", 0, vec![11.0; 60], 180),
        session("b", 0, vec![11.0; 60], 180),
    ];
    let equal = summarize(&sessions, 11.0, Share::Equal, 15);
    assert!(close(equal.recorded_peak_kw, 22.0));
    assert!(close(equal.new_peak_kw, 11.0));
    // Half each: both done after two hours, an hour late.
    assert_eq!(equal.sessions_later, 2);
    assert!(close(equal.median_delay_min, 60.0));
    assert!(close(equal.worst_delay_min, 60.0));
    assert_eq!(equal.sessions_short, 0);

    // Soonest first: one on time, the other an hour late (ties go by id).
    let soonest = summarize(&sessions, 11.0, Share::SoonestFirst, 15);
    assert_eq!(soonest.sessions_later, 1);
    assert!(close(soonest.worst_delay_min, 60.0));
    let replayed = replay(&sessions, 11.0, Share::SoonestFirst);
    assert_eq!(replayed[0].done_ms, Some(T0 + 60 * MIN));
    assert_eq!(replayed[1].done_ms, Some(T0 + 120 * MIN));
}

#[test]
fn a_vehicle_that_leaves_before_it_catches_up_is_short() {
    // Both leave when their hour of charge was done: under a cap of one, each gets half.
    let sessions = vec![
        session("a", 0, vec![11.0; 60], 60),
        session("b", 0, vec![11.0; 60], 60),
    ];
    let summary = summarize(&sessions, 11.0, Share::Equal, 15);
    assert_eq!(summary.sessions_short, 2);
    assert!(close(summary.kwh_short, 11.0), "{summary:?}");
    assert_eq!(summary.sessions_later, 0);
    // Soonest first with "a" leaving first: it gets all it got, "b" lacks all of its.
    let sessions = vec![
        session("a", 0, vec![11.0; 60], 60),
        session("b", 0, vec![11.0; 60], 90),
    ];
    let summary = summarize(&sessions, 11.0, Share::SoonestFirst, 15);
    assert_eq!(summary.sessions_short, 1);
    assert!(close(summary.kwh_short, 11.0 / 2.0), "{summary:?}");
}

#[test]
fn a_cap_above_the_peak_changes_nothing() {
    let sessions = vec![
        session("a", 0, vec![7.0, 7.0, 0.0, 0.0, 7.0, 3.0], 20),
        session("b", 2, vec![11.0, 11.0, 11.0], 5),
    ];
    for how in [Share::Equal, Share::SoonestFirst] {
        let summary = summarize(&sessions, 25.0, how, 15);
        assert!(close(summary.recorded_peak_kw, summary.new_peak_kw));
        assert_eq!(summary.sessions_later, 0);
        assert_eq!(summary.sessions_short, 0);
        // Nothing short is 0 kWh, not -0 (which a page would print as "-0 kWh").
        assert!(summary.kwh_short == 0.0 && summary.kwh_short.is_sign_positive());
        for (s, r) in sessions.iter().zip(replay(&sessions, 25.0, how)) {
            assert_eq!(r.minutes_kw.len(), 6.min(s.minutes_kw.len()));
            assert!(s
                .minutes_kw
                .iter()
                .zip(&r.minutes_kw)
                .all(|(a, b)| close(*a, *b)));
        }
    }
}

#[test]
fn a_vehicle_held_back_keeps_its_taper_where_its_battery_is() {
    // It drew 50 kW for 10 minutes, then tapered to 10 kW for 10 minutes; capped at 25 kW
    // it adds the first 8.33 kWh at 25 kW (20 minutes), then the taper's at 10 kW.
    let s = session("a", 0, [vec![50.0; 10], vec![10.0; 10]].concat(), 120);
    let r = &replay(std::slice::from_ref(&s), 25.0, Share::Equal)[0];
    assert!(
        r.minutes_kw[..20].iter().all(|kw| close(*kw, 25.0)),
        "{r:?}"
    );
    assert!(
        r.minutes_kw[20..30].iter().all(|kw| close(*kw, 10.0)),
        "{r:?}"
    );
    assert_eq!(r.minutes_kw.len(), 30);
    assert_eq!(r.done_ms, Some(T0 + 30 * MIN));
    assert!(close(r.energy_kwh, s.energy_kwh()));
}

#[test]
fn a_pause_in_the_record_is_kept_and_its_end_is_free() {
    // A timer held it for 5 minutes; after its last minute it stays plugged in.
    let s = session(
        "a",
        0,
        vec![10.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 10.0, 0.0, 0.0],
        30,
    );
    let r = &replay(std::slice::from_ref(&s), 5.0, Share::Equal)[0];
    // 5 kW: 2 minutes of charge, the 5-minute pause, then the other 4 of its 6 minutes.
    assert_eq!(
        r.minutes_kw,
        vec![5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0, 5.0, 5.0, 5.0, 5.0],
    );
    assert!(close(r.energy_kwh, 0.5));
}

#[test]
fn peaks_are_interval_averages_aligned_to_the_clock() {
    // 30 kW for 10 minutes from 15:10: split over the 15:00 and 15:15 intervals.
    let site = vec![30.0; 10];
    assert!(close(peak_kw(&site, T0 + 10 * MIN, 15), 10.0));
    assert!(close(peak_kw(&site, T0, 15), 20.0));
    assert!(close(peak_kw(&site, T0, 5), 30.0));
    assert!(close(peak_kw(&site, T0, 60), 5.0));
    assert!(close(peak_kw(&[], T0, 15), 0.0));
}

#[test]
fn a_place_s_minutes_become_a_recording() {
    use crate::domain::site_load::{minutes, Piece, PowerSource};
    // 11 kW for 2 minutes, a 3-minute pause, 22 kW for a minute and a half.
    let m = minutes(&[
        Piece {
            from_ms: T0,
            to_ms: T0 + 2 * MIN,
            kw: 11.0,
            source: PowerSource::Wattage,
        },
        Piece {
            from_ms: T0 + 5 * MIN,
            to_ms: T0 + 6 * MIN + 30_000,
            kw: 22.0,
            source: PowerSource::Average,
        },
    ]);
    let r = Recorded::from_minutes("a", &m, T0 + 60 * MIN);
    assert_eq!(r.start_ms, T0);
    assert_eq!(r.minutes_kw.len(), 7);
    assert!(r.minutes_kw[..2].iter().all(|kw| close(*kw, 11.0)));
    assert!(r.minutes_kw[2..5].iter().all(|kw| *kw == 0.0));
    assert!(close(r.minutes_kw[5], 22.0) && close(r.minutes_kw[6], 11.0));
    assert!(close(r.energy_kwh(), 22.0 / 60.0 + 22.0 * 1.5 / 60.0));
    assert_eq!(r.done_ms(), T0 + 7 * MIN);
}

fn sessions_strategy() -> impl Strategy<Value = Vec<Recorded>> {
    let one = (
        0_i64..120,
        prop::collection::vec(prop_oneof![Just(0.0), 1.0_f64..50.0], 0..90),
        0_i64..120,
    );
    prop::collection::vec(one, 0..8).prop_map(|raw| {
        raw.into_iter()
            .enumerate()
            .map(|(i, (start, minutes, stay))| {
                let leaves = start + minutes.len() as i64 + stay;
                session(&format!("s{i}"), start, minutes, leaves)
            })
            .collect()
    })
}

proptest! {
    #[test]
    fn without_a_cap_the_replay_is_the_record(sessions in sessions_strategy()) {
        for how in [Share::Equal, Share::SoonestFirst] {
            for (s, r) in sessions.iter().zip(replay(&sessions, f64::INFINITY, how)) {
                let recorded: Vec<f64> = {
                    let mut m = s.minutes_kw.clone();
                    while m.last().is_some_and(|kw| *kw <= 0.0) { m.pop(); }
                    m
                };
                prop_assert_eq!(recorded.len(), r.minutes_kw.len(), "{:?}", r);
                prop_assert!(recorded.iter().zip(&r.minutes_kw).all(|(a, b)| close(*a, *b)));
                prop_assert_eq!(r.done_ms, Some(s.done_ms()));
            }
        }
    }

    #[test]
    fn no_vehicle_draws_above_its_record_or_the_site_above_the_cap(
        sessions in sessions_strategy(),
        cap in 1.0_f64..120.0,
        soonest in any::<bool>(),
    ) {
        let how = if soonest { Share::SoonestFirst } else { Share::Equal };
        let replayed = replay(&sessions, cap, how);
        let from = sessions.iter().map(|s| s.start_ms).min().unwrap_or(0);
        let site = site_minutes(
            sessions.iter().zip(&replayed).map(|(s, r)| (s.start_ms, r.minutes_kw.as_slice())),
            from,
        );
        prop_assert!(site.iter().all(|kw| *kw <= cap + 1e-9), "{:?}", site);
        for (s, r) in sessions.iter().zip(&replayed) {
            let most = s.minutes_kw.iter().copied().fold(0.0, f64::max);
            prop_assert!(r.minutes_kw.iter().all(|kw| *kw <= most + 1e-9 && *kw >= 0.0));
            // Energy is conserved: what it got and what it lacked make what it really got.
            prop_assert!(close(r.energy_kwh + r.short_kwh, s.energy_kwh()));
            prop_assert!(r.energy_kwh <= s.energy_kwh() + 1e-9);
            // Nothing is drawn after the vehicle left.
            let drawn_until = s.start_ms + STEP_MS * r.minutes_kw.len() as i64;
            prop_assert!(drawn_until <= s.leaves_ms.max(s.start_ms + STEP_MS * s.minutes_kw.len() as i64));
        }
    }
}
