//! The JSON shapes of departure schedules (`/api/v1/schedules/default`,
//! `/api/v1/vehicles/{id}/schedule`).

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
