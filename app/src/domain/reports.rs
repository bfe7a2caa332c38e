//! Month reports: each session's share of a month (its energy added then, its cost
//! shared at the month's edges, `pricing::book::Book::period`) added up per vehicle,
//! per place kind, per charger type, per place and for the fleet. Sums are exact:
//! money in decimals per currency, never converted.

use crate::domain::places::PlaceKind;
use crate::domain::sessions::ChargerType;
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Sessions' shares of the month that are added up alike: one session's, or (read from
/// the database already summed) those of one vehicle at one place on one charger type in
/// one currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub vehicle_id: String,
    pub place_id: Option<String>,
    pub kind: Option<PlaceKind>,
    pub charger_type: Option<ChargerType>,
    pub sessions: u64,
    /// Of those, still charging: priced up to their last reading.
    pub open_sessions: u64,
    pub battery_kwh: f64,
    /// Over the sessions whose grid energy is known.
    pub grid_kwh: f64,
    /// Sessions whose place's charging efficiency (or energy) is unknown.
    pub grid_unknown_sessions: u64,
    /// `None`: none of them has a cost (no tariff covers them, no one set one).
    pub cost: Option<(String, Decimal)>,
}

/// Figures added up over sessions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Totals {
    /// Sessions that touch the month (one across its edge counts in both months).
    pub sessions: u64,
    /// Of those, still charging.
    pub open_sessions: u64,
    /// Energy that reached the battery in the month, kWh.
    pub battery_kwh: f64,
    /// Energy drawn from the grid in the month, kWh, over the sessions where it is known.
    pub grid_kwh: f64,
    /// Sessions whose grid energy is unknown (their place has no charging efficiency).
    pub grid_unknown_sessions: u64,
    /// Sessions without a cost.
    pub unpriced_sessions: u64,
    /// The cost in each currency (decimal strings), by currency code.
    #[cfg_attr(feature = "ssr", schema(value_type = BTreeMap<String, String>))]
    pub cost: BTreeMap<String, Decimal>,
}

impl Totals {
    pub fn add(&mut self, line: &Line) {
        self.sessions += line.sessions;
        self.open_sessions += line.open_sessions;
        self.battery_kwh += line.battery_kwh;
        self.grid_kwh += line.grid_kwh;
        self.grid_unknown_sessions += line.grid_unknown_sessions;
        match &line.cost {
            Some((currency, amount)) => {
                *self.cost.entry(currency.clone()).or_default() += *amount;
            }
            None => self.unpriced_sessions += line.sessions,
        }
    }
}

/// Totals split by where (the kind of place, `None` for no place) and by charger type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Split {
    pub all: Totals,
    pub by_kind: BTreeMap<Option<PlaceKind>, Totals>,
    pub by_charger: BTreeMap<Option<ChargerType>, Totals>,
}

impl Split {
    pub fn add(&mut self, line: &Line) {
        self.all.add(line);
        self.by_kind.entry(line.kind).or_default().add(line);
        self.by_charger
            .entry(line.charger_type)
            .or_default()
            .add(line);
    }
}

/// A month's figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Month {
    /// By vehicle id.
    pub vehicles: BTreeMap<String, Split>,
    pub fleet: Split,
    /// By place id (`None`: no place).
    pub places: BTreeMap<Option<String>, Totals>,
}

impl Month {
    pub fn add(&mut self, line: &Line) {
        self.vehicles
            .entry(line.vehicle_id.clone())
            .or_default()
            .add(line);
        self.fleet.add(line);
        self.places
            .entry(line.place_id.clone())
            .or_default()
            .add(line);
    }
}

/// `YYYY-MM` as the first day of that month.
pub fn parse_month(text: &str) -> Option<NaiveDate> {
    let (y, m) = text.split_once('-')?;
    if y.len() != 4 || m.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, 1)
}

/// The month a report reads: `raw` (`YYYY-MM`, years 1970 to 9999), or when it is empty
/// the month holding `today`; `None` when `raw` is no such month.
pub fn month_or_current(raw: Option<&str>, today: NaiveDate) -> Option<NaiveDate> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => today.with_day(1),
        Some(raw) => parse_month(raw).filter(|m| (1970..=9999).contains(&m.year())),
    }
}

/// The instants a month starts and ends in `tz`: `[from, to)`.
pub fn month_range(first_day: NaiveDate, tz: Tz) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let next = first_day.checked_add_months(chrono::Months::new(1))?;
    let start = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    };
    Some((start(first_day)?, start(next)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(vehicle: &str, kind: Option<PlaceKind>, kwh: f64, cost: Option<(&str, &str)>) -> Line {
        Line {
            vehicle_id: vehicle.into(),
            place_id: kind.map(|k| k.as_str().to_owned()),
            kind,
            charger_type: Some(ChargerType::Ac),
            sessions: 1,
            open_sessions: 0,
            battery_kwh: kwh,
            grid_kwh: kwh / 0.9,
            grid_unknown_sessions: 0,
            cost: cost.map(|(c, a)| (c.to_owned(), a.parse().unwrap())),
        }
    }

    #[test]
    fn totals_add_up_per_vehicle_kind_place_and_currency() {
        let mut month = Month::default();
        for l in [
            line("a", Some(PlaceKind::Home), 10.0, Some(("EUR", "3.10"))),
            line("a", None, 5.0, Some(("SEK", "40.00"))),
            line("b", Some(PlaceKind::Home), 20.0, Some(("EUR", "6.20"))),
            line("b", Some(PlaceKind::Depot), 1.0, None),
        ] {
            month.add(&l);
        }
        let fleet = &month.fleet.all;
        assert_eq!(fleet.sessions, 4);
        assert_eq!(fleet.unpriced_sessions, 1);
        assert_eq!(fleet.cost["EUR"], "9.30".parse::<Decimal>().unwrap());
        assert_eq!(fleet.cost["SEK"], "40.00".parse::<Decimal>().unwrap());
        assert!((fleet.battery_kwh - 36.0).abs() < 1e-9);
        let home = &month.fleet.by_kind[&Some(PlaceKind::Home)];
        assert_eq!((home.sessions, home.cost.len()), (2, 1));
        assert_eq!(month.vehicles["a"].all.sessions, 2);
        assert_eq!(month.places[&None].sessions, 1);
    }

    #[test]
    fn months_are_read_in_the_zone() {
        assert_eq!(parse_month("2026-13"), None);
        assert_eq!(parse_month("2026-3"), None);
        let today = NaiveDate::from_ymd_opt(2026, 3, 17).unwrap();
        assert_eq!(
            month_or_current(None, today),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert_eq!(
            month_or_current(Some(" "), today),
            NaiveDate::from_ymd_opt(2026, 3, 1)
        );
        assert_eq!(month_or_current(Some("1969-12"), today), None);
        let march = parse_month("2026-03").unwrap();
        let (from, to) = month_range(march, chrono_tz::Europe::Berlin).unwrap();
        assert_eq!(from.to_rfc3339(), "2026-02-28T23:00:00+00:00");
        // Summer time from 29 March: April starts at 22:00 UTC.
        assert_eq!(to.to_rfc3339(), "2026-03-31T22:00:00+00:00");
    }
}
