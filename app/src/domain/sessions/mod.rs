//! Charging sessions, derived from a vehicle's readings by a pure, deterministic engine.
//!
//! The same readings in any order, any number of times, give the same sessions: the
//! engine sorts and de-duplicates its input before it looks at it, and every tie is
//! broken by value, never by arrival.

mod energy;
pub use energy::MAX_CURVE_POINTS;
mod engine;
#[cfg(test)]
mod tests;
mod touched;

pub use engine::{derive, derive_from, Resume};
pub use touched::{new_capacity, repeat_times, touched, Touched};

use crate::domain::time::EpochMs;
use serde::{Deserialize, Serialize};

/// One reading as the engine sees it. Errored readings are not given to the engine: a
/// failed signal only leaves a gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Observation {
    /// `None` for readings without an OEM time (static facts such as nominal capacity):
    /// they never order, start or end anything.
    pub at: Option<EpochMs>,
    pub code: String,
    pub value: ObservedValue,
    /// The delivery carried a FIRST_DELIVERY trigger.
    pub first_delivery: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ObservedValue {
    Number(f64),
    Bool(bool),
    Text(String),
    Location { latitude: f64, longitude: f64 },
}

/// The kind of value the engine reads from a signal. A reading of another kind (a text
/// where a bool belongs, a number where coordinates do) tells it nothing, and must not
/// hide an earlier reading that does: the full derivation and the incremental one (which
/// looks up each signal's last reading before where it resumes) must both skip it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    Number,
    Bool,
    Text,
    Location,
}

impl ValueKind {
    /// `None` for a signal the engine does not read.
    pub fn of_signal(code: &str) -> Option<ValueKind> {
        use crate::domain::signals::*;
        Some(match code {
            IS_CHARGING | IS_CABLE_CONNECTED | IS_FAST_CHARGER_PRESENT => ValueKind::Bool,
            DETAILED_CHARGING_STATUS => ValueKind::Text,
            PRECISE_LOCATION => ValueKind::Location,
            ENERGY_ADDED | WATTAGE | STATE_OF_CHARGE | RANGE | NOMINAL_CAPACITY | CHARGE_LIMITS
            | ACTIVE_LIMIT => ValueKind::Number,
            _ => return None,
        })
    }
}

impl ObservedValue {
    pub fn number(&self) -> Option<f64> {
        match self {
            ObservedValue::Number(n) => Some(*n),
            _ => None,
        }
    }

    pub fn boolean(&self) -> Option<bool> {
        match self {
            ObservedValue::Bool(b) => Some(*b),
            _ => None,
        }
    }

    /// A total order key, so duplicates and conflicts resolve the same way every time.
    fn sort_key(&self) -> (u8, u64, u64, &str) {
        match self {
            ObservedValue::Number(n) => (0, n.to_bits(), 0, ""),
            ObservedValue::Bool(b) => (1, u64::from(*b), 0, ""),
            ObservedValue::Text(t) => (2, 0, 0, t.as_str()),
            ObservedValue::Location {
                latitude,
                longitude,
            } => (3, latitude.to_bits(), longitude.to_bits(), ""),
        }
    }
}

/// The engine's tunables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineConfig {
    /// A pause shorter than this, cable connected throughout, stays in the session.
    /// 0 turns merging off.
    pub merge_gap_ms: i64,
    /// A charging session that hears nothing for this long is closed as stale.
    pub stale_after_ms: i64,
    /// Power samples further apart than this are not integrated across.
    pub power_gap_ms: i64,
}

impl EngineConfig {
    /// The stale rule, the one place it is written: a session still charging whose last
    /// reading came at `last_reading_ms` has gone stale at `now_ms` once it has heard
    /// nothing for longer than [`EngineConfig::stale_after_ms`]. It is then closed at
    /// that last reading. The engine, the pages and the sweep all judge by it.
    pub fn is_stale(&self, last_reading_ms: i64, now_ms: i64) -> bool {
        now_ms - last_reading_ms > self.stale_after_ms
    }

    /// The rule as a bound for a query: a charging session is stale at `now_ms` when its
    /// last reading came before this.
    pub fn stale_before(&self, now_ms: i64) -> i64 {
        now_ms - self.stale_after_ms
    }
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            merge_gap_ms: 10 * 60 * 1000,
            stale_after_ms: 12 * 60 * 60 * 1000,
            power_gap_ms: 15 * 60 * 1000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    Charging,
    Completed,
    Stale,
}

impl SessionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Charging => "charging",
            SessionStatus::Completed => "completed",
            SessionStatus::Stale => "stale",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "charging" => Some(Self::Charging),
            "completed" => Some(Self::Completed),
            "stale" => Some(Self::Stale),
            _ => None,
        }
    }
}

crate::domain::text::text_enum!(SessionStatus, "session status");

/// Which method gave `energy_added_kwh`, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum EnergySource {
    Counter,
    Power,
    Soc,
}

impl EnergySource {
    pub fn as_str(self) -> &'static str {
        match self {
            EnergySource::Counter => "counter",
            EnergySource::Power => "power",
            EnergySource::Soc => "soc",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "counter" => Some(Self::Counter),
            "power" => Some(Self::Power),
            "soc" => Some(Self::Soc),
            _ => None,
        }
    }
}

crate::domain::text::text_enum!(EnergySource, "energy source");

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType, utoipa::ToSchema),
    sea_orm(value_type = "String")
)]
pub enum ChargerType {
    #[serde(rename = "AC")]
    Ac,
    #[serde(rename = "DC")]
    Dc,
}

impl ChargerType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargerType::Ac => "AC",
            ChargerType::Dc => "DC",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "AC" => Some(Self::Ac),
            "DC" => Some(Self::Dc),
            _ => None,
        }
    }
}

crate::domain::text::text_enum!(ChargerType, "charger type");

/// A span of active charging inside a session; a merged pause separates two of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChargingInterval {
    pub start: EpochMs,
    /// `None` while charging continues.
    pub end: Option<EpochMs>,
}

/// One charging session, as the engine derives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    /// `{vehicle}:{started_at ms}`: the same on every re-derivation.
    pub id: String,
    pub status: SessionStatus,
    pub started_at: EpochMs,
    /// `None` while charging.
    pub ended_at: Option<EpochMs>,
    /// False when the vehicle was already charging when first seen.
    pub start_observed: bool,
    /// True when the end is an inference (stale), not an observed stop.
    pub end_inferred: bool,
    pub plugged_in_at: Option<EpochMs>,
    pub unplugged_at: Option<EpochMs>,
    /// The newest reading inside the session.
    pub last_reading_at: EpochMs,
    pub intervals: Vec<ChargingInterval>,
    pub soc_start: Option<f64>,
    pub soc_end: Option<f64>,
    pub range_start_km: Option<f64>,
    pub range_end_km: Option<f64>,
    pub energy_added_kwh: Option<f64>,
    pub energy_source: Option<EnergySource>,
    /// The energy added so far (kWh) at instants (epoch ms) inside the session, from
    /// the source of `energy_added_kwh`, thinned to at most
    /// [`MAX_CURVE_POINTS`]: where in time the energy went (pricing, energy
    /// per day). Empty when the energy is unknown.
    pub energy_curve: Vec<(i64, f64)>,
    pub max_power_kw: Option<f64>,
    pub avg_power_kw: Option<f64>,
    pub charge_limit_percent: Option<f64>,
    pub charger_type: Option<ChargerType>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
}

impl Session {
    /// Seconds from start to end (or to the newest reading while charging).
    pub fn duration_s(&self) -> i64 {
        let end = self.ended_at.unwrap_or(self.last_reading_at);
        (end.as_millis() - self.started_at.as_millis()).max(0) / 1000
    }

    pub fn id_for(vehicle_id: &str, started_at: EpochMs) -> String {
        format!("{vehicle_id}:{}", started_at.as_millis())
    }
}

impl Observation {
    /// What the engine takes from a stored reading: nothing from an errored one, nor from
    /// a signal it does not read, nor a value of another kind than it reads there.
    pub fn from_reading(
        reading: &crate::domain::reading::Reading,
        first_delivery: bool,
    ) -> Option<Observation> {
        use crate::domain::reading::{ReadingOutcome, ReadingValue};
        let ReadingOutcome::Value { value, .. } = &reading.outcome else {
            return None;
        };
        let code = reading.code.as_str();
        let value = match (ValueKind::of_signal(code)?, value) {
            (ValueKind::Number, ReadingValue::Number(n)) => ObservedValue::Number(*n),
            (ValueKind::Bool, ReadingValue::Bool(b)) => ObservedValue::Bool(*b),
            (ValueKind::Text, ReadingValue::Text(t)) => ObservedValue::Text(t.clone()),
            (ValueKind::Location, _) => ObservedValue::location(code, &reading.body)?,
            _ => return None,
        };
        Some(Observation {
            at: reading.oem_updated_at,
            code: code.to_owned(),
            value,
            first_delivery,
        })
    }
}

impl ObservedValue {
    /// A location signal's coordinates from its body; `None` for any other signal.
    pub fn location(code: &str, body: &serde_json::Value) -> Option<ObservedValue> {
        if code != crate::domain::signals::PRECISE_LOCATION {
            return None;
        }
        Some(ObservedValue::Location {
            latitude: body.get("latitude")?.as_f64()?,
            longitude: body.get("longitude")?.as_f64()?,
        })
    }
}
