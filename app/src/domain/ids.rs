//! Identifiers that arrive from Smartcar, parsed once at the edge.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{kind} is empty")]
    Empty { kind: &'static str },
    #[error("{kind} is longer than {max} characters")]
    TooLong { kind: &'static str, max: usize },
    #[error("{kind} contains whitespace or a control character")]
    BadCharacter { kind: &'static str },
    #[error("signal code {0:?} may only hold letters, digits, '-', '_' and '.'")]
    BadSignalCode(String),
}

fn opaque_id(kind: &'static str, raw: &str, max: usize) -> Result<String, IdError> {
    let s = raw.trim();
    if s.is_empty() {
        return Err(IdError::Empty { kind });
    }
    if s.chars().count() > max {
        return Err(IdError::TooLong { kind, max });
    }
    if s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(IdError::BadCharacter { kind });
    }
    Ok(s.to_owned())
}

macro_rules! opaque_id_type {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $max:literal) => {
        $(#[$doc])*
        ///
        /// On the server it is also a column value, so queries can read ids as this
        /// type; a stored id is trusted as it was checked before it was stored.
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "ssr", derive(sea_orm::DeriveValueType))]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                opaque_id($kind, raw, $max).map(Self)
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

opaque_id_type!(
    /// Smartcar's vehicle id (a UUID in practice; treated as opaque text).
    VehicleId,
    "vehicle id",
    128
);
opaque_id_type!(
    /// Smartcar's `eventId`: stable across retries, so it is the idempotency key.
    EventId,
    "event id",
    256
);

/// A signal's kebab-case code, such as `charge-ischarging`; lower-cased on parse.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SignalCode(String);

impl SignalCode {
    pub fn parse(raw: &str) -> Result<Self, IdError> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(IdError::Empty {
                kind: "signal code",
            });
        }
        if s.len() > 128 {
            return Err(IdError::TooLong {
                kind: "signal code",
                max: 128,
            });
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(IdError::BadSignalCode(s.to_owned()));
        }
        Ok(Self(s.to_ascii_lowercase()))
    }

    /// `("Charge", "IsCharging")` becomes `charge-ischarging`, as the spec maps them.
    pub fn from_group_name(group: &str, name: &str) -> Result<Self, IdError> {
        Self::parse(&format!("{}-{}", group.trim(), name.trim()))
    }

    /// The dotted form `Charge.IsCharging` seen in older triggers and error lists.
    pub fn from_dotted(dotted: &str) -> Result<Self, IdError> {
        match dotted.split_once('.') {
            Some((group, name)) if !group.trim().is_empty() && !name.trim().is_empty() => {
                Self::from_group_name(group, name)
            }
            _ => Self::parse(dotted),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SignalCode {
    type Error = IdError;
    fn try_from(raw: String) -> Result<Self, IdError> {
        Self::parse(&raw)
    }
}

impl From<SignalCode> for String {
    fn from(code: SignalCode) -> String {
        code.0
    }
}

impl fmt::Display for SignalCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vehicle_id_is_trimmed_and_kept() {
        let id = VehicleId::parse(" 3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60 ").unwrap();
        assert_eq!(id.as_str(), "3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60");
    }

    #[test]
    fn empty_vehicle_id_is_refused() {
        assert_eq!(
            VehicleId::parse("  "),
            Err(IdError::Empty { kind: "vehicle id" })
        );
    }

    #[test]
    fn vehicle_id_with_inner_space_or_control_is_refused() {
        assert!(VehicleId::parse("a b").is_err());
        assert!(VehicleId::parse("a\u{0}b").is_err());
    }

    #[test]
    fn overlong_ids_are_refused() {
        assert!(VehicleId::parse(&"x".repeat(129)).is_err());
        assert!(VehicleId::parse(&"x".repeat(128)).is_ok());
        assert!(EventId::parse(&"e".repeat(257)).is_err());
    }

    #[test]
    fn signal_code_is_lower_cased() {
        assert_eq!(
            SignalCode::parse("Charge-IsCharging").unwrap().as_str(),
            "charge-ischarging"
        );
    }

    #[test]
    fn signal_code_from_group_and_name() {
        assert_eq!(
            SignalCode::from_group_name("Charge", "IsCharging")
                .unwrap()
                .as_str(),
            "charge-ischarging"
        );
        assert_eq!(
            SignalCode::from_dotted("TractionBattery.StateOfCharge")
                .unwrap()
                .as_str(),
            "tractionbattery-stateofcharge"
        );
    }

    #[test]
    fn signal_code_with_spaces_or_slashes_is_refused() {
        assert!(SignalCode::parse("charge ischarging").is_err());
        assert!(SignalCode::parse("charge/x").is_err());
        assert!(SignalCode::parse("").is_err());
    }

    #[test]
    fn ids_deserialize_through_their_constructor() {
        let bad: Result<VehicleId, _> = serde_json::from_str("\"\"");
        assert!(bad.is_err());
        let good: SignalCode = serde_json::from_str("\"CHARGE-WATTAGE\"").unwrap();
        assert_eq!(good.as_str(), "charge-wattage");
    }
}
