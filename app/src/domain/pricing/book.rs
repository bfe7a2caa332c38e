//! Pricing a stored session: the place that holds its start, the tariff version in force
//! there on its local start date, and the cost. [`Book`] holds everything this reads
//! besides the session, so pricing is a pure function of the two: pricing a session
//! again, in any process, in any order, gives the same answer.

use super::cost::{period_share, price, stretch_cost, Breakdown, Charge, Cut};
use super::curve::EnergyCurve;
use super::tariff::Tariff;
use crate::domain::places::{place_of, Place};
use crate::domain::sessions::ChargerType;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

/// A stored tariff version and where it applies.
#[derive(Debug, Clone, PartialEq)]
pub struct Version {
    pub id: String,
    /// `None`: the fleet default, for sessions at no place.
    pub place_id: Option<String>,
    pub tariff: Tariff,
}

/// What pricing reads besides the session.
#[derive(Debug, Clone)]
pub struct Book {
    pub places: Vec<Place>,
    pub versions: Vec<Version>,
    /// The zone sessions at no place are read in (the server's `CHARGELOG_TIMEZONE`).
    pub default_zone: Tz,
}

/// A session as pricing sees it.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub started_at: DateTime<Utc>,
    /// The end, or the last reading while it is still charging.
    pub ended_at: DateTime<Utc>,
    pub location: Option<(f64, f64)>,
    pub charger_type: Option<ChargerType>,
    /// The energy added (battery side), if known.
    pub energy_kwh: Option<f64>,
    /// The energy added so far at instants (epoch ms); empty when not kept.
    pub curve: &'a [(i64, f64)],
    /// The place it was given when it was priced, which [`Book::period`] reads instead
    /// of searching the places again (pricing itself always searches).
    pub place_id: Option<&'a str>,
}

/// What pricing found.
#[derive(Debug, Clone, PartialEq)]
pub struct Priced {
    pub place_id: Option<String>,
    /// Battery energy ÷ the place's charging efficiency, when both are known.
    pub grid_energy_kwh: Option<f64>,
    /// `None` when no tariff covers the session or its energy is unknown.
    pub cost: Option<(String, Breakdown)>,
}

impl Book {
    /// The version in force in `scope` on the local `date` for a session on `charger`:
    /// of the versions for that charger type the latest that starts on or before the
    /// date, else of those for any charger type.
    fn in_force(
        &self,
        scope: Option<&str>,
        charger: Option<ChargerType>,
        date: NaiveDate,
    ) -> Option<&Version> {
        let latest = |kind: Option<ChargerType>| {
            self.versions
                .iter()
                .filter(|v| v.place_id.as_deref() == scope && v.tariff.charger_type == kind)
                .filter(|v| v.tariff.valid_from <= date)
                .max_by(|a, b| (a.tariff.valid_from, &a.id).cmp(&(b.tariff.valid_from, &b.id)))
        };
        charger
            .and_then(|c| latest(Some(c)))
            .or_else(|| latest(None))
    }

    /// Where a session charged, as pricing reads it: its place, the zone and efficiency
    /// there, and (when its energy is known) its energy in time.
    fn setting<'b>(&'b self, facts: &Facts, place: Option<&'b Place>) -> Setting<'b> {
        let zone = place.and_then(Place::zone).unwrap_or(self.default_zone);
        let efficiency = place.and_then(|p| p.charging_efficiency);
        let energy = facts.energy_kwh.filter(|e| e.is_finite() && *e >= 0.0);
        let ended_at = facts.ended_at.max(facts.started_at);
        let curve =
            energy.map(|kwh| EnergyCurve::of_session(facts.started_at, ended_at, kwh, facts.curve));
        Setting {
            place,
            zone,
            efficiency,
            energy,
            ended_at,
            curve,
        }
    }

    /// The session's place, grid energy and cost.
    pub fn price(&self, facts: &Facts) -> Priced {
        let place = facts.location.and_then(|at| place_of(&self.places, at));
        let at = self.setting(facts, place);
        let grid_energy_kwh = at.energy.zip(at.efficiency).map(|(e, eff)| e / eff);
        let date = facts.started_at.with_timezone(&at.zone).date_naive();
        let version = self.in_force(at.place.map(|p| p.id.as_str()), facts.charger_type, date);
        let cost = version.zip(at.curve.as_ref()).and_then(|(version, curve)| {
            // A stored tariff was checked when it was written; one that no longer
            // passes (a currency withdrawn from the standard) prices nothing.
            price(&at.charge(curve, facts), &version.tariff)
                .ok()
                .map(|breakdown| (version.id.clone(), breakdown))
        });
        Priced {
            place_id: at.place.map(|p| p.id.clone()),
            grid_energy_kwh,
            cost,
        }
    }

    /// What of a session falls in the period `[from, to)`: its energy added then (as a
    /// share of its whole), and the period's share of `cost` (the session's rounded
    /// total, with the tariff version that priced it, or `None` for a manual cost, which
    /// is shared as its energy is, or its time when its energy is unknown).
    pub fn period(
        &self,
        facts: &Facts,
        cost: Option<(Decimal, &str, Option<&str>)>,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Period {
        let place = facts
            .place_id
            .and_then(|id| self.places.iter().find(|p| p.id == id));
        let at = self.setting(facts, place);
        let (start, end) = (facts.started_at, at.ended_at);
        let clip = |a: DateTime<Utc>, b: DateTime<Utc>| (a.max(start), b.min(end));
        let seconds = |(a, b): (DateTime<Utc>, DateTime<Utc>)| {
            ((b - a).num_milliseconds().max(0)) as f64 / 1000.0
        };
        let whole_time = seconds((start, end));
        let time_share = |span| match whole_time {
            t if t > 0.0 => seconds(span) / t,
            _ => f64::from(u8::from(start >= from && start < to)),
        };
        let energy_share = |span: (DateTime<Utc>, DateTime<Utc>)| match &at.curve {
            Some(curve) if curve.total() > 0.0 => curve.between(span.0, span.1) / curve.total(),
            _ => time_share(span),
        };
        let (inside, after) = (clip(from, to), clip(to, end));
        let share = energy_share(inside);
        let starts_inside = start >= from && start < to;
        let cost = cost.and_then(|(total, currency, tariff_id)| {
            let minor = super::currency::minor_units(currency)?;
            let cut = match tariff_id {
                Some(id) => {
                    let version = self.versions.iter().find(|v| v.id == id)?;
                    let curve = at.curve.as_ref()?;
                    let charge = at.charge(curve, facts);
                    let part = |(a, b)| stretch_cost(&charge, &version.tariff, a, b).ok();
                    Cut {
                        starts_inside,
                        inside: part(inside)?,
                        after: part(after)?,
                    }
                }
                None => {
                    let fraction = |f: f64| total * Decimal::from_f64_retain(f).unwrap_or_default();
                    Cut {
                        starts_inside,
                        inside: fraction(share),
                        after: fraction(energy_share(after)),
                    }
                }
            };
            Some(period_share(total, cut, minor))
        });
        Period {
            energy_share: share,
            cost,
        }
    }
}

/// What [`Book::setting`] finds.
struct Setting<'b> {
    place: Option<&'b Place>,
    zone: Tz,
    efficiency: Option<f64>,
    energy: Option<f64>,
    ended_at: DateTime<Utc>,
    curve: Option<EnergyCurve>,
}

impl Setting<'_> {
    fn charge<'c>(&self, curve: &'c EnergyCurve, facts: &Facts) -> Charge<'c> {
        Charge {
            curve,
            started_at: facts.started_at,
            ended_at: self.ended_at,
            zone: self.zone,
            efficiency: self.efficiency,
        }
    }
}

/// What of a session falls in a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Period {
    /// The share (0 to 1) of its energy added in the period (of its time, when its
    /// energy is unknown).
    pub energy_share: f64,
    /// The period's share of its cost, rounded (`None` when it has none, or its tariff
    /// version is gone).
    pub cost: Option<Decimal>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::pricing::tariff::{Band, ClockTime, Day};
    use chrono::TimeZone;
    use proptest::prelude::*;
    use std::str::FromStr;

    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn local(y: i32, mo: u32, d: u32, h: u32) -> DateTime<Utc> {
        BERLIN
            .with_ymd_and_hms(y, mo, d, h, 0, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn dec(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap()
    }

    /// The fleet default in Berlin: a fee, minutes, a default price and a cheap night.
    fn book(fee: &str, per_minute: &str, per_kwh: &str) -> Book {
        let night = Band {
            days: vec![Day::Sat, Day::Sun],
            from: ClockTime::parse("23:00").unwrap(),
            to: ClockTime::parse("05:00").unwrap(),
            months: None,
            price_per_kwh: dec("0.07"),
        };
        Book {
            places: Vec::new(),
            versions: vec![Version {
                id: "t1".into(),
                place_id: None,
                tariff: Tariff {
                    currency: "EUR".into(),
                    valid_from: NaiveDate::from_ymd_opt(2020, 1, 1).unwrap(),
                    session_fee: dec(fee),
                    per_minute: dec(per_minute),
                    default_per_kwh: dec(per_kwh),
                    charger_type: None,
                    bands: vec![night],
                },
            }],
            default_zone: BERLIN,
        }
    }

    fn facts(start: DateTime<Utc>, end: DateTime<Utc>, kwh: f64) -> Facts<'static> {
        Facts {
            started_at: start,
            ended_at: end,
            location: None,
            charger_type: None,
            energy_kwh: Some(kwh),
            curve: &[],
            place_id: None,
        }
    }

    #[test]
    fn a_session_across_a_month_edge_is_shared_between_the_months() {
        // Tuesday 31 March 22:00 to Wednesday 1 April 02:00, 8 kWh evenly.
        let book = book("1.00", "0.01", "0.30");
        let f = facts(local(2026, 3, 31, 22), local(2026, 4, 1, 2), 8.0);
        let (id, b) = book.price(&f).cost.unwrap();
        assert_eq!(b.total, dec("5.80"), "1 + 240 min × 0.01 + 8 kWh × 0.30");
        let total = Some((b.total, "EUR", Some(id.as_str())));
        let (march, april) = (local(2026, 3, 1, 0), local(2026, 4, 1, 0));
        let may = local(2026, 5, 1, 0);
        let m = book.period(&f, total, march, april);
        let a = book.period(&f, total, april, may);
        assert!((m.energy_share - 0.5).abs() < 1e-9 && (a.energy_share - 0.5).abs() < 1e-9);
        assert_eq!(m.cost, Some(dec("3.40")), "the fee, 120 minutes and 4 kWh");
        assert_eq!(a.cost, Some(dec("2.40")), "120 minutes and 4 kWh");
        // A month it does not touch gets nothing; a manual cost is shared by energy.
        let feb = book.period(&f, total, local(2026, 2, 1, 0), march);
        assert_eq!((feb.energy_share, feb.cost), (0.0, Some(dec("0.00"))));
        let receipt = Some((dec("10.00"), "EUR", None));
        assert_eq!(
            book.period(&f, receipt, march, april).cost,
            Some(dec("5.00"))
        );
        assert_eq!(book.period(&f, receipt, april, may).cost, Some(dec("5.00")));
    }

    proptest! {
        /// However a session, its prices and its month edge fall, the months' shares add
        /// up to its total exactly, and a session inside one month keeps its total.
        #[test]
        fn the_shares_of_the_months_add_up_to_the_total(
            start_min in 0i64..(3 * 24 * 60),
            minutes in 1i64..(40 * 60),
            kwh in 0.0f64..120.0,
            fee in 0u32..500,
            per_minute in 0u32..50,
            per_kwh in 0u32..900,
            receipt in 0u32..100_000,
        ) {
            let book = book(
                &format!("{}.{:02}", fee / 100, fee % 100),
                &format!("0.{per_minute:03}"),
                &format!("0.{per_kwh:04}"),
            );
            // Starting up to three days before 1 April (Berlin).
            let edge = local(2026, 4, 1, 0);
            let start = edge - chrono::Duration::minutes(3 * 24 * 60 - start_min);
            let end = start + chrono::Duration::minutes(minutes);
            let f = facts(start, end, kwh);
            let (id, b) = book.price(&f).cost.unwrap();
            let months = [local(2026, 3, 1, 0), edge, local(2026, 5, 1, 0)];
            for cost in [
                Some((b.total, "EUR", Some(id.as_str()))),
                Some((Decimal::new(i64::from(receipt), 2), "EUR", None)),
            ] {
                let shares: Vec<Period> = months
                    .windows(2)
                    .map(|m| book.period(&f, cost, m[0], m[1]))
                    .collect();
                let sum: Decimal = shares.iter().map(|p| p.cost.unwrap()).sum();
                prop_assert_eq!(sum, cost.unwrap().0);
                let energy: f64 = shares.iter().map(|p| p.energy_share).sum();
                prop_assert!((energy - 1.0).abs() < 1e-9 || kwh == 0.0, "{}", energy);
                if end <= edge {
                    prop_assert_eq!(shares[0].cost, Some(cost.unwrap().0));
                }
            }
        }
    }
}
