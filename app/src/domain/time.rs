//! Timestamps as Smartcar sends them: epoch milliseconds, sometimes ISO-8601 strings,
//! and `0` (or nothing) for "unknown".

use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// A known instant in epoch milliseconds. Zero and negative values are "unknown" in
/// Smartcar's data and never become an `EpochMs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct EpochMs(i64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimeError {
    #[error("timestamp {0} is not after 1970-01-01 (0 means unknown)")]
    NotPositive(i64),
    #[error("timestamp {0} is beyond the year 9999")]
    TooLarge(i64),
}

/// 9999-12-31T23:59:59.999Z
const MAX_MS: i64 = 253_402_300_799_999;

impl EpochMs {
    /// The first valid time, 1 ms after 1970 began.
    pub const FIRST: EpochMs = EpochMs(1);

    pub fn new(ms: i64) -> Result<Self, TimeError> {
        if ms <= 0 {
            Err(TimeError::NotPositive(ms))
        } else if ms > MAX_MS {
            Err(TimeError::TooLarge(ms))
        } else {
            Ok(Self(ms))
        }
    }

    pub fn as_millis(self) -> i64 {
        self.0
    }

    pub fn to_datetime(self) -> DateTime<Utc> {
        // In range by construction, so `single()` always has a value.
        Utc.timestamp_millis_opt(self.0)
            .single()
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    pub fn from_datetime(at: DateTime<Utc>) -> Result<Self, TimeError> {
        Self::new(at.timestamp_millis())
    }

    /// Reads the forms seen in the wild: a JSON number of milliseconds, a string of
    /// digits, or an RFC 3339 string. Anything else, and 0, is unknown.
    pub fn from_json(value: &Value) -> Option<Self> {
        match value {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
                .and_then(|ms| Self::new(ms).ok()),
            Value::String(s) => Self::parse_str(s),
            _ => None,
        }
    }

    fn parse_str(s: &str) -> Option<Self> {
        let s = s.trim();
        if let Ok(ms) = s.parse::<i64>() {
            return Self::new(ms).ok();
        }
        DateTime::parse_from_rfc3339(s)
            .ok()
            .and_then(|at| Self::new(at.timestamp_millis()).ok())
    }
}

impl TryFrom<i64> for EpochMs {
    type Error = TimeError;
    fn try_from(ms: i64) -> Result<Self, TimeError> {
        Self::new(ms)
    }
}

impl From<EpochMs> for i64 {
    fn from(t: EpochMs) -> i64 {
        t.0
    }
}

/// `deserialize_with` helper: a timestamp field that never fails the whole payload.
/// An unreadable value is treated as unknown; the raw body keeps what was sent.
pub fn lenient_epoch_ms<'de, D: Deserializer<'de>>(d: D) -> Result<Option<EpochMs>, D::Error> {
    let value = lenient_scalar(d)?;
    Ok(value.as_ref().and_then(EpochMs::from_json))
}

/// A JSON string, number or boolean as a [`Value`]; `None` for null, and for an array or
/// object, which is skipped over without being built (a lenient field that gets one is
/// simply unknown).
pub fn lenient_scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    struct Scalar;
    impl<'de> serde::de::Visitor<'de> for Scalar {
        type Value = Option<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(Value::Bool(v)))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(Value::from(v)))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(Value::from(v)))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(serde_json::Number::from_f64(v).map(Value::Number))
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(Value::String(v.to_owned())))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(Value::String(v)))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            d.deserialize_any(Scalar)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Self::Value, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(
            self,
            mut map: A,
        ) -> Result<Self::Value, A::Error> {
            while map
                .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                .is_some()
            {}
            Ok(None)
        }
    }
    d.deserialize_any(Scalar)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn zero_and_negative_are_unknown() {
        assert_eq!(EpochMs::new(0), Err(TimeError::NotPositive(0)));
        assert!(EpochMs::new(-5).is_err());
        assert_eq!(EpochMs::from_json(&json!(0)), None);
    }

    #[test]
    fn absurdly_large_is_refused() {
        assert!(EpochMs::new(MAX_MS + 1).is_err());
        assert!(EpochMs::new(MAX_MS).is_ok());
    }

    #[test]
    fn reads_millis_digits_and_iso_strings() {
        let ms = 1_773_511_330_000;
        assert_eq!(
            EpochMs::from_json(&json!(ms)).map(EpochMs::as_millis),
            Some(ms)
        );
        assert_eq!(
            EpochMs::from_json(&json!("1773511330000")).map(EpochMs::as_millis),
            Some(ms)
        );
        assert_eq!(
            EpochMs::from_json(&json!("2026-03-14T18:02:10Z")).map(EpochMs::as_millis),
            Some(ms)
        );
        assert_eq!(
            EpochMs::from_json(&json!("2026-03-14T19:02:10+01:00")).map(EpochMs::as_millis),
            Some(ms)
        );
    }

    #[test]
    fn garbage_is_unknown_not_an_error() {
        assert_eq!(EpochMs::from_json(&json!("yesterday")), None);
        assert_eq!(EpochMs::from_json(&json!({"x": 1})), None);
        assert_eq!(EpochMs::from_json(&json!(null)), None);
    }

    #[test]
    fn round_trips_through_chrono() {
        let t = EpochMs::new(1_773_511_330_123).unwrap();
        assert_eq!(EpochMs::from_datetime(t.to_datetime()), Ok(t));
    }
}
