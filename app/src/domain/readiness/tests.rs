//! Table tests: every status, and the model's arithmetic with each kind of input.

use super::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

const NOW: &str = "2026-12-07T01:00:00Z";

/// A vehicle heard a minute ago at `soc` percent, 60 kWh, no limit.
fn heard(soc: f64) -> Snapshot {
    Snapshot {
        soc: Some(soc),
        soc_at: Some(at("2026-12-07T00:59:00Z")),
        plugged: Some(false),
        charging: Some(false),
        power_kw: None,
        charge_limit: None,
        capacity_kwh: Some(60.0),
        last_heard: Some(at("2026-12-07T00:59:00Z")),
    }
}

fn charging(soc: f64, power_kw: f64) -> Snapshot {
    Snapshot {
        plugged: Some(true),
        charging: Some(true),
        power_kw: Some(power_kw),
        ..heard(soc)
    }
}

/// Departure at 06:00 UTC, five hours on, needing 80 %.
fn need() -> Option<Need> {
    Some(Need {
        departure: at("2026-12-07T06:00:00Z"),
        required_soc: 80.0,
    })
}

fn status(need: Option<Need>, snapshot: Snapshot) -> Status {
    assess(
        at(NOW),
        need,
        &snapshot,
        &Profile::default(),
        &Silence::default(),
    )
    .status
}

#[test]
fn every_status() {
    let silent = Snapshot {
        last_heard: Some(at("2026-12-05T01:00:00Z")),
        ..heard(50.0)
    };
    let plugged_idle = Snapshot {
        plugged: Some(true),
        ..heard(50.0)
    };
    let low_limit = Snapshot {
        charge_limit: Some(70.0),
        ..charging(50.0, 11.0)
    };
    let cases: [(&str, Option<Need>, Snapshot, Status); 11] = [
        ("no schedule", None, heard(50.0), Status::NoSchedule),
        (
            "departure passed",
            Some(Need {
                departure: at("2026-12-07T00:00:00Z"),
                required_soc: 80.0,
            }),
            heard(50.0),
            Status::NoSchedule,
        ),
        (
            "never a state of charge",
            need(),
            Snapshot {
                soc: None,
                ..heard(0.0)
            },
            Status::NoData,
        ),
        ("silent for two days", need(), silent, Status::NoData),
        ("full enough", need(), heard(85.0), Status::Ready),
        ("exactly enough", need(), heard(80.0), Status::Ready),
        (
            "limit below the requirement",
            need(),
            low_limit,
            Status::LimitTooLow,
        ),
        ("cable out", need(), heard(50.0), Status::NotPlugged),
        (
            "cable in, idle",
            need(),
            plugged_idle,
            Status::PluggedNotCharging,
        ),
        // 30 % of 60 kWh is 18 kWh: 11 kW needs 1.6 h; 2 kW needs 9 h.
        (
            "charging fast enough",
            need(),
            charging(50.0, 11.0),
            Status::OnTrack,
        ),
        (
            "charging too slowly",
            need(),
            charging(50.0, 2.0),
            Status::AtRisk,
        ),
    ];
    for (what, need, snapshot, expected) in cases {
        assert_eq!(status(need, snapshot), expected, "{what}");
    }
}

#[test]
fn unknown_cable_and_not_charging_is_not_plugged() {
    let unknown = Snapshot {
        plugged: None,
        ..heard(50.0)
    };
    assert_eq!(status(need(), unknown), Status::NotPlugged);
}

#[test]
fn silence_is_judged_by_the_cable() {
    // Seven hours quiet: too long while plugged (6 h), fine when not (24 h).
    let quiet = at("2026-12-06T18:00:00Z");
    let plugged = Snapshot {
        last_heard: Some(quiet),
        ..charging(50.0, 11.0)
    };
    let unplugged = Snapshot {
        last_heard: Some(quiet),
        ..heard(50.0)
    };
    assert_eq!(status(need(), plugged), Status::NoData);
    assert_eq!(status(need(), unplugged), Status::NotPlugged);
}

#[test]
fn statuses_sort_most_urgent_first_and_round_trip() {
    let mut sorted = Status::ALL;
    sorted.sort();
    assert_eq!(sorted, Status::ALL);
    for s in Status::ALL {
        assert_eq!(Status::parse(s.as_str()), Some(s));
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
    assert!(Status::AtRisk.needs_action() && Status::NoData.needs_action());
    assert!(!Status::OnTrack.needs_action() && !Status::NoSchedule.needs_action());
}

fn predicted(snapshot: &Snapshot, profile: &Profile, hours: i64) -> Prediction {
    let from = at(NOW);
    predict(
        snapshot,
        profile,
        from,
        snapshot.soc.unwrap(),
        from + TimeDelta::hours(hours),
    )
}

#[test]
fn the_model_charges_at_one_power_then_tapers_above_the_knee() {
    // 60 kWh at 6 kW: 10 % an hour up to 80 %, then 5 % an hour (default taper 0.5).
    let s = charging(50.0, 6.0);
    let p = Profile::default();
    assert!((predicted(&s, &p, 1).soc - 60.0).abs() < 1e-9);
    assert!((predicted(&s, &p, 3).soc - 80.0).abs() < 1e-9);
    assert!((predicted(&s, &p, 5).soc - 90.0).abs() < 1e-9);
    assert!(
        (predicted(&s, &p, 100).soc - 100.0).abs() < 1e-9,
        "capped at 100"
    );
    // A history of little taper (AC): 9 % an hour above the knee.
    let ac = Profile {
        taper_here: Some(0.9),
        ..Profile::default()
    };
    let two_after_knee = predicted(&s, &ac, 5);
    assert!((two_after_knee.soc - 98.0).abs() < 1e-9);
    assert!(two_after_knee.inputs.contains(&Input::TaperHistory));
}

#[test]
fn the_limit_caps_the_prediction() {
    let s = Snapshot {
        charge_limit: Some(85.0),
        ..charging(50.0, 6.0)
    };
    let p = predicted(&s, &Profile::default(), 24);
    assert!((p.soc - 85.0).abs() < 1e-9);
    assert!(p.inputs.contains(&Input::ChargeLimit));
    // A limit below the knee stops there.
    let low = Snapshot {
        charge_limit: Some(70.0),
        ..charging(50.0, 6.0)
    };
    assert!((predicted(&low, &Profile::default(), 24).soc - 70.0).abs() < 1e-9);
    // Already past its limit: it stays where it is.
    let over = Snapshot {
        charge_limit: Some(60.0),
        ..charging(65.0, 6.0)
    };
    assert!((predicted(&over, &Profile::default(), 24).soc - 65.0).abs() < 1e-9);
}

#[test]
fn a_power_read_above_the_knee_is_already_tapered() {
    // At 85 % drawing 3 kW: 5 % an hour on 60 kWh, not half of it.
    let s = charging(85.0, 3.0);
    assert!((predicted(&s, &Profile::default(), 2).soc - 95.0).abs() < 1e-9);
}

#[test]
fn power_and_capacity_fall_back_and_confidence_says_so() {
    let here = Profile {
        median_power_here: Some(6.0),
        median_power_anywhere: Some(50.0),
        taper_here: None,
        capacity_kwh: Some(30.0),
    };
    let idle_plugged = Snapshot {
        power_kw: None,
        ..charging(50.0, 0.0)
    };
    let now = predicted(&charging(50.0, 6.0), &here, 1);
    assert_eq!(
        now.inputs,
        [Input::PowerNow, Input::CapacitySignal, Input::DefaultTaper]
    );
    assert_eq!(now.confidence, Confidence::High);

    let from_history = predicted(&idle_plugged, &here, 1);
    assert_eq!(from_history.inputs[0], Input::MedianPowerHere);
    assert_eq!(from_history.confidence, Confidence::Medium);
    assert!((from_history.soc - 60.0).abs() < 1e-9);

    let anywhere = Profile {
        median_power_here: None,
        ..here.clone()
    };
    let p = predicted(&idle_plugged, &anywhere, 1);
    assert_eq!(p.inputs[0], Input::MedianPowerAnywhere);
    assert!(
        (p.soc - 100.0).abs() < 1e-9,
        "50 kW reaches the knee in 22 minutes, 25 kW fills the rest"
    );

    let no_capacity = Snapshot {
        capacity_kwh: None,
        ..idle_plugged.clone()
    };
    let p = predicted(&no_capacity, &here, 1);
    assert_eq!(p.inputs[1], Input::CapacityHistory);
    assert!((p.soc - 70.0).abs() < 1e-9, "6 kWh on 30 kWh is 20 %");

    let p = predicted(&no_capacity, &Profile::default(), 1);
    assert_eq!(
        p.inputs,
        [
            Input::DefaultPower,
            Input::DefaultCapacity,
            Input::DefaultTaper
        ]
    );
    assert_eq!(p.confidence, Confidence::Low);
    let expected = 50.0 + DEFAULT_POWER_KW / DEFAULT_CAPACITY_KWH * 100.0;
    assert!((p.soc - expected).abs() < 1e-9);
}

#[test]
fn a_charging_vehicle_is_projected_from_when_its_soc_was_read() {
    // Read at 50 % two hours ago at 6 kW on 60 kWh: 70 % by now, so one more hour to 80.
    let s = Snapshot {
        soc_at: Some(at("2026-12-06T23:00:00Z")),
        ..charging(50.0, 6.0)
    };
    let need = Need {
        departure: at("2026-12-07T02:00:00Z"),
        required_soc: 80.0,
    };
    let a = assess(
        at(NOW),
        Some(need),
        &s,
        &Profile::default(),
        &Silence::default(),
    );
    assert_eq!(a.status, Status::OnTrack);
    assert!((a.predicted.unwrap().soc - 80.0).abs() < 1e-9);
}

#[test]
fn a_vehicle_not_charging_keeps_what_it_has() {
    let a = assess(
        at(NOW),
        need(),
        &heard(50.0),
        &Profile::default(),
        &Silence::default(),
    );
    let p = a.predicted.unwrap();
    assert_eq!((p.soc, p.inputs.len()), (50.0, 0));
}

/// A session from 20 % to 90 % on 60 kWh: 36 kWh to the knee in 4 hours (9 kW), 6 kWh
/// after it in 2 hours (3 kW: a taper of 1/3).
fn crossing_the_knee(place: Option<&str>) -> PastSession {
    let h = 3_600_000;
    PastSession {
        id: "knee".into(),
        place_id: place.map(str::to_owned),
        soc_start: Some(20.0),
        soc_end: Some(90.0),
        energy_kwh: Some(42.0),
        avg_power_kw: Some(7.0),
        curve: vec![(0, 0.0), (2 * h, 18.0), (4 * h, 36.0), (6 * h, 42.0)],
    }
}

#[test]
fn a_profile_reads_power_taper_and_capacity_from_sessions() {
    let history = [
        crossing_the_knee(Some("depot")),
        PastSession {
            id: "public-1".into(),
            place_id: Some("public".into()),
            soc_start: Some(30.0),
            soc_end: Some(40.0),
            energy_kwh: Some(6.0),
            avg_power_kw: Some(50.0),
            curve: vec![(0, 0.0), (432_000, 6.0)],
        },
        PastSession {
            place_id: Some("public".into()),
            avg_power_kw: Some(40.0),
            ..PastSession::default()
        },
    ];
    let depot = profile(&history, Some("depot"));
    assert!((depot.median_power_here.unwrap() - 9.0).abs() < 1e-9);
    assert!((depot.taper_here.unwrap() - 1.0 / 3.0).abs() < 1e-9);
    assert!(
        (depot.capacity_kwh.unwrap() - 60.0).abs() < 1e-9,
        "only the 70 % span counts"
    );
    // Anywhere: the median of 9, 50 and 40.
    assert!((depot.median_power_anywhere.unwrap() - 40.0).abs() < 1e-9);

    let public = profile(&history, Some("public"));
    assert!((public.median_power_here.unwrap() - 45.0).abs() < 1e-9);
    assert_eq!(public.taper_here, None, "no session there crossed the knee");

    let nowhere = profile(&history, None);
    assert_eq!(
        (nowhere.median_power_here, nowhere.taper_here),
        (None, None)
    );
    assert!(nowhere.median_power_anywhere.is_some());
    assert_eq!(profile(&[], Some("depot")), Profile::default());
}

#[test]
fn a_profile_feeds_the_prediction() {
    // Plugged at the depot at 50 %, not yet drawing: 9 kW (15 %/h) to 80 % in two
    // hours, then 3 kW (5 %/h).
    let history = [crossing_the_knee(Some("depot"))];
    let p = profile(&history, Some("depot"));
    let s = Snapshot {
        capacity_kwh: None,
        power_kw: None,
        ..charging(50.0, 0.0)
    };
    let prediction = predicted(&s, &p, 4);
    assert!((prediction.soc - 90.0).abs() < 1e-9, "{prediction:?}");
    assert_eq!(
        prediction.inputs,
        [
            Input::MedianPowerHere,
            Input::CapacityHistory,
            Input::TaperHistory
        ]
    );
    assert_eq!(prediction.confidence, Confidence::Medium);
}

#[test]
fn time_to_departure_reads_plainly() {
    let min = 60_000;
    assert_eq!(format_until(-5 * min), "now");
    assert_eq!(format_until(45 * min), "in 45 min");
    assert_eq!(format_until(245 * min), "in 4 h 05 min");
    assert_eq!(format_until(30 * 60 * min), "in 1 day");
    assert_eq!(format_until(80 * 60 * min), "in 3 days");
}
