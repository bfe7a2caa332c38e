//! Pricing a stored session: the place that holds its start, the tariff version in force
//! there on its local start date, and the cost. [`Book`] holds everything this reads
//! besides the session, so pricing is a pure function of the two: pricing a session
//! again, in any process, in any order, gives the same answer.

use super::cost::{price, Breakdown, Charge};
use super::curve::EnergyCurve;
use super::tariff::Tariff;
use crate::domain::places::{place_of, Place};
use crate::domain::sessions::ChargerType;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

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

    /// The session's place, grid energy and cost.
    pub fn price(&self, facts: &Facts) -> Priced {
        let place = facts.location.and_then(|at| place_of(&self.places, at));
        let zone = place.and_then(Place::zone).unwrap_or(self.default_zone);
        let efficiency = place.and_then(|p| p.charging_efficiency);
        let energy = facts.energy_kwh.filter(|e| e.is_finite() && *e >= 0.0);
        let grid_energy_kwh = energy.zip(efficiency).map(|(e, eff)| e / eff);
        let date = facts.started_at.with_timezone(&zone).date_naive();
        let version = self.in_force(place.map(|p| p.id.as_str()), facts.charger_type, date);
        let cost = version.zip(energy).and_then(|(version, kwh)| {
            let ended_at = facts.ended_at.max(facts.started_at);
            let curve = if facts.curve.is_empty() {
                EnergyCurve::even(facts.started_at, ended_at, kwh)
            } else {
                EnergyCurve::new(
                    facts
                        .curve
                        .iter()
                        .filter_map(|&(ms, e)| Some((DateTime::from_timestamp_millis(ms)?, e))),
                )
                .scaled_to(kwh)
            };
            let charge = Charge {
                curve: &curve,
                started_at: facts.started_at,
                ended_at,
                zone,
                efficiency,
            };
            // A stored tariff was checked when it was written; one that no longer
            // passes (a currency withdrawn from the standard) prices nothing.
            price(&charge, &version.tariff)
                .ok()
                .map(|breakdown| (version.id.clone(), breakdown))
        });
        Priced {
            place_id: place.map(|p| p.id.clone()),
            grid_energy_kwh,
            cost,
        }
    }
}
