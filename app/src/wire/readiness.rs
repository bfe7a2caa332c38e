//! The JSON shapes of departure schedules (`/api/v1/schedules/default`,
//! `/api/v1/vehicles/{id}/schedule`) and of the readiness board (`/api/v1/readiness`).

use super::PlaceRef;
use crate::domain::readiness::{Confidence, Input, Status};
use crate::domain::schedule::{Departure, Schedule, ScheduleSource};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The schedule a vehicle follows, and where it comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VehicleSchedule {
    pub vehicle_id: String,
    /// `vehicle`: its own; `fleet`: the fleet default; absent: it follows none.
    pub source: Option<ScheduleSource>,
    pub timezone: Option<String>,
    pub required_soc: Option<u8>,
    pub departures: Vec<Departure>,
    /// The first departure after now (absent when it has none).
    pub next_departure: Option<DateTime<Utc>>,
}

impl VehicleSchedule {
    pub fn new(
        vehicle_id: String,
        found: Option<(Schedule, ScheduleSource)>,
        now: DateTime<Utc>,
    ) -> Self {
        match found {
            None => VehicleSchedule {
                vehicle_id,
                source: None,
                timezone: None,
                required_soc: None,
                departures: Vec::new(),
                next_departure: None,
            },
            Some((schedule, source)) => VehicleSchedule {
                vehicle_id,
                source: Some(source),
                next_departure: schedule.next_departure(now),
                timezone: Some(schedule.timezone),
                required_soc: Some(schedule.required_soc),
                departures: schedule.departures,
            },
        }
    }
}

/// One vehicle on the readiness board.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReadinessItem {
    pub vehicle_id: String,
    /// Make, model and year, as far as known.
    pub name: Option<String>,
    pub status: Status,
    pub next_departure: Option<DateTime<Utc>>,
    pub required_soc: Option<f64>,
    /// The state of charge it last reported, and when it was true.
    pub soc_now: Option<f64>,
    pub soc_at: Option<DateTime<Utc>>,
    /// At the next departure, as things stand (a vehicle not charging keeps what it has).
    pub predicted_soc: Option<f64>,
    pub confidence: Option<Confidence>,
    /// What the prediction used (`power_now`, `median_power_here`, `default_capacity`, …).
    pub inputs: Vec<Input>,
    pub plugged: Option<bool>,
    pub charging: Option<bool>,
    pub power_kw: Option<f64>,
    pub charge_limit: Option<f64>,
    /// The place it is at, if its position is inside one.
    pub place: Option<PlaceRef>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Seconds since the newest thing it reported was true (`oemUpdatedAt`).
    pub data_age_s: Option<i64>,
    /// When this verdict was reached.
    pub evaluated_at: DateTime<Utc>,
}

/// How many vehicles have a status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct StatusCount {
    pub status: Status,
    pub vehicles: u64,
}

/// One page of the readiness board, most urgent first: by status (`at_risk`,
/// `not_plugged`, `plugged_not_charging`, `limit_too_low`, `no_data`, `on_track`,
/// `ready`, `no_schedule`), then the soonest departure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ReadinessBoard {
    pub vehicles: Vec<ReadinessItem>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// Every status with at least one vehicle, over the whole fleet, in the board's order.
    pub counts: Vec<StatusCount>,
}

/// The settings page's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SettingsView {
    /// The fleet default schedule, if one is set.
    pub schedule: Option<Schedule>,
    /// The server's zone, offered for a new schedule.
    pub default_timezone: String,
    /// Each alert rule's switch and threshold.
    pub alerts: crate::domain::alerts::Settings,
}

/// The vehicle page's schedule card: what it follows, its verdict, the zone to offer.
/// Apart from the page's island data, so the browser code never decodes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleScheduleView {
    pub schedule: VehicleSchedule,
    /// Its verdict on the readiness board (none before it is first evaluated).
    pub readiness: Option<ReadinessItem>,
    /// The server's zone, offered for a schedule of its own.
    pub default_timezone: String,
}
