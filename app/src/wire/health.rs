//! The data health page's data (`/health`): how each make and model, and each vehicle,
//! delivers, over the last seven UTC days.

use crate::domain::alerts::Kind;
use crate::domain::health::LagBound;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Deliveries over the window, and how late they were.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeliveryFigures {
    pub deliveries: u64,
    /// Per vehicle and day (`None` before any time has passed).
    pub per_day: Option<f64>,
    pub lag_p50: Option<LagBound>,
    pub lag_p95: Option<LagBound>,
}

/// One signal of a make and model: how many of its vehicles report a value, and how
/// many errors it has reported (ever).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupSignal {
    pub reporting: u64,
    pub errors: u64,
}

/// A make and model (either may be unknown: a vehicle that only sent errors).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GroupHealth {
    pub make: Option<String>,
    pub model: Option<String>,
    pub vehicles: u64,
    pub figures: DeliveryFigures,
    /// The oldest of its vehicles' last deliveries: the quietest one.
    pub quietest_delivery: Option<DateTime<Utc>>,
    pub open_alerts: u64,
    /// In the order of [`HealthView::signals`].
    pub signals: Vec<GroupSignal>,
}

/// One signal of a vehicle: when its newest value was observed, and its errors (ever).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VehicleSignal {
    pub reported: bool,
    pub last_at: Option<DateTime<Utc>>,
    pub errors: u64,
    /// The error types and codes it reported, as "TYPE:CODE".
    pub error_kinds: Vec<String>,
}

/// One vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleHealth {
    pub id: String,
    pub name: String,
    pub last_delivery: Option<DateTime<Utc>>,
    pub figures: DeliveryFigures,
    pub open_alerts: Vec<Kind>,
    /// In the order of [`HealthView::signals`].
    pub signals: Vec<VehicleSignal>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthView {
    /// Where the window starts (the start of the sixth UTC day before today).
    pub window_from: DateTime<Utc>,
    /// The signal codes any vehicle has reported (values or errors): the matrices' columns.
    pub signals: Vec<String>,
    /// Signal codes left out of the matrices beyond their limit.
    pub more_signals: u64,
    /// Most vehicles first.
    pub groups: Vec<GroupHealth>,
    /// Makes and models left out beyond the limit.
    pub more_groups: u64,
    /// The make and model the vehicles are filtered by.
    pub make: Option<String>,
    pub model: Option<String>,
    /// A page of vehicles, by name.
    pub vehicles: Vec<VehicleHealth>,
    /// The cursor of the next page of vehicles.
    pub next_cursor: Option<String>,
}
