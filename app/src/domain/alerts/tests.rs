//! Table tests: each rule through a timestamped sequence of states, a DST morning and a
//! departure just after midnight, the error bookkeeping in any order, and when time alone
//! changes the answer.

use super::*;
use crate::domain::pricing::tariff::{ClockTime, Day};
use crate::domain::schedule::{Departure, Schedule};
use proptest::prelude::*;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

/// A vehicle at `soc` percent, heard at `heard`, unplugged.
fn parked(soc: f64, heard: &str) -> Snapshot {
    Snapshot {
        soc: Some(soc),
        soc_at: Some(at(heard)),
        plugged: Some(false),
        charging: Some(false),
        power_kw: None,
        charge_limit: Some(90.0),
        capacity_kwh: Some(60.0),
        last_heard: Some(at(heard)),
    }
}

fn need(departure: &str) -> Option<Need> {
    Some(Need {
        departure: at(departure),
        required_soc: 80.0,
    })
}

fn facts<'a>(snapshot: &'a Snapshot, need: Option<Need>) -> Facts<'a> {
    Facts {
        snapshot,
        need,
        place_kind: Some(PlaceKind::Depot),
        place_name: Some("North depot"),
        idle_since: None,
        last_session: None,
        errors: &[],
    }
}

fn kinds(now: &str, facts: &Facts, settings: &Settings) -> Vec<Kind> {
    conditions(at(now), facts, settings)
        .into_iter()
        .map(|c| c.kind)
        .collect()
}

/// `(time, kinds that hold then)` in order: each line of a table is one moment.
fn sequence(facts: &Facts, settings: &Settings, table: &[(&str, &[Kind])]) {
    for (now, expected) in table {
        assert_eq!(&kinds(now, facts, settings), expected, "at {now}");
    }
}

#[test]
fn not_plugged_opens_its_threshold_before_departure_and_ends_with_it() {
    let snapshot = parked(40.0, "2026-12-07T01:00:00Z");
    let facts = facts(&snapshot, need("2026-12-07T06:00:00Z"));
    let settings = Settings::default();
    sequence(
        &facts,
        &settings,
        &[
            ("2026-12-07T03:59:59Z", &[]),
            ("2026-12-07T04:00:00Z", &[Kind::NotPlugged]),
            ("2026-12-07T05:59:59Z", &[Kind::NotPlugged]),
            ("2026-12-07T06:00:00Z", &[]),
        ],
    );
    let opened = &conditions(at("2026-12-07T04:00:00Z"), &facts, &settings)[0];
    assert_eq!(
        opened.facts,
        json!({"departure": "2026-12-07T06:00:00Z", "soc": 40.0, "required_soc": 80.0,
               "place": "North depot"})
    );
    assert_eq!(
        summary(Kind::NotPlugged, &opened.facts),
        "40 % at North depot, not plugged in; needs 80 % by 2026-12-07T06:00:00Z"
    );

    // Not when plugged in, charged enough, away from home and depot, or switched off.
    let now = "2026-12-07T05:00:00Z";
    let plugged = Snapshot {
        plugged: Some(true),
        ..snapshot.clone()
    };
    assert_eq!(
        kinds(
            now,
            &Facts {
                snapshot: &plugged,
                ..facts.clone()
            },
            &settings
        ),
        []
    );
    let full = parked(85.0, "2026-12-07T01:00:00Z");
    assert_eq!(
        kinds(
            now,
            &Facts {
                snapshot: &full,
                ..facts.clone()
            },
            &settings
        ),
        []
    );
    for kind in [Some(PlaceKind::Public), Some(PlaceKind::Work), None] {
        let away = Facts {
            place_kind: kind,
            ..facts.clone()
        };
        assert_eq!(kinds(now, &away, &settings), [], "{kind:?}");
    }
    let home = Facts {
        place_kind: Some(PlaceKind::Home),
        ..facts.clone()
    };
    assert_eq!(kinds(now, &home, &settings), [Kind::NotPlugged]);
    let mut off = settings;
    off.not_plugged.enabled = false;
    assert_eq!(kinds(now, &facts, &off), []);
    let mut early = settings;
    early.not_plugged.minutes = 240;
    assert_eq!(
        kinds("2026-12-07T02:00:00Z", &facts, &early),
        [Kind::NotPlugged]
    );
}

fn schedule(zone: &str, days: &[Day], time: &str) -> Schedule {
    Schedule {
        timezone: zone.to_owned(),
        required_soc: 80,
        departures: vec![Departure {
            days: days.to_vec(),
            time: ClockTime::parse(time).unwrap(),
        }],
    }
}

/// The need at `now` under `schedule`, as the server computes it.
fn need_under(schedule: &Schedule, now: &str) -> Option<Need> {
    Some(Need {
        departure: schedule.next_departure(at(now))?,
        required_soc: f64::from(schedule.required_soc),
    })
}

#[test]
fn not_plugged_on_the_morning_clocks_go_forward() {
    // Berlin, Sunday 29 March 2026: 02:00 CET becomes 03:00 CEST. A 06:00 departure is
    // 04:00 UTC, so two hours before is 02:00 UTC (04:00 local), not 03:00 UTC.
    let sunday = schedule("Europe/Berlin", &[Day::Sun], "06:00");
    let snapshot = parked(30.0, "2026-03-28T23:00:00Z");
    let settings = Settings::default();
    for (now, expected) in [
        ("2026-03-29T01:59:00Z", &[][..]),
        ("2026-03-29T02:00:00Z", &[Kind::NotPlugged][..]),
        ("2026-03-29T03:59:00Z", &[Kind::NotPlugged][..]),
        ("2026-03-29T04:00:00Z", &[][..]),
    ] {
        let facts = facts(&snapshot, need_under(&sunday, now));
        assert_eq!(kinds(now, &facts, &settings), expected, "at {now}");
    }
}

#[test]
fn not_plugged_before_a_departure_just_after_midnight() {
    // 00:10 on weekdays, Lisbon (UTC in winter): the window opens 22:10 the evening before.
    let weekdays = schedule("Europe/Lisbon", &[Day::Mon, Day::Tue], "00:10");
    let snapshot = parked(50.0, "2026-12-07T20:00:00Z");
    let settings = Settings::default();
    for (now, expected) in [
        ("2026-12-07T22:09:00Z", &[][..]),
        ("2026-12-07T22:10:00Z", &[Kind::NotPlugged][..]),
        ("2026-12-08T00:09:59Z", &[Kind::NotPlugged][..]),
        // Departed: the next is a week on.
        ("2026-12-08T00:10:00Z", &[][..]),
    ] {
        let facts = facts(&snapshot, need_under(&weekdays, now));
        assert_eq!(kinds(now, &facts, &settings), expected, "at {now}");
    }
}

#[test]
fn plugged_not_charging_after_its_threshold_below_the_limit() {
    let snapshot = Snapshot {
        plugged: Some(true),
        ..parked(50.0, "2026-12-07T01:00:00Z")
    };
    let idle = Facts {
        idle_since: Some(at("2026-12-07T01:00:00Z")),
        ..facts(&snapshot, None)
    };
    let settings = Settings::default();
    sequence(
        &idle,
        &settings,
        &[
            ("2026-12-07T01:14:59Z", &[]),
            ("2026-12-07T01:15:00Z", &[Kind::PluggedNotCharging]),
            ("2026-12-07T05:00:00Z", &[Kind::PluggedNotCharging]),
        ],
    );
    assert_eq!(
        conditions(at("2026-12-07T01:15:00Z"), &idle, &settings)[0].facts,
        json!({"since": "2026-12-07T01:00:00Z", "soc": 50.0, "charge_limit": 90.0,
               "place": "North depot"})
    );
    // At its limit (within a point), charging, or unplugged: nothing to say.
    let now = "2026-12-07T02:00:00Z";
    for snapshot in [
        Snapshot {
            soc: Some(89.2),
            ..snapshot.clone()
        },
        Snapshot {
            charging: Some(true),
            ..snapshot.clone()
        },
        Snapshot {
            plugged: Some(false),
            ..snapshot.clone()
        },
    ] {
        let facts = Facts {
            snapshot: &snapshot,
            ..idle.clone()
        };
        assert_eq!(kinds(now, &facts, &settings), [], "{snapshot:?}");
    }
    // No limit known: 100 %.
    let no_limit = Snapshot {
        charge_limit: None,
        soc: Some(95.0),
        ..snapshot.clone()
    };
    let facts = Facts {
        snapshot: &no_limit,
        ..idle.clone()
    };
    assert_eq!(kinds(now, &facts, &settings), [Kind::PluggedNotCharging]);
}

fn ended(soc_end: f64, at_: &str, place_kind: Option<PlaceKind>) -> LastSession {
    LastSession {
        id: "s-1".into(),
        started_at: at("2026-12-07T00:00:00Z"),
        ended_at: Some(at(at_)),
        soc_end: Some(soc_end),
        avg_power_kw: Some(7.0),
        place_kind,
        place_name: Some("North depot".into()),
        need: need("2026-12-07T06:00:00Z"),
        median_power_kw: Some(7.2),
    }
}

#[test]
fn ended_below_required_until_it_charges_again_or_leaves() {
    let session = ended(62.0, "2026-12-07T03:00:00Z", Some(PlaceKind::Depot));
    let snapshot = parked(62.0, "2026-12-07T03:00:00Z");
    let facts = Facts {
        last_session: Some(&session),
        ..facts(&snapshot, need("2026-12-07T06:00:00Z"))
    };
    let settings = Settings {
        not_plugged: Minutes {
            enabled: false,
            minutes: 120,
        },
        ..Settings::default()
    };
    sequence(
        &facts,
        &settings,
        &[
            ("2026-12-07T03:00:01Z", &[Kind::EndedBelowRequired]),
            ("2026-12-07T05:59:59Z", &[Kind::EndedBelowRequired]),
            ("2026-12-07T06:00:00Z", &[]),
        ],
    );
    assert_eq!(
        summary(
            Kind::EndedBelowRequired,
            &conditions(at("2026-12-07T04:00:00Z"), &facts, &settings)[0].facts
        ),
        "charging ended at 62 % at North depot at 2026-12-07T03:00:00Z; needs 80 % by 2026-12-07T06:00:00Z"
    );
    let now = "2026-12-07T04:00:00Z";
    // Charging again (plugged back in), or charged since at another charger.
    let charging = Snapshot {
        charging: Some(true),
        plugged: Some(true),
        ..snapshot.clone()
    };
    let topped = parked(81.0, "2026-12-07T03:30:00Z");
    for snapshot in [&charging, &topped] {
        let f = Facts {
            snapshot,
            ..facts.clone()
        };
        assert_eq!(kinds(now, &f, &settings), [], "{snapshot:?}");
    }
    // Ended high enough, or at a public charger.
    let high = ended(80.0, "2026-12-07T03:00:00Z", Some(PlaceKind::Depot));
    let public = ended(62.0, "2026-12-07T03:00:00Z", Some(PlaceKind::Public));
    let unknown_place = ended(62.0, "2026-12-07T03:00:00Z", None);
    for (session, expected) in [
        (&high, &[][..]),
        (&public, &[][..]),
        (&unknown_place, &[Kind::EndedBelowRequired][..]),
    ] {
        let f = Facts {
            last_session: Some(session),
            ..facts.clone()
        };
        assert_eq!(kinds(now, &f, &settings), expected, "{session:?}");
    }
}

#[test]
fn vehicle_silent_after_six_hours_plugged_or_a_day_unplugged() {
    let unplugged = parked(70.0, "2026-12-06T01:00:00Z");
    let settings = Settings::default();
    sequence(
        &facts(&unplugged, None),
        &settings,
        &[
            ("2026-12-07T01:00:00Z", &[]),
            ("2026-12-07T01:00:01Z", &[Kind::VehicleSilent]),
        ],
    );
    let plugged = Snapshot {
        plugged: Some(true),
        charging: Some(true),
        ..parked(70.0, "2026-12-07T01:00:00Z")
    };
    sequence(
        &facts(&plugged, None),
        &settings,
        &[
            ("2026-12-07T07:00:00Z", &[]),
            ("2026-12-07T07:00:01Z", &[Kind::VehicleSilent]),
        ],
    );
    let mut longer = settings;
    longer.vehicle_silent.plugged_hours = 12;
    assert_eq!(
        kinds("2026-12-07T07:00:01Z", &facts(&plugged, None), &longer),
        []
    );
}

fn error(code: &str, state: &str, resolution: Option<&str>, at_: &str) -> ErrorEntry {
    ErrorEntry {
        error_type: Some("CONNECTED_SERVICES_ACCOUNT".into()),
        code: Some(code.into()),
        state: Some(state.into()),
        resolution: resolution.map(Into::into),
        description: Some("The vehicle owner's session expired.".into()),
        reported_at: at(at_),
    }
}

#[test]
fn errors_open_until_a_newer_resolved_entry_whatever_the_arrival_order() {
    let expired = error(
        "AUTHENTICATION_FAILED",
        "ERROR",
        Some("REAUTHENTICATE"),
        "2026-12-07T01:00:00Z",
    );
    let resolved = error(
        "AUTHENTICATION_FAILED",
        "RESOLVED",
        None,
        "2026-12-07T02:00:00Z",
    );
    let stale_resolved = error(
        "AUTHENTICATION_FAILED",
        "RESOLVED",
        None,
        "2026-12-07T00:00:00Z",
    );
    assert_eq!(open_errors(std::slice::from_ref(&expired)), [&expired]);
    assert_eq!(
        open_errors(&[expired.clone(), resolved.clone()]),
        Vec::<&ErrorEntry>::new()
    );
    assert_eq!(
        open_errors(&[resolved.clone(), expired.clone()]),
        Vec::<&ErrorEntry>::new()
    );
    assert_eq!(
        open_errors(&[expired.clone(), stale_resolved.clone()]),
        [&expired]
    );
    // The same instant: resolved wins, in either order.
    let tie = error(
        "AUTHENTICATION_FAILED",
        "RESOLVED",
        None,
        "2026-12-07T01:00:00Z",
    );
    assert!(open_errors(&[expired.clone(), tie.clone()]).is_empty());
    assert!(open_errors(&[tie, expired.clone()]).is_empty());

    // What passes by itself is not the operator's.
    let asleep = ErrorEntry {
        error_type: Some("VEHICLE_STATE".into()),
        code: Some("ASLEEP".into()),
        resolution: None,
        ..expired.clone()
    };
    let retry = error(
        "SUBSCRIPTION",
        "ERROR",
        Some("RETRY_LATER"),
        "2026-12-07T01:00:00Z",
    );
    let permission = ErrorEntry {
        error_type: Some("PERMISSION".into()),
        code: None,
        resolution: None,
        ..expired.clone()
    };
    assert!(!asleep.needs_operator());
    assert!(!retry.needs_operator());
    assert!(permission.needs_operator());

    let entries = [asleep, expired.clone(), permission.clone()];
    let open = open_errors(&entries);
    let snapshot = parked(70.0, "2026-12-07T01:00:00Z");
    let facts = Facts {
        errors: &open,
        ..facts(&snapshot, None)
    };
    let found = conditions(at("2026-12-07T01:30:00Z"), &facts, &Settings::default());
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].kind, Kind::VehicleError);
    assert_eq!(
        summary(Kind::VehicleError, &found[0].facts),
        "CONNECTED_SERVICES_ACCOUNT AUTHENTICATION_FAILED (REAUTHENTICATE) and 1 more"
    );
}

proptest! {
    #[test]
    fn open_errors_do_not_depend_on_arrival_order(
        picks in prop::collection::vec((0_usize..3, any::<bool>(), 0_i64..6), 0..12),
        seed in any::<u64>(),
    ) {
        let codes = ["AUTHENTICATION_FAILED", "PERMISSION", "SUBSCRIPTION"];
        let entries: Vec<ErrorEntry> = picks
            .iter()
            .map(|(code, resolved, hour)| ErrorEntry {
                reported_at: at("2026-12-07T00:00:00Z") + TimeDelta::hours(*hour),
                ..error(
                    codes[*code],
                    if *resolved { "RESOLVED" } else { "ERROR" },
                    Some("REAUTHENTICATE"),
                    "2026-12-07T00:00:00Z",
                )
            })
            .collect();
        let mut shuffled = entries.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let key = |open: Vec<&ErrorEntry>| -> Vec<(Option<String>, DateTime<Utc>)> {
            open.into_iter().map(|e| (e.code.clone(), e.reported_at)).collect()
        };
        prop_assert_eq!(key(open_errors(&entries)), key(open_errors(&shuffled)));
    }
}

#[test]
fn slow_charging_against_the_median_at_that_place() {
    let snapshot = Snapshot {
        plugged: Some(true),
        charging: Some(true),
        ..parked(50.0, "2026-12-07T00:40:00Z")
    };
    let charging = LastSession {
        ended_at: None,
        avg_power_kw: Some(3.1),
        ..ended(50.0, "2026-12-07T03:00:00Z", Some(PlaceKind::Depot))
    };
    let settings = Settings::default();
    let facts = Facts {
        last_session: Some(&charging),
        ..facts(&snapshot, None)
    };
    sequence(
        &facts,
        &settings,
        &[
            ("2026-12-07T00:29:59Z", &[]),
            ("2026-12-07T00:30:00Z", &[Kind::SlowCharging]),
        ],
    );
    assert_eq!(
        summary(
            Kind::SlowCharging,
            &conditions(at("2026-12-07T00:30:00Z"), &facts, &settings)[0].facts
        ),
        "charging at 3.1 kW on average at North depot, where it usually draws 7.2 kW"
    );
    // At half the median or above, or with too little history for a median.
    for session in [
        LastSession {
            avg_power_kw: Some(3.6),
            ..charging.clone()
        },
        LastSession {
            median_power_kw: None,
            ..charging.clone()
        },
    ] {
        let f = Facts {
            last_session: Some(&session),
            ..facts.clone()
        };
        assert_eq!(
            kinds("2026-12-07T01:00:00Z", &f, &settings),
            [],
            "{session:?}"
        );
    }
}

#[test]
fn time_alone_changes_the_answer_at_these_moments() {
    let snapshot = Snapshot {
        plugged: Some(true),
        ..parked(40.0, "2026-12-07T01:00:00Z")
    };
    let facts = Facts {
        idle_since: Some(at("2026-12-07T01:05:00Z")),
        ..facts(&snapshot, need("2026-12-07T06:00:00Z"))
    };
    let settings = Settings::default();
    let next = |now: &str| next_change(at(now), &facts, &settings);
    assert_eq!(
        next("2026-12-07T01:06:00Z"),
        Some(at("2026-12-07T01:20:00Z"))
    );
    assert_eq!(
        next("2026-12-07T01:20:00Z"),
        Some(at("2026-12-07T04:00:00Z"))
    );
    assert_eq!(
        next("2026-12-07T04:00:00Z"),
        Some(at("2026-12-07T06:00:00Z"))
    );
    assert_eq!(
        next("2026-12-07T06:00:00Z"),
        Some(at("2026-12-07T07:00:00Z") + TimeDelta::milliseconds(1))
    );
}

#[test]
fn settings_name_the_field_out_of_range_and_read_back() {
    let settings = Settings::default();
    assert!(settings.check().is_ok());
    assert_eq!(settings.silence(), Silence::default());
    let text = serde_json::to_string(&settings).unwrap();
    assert_eq!(serde_json::from_str::<Settings>(&text).unwrap(), settings);

    let mut bad = settings;
    bad.vehicle_silent.plugged_hours = 0;
    let refusal = bad.check().unwrap_err();
    assert_eq!(refusal.field, "vehicle_silent.plugged_hours");
    assert_eq!(refusal.message, "0 is not between 1 and 720");
    let mut bad = settings;
    bad.not_plugged.minutes = 24 * 60 + 1;
    assert_eq!(bad.check().unwrap_err().field, "not_plugged.minutes");
    let mut bad = settings;
    bad.slow_charging.percent_of_median = 100;
    assert_eq!(
        bad.check().unwrap_err().field,
        "slow_charging.percent_of_median"
    );
    assert!(serde_json::from_str::<Settings>(r#"{"not_plugged":{}}"#).is_err());
}

#[test]
fn kinds_read_back_from_their_names() {
    for kind in Kind::ALL {
        assert_eq!(Kind::parse(kind.as_str()), Some(kind));
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            Value::String(kind.as_str().to_owned())
        );
    }
    assert_eq!(Kind::parse("unplugged"), None);
}
