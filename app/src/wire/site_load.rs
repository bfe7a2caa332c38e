//! The JSON shapes of a place's load (`/api/v1/places/{id}/load`, the load page) and of
//! what a power cap would have done (`/api/v1/places/{id}/what-if`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// One interval of a place's load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoadInterval {
    pub start: DateTime<Utc>,
    /// Its energy over its length (kW).
    pub avg_kw: f64,
    /// The most sessions charging in any 5-minute slice of it.
    pub max_vehicles: u32,
    pub energy_kwh: f64,
    /// Of `energy_kwh`: from `Charge.Wattage` readings, from energy samples, and from
    /// sessions' average power.
    pub wattage_kwh: f64,
    pub samples_kwh: f64,
    pub average_kwh: f64,
}

/// Whether a peak is a day's or a month's (local to the place).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PeakPeriod {
    Day,
    Month,
}

/// A vehicle that drew in a peak interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PeakVehicle {
    pub vehicle_id: String,
    pub name: String,
    pub energy_kwh: f64,
}

/// The highest interval of a local day or month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LoadPeak {
    pub period: PeakPeriod,
    /// The day, or the month's first day, in the place's zone.
    pub date: NaiveDate,
    /// The interval's start (the earliest of equal ones).
    pub start: DateTime<Utc>,
    pub avg_kw: f64,
    /// The most sessions charging in any 5-minute slice of it.
    pub vehicles_charging: u32,
    /// Most energy first: always for a month's peak; for a day's when the range is at
    /// most 31 days (else empty).
    pub vehicles: Vec<PeakVehicle>,
}

/// The load of a place over a range of its local days.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlaceLoad {
    pub place_id: String,
    pub place_name: String,
    /// The place's zone: days, months and hours are its.
    pub timezone: String,
    /// First and last day of the range (inclusive).
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// The range's first instant and the instant after its last day.
    pub range_start: DateTime<Utc>,
    pub range_end: DateTime<Utc>,
    /// 5, 15 or 60.
    pub interval_minutes: u32,
    /// Intervals with charge, in time order.
    pub intervals: Vec<LoadInterval>,
    /// Each day's peak, then each month's, in time order.
    pub peaks: Vec<LoadPeak>,
    /// Average kW by weekday (Monday first) and local hour: 7 rows of 24.
    pub weekday_hour_kw: Vec<Vec<f64>>,
    /// Energy by local hour of day (24).
    pub hour_kwh: Vec<f64>,
    pub energy_kwh: f64,
    /// Sessions still waiting for their place (and load) after a change; 0: up to date.
    pub pricing_pending: u64,
}

/// What a cap would have done, under one way of sharing it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CapFigures {
    /// The highest 15-minute average as recorded, and under the cap (kW).
    pub recorded_peak_kw: f64,
    pub new_peak_kw: f64,
    /// Sessions that got all their energy, but later.
    pub sessions_later: u32,
    pub median_delay_min: f64,
    pub worst_delay_min: f64,
    /// Sessions whose vehicle left (unplugged) before it had what it really got.
    pub sessions_short: u32,
    pub kwh_short: f64,
}

/// A place's recorded sessions in a range replayed under a power cap: shared equally
/// (what one vehicle cannot use going to the others), and vehicles leaving soonest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WhatIf {
    pub place_id: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub cap_kw: f64,
    /// Sessions replayed.
    pub sessions: u32,
    #[serde(flatten)]
    pub equal_share: CapFigures,
    pub departure_aware: CapFigures,
}

/// A place's highest interval of a month, for the fleet's side-by-side view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SitePeak {
    pub place_id: String,
    pub name: String,
    pub kind: crate::domain::places::PlaceKind,
    pub timezone: String,
    /// None: nothing charged there that month.
    pub peak_kw: Option<f64>,
    pub peak_start: Option<DateTime<Utc>>,
    pub energy_kwh: f64,
}

/// Every place's peak in a month (its local month), by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SitePeaks {
    /// The month's first day.
    pub month: NaiveDate,
    pub places: Vec<SitePeak>,
    /// Places beyond the first [`SitePeaks::places`] shown.
    pub more: u64,
}
