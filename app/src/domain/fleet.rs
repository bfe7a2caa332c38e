//! What the fleet page shows: plain data, the same on server and browser.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A vehicle's latest known state, each value from the newest reading of its signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleSummary {
    pub id: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub soc_percent: Option<f64>,
    pub is_charging: Option<bool>,
    pub is_plugged_in: Option<bool>,
    pub range_km: Option<f64>,
    pub power_kw: Option<f64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The newest `oemUpdatedAt` of any of the vehicle's readings.
    pub updated_at: Option<DateTime<Utc>>,
    /// When chargelog last received a delivery for this vehicle.
    pub last_delivery_at: DateTime<Utc>,
}

/// Charging, plugged in, or neither, as the status column shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeStatus {
    Charging,
    Plugged,
    Idle,
    Unknown,
}

impl VehicleSummary {
    pub fn display_name(&self) -> String {
        let parts: Vec<String> = [
            self.year.map(|y| y.to_string()),
            self.make.clone(),
            self.model.clone(),
        ]
        .into_iter()
        .flatten()
        .collect();
        if parts.is_empty() {
            self.id.clone()
        } else {
            parts.join(" ")
        }
    }

    pub fn status(&self) -> ChargeStatus {
        match (self.is_charging, self.is_plugged_in) {
            (Some(true), _) => ChargeStatus::Charging,
            (_, Some(true)) => ChargeStatus::Plugged,
            (Some(false), _) | (_, Some(false)) => ChargeStatus::Idle,
            (None, None) => ChargeStatus::Unknown,
        }
    }
}

impl ChargeStatus {
    pub fn label(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "Charging",
            ChargeStatus::Plugged => "Plugged in",
            ChargeStatus::Idle => "Idle",
            ChargeStatus::Unknown => "Unknown",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "status status-charging",
            ChargeStatus::Plugged => "status status-plugged",
            ChargeStatus::Idle => "status status-idle",
            ChargeStatus::Unknown => "status status-unknown",
        }
    }
}

/// The fleet page's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetOverview {
    pub vehicles: Vec<VehicleSummary>,
    /// Whether the server has a management token, so webhooks can be accepted.
    pub webhooks_enabled: bool,
}

/// "12.3", "80": a number with at most one decimal, no trailing ".0".
pub fn format_number(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// "2 h 13 min", "45 min", "0 min".
pub fn format_duration(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary() -> VehicleSummary {
        VehicleSummary {
            id: "v1".into(),
            make: Some("POLESTAR".into()),
            model: Some("Polestar 2".into()),
            year: Some(2023),
            soc_percent: None,
            is_charging: None,
            is_plugged_in: None,
            range_km: None,
            power_kw: None,
            latitude: None,
            longitude: None,
            updated_at: None,
            last_delivery_at: DateTime::<Utc>::MIN_UTC,
        }
    }

    #[test]
    fn display_name_joins_year_make_model_or_falls_back_to_id() {
        assert_eq!(summary().display_name(), "2023 POLESTAR Polestar 2");
        let bare = VehicleSummary {
            make: None,
            model: None,
            year: None,
            ..summary()
        };
        assert_eq!(bare.display_name(), "v1");
    }

    #[test]
    fn charging_wins_over_plugged() {
        let s = VehicleSummary {
            is_charging: Some(true),
            is_plugged_in: Some(true),
            ..summary()
        };
        assert_eq!(s.status(), ChargeStatus::Charging);
        let p = VehicleSummary {
            is_charging: Some(false),
            is_plugged_in: Some(true),
            ..summary()
        };
        assert_eq!(p.status(), ChargeStatus::Plugged);
        let i = VehicleSummary {
            is_charging: Some(false),
            is_plugged_in: Some(false),
            ..summary()
        };
        assert_eq!(i.status(), ChargeStatus::Idle);
        assert_eq!(summary().status(), ChargeStatus::Unknown);
    }

    #[test]
    fn durations_read_as_hours_and_minutes() {
        assert_eq!(format_duration(8000), "2 h 13 min");
        assert_eq!(format_duration(2700), "45 min");
        assert_eq!(format_duration(7200), "2 h");
        assert_eq!(format_duration(-5), "0 min");
    }

    #[test]
    fn numbers_keep_one_decimal_at_most() {
        assert_eq!(format_number(80.0), "80");
        assert_eq!(format_number(10.85), "10.9");
        assert_eq!(format_number(0.04), "0");
        assert_eq!(format_number(-3.24), "-3.2");
    }
}
