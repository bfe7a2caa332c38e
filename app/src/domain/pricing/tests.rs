//! The cost arithmetic, case by case: band edges, nights, clock changes, seasons, the fee
//! and the minutes, efficiency and rounding. Times are Europe/Berlin.

use super::cost::{price, Breakdown, Charge};
use super::curve::EnergyCurve;
use super::tariff::{in_force, Band, ClockTime, Day, Invalid, Tariff};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;
use rust_decimal::Decimal;
use std::str::FromStr;

const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn at(date: &str, h: u32, m: u32) -> DateTime<Utc> {
    let day = NaiveDate::from_str(date).unwrap();
    BERLIN
        .from_local_datetime(&day.and_hms_opt(h, m, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

const WEEK: [Day; 7] = [
    Day::Mon,
    Day::Tue,
    Day::Wed,
    Day::Thu,
    Day::Fri,
    Day::Sat,
    Day::Sun,
];

fn band(days: &[Day], from: &str, to: &str, months: Option<Vec<u32>>, price: &str) -> Band {
    Band {
        days: days.to_vec(),
        from: ClockTime::parse(from).unwrap(),
        to: ClockTime::parse(to).unwrap(),
        months,
        price_per_kwh: dec(price),
    }
}

fn tariff(default: &str, bands: Vec<Band>) -> Tariff {
    Tariff {
        currency: "EUR".to_owned(),
        valid_from: NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(),
        session_fee: Decimal::ZERO,
        per_minute: Decimal::ZERO,
        default_per_kwh: dec(default),
        charger_type: None,
        bands,
    }
}

/// `kwh` added evenly from `start` to `end`, priced under `tariff` in Berlin.
fn even(start: DateTime<Utc>, end: DateTime<Utc>, kwh: f64, tariff: &Tariff) -> Breakdown {
    let curve = EnergyCurve::even(start, end, kwh);
    let charge = Charge {
        curve: &curve,
        started_at: start,
        ended_at: end,
        zone: BERLIN,
        efficiency: None,
    };
    price(&charge, tariff).unwrap()
}

/// (band, battery kWh, amount) of each line.
fn lines(b: &Breakdown) -> Vec<(Option<usize>, Decimal, Decimal)> {
    b.energy
        .iter()
        .map(|l| (l.band, l.battery_kwh, l.amount))
        .collect()
}

#[test]
fn a_band_edge_inside_a_session_splits_its_energy() {
    // Monday 20:00 to 23:00, 3 kWh evenly; the night band starts at 22:00.
    let t = tariff("0.30", vec![band(&WEEK, "22:00", "06:00", None, "0.10")]);
    let b = even(at("2026-06-01", 20, 0), at("2026-06-01", 23, 0), 3.0, &t);
    assert_eq!(
        lines(&b),
        vec![
            (None, dec("2"), dec("0.60")),
            (Some(0), dec("1"), dec("0.10"))
        ]
    );
    assert_eq!(b.total, dec("0.70"));
}

#[test]
fn a_night_band_belongs_to_the_day_it_starts_on() {
    // Fridays only, 22:00 to 06:00: Saturday 01:00 is in Friday's night.
    let t = tariff(
        "0.30",
        vec![band(&[Day::Fri], "22:00", "06:00", None, "0.10")],
    );
    let friday_night = even(at("2026-06-05", 23, 0), at("2026-06-06", 1, 0), 2.0, &t);
    assert_eq!(friday_night.total, dec("0.20"));
    // Saturday night is not.
    let saturday_night = even(at("2026-06-06", 23, 0), at("2026-06-07", 1, 0), 2.0, &t);
    assert_eq!(saturday_night.total, dec("0.60"));
    // Thursday night into Friday morning is not either (Thursday is not listed) until
    // Friday 22:00.
    let thursday_night = even(at("2026-06-04", 23, 0), at("2026-06-05", 1, 0), 2.0, &t);
    assert_eq!(thursday_night.total, dec("0.60"));
}

#[test]
fn a_band_ending_at_24_00_ends_at_midnight() {
    let t = tariff("0.30", vec![band(&WEEK, "18:00", "24:00", None, "0.50")]);
    let b = even(at("2026-06-01", 23, 0), at("2026-06-02", 1, 0), 2.0, &t);
    assert_eq!(b.total, dec("0.80"));
}

#[test]
fn the_clock_change_in_spring_is_read_in_the_places_time() {
    // Sunday 29 March 2026: 02:00 becomes 03:00. From 00:00 to 04:00 local is three hours;
    // 3 kWh evenly is 1 kWh an hour. The band 00:00 to 03:00 holds two real hours.
    let t = tariff("0.30", vec![band(&WEEK, "00:00", "03:00", None, "0.10")]);
    let start = at("2026-03-29", 0, 0);
    let end = at("2026-03-29", 4, 0);
    assert_eq!((end - start).num_hours(), 3);
    let b = even(start, end, 3.0, &t);
    assert_eq!(
        lines(&b),
        vec![
            (None, dec("1"), dec("0.30")),
            (Some(0), dec("2"), dec("0.20"))
        ]
    );
}

#[test]
fn the_clock_change_in_autumn_counts_the_repeated_hour_twice() {
    // Sunday 25 October 2026: 03:00 becomes 02:00 again. From 00:00 to 04:00 local is five
    // hours; the band 02:00 to 03:00 holds two of them.
    let t = tariff("0.30", vec![band(&WEEK, "02:00", "03:00", None, "0.10")]);
    let start = at("2026-10-25", 0, 0);
    let end = at("2026-10-25", 4, 0);
    assert_eq!((end - start).num_hours(), 5);
    let b = even(start, end, 5.0, &t);
    assert_eq!(
        lines(&b),
        vec![
            (None, dec("3"), dec("0.90")),
            (Some(0), dec("2"), dec("0.20"))
        ]
    );
}

#[test]
fn seasons_are_months_and_the_first_matching_band_wins() {
    let t = tariff(
        "0.30",
        vec![
            band(&WEEK, "10:00", "16:00", Some(vec![6, 7, 8]), "0.05"),
            band(&WEEK, "00:00", "24:00", None, "0.25"),
        ],
    );
    // 31 August, noon: summer. Midnight to 01:00 on 1 September: the second band.
    let summer = even(at("2026-08-31", 12, 0), at("2026-08-31", 13, 0), 1.0, &t);
    assert_eq!(lines(&summer), vec![(Some(0), dec("1"), dec("0.05"))]);
    let autumn = even(at("2026-09-01", 12, 0), at("2026-09-01", 13, 0), 1.0, &t);
    assert_eq!(lines(&autumn), vec![(Some(1), dec("1"), dec("0.25"))]);
}

#[test]
fn the_fee_and_the_minutes_are_added_to_the_energy() {
    let mut t = tariff("0.40", vec![]);
    t.session_fee = dec("1.00");
    t.per_minute = dec("0.05");
    // 90 minutes, 10 kWh: 1.00 + 4.50 + 4.00.
    let b = even(at("2026-01-12", 9, 0), at("2026-01-12", 10, 30), 10.0, &t);
    assert_eq!(b.minutes, dec("90"));
    assert_eq!(b.total, dec("9.50"));
}

#[test]
fn with_an_efficiency_the_price_applies_to_grid_energy() {
    let t = tariff("0.30", vec![]);
    let curve = EnergyCurve::even(at("2026-01-12", 9, 0), at("2026-01-12", 12, 0), 9.0);
    let charge = Charge {
        curve: &curve,
        started_at: at("2026-01-12", 9, 0),
        ended_at: at("2026-01-12", 12, 0),
        zone: BERLIN,
        efficiency: Some(0.9),
    };
    let b = price(&charge, &t).unwrap();
    assert_eq!(b.energy[0].battery_kwh, dec("9"));
    assert_eq!(b.energy[0].grid_kwh, dec("10"));
    assert_eq!(b.total, dec("3.00"));
}

#[test]
fn the_total_is_rounded_once_half_away_from_zero() {
    // 0.5 kWh at 0.25 is 0.125: 0.13, not 0.12; the line keeps every digit.
    let t = tariff("0.25", vec![]);
    let b = even(at("2026-01-12", 9, 0), at("2026-01-12", 10, 0), 0.5, &t);
    assert_eq!(b.energy[0].amount, dec("0.125"));
    assert_eq!(b.total, dec("0.13"));
    // A currency without minor units rounds to whole units.
    let mut yen = tariff("35", vec![]);
    yen.currency = "JPY".to_owned();
    let curve = EnergyCurve::even(at("2026-01-12", 9, 0), at("2026-01-12", 10, 0), 1.3);
    let charge = Charge {
        curve: &curve,
        started_at: at("2026-01-12", 9, 0),
        ended_at: at("2026-01-12", 10, 0),
        zone: BERLIN,
        efficiency: None,
    };
    assert_eq!(price(&charge, &yen).unwrap().total, dec("46"));
}

#[test]
fn a_new_version_never_rewrites_the_past() {
    let mut old = tariff("0.30", vec![]);
    old.valid_from = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap();
    let new = tariff("0.40", vec![]);
    let versions = [new.clone(), old.clone()];
    let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
    assert_eq!(in_force(&versions, day(2025, 12, 31)), Some(&old));
    assert_eq!(in_force(&versions, day(2026, 1, 1)), Some(&new));
    assert_eq!(in_force(&versions, day(2024, 12, 31)), None);
}

#[test]
fn a_tariff_that_makes_no_sense_names_the_field() {
    let field = |t: &Tariff| t.check().err().map(|e: Invalid| e.field);
    let good = tariff("0.30", vec![band(&WEEK, "22:00", "06:00", None, "0.10")]);
    assert_eq!(field(&good), None);
    for code in ["eur", "XAU", "EURO"] {
        let mut t = good.clone();
        t.currency = code.to_owned();
        assert_eq!(field(&t).as_deref(), Some("currency"), "{code}");
    }
    let mut t = good.clone();
    t.default_per_kwh = dec("-0.01");
    assert_eq!(field(&t).as_deref(), Some("default_per_kwh"));
    let t = tariff(
        "0.30",
        vec![
            good.bands[0].clone(),
            band(&WEEK, "06:00", "06:00", None, "0.1"),
        ],
    );
    assert_eq!(field(&t).as_deref(), Some("bands[1].to"));
    let t = tariff("0.30", vec![band(&[], "06:00", "07:00", None, "0.1")]);
    assert_eq!(field(&t).as_deref(), Some("bands[0].days"));
    let t = tariff(
        "0.30",
        vec![band(&WEEK, "06:00", "07:00", Some(vec![13]), "0.1")],
    );
    assert_eq!(field(&t).as_deref(), Some("bands[0].months"));
    let t = tariff("0.30", vec![band(&WEEK, "24:00", "07:00", None, "0.1")]);
    assert_eq!(field(&t).as_deref(), Some("bands[0].from"));
    assert_eq!(ClockTime::parse("24:01"), None);
    assert_eq!(ClockTime::parse("7:00"), None);
    let many = tariff("0.30", vec![band(&WEEK, "06:00", "07:00", None, "0.1"); 25]);
    assert_eq!(field(&many).as_deref(), Some("bands"));
    let enough = tariff("0.30", vec![band(&WEEK, "06:00", "07:00", None, "0.1"); 24]);
    assert_eq!(field(&enough), None);
}

#[test]
fn a_tariff_reads_and_writes_the_apis_json() {
    let json = r#"{"currency":"EUR","valid_from":"2026-01-01","session_fee":"0.00","per_minute":"0.00","default_per_kwh":"0.30","charger_type":null,"bands":[{"days":["mon","tue","wed","thu","fri"],"from":"22:00","to":"06:00","months":null,"price_per_kwh":"0.12"}]}"#;
    let t: Tariff = serde_json::from_str(json).unwrap();
    assert_eq!(t.bands[0].price_per_kwh, dec("0.12"));
    assert_eq!(t.bands[0].to, ClockTime::parse("06:00").unwrap());
    assert_eq!(serde_json::to_string(&t).unwrap(), json);
    let bad = json.replace("\"22:00\"", "\"25:00\"");
    assert!(serde_json::from_str::<Tariff>(&bad).is_err());
}

/// Instants and the energy added so far then.
type Readings = Vec<(DateTime<Utc>, f64)>;

/// Readings of a session's energy added so far: its start, the readings in time order,
/// and the same readings (half of them twice) in a random order.
fn sessions() -> impl Strategy<Value = (DateTime<Utc>, Readings, Readings)> {
    let steps = prop::collection::vec((1_i64..90, 0.0_f64..8.0), 1..30);
    (steps, 0_i64..(60 * 24 * 365)).prop_flat_map(|(steps, start_minute)| {
        let start = at("2026-01-01", 0, 0) + chrono::Duration::minutes(start_minute);
        let mut readings = vec![(start, 0.0)];
        let (mut t, mut kwh) = (start, 0.0);
        for (dt, added) in steps {
            t += chrono::Duration::minutes(dt);
            kwh += added;
            readings.push((t, kwh));
        }
        let repeated: Vec<_> = readings
            .iter()
            .chain(readings.iter().step_by(2))
            .cloned()
            .collect();
        (Just(start), Just(readings), Just(repeated).prop_shuffle())
    })
}

proptest! {
    /// Readings in any order and any number of times give the same cost, and the energy
    /// priced is the session's energy.
    #[test]
    fn costs_do_not_depend_on_the_order_of_readings((start, readings, mixed) in sessions()) {
        let (end, kwh) = *readings.last().unwrap();
        let tariff = tariff("0.30", vec![
            band(&[Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri], "22:00", "06:00", None, "0.12"),
            band(&WEEK, "11:00", "15:00", Some(vec![4, 5, 6, 7, 8, 9]), "0.08"),
        ]);
        let cost = |readings: Vec<(DateTime<Utc>, f64)>| {
            let curve = EnergyCurve::new(readings);
            let charge = Charge { curve: &curve, started_at: start, ended_at: end, zone: BERLIN, efficiency: None };
            price(&charge, &tariff).unwrap()
        };
        let straight = cost(readings);
        prop_assert_eq!(cost(mixed), straight.clone());
        let priced: Decimal = straight.energy.iter().map(|l| l.battery_kwh).sum();
        let whole = Decimal::from_f64_retain(kwh).unwrap();
        prop_assert!((priced - whole).abs() <= dec("0.00001"), "{} != {}", priced, kwh);
    }
}
