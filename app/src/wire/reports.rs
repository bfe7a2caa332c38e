//! The JSON shape of a month report (`/api/v1/reports/monthly`, the `/reports` page).

use super::{CostSource, PlaceRef};
use crate::domain::places::PlaceKind;
use crate::domain::reports::Totals;
use crate::domain::sessions::ChargerType;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KindTotals {
    /// `null`: sessions at no place.
    pub kind: Option<PlaceKind>,
    #[serde(flatten)]
    pub totals: Totals,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ChargerTotals {
    /// `null`: the charger type is unknown.
    pub charger_type: Option<ChargerType>,
    #[serde(flatten)]
    pub totals: Totals,
}

/// Totals with their splits by place kind and by charger type.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReportFigures {
    pub totals: Totals,
    pub by_kind: Vec<KindTotals>,
    pub by_charger: Vec<ChargerTotals>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VehicleMonth {
    pub vehicle_id: String,
    /// "2023 POLESTAR Polestar 2", or the id.
    pub name: String,
    #[serde(flatten)]
    pub figures: ReportFigures,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlaceMonth {
    /// `null`: sessions at no place.
    pub place: Option<PlaceRef>,
    pub cost_center: Option<String>,
    #[serde(flatten)]
    pub totals: Totals,
}

/// A month's charging: energy counted where it was added and costs shared at the
/// month's edges, so consecutive months add up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct MonthlyReport {
    /// `YYYY-MM`.
    pub month: String,
    /// The zone the month is read in.
    pub timezone: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub fleet: ReportFigures,
    /// Vehicles that charged in the month, by name.
    pub vehicles: Vec<VehicleMonth>,
    /// By place name, then sessions at no place.
    pub places: Vec<PlaceMonth>,
    /// Sessions still waiting for their place and cost after a change (the figures are
    /// final when this is 0).
    pub pricing_pending: u64,
}

/// One session on a reimbursement statement: its share of the month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatementLine {
    pub session_id: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    /// Still charging: priced up to its last reading.
    pub open: bool,
    pub place: PlaceRef,
    pub battery_kwh: f64,
    pub grid_kwh: Option<f64>,
    /// The amount per kWh (grid kWh where known), to four decimals.
    pub price_per_kwh: Option<String>,
    /// The month's share of its cost.
    pub amount: Option<String>,
    pub currency: Option<String>,
    pub source: Option<CostSource>,
}

/// What to reimburse a driver for a month: the vehicle's sessions at places of a kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Statement {
    pub vehicle_id: String,
    pub name: String,
    pub month: String,
    pub timezone: String,
    pub kind: PlaceKind,
    /// Oldest first.
    pub lines: Vec<StatementLine>,
    /// The total to reimburse, per currency, with the energy.
    pub totals: Totals,
}
