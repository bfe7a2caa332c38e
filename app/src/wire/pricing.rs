//! The JSON shapes of places, tariffs and costs (`/api/v1/places`, `/api/v1/tariffs`,
//! a session's `place` and `cost`).

use crate::domain::places::{PlaceKind, Suggestion};
use crate::domain::pricing::cost::Breakdown;
use crate::domain::pricing::tariff::Tariff;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A place as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlaceDto {
    pub id: String,
    pub name: String,
    pub kind: PlaceKind,
    pub latitude: f64,
    pub longitude: f64,
    /// The circle's radius, 10 to 5000 metres.
    pub radius_m: f64,
    /// The IANA zone its tariffs' hours are read in.
    pub timezone: String,
    /// The share of grid energy that reaches the battery there (0.5 to 1), if known.
    pub charging_efficiency: Option<f64>,
    pub cost_center: Option<String>,
    /// Sessions that belong to it (as of the last pricing pass).
    pub session_count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlaceList {
    /// One page, by name (any case).
    pub places: Vec<PlaceDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Sessions waiting to be given their place and cost after a change (0: all done).
    pub pricing_pending: u64,
}

/// A place to create, or (in a `PATCH`, field by field) to change. Unknown fields are
/// refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PlaceInput {
    /// 1 to 100 characters, unique (any case).
    pub name: String,
    pub kind: PlaceKind,
    pub latitude: f64,
    pub longitude: f64,
    /// 10 to 5000 (default 150).
    #[serde(default = "default_radius")]
    pub radius_m: f64,
    /// IANA zone (default: the server's `CHARGELOG_TIMEZONE`).
    #[serde(default)]
    pub timezone: Option<String>,
    /// 0.5 to 1.0, or null for unknown.
    #[serde(default)]
    pub charging_efficiency: Option<f64>,
    /// At most 100 characters.
    #[serde(default)]
    pub cost_center: Option<String>,
}

fn default_radius() -> f64 {
    crate::domain::places::DEFAULT_RADIUS_M
}

/// What the places page shows: a page of places with their tariff versions, the fleet
/// default's, and suggestions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacesView {
    pub places: Vec<(PlaceDto, Vec<TariffDto>)>,
    pub next_cursor: Option<String>,
    pub default_tariffs: Vec<TariffDto>,
    pub suggestions: Vec<Suggestion>,
    pub pricing_pending: u64,
    /// The server's zone: a new place's default, and the zone of sessions at no place.
    pub default_timezone: String,
}

/// Where sessions gather at no place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SuggestionList {
    /// Most sessions first.
    pub suggestions: Vec<Suggestion>,
}

/// The place a session belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct PlaceRef {
    pub id: String,
    pub name: String,
    pub kind: PlaceKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CostSource {
    /// From the tariff in force (`tariff_id`), with its `breakdown`.
    Tariff,
    /// Set by an operator.
    Manual,
}

impl CostSource {
    pub fn as_str(self) -> &'static str {
        match self {
            CostSource::Tariff => "tariff",
            CostSource::Manual => "manual",
        }
    }
}

/// What a session cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionCost {
    /// A decimal string in the currency's minor unit, such as `"12.34"`.
    pub amount: String,
    pub currency: String,
    pub source: CostSource,
    pub tariff_id: Option<String>,
    pub breakdown: Option<Breakdown>,
    /// The operator's note on a manual cost.
    pub note: Option<String>,
}

/// A tariff version as the API shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TariffDto {
    pub id: String,
    /// `null`: the fleet default, for sessions at no place.
    pub place_id: Option<String>,
    /// As it was posted.
    pub tariff: Tariff,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TariffList {
    /// Newest `valid_from` first.
    pub tariffs: Vec<TariffDto>,
}

/// A cost an operator sets on a session (a receipt). Unknown fields are refused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ManualCostInput {
    /// A decimal string, not negative, with at most the currency's minor unit of decimals.
    pub amount: String,
    /// ISO 4217.
    pub currency: String,
    /// At most 500 characters.
    #[serde(default)]
    pub note: Option<String>,
}
