//! Turning one signal of a delivery into a reading: its code, its times, and either a
//! value in a canonical unit or the error Smartcar reported for it.

use super::ids::SignalCode;
use super::signals;
use super::time::EpochMs;
use super::units::{default_unit, SourceUnit, Unit};
use super::values::{Latitude, Longitude, StateOfCharge};
use super::webhook::{PayloadError, Signal};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The scalar a reading carries, when it has one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReadingValue {
    Number(f64),
    Bool(bool),
    Text(String),
    /// `null`, or a body with no scalar (a location, for instance): see the raw body.
    None,
}

/// A stored reading's `status` column: it carried a value, or the signal reported an
/// error. Kept as text ([`crate::domain::text`]); queries name it through this type,
/// never as a literal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
pub enum ReadingStatus {
    Ok,
    Error,
}

impl ReadingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadingStatus::Ok => "ok",
            ReadingStatus::Error => "error",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "ok" => Some(Self::Ok),
            "error" => Some(Self::Error),
            _ => None,
        }
    }
}

crate::domain::text::text_enum!(ReadingStatus, "reading status");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ReadingOutcome {
    Value {
        value: ReadingValue,
        /// The canonical unit of a number; `None` when the unit is unknown or there is
        /// no number.
        unit: Option<Unit>,
        /// The unit string as sent, if any.
        raw_unit: Option<String>,
    },
    /// Smartcar could not get this signal (`status.error`), or the value it sent is
    /// impossible (a state of charge of 140 %).
    Error {
        kind: Option<String>,
        code: Option<String>,
    },
}

/// One signal of one delivery, ready to store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reading {
    pub code: SignalCode,
    pub name: Option<String>,
    pub group: Option<String>,
    /// When the vehicle recorded the value; `None` is unknown (static facts).
    pub oem_updated_at: Option<EpochMs>,
    pub retrieved_at: Option<EpochMs>,
    pub outcome: ReadingOutcome,
    /// The signal's `body` as sent (or the `status` object for an error).
    pub body: Value,
}

impl Reading {
    pub fn from_signal(index: usize, signal: &Signal) -> Result<Reading, PayloadError> {
        let code = signal.code_at(index)?;
        let meta = signal.meta.as_ref();
        let status_error = signal.status.as_ref().and_then(|s| {
            let failed = s
                .value
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("ERROR"));
            match (&s.error, failed) {
                (Some(e), _) => Some((e.kind.clone(), e.code.clone())),
                (None, true) => Some((None, None)),
                (None, false) => None,
            }
        });
        let (outcome, body) = match (status_error, &signal.body) {
            (Some((kind, code)), _) => (
                ReadingOutcome::Error { kind, code },
                serde_json::to_value(&signal.status).unwrap_or(Value::Null),
            ),
            (None, Some(body)) => (decode_body(code.as_str(), body), body.clone()),
            (None, None) => (
                ReadingOutcome::Error {
                    kind: Some("NO_BODY".into()),
                    code: None,
                },
                Value::Null,
            ),
        };
        Ok(Reading {
            code,
            name: signal.name.clone(),
            group: signal.group.clone(),
            oem_updated_at: meta.and_then(|m| m.oem_updated_at),
            retrieved_at: meta.and_then(|m| m.retrieved_at),
            outcome,
            body,
        })
    }

    pub fn number(&self) -> Option<f64> {
        match &self.outcome {
            ReadingOutcome::Value {
                value: ReadingValue::Number(n),
                ..
            } => Some(*n),
            _ => None,
        }
    }

    pub fn is_error(&self) -> bool {
        matches!(self.outcome, ReadingOutcome::Error { .. })
    }
}

/// Where a signal keeps its main scalar: most use `value`; a few do not.
fn scalar_of<'a>(code: &str, body: &'a Value) -> Option<&'a Value> {
    let key = match code {
        signals::NOMINAL_CAPACITY => "capacity",
        signals::CHARGE_LIMITS => "activeLimit",
        _ => "value",
    };
    body.get(key)
}

fn decode_body(code: &str, body: &Value) -> ReadingOutcome {
    let raw_unit = body.get("unit").and_then(Value::as_str).map(str::to_owned);
    let (value, unit) = match scalar_of(code, body) {
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) => {
                let source = match raw_unit.as_deref() {
                    Some(u) => SourceUnit::parse(u),
                    None => default_unit(code).map(SourceUnit::canonical),
                };
                match source {
                    Some(s) => (ReadingValue::Number(s.to_canonical(x)), Some(s.unit)),
                    None => (ReadingValue::Number(x), None),
                }
            }
            None => (ReadingValue::None, None),
        },
        Some(Value::Bool(b)) => (ReadingValue::Bool(*b), None),
        Some(Value::String(s)) => (ReadingValue::Text(s.clone()), None),
        _ => (ReadingValue::None, None),
    };
    if let Some(problem) = impossible(code, &value, body) {
        return ReadingOutcome::Error {
            kind: Some("INVALID_VALUE".into()),
            code: Some(problem),
        };
    }
    ReadingOutcome::Value {
        value,
        unit,
        raw_unit,
    }
}

/// Values no vehicle can have are refused here rather than carried into sessions.
fn impossible(code: &str, value: &ReadingValue, body: &Value) -> Option<String> {
    match (code, value) {
        (signals::STATE_OF_CHARGE, ReadingValue::Number(x)) => {
            StateOfCharge::new(*x).err().map(|e| e.to_string())
        }
        (signals::ENERGY_ADDED | signals::NOMINAL_CAPACITY, ReadingValue::Number(x))
            if *x < 0.0 =>
        {
            Some(format!("negative energy {x}"))
        }
        (signals::PRECISE_LOCATION, _) => {
            let lat = body.get("latitude").and_then(Value::as_f64);
            let lon = body.get("longitude").and_then(Value::as_f64);
            match (lat, lon) {
                (Some(lat), Some(lon)) => Latitude::new(lat)
                    .err()
                    .or(Longitude::new(lon).err())
                    .map(|e| e.to_string()),
                _ => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reading(v: Value) -> Reading {
        let s: Signal = serde_json::from_value(v).unwrap();
        Reading::from_signal(0, &s).unwrap()
    }

    #[test]
    fn live_success_signal() {
        let r = reading(json!({
            "code": "charge-wattage", "name": "Wattage", "group": "Charge",
            "body": {"value": 4683, "unit": "watts"},
            "meta": {"oemUpdatedAt": 1769937933000_i64, "retrievedAt": 1769937943244_i64},
            "status": {"value": "SUCCESS"}
        }));
        assert_eq!(r.code.as_str(), "charge-wattage");
        assert_eq!(r.number(), Some(4683.0));
        assert_eq!(
            r.oem_updated_at.map(EpochMs::as_millis),
            Some(1_769_937_933_000)
        );
        assert!(matches!(
            r.outcome,
            ReadingOutcome::Value {
                unit: Some(Unit::Watt),
                ..
            }
        ));
    }

    #[test]
    fn errored_signal_has_no_value() {
        let r = reading(json!({
            "code": "charge-wattage", "name": "Wattage", "group": "Charge",
            "status": {"value": "ERROR", "error": {"type": "SERVER", "code": "INTERNAL"}}
        }));
        assert_eq!(
            r.outcome,
            ReadingOutcome::Error {
                kind: Some("SERVER".into()),
                code: Some("INTERNAL".into())
            }
        );
        assert_eq!(r.oem_updated_at, None);
    }

    #[test]
    fn null_error_code_is_accepted() {
        let r = reading(
            json!({"code": "x-y", "status": {"value": "ERROR", "error": {"type": "PERMISSION", "code": null}}}),
        );
        assert_eq!(
            r.outcome,
            ReadingOutcome::Error {
                kind: Some("PERMISSION".into()),
                code: None
            }
        );
    }

    #[test]
    fn doc_shape_without_status_and_with_old_units() {
        let r = reading(json!({
            "code": "odometer-traveleddistance", "body": {"unit": "miles", "value": 100},
            "meta": {"oemUpdatedAt": 1773520200000_i64, "fetchedAt": 1773523798000_i64}
        }));
        assert!((r.number().unwrap() - 160.9344).abs() < 1e-9);
        assert_eq!(
            r.retrieved_at.map(EpochMs::as_millis),
            Some(1_773_523_798_000)
        );
        let e = reading(
            json!({"code": "charge-energyadded", "body": {"unit": "kilowatt_hours", "value": 6.4}}),
        );
        assert_eq!(e.number(), Some(6.4));
    }

    #[test]
    fn zero_timestamps_and_empty_meta_are_unknown() {
        let r = reading(json!({
            "code": "tractionbattery-nominalcapacity",
            "body": {"capacity": 82, "unit": "kWh", "availableCapacities": []},
            "meta": {"oemUpdatedAt": 0, "retrievedAt": 0}
        }));
        assert_eq!(r.oem_updated_at, None);
        assert_eq!(r.retrieved_at, None);
        assert_eq!(r.number(), Some(82.0));
        let b = reading(json!({"code": "charge-ischarging", "body": {"value": true}, "meta": {}}));
        assert_eq!(b.oem_updated_at, None);
        assert!(matches!(
            b.outcome,
            ReadingOutcome::Value {
                value: ReadingValue::Bool(true),
                ..
            }
        ));
    }

    #[test]
    fn charge_limits_use_active_limit_which_may_be_null() {
        let r = reading(
            json!({"code": "charge-chargelimits", "body": {"values": [], "activeLimit": 80, "unit": "percent"}}),
        );
        assert_eq!(r.number(), Some(80.0));
        let n = reading(
            json!({"code": "charge-chargelimits", "body": {"values": [], "activeLimit": null}}),
        );
        assert!(matches!(
            n.outcome,
            ReadingOutcome::Value {
                value: ReadingValue::None,
                ..
            }
        ));
    }

    #[test]
    fn time_to_complete_without_unit_is_minutes() {
        let r = reading(json!({"code": "charge-timetocomplete", "body": {"value": 140}}));
        assert!(matches!(
            r.outcome,
            ReadingOutcome::Value {
                unit: Some(Unit::Minute),
                raw_unit: None,
                ..
            }
        ));
    }

    #[test]
    fn unknown_unit_keeps_the_number_unconverted() {
        let r = reading(json!({"code": "x-y", "body": {"value": 3, "unit": "furlongs"}}));
        assert_eq!(
            r.outcome,
            ReadingOutcome::Value {
                value: ReadingValue::Number(3.0),
                unit: None,
                raw_unit: Some("furlongs".into())
            }
        );
    }

    #[test]
    fn impossible_soc_is_refused_not_stored_as_value() {
        let r = reading(
            json!({"code": "tractionbattery-stateofcharge", "body": {"value": 0.82, "unit": "percent"}}),
        );
        assert!(!r.is_error(), "0.82 % is a legal (if low) percentage");
        let bad = reading(
            json!({"code": "tractionbattery-stateofcharge", "body": {"value": 140, "unit": "percent"}}),
        );
        assert!(
            matches!(bad.outcome, ReadingOutcome::Error { ref kind, .. } if kind.as_deref() == Some("INVALID_VALUE"))
        );
    }

    #[test]
    fn location_has_no_scalar_but_is_checked() {
        let ok = reading(
            json!({"code": "location-preciselocation", "body": {"latitude": 59.33, "longitude": 18.06}}),
        );
        assert!(matches!(
            ok.outcome,
            ReadingOutcome::Value {
                value: ReadingValue::None,
                ..
            }
        ));
        let bad = reading(
            json!({"code": "location-preciselocation", "body": {"latitude": 95.0, "longitude": 18.06}}),
        );
        assert!(bad.is_error());
    }

    #[test]
    fn missing_code_names_its_path() {
        let s: Signal = serde_json::from_value(json!({"body": {"value": 1}})).unwrap();
        let err = Reading::from_signal(3, &s).unwrap_err();
        assert!(
            matches!(err, PayloadError::Invalid { ref path, .. } if path == "data.signals[3].code")
        );
    }

    #[test]
    fn signal_without_body_or_status_is_an_error_reading() {
        let r = reading(json!({"code": "charge-voltage"}));
        assert!(r.is_error());
    }
}
