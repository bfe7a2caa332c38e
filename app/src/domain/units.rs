//! Units as Smartcar spells them (the spelling changed between document versions and
//! differs from live data), normalised to one canonical metric unit per quantity.

use serde::{Deserialize, Serialize};

/// The canonical unit a normalised value is stored in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Unit {
    Percent,
    KilowattHour,
    Kilometre,
    Watt,
    Ampere,
    Volt,
    KilometrePerHour,
    Minute,
    Kilopascal,
    Litre,
    Celsius,
    Degree,
}

impl Unit {
    /// The short symbol stored in the database and shown in the UI.
    pub fn symbol(self) -> &'static str {
        match self {
            Unit::Percent => "%",
            Unit::KilowattHour => "kWh",
            Unit::Kilometre => "km",
            Unit::Watt => "W",
            Unit::Ampere => "A",
            Unit::Volt => "V",
            Unit::KilometrePerHour => "km/h",
            Unit::Minute => "min",
            Unit::Kilopascal => "kPa",
            Unit::Litre => "L",
            Unit::Celsius => "°C",
            Unit::Degree => "°",
        }
    }

    pub fn from_symbol(symbol: &str) -> Option<Unit> {
        ALL.iter().copied().find(|u| u.symbol() == symbol)
    }
}

const ALL: [Unit; 12] = [
    Unit::Percent,
    Unit::KilowattHour,
    Unit::Kilometre,
    Unit::Watt,
    Unit::Ampere,
    Unit::Volt,
    Unit::KilometrePerHour,
    Unit::Minute,
    Unit::Kilopascal,
    Unit::Litre,
    Unit::Celsius,
    Unit::Degree,
];

/// How a value in a source unit becomes the canonical unit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Conversion {
    Scale(f64),
    FahrenheitToCelsius,
}

/// A unit string as received, resolved to its canonical unit and conversion.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SourceUnit {
    pub unit: Unit,
    conversion: Conversion,
}

const MILE_KM: f64 = 1.609_344;

impl SourceUnit {
    /// Resolves a unit string (case-insensitive). `None` for a spelling we do not know:
    /// the caller then keeps the number as sent, with its raw unit, unconverted.
    pub fn parse(raw: &str) -> Option<SourceUnit> {
        use Conversion::*;
        let key = raw.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        let (unit, conversion) = match key.as_str() {
            "percent" | "%" | "percentage" | "pct" => (Unit::Percent, Scale(1.0)),
            "kwh" | "kilowatt_hours" | "kilowatt_hour" | "kwhr" | "kilowatthours" => {
                (Unit::KilowattHour, Scale(1.0))
            }
            "wh" | "watt_hours" | "watt_hour" => (Unit::KilowattHour, Scale(0.001)),
            "km" | "kilometers" | "kilometres" | "kilometer" | "kilometre" => {
                (Unit::Kilometre, Scale(1.0))
            }
            "miles" | "mile" | "mi" => (Unit::Kilometre, Scale(MILE_KM)),
            "m" | "meters" | "metres" => (Unit::Kilometre, Scale(0.001)),
            "w" | "watts" | "watt" => (Unit::Watt, Scale(1.0)),
            "kw" | "kilowatts" | "kilowatt" => (Unit::Watt, Scale(1000.0)),
            "a" | "ampere" | "amperes" | "amps" | "amp" => (Unit::Ampere, Scale(1.0)),
            "v" | "volts" | "volt" => (Unit::Volt, Scale(1.0)),
            "km/h" | "kph" | "kmh" | "kilometers_per_hour" | "kilometres_per_hour" => {
                (Unit::KilometrePerHour, Scale(1.0))
            }
            "mph" | "miles_per_hour" | "mi/h" => (Unit::KilometrePerHour, Scale(MILE_KM)),
            "min" | "mins" | "minutes" | "minute" => (Unit::Minute, Scale(1.0)),
            "h" | "hr" | "hours" | "hour" => (Unit::Minute, Scale(60.0)),
            "s" | "sec" | "seconds" | "second" => (Unit::Minute, Scale(1.0 / 60.0)),
            "kpa" | "kilopascals" | "kilopascal" => (Unit::Kilopascal, Scale(1.0)),
            "psi" => (Unit::Kilopascal, Scale(6.894_757_293_168)),
            "bar" => (Unit::Kilopascal, Scale(100.0)),
            "l" | "liters" | "litres" | "liter" | "litre" => (Unit::Litre, Scale(1.0)),
            "gallons" | "gallon" | "gal" => (Unit::Litre, Scale(3.785_411_784)),
            "c" | "celsius" | "°c" | "degrees_celsius" => (Unit::Celsius, Scale(1.0)),
            "f" | "fahrenheit" | "°f" | "degrees_fahrenheit" => {
                (Unit::Celsius, FahrenheitToCelsius)
            }
            "degrees" | "degree" | "deg" | "°" => (Unit::Degree, Scale(1.0)),
            _ => return None,
        };
        Some(SourceUnit { unit, conversion })
    }

    /// The source unit that is already canonical.
    pub fn canonical(unit: Unit) -> SourceUnit {
        SourceUnit {
            unit,
            conversion: Conversion::Scale(1.0),
        }
    }

    pub fn to_canonical(self, value: f64) -> f64 {
        match self.conversion {
            Conversion::Scale(f) => value * f,
            Conversion::FahrenheitToCelsius => (value - 32.0) * 5.0 / 9.0,
        }
    }
}

/// The unit a signal's value is in when its body names none (Smartcar's documented
/// defaults; `charge-timetocomplete` usually comes without one).
pub fn default_unit(code: &str) -> Option<Unit> {
    Some(match code {
        "tractionbattery-stateofcharge" | "charge-chargelimits" | "charge-activelimit" => {
            Unit::Percent
        }
        "charge-energyadded" | "tractionbattery-nominalcapacity" => Unit::KilowattHour,
        "tractionbattery-range" | "odometer-traveleddistance" => Unit::Kilometre,
        "charge-wattage" => Unit::Watt,
        "charge-amperage" | "charge-amperagemax" | "charge-amperagerequested" => Unit::Ampere,
        "charge-voltage" => Unit::Volt,
        "charge-chargerate" => Unit::KilometrePerHour,
        "charge-timetocomplete" => Unit::Minute,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn convert(raw: &str, v: f64) -> (Unit, f64) {
        let u = SourceUnit::parse(raw).unwrap();
        (u.unit, u.to_canonical(v))
    }

    #[test]
    fn energy_aliases_are_kwh() {
        for raw in ["kWh", "kilowatt_hours", "kWhr", "KWH"] {
            assert_eq!(convert(raw, 6.4), (Unit::KilowattHour, 6.4), "{raw}");
        }
        let (u, v) = convert("Wh", 1500.0);
        assert_eq!(u, Unit::KilowattHour);
        assert!((v - 1.5).abs() < 1e-12);
    }

    #[test]
    fn miles_become_kilometres() {
        let (u, v) = convert("miles", 100.0);
        assert_eq!(u, Unit::Kilometre);
        assert!((v - 160.9344).abs() < 1e-9);
        assert_eq!(convert("kilometers", 5.0), (Unit::Kilometre, 5.0));
    }

    #[test]
    fn speed_current_power_aliases() {
        let (u, v) = convert("miles_per_hour", 10.0);
        assert_eq!(u, Unit::KilometrePerHour);
        assert!((v - 16.09344).abs() < 1e-9);
        assert_eq!(convert("amps", 16.0), (Unit::Ampere, 16.0));
        assert_eq!(convert("ampere", 16.0), (Unit::Ampere, 16.0));
        assert_eq!(convert("kW", 11.0), (Unit::Watt, 11_000.0));
        assert_eq!(convert("watts", 4683.0), (Unit::Watt, 4683.0));
    }

    #[test]
    fn fahrenheit_is_affine() {
        let (u, v) = convert("fahrenheit", 212.0);
        assert_eq!(u, Unit::Celsius);
        assert!((v - 100.0).abs() < 1e-9);
    }

    #[test]
    fn unknown_spelling_is_not_guessed() {
        assert_eq!(SourceUnit::parse("furlongs"), None);
    }

    #[test]
    fn symbols_round_trip() {
        for u in ALL {
            assert_eq!(Unit::from_symbol(u.symbol()), Some(u));
        }
    }

    #[test]
    fn time_to_complete_defaults_to_minutes() {
        assert_eq!(default_unit("charge-timetocomplete"), Some(Unit::Minute));
        assert_eq!(default_unit("closure-islocked"), None);
    }
}
