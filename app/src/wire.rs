//! The wire types: the JSON shapes of `/api/v1`, shared by the HTTP API and the UI's
//! server functions, built from the domain's values. Times are RFC 3339 in UTC. The
//! domain never imports them.

use crate::domain::sessions::{EngineConfig, Session, SessionStatus};
use crate::domain::time::EpochMs;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

mod alerts;
mod health;
mod pricing;
mod readiness;
mod reports;
mod site_load;
pub use alerts::*;
pub use health::*;
pub use pricing::*;
pub use readiness::*;
pub use reports::*;
pub use site_load::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LatestState {
    /// What the fleet page shows: `stale` when the newest reading is older than the
    /// stale time (`CHARGELOG_STALE_AFTER_HOURS`), else what the signals say.
    pub status: crate::domain::fleet::ChargeStatus,
    /// What the signals last said, however old.
    pub reported_status: crate::domain::fleet::ChargeStatus,
    pub stale: bool,
    pub is_charging: Option<bool>,
    pub is_plugged_in: Option<bool>,
    pub soc_percent: Option<f64>,
    pub range_km: Option<f64>,
    pub power_kw: Option<f64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VehicleItem {
    pub id: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub latest: LatestState,
    pub session_count: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct VehicleList {
    /// One page, in the requested order.
    pub vehicles: Vec<VehicleItem>,
    /// Vehicles matching `q` and `status`, on all pages.
    pub matching: u64,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionDto {
    pub id: String,
    pub vehicle_id: String,
    pub status: SessionStatus,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub start_observed: bool,
    pub end_inferred: bool,
    pub duration_s: i64,
    pub plugged_in_at: Option<DateTime<Utc>>,
    pub unplugged_at: Option<DateTime<Utc>>,
    pub soc_start: Option<f64>,
    pub soc_end: Option<f64>,
    pub range_start_km: Option<f64>,
    pub range_end_km: Option<f64>,
    pub energy_added_kwh: Option<f64>,
    pub energy_source: Option<String>,
    pub max_power_kw: Option<f64>,
    pub avg_power_kw: Option<f64>,
    pub charge_limit_percent: Option<f64>,
    pub charger_type: Option<String>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The place whose circle holds its start, if any.
    #[serde(default)]
    pub place: Option<PlaceRef>,
    /// Battery energy ÷ the place's charging efficiency, when both are known.
    #[serde(default)]
    pub grid_energy_kwh: Option<f64>,
    /// `null` when no tariff covers it and no operator set one.
    #[serde(default)]
    pub cost: Option<SessionCost>,
}

impl SessionDto {
    /// A stored session as seen at `now`: one still marked charging that has heard
    /// nothing for the stale time is shown as stale, closed at its last reading, exactly
    /// as the next derivation would store it.
    pub fn from_session(
        vehicle_id: &str,
        session: &Session,
        engine: &EngineConfig,
        now: EpochMs,
    ) -> SessionDto {
        let mut s = session.clone();
        if s.status == SessionStatus::Charging
            && engine.is_stale(s.last_reading_at.as_millis(), now.as_millis())
        {
            s.status = SessionStatus::Stale;
            s.ended_at = Some(s.last_reading_at);
            s.end_inferred = true;
        }
        let dt = |t: Option<EpochMs>| t.map(EpochMs::to_datetime);
        SessionDto {
            duration_s: match s.ended_at {
                Some(_) => s.duration_s(),
                None => (now.as_millis() - s.started_at.as_millis()).max(0) / 1000,
            },
            id: s.id,
            vehicle_id: vehicle_id.to_owned(),
            status: s.status,
            started_at: s.started_at.to_datetime(),
            ended_at: dt(s.ended_at),
            start_observed: s.start_observed,
            end_inferred: s.end_inferred,
            plugged_in_at: dt(s.plugged_in_at),
            unplugged_at: dt(s.unplugged_at),
            soc_start: s.soc_start,
            soc_end: s.soc_end,
            range_start_km: s.range_start_km,
            range_end_km: s.range_end_km,
            energy_added_kwh: s.energy_added_kwh,
            energy_source: s.energy_source.map(|e| e.as_str().to_owned()),
            max_power_kw: s.max_power_kw,
            avg_power_kw: s.avg_power_kw,
            charge_limit_percent: s.charge_limit_percent,
            charger_type: s.charger_type.map(|c| c.as_str().to_owned()),
            latitude: s.latitude,
            longitude: s.longitude,
            place: None,
            grid_energy_kwh: None,
            cost: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionPage {
    pub sessions: Vec<SessionDto>,
    /// Pass as `cursor` for the next (older) page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One moment of a session's charge curve.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Sample {
    pub at: DateTime<Utc>,
    pub soc_percent: Option<f64>,
    pub power_kw: Option<f64>,
    pub energy_added_kwh: Option<f64>,
    pub voltage_v: Option<f64>,
    pub current_a: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct SessionDetail {
    #[serde(flatten)]
    pub session: SessionDto,
    pub samples: Vec<Sample>,
    /// The stored deliveries whose readings fall in the session, oldest first.
    #[serde(default)]
    pub deliveries: Vec<crate::domain::events::LogEntry>,
}

pub use crate::domain::buckets::EnergyBucket;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnergyBuckets {
    pub buckets: Vec<EnergyBucket>,
}

/// The body of every 4xx/5xx from `/api/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct ApiErrorBody {
    pub error: String,
}

/// The newest value of one signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalState {
    pub code: String,
    /// The value with its unit, ready to show ("41 %", "true", "FAST").
    pub value: String,
    pub at: Option<DateTime<Utc>>,
}

/// A signal that reported errors for a vehicle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalErrors {
    pub code: String,
    pub error_type: Option<String>,
    pub error_code: Option<String>,
    pub count: i64,
    pub last_at: Option<DateTime<Utc>>,
}

/// One VEHICLE_ERROR entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleErrorItem {
    pub reported_at: DateTime<Utc>,
    pub error_type: Option<String>,
    pub code: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub signals: Vec<String>,
}

/// The vehicle page's signals panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignalsPanel {
    pub latest: Vec<SignalState>,
    pub erroring: Vec<SignalErrors>,
    pub recent_errors: Vec<VehicleErrorItem>,
}

/// The vehicle page's data: the vehicle, one page of its sessions, its energy chart and
/// its signals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleView {
    pub vehicle: VehicleItem,
    pub sessions: SessionPage,
    pub bucket: crate::domain::buckets::Bucket,
    pub energy: Vec<EnergyBucket>,
    pub signals: SignalsPanel,
    /// The places it has sessions at, for the place filter.
    pub places: Vec<PlaceRef>,
    /// Manual costs whose session re-derivation removed: `(session id, cost)`.
    pub unattached_costs: Vec<(String, SessionCost)>,
}
