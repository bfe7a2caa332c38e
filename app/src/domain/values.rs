//! Physical quantities with their invariants enforced in one constructor each: the
//! ones a reading is checked into (state of charge, coordinates). Energy, power and
//! distance stay `f64` with their unit in the name (`energy_added_kwh`); a newtype for
//! them is added where a value must be checked, not before.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ValueError {
    #[error("{what} must be a finite number, got {value}")]
    NotFinite { what: &'static str, value: f64 },
    #[error("{what} must be between {min} and {max}, got {value}")]
    OutOfRange {
        what: &'static str,
        value: f64,
        min: f64,
        max: f64,
    },
}

fn checked(what: &'static str, value: f64, min: f64, max: f64) -> Result<f64, ValueError> {
    if !value.is_finite() {
        return Err(ValueError::NotFinite { what, value });
    }
    if value < min || value > max {
        return Err(ValueError::OutOfRange {
            what,
            value,
            min,
            max,
        });
    }
    Ok(value)
}

macro_rules! quantity {
    ($(#[$doc:meta])* $name:ident, $what:literal, $min:expr, $max:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Serialize, Deserialize)]
        #[serde(try_from = "f64", into = "f64")]
        pub struct $name(f64);

        impl $name {
            pub fn new(value: f64) -> Result<Self, ValueError> {
                checked($what, value, $min, $max).map(Self)
            }
            pub fn get(self) -> f64 {
                self.0
            }
        }

        impl TryFrom<f64> for $name {
            type Error = ValueError;
            fn try_from(value: f64) -> Result<Self, ValueError> {
                Self::new(value)
            }
        }

        impl From<$name> for f64 {
            fn from(q: $name) -> f64 {
                q.0
            }
        }
    };
}

quantity!(
    /// State of charge in percent, 0 to 100 (never the legacy 0-1 fraction).
    StateOfCharge,
    "state of charge (%)",
    0.0,
    100.0
);
quantity!(
    /// Latitude in degrees.
    Latitude,
    "latitude (°)",
    -90.0,
    90.0
);
quantity!(
    /// Longitude in degrees.
    Longitude,
    "longitude (°)",
    -180.0,
    180.0
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn soc_accepts_0_to_100() {
        assert_eq!(StateOfCharge::new(0.0).unwrap().get(), 0.0);
        assert_eq!(StateOfCharge::new(100.0).unwrap().get(), 100.0);
        assert_eq!(StateOfCharge::new(41.5).unwrap().get(), 41.5);
    }

    #[test]
    fn soc_refuses_out_of_range_and_nan() {
        assert!(matches!(
            StateOfCharge::new(100.1),
            Err(ValueError::OutOfRange { .. })
        ));
        assert!(StateOfCharge::new(-1.0).is_err());
        assert!(matches!(
            StateOfCharge::new(f64::NAN),
            Err(ValueError::NotFinite { .. })
        ));
    }

    #[test]
    fn coordinates_are_bounded() {
        assert!(Latitude::new(90.5).is_err());
        assert!(Longitude::new(-180.5).is_err());
        assert!(Latitude::new(59.33).is_ok());
    }

    #[test]
    fn deserializing_goes_through_the_constructor() {
        assert!(serde_json::from_str::<StateOfCharge>("101").is_err());
        assert_eq!(
            serde_json::from_str::<StateOfCharge>("56").unwrap().get(),
            56.0
        );
    }
}
