//! What a session cost under a tariff: the session fee, its minutes, and its energy priced
//! moment by moment in the place's local time. Money is exact decimal arithmetic, rounded
//! once, to the currency's minor unit, half away from zero.

use super::currency::minor_units;
use super::curve::EnergyCurve;
use super::tariff::{Invalid, Tariff};
use chrono::{DateTime, Days, LocalResult, TimeZone, Utc};
use chrono_tz::Tz;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A session as pricing sees it.
#[derive(Debug, Clone)]
pub struct Charge<'a> {
    pub curve: &'a EnergyCurve,
    pub started_at: DateTime<Utc>,
    /// The end, or the last reading while the session is still charging.
    pub ended_at: DateTime<Utc>,
    /// The place's zone: bands, days and months are read in it.
    pub zone: Tz,
    /// The share of grid energy that reached the battery there (0.5 to 1), if known.
    pub efficiency: Option<f64>,
}

/// The energy one price applied to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnergyLine {
    /// The tariff's band (its index), or `None` for its default price.
    pub band: Option<usize>,
    /// Energy that reached the battery, kWh (to a millionth).
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub battery_kwh: Decimal,
    /// Energy drawn from the grid, kWh: what the price applies to.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub grid_kwh: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub price_per_kwh: Decimal,
    /// Not rounded: only the session's total is.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub amount: Decimal,
}

/// Why a session costs what it costs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Breakdown {
    pub currency: String,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub session_fee: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub minutes: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub per_minute: Decimal,
    pub energy: Vec<EnergyLine>,
    /// The fee, the minutes and the energy, rounded to the currency's minor unit.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub total: Decimal,
}

/// kWh from the curve's floating point, to a millionth of a kWh.
fn kwh(value: f64) -> Decimal {
    Decimal::from_f64_retain(value)
        .unwrap_or_default()
        .round_dp(6)
}

/// The instants inside the session at which the price may change: each local date's
/// edges (midnight and the bands' edges), twice in an hour a clock change repeats,
/// never in one it skips.
fn cuts(charge: &Charge, tariff: &Tariff) -> Vec<DateTime<Utc>> {
    let (start, end) = (charge.started_at, charge.ended_at);
    let first = start.with_timezone(&charge.zone).date_naive();
    let last = end.with_timezone(&charge.zone).date_naive();
    let edges = tariff.edges();
    let mut cuts = vec![start];
    let mut date = first;
    while date <= last {
        for edge in &edges {
            let Some(local) = date.and_hms_opt(
                u32::from(edge.minutes() / 60),
                u32::from(edge.minutes() % 60),
                0,
            ) else {
                continue;
            };
            let instants = match charge.zone.from_local_datetime(&local) {
                LocalResult::Single(t) => vec![t],
                LocalResult::Ambiguous(a, b) => vec![a, b],
                LocalResult::None => vec![],
            };
            cuts.extend(
                instants
                    .into_iter()
                    .map(|t| t.with_timezone(&Utc))
                    .filter(|t| *t > start && *t < end),
            );
        }
        let Some(next) = date.checked_add_days(Days::new(1)) else {
            break;
        };
        date = next;
    }
    cuts.push(end.max(start));
    cuts.sort_unstable();
    cuts.dedup();
    cuts
}

/// The session's cost under `tariff`, rounded to its currency's minor unit (a cent for
/// EUR, a yen for JPY); an error only for a currency that has none.
pub fn price(charge: &Charge, tariff: &Tariff) -> Result<Breakdown, Invalid> {
    let minor_units = minor_units(&tariff.currency).ok_or_else(|| Invalid {
        field: "currency".to_owned(),
        message: format!("{:?} has no minor unit to round to", tariff.currency),
    })?;
    let cuts = cuts(charge, tariff);
    let mut by_band: BTreeMap<Option<usize>, (f64, Decimal)> = BTreeMap::new();
    for (span, added) in cuts.windows(2).zip(charge.curve.split(&cuts)) {
        let local = span[0].with_timezone(&charge.zone).naive_local();
        let (band, price) = tariff.price_at(local);
        by_band.entry(band).or_insert((0.0, price)).0 += added;
    }
    let efficiency = charge.efficiency.filter(|e| *e > 0.0 && *e <= 1.0);
    let energy: Vec<EnergyLine> = by_band
        .into_iter()
        .filter(|(_, (added, _))| *added > 0.0)
        .map(|(band, (added, price_per_kwh))| {
            let grid_kwh = kwh(efficiency.map_or(added, |e| added / e));
            EnergyLine {
                band,
                battery_kwh: kwh(added),
                grid_kwh,
                price_per_kwh,
                amount: grid_kwh * price_per_kwh,
            }
        })
        .collect();
    let millis = (charge.ended_at - charge.started_at)
        .num_milliseconds()
        .max(0);
    let minutes = Decimal::from(millis) / Decimal::from(60_000);
    let unrounded = tariff.session_fee
        + minutes * tariff.per_minute
        + energy.iter().map(|l| l.amount).sum::<Decimal>();
    Ok(Breakdown {
        currency: tariff.currency.clone(),
        session_fee: tariff.session_fee,
        minutes,
        per_minute: tariff.per_minute,
        energy,
        total: round_money(unrounded, minor_units),
    })
}

/// Rounds to `minor_units` decimals, half away from zero (how every amount is rounded).
pub fn round_money(amount: Decimal, minor_units: u32) -> Decimal {
    amount.round_dp_with_strategy(minor_units, RoundingStrategy::MidpointAwayFromZero)
}

/// Where a period `[from, to)` (a month) cuts a session: its shares before, inside and
/// after, each a fraction of something the session adds up (its energy, its unrounded
/// cost without the fee).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cut {
    /// Whether the session started inside the period (its fee is the period's).
    pub starts_inside: bool,
    pub inside: Decimal,
    pub after: Decimal,
}

/// The period's share of a session's rounded `total`: a session that started in it
/// keeps its total less what falls after it (rounded), one that started earlier gets
/// what falls in it (rounded). So the shares of consecutive periods add up to the total
/// to the minor unit, and a session wholly inside keeps its total exactly.
pub fn period_share(total: Decimal, cut: Cut, minor_units: u32) -> Decimal {
    if cut.starts_inside {
        total - round_money(cut.after, minor_units)
    } else {
        round_money(cut.inside, minor_units)
    }
}

/// The unrounded cost of a stretch `[from, to)` of a priced session: its minutes and
/// its energy, without the fee (which belongs to the session's start).
pub fn stretch_cost(
    charge: &Charge,
    tariff: &Tariff,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Decimal, Invalid> {
    let (from, to) = (
        from.max(charge.started_at),
        to.min(charge.ended_at.max(charge.started_at)),
    );
    if to <= from {
        return Ok(Decimal::ZERO);
    }
    let stretch = Charge {
        started_at: from,
        ended_at: to,
        ..charge.clone()
    };
    let b = price(&stretch, tariff)?;
    Ok(b.minutes * b.per_minute + b.energy.iter().map(|l| l.amount).sum::<Decimal>())
}
