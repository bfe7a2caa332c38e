//! The vehicles a simulated fleet is drawn from: real models with their battery, charging
//! limits and consumption, and how their OEM reports charging to Smartcar.

/// How a vehicle's `charge-energyadded` counter behaves (spec §8.2, pitfall 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnergyCounter {
    /// Keeps the last session's total while idle and resets when the next session starts.
    KeepsTotal,
    /// Keeps the last total until the second reading of the next session (the start
    /// snapshot still shows the old total).
    LateReset,
    /// Reads 0 whenever the vehicle is not charging.
    ZeroWhenIdle,
    /// Resets to 0 when charging resumes after a pause, inside one session.
    ResetsOnResume,
    /// The vehicle has no such counter: the signal is an error in every delivery.
    NotCapable,
}

/// One vehicle model.
#[derive(Debug, Clone, Copy)]
pub struct Model {
    pub make: &'static str,
    pub model: &'static str,
    pub year: u16,
    /// Usable battery, kWh (what `tractionbattery-nominalcapacity` reports).
    pub capacity_kwh: f64,
    /// On-board AC charger limit, kW.
    pub max_ac_kw: f64,
    /// Peak DC charging power, kW.
    pub max_dc_kw: f64,
    /// Energy per km driven, kWh.
    pub kwh_per_km: f64,
    pub counter: EnergyCounter,
    /// Whether wattage, amperage and voltage are reported (a Jaguar I-PACE has none).
    pub reports_power: bool,
    /// Whether `charge-ischarging` is reported; without it only the detailed status is.
    pub reports_is_charging: bool,
    /// Plug-in and charge start arrive as one event rather than two.
    pub batches_plug_and_charge: bool,
}

/// A model from its figures: `[capacity kWh, AC kW, DC kW, kWh per km]`.
const fn model(
    make: &'static str,
    name: &'static str,
    year: u16,
    [capacity_kwh, max_ac_kw, max_dc_kw, kwh_per_km]: [f64; 4],
    counter: EnergyCounter,
) -> Model {
    Model {
        make,
        model: name,
        year,
        capacity_kwh,
        max_ac_kw,
        max_dc_kw,
        kwh_per_km,
        counter,
        reports_power: true,
        reports_is_charging: true,
        batches_plug_and_charge: false,
    }
}

use EnergyCounter::*;

pub const MODELS: [Model; 10] = [
    model(
        "TESLA",
        "Model 3",
        2023,
        [75.0, 11.0, 250.0, 0.15],
        KeepsTotal,
    ),
    Model {
        batches_plug_and_charge: true,
        ..model(
            "VOLKSWAGEN",
            "ID.4",
            2022,
            [77.0, 11.0, 135.0, 0.18],
            LateReset,
        )
    },
    model("POLESTAR", "2", 2024, [78.0, 11.0, 205.0, 0.17], KeepsTotal),
    model(
        "Hyundai",
        "IONIQ 5",
        2023,
        [74.0, 11.0, 230.0, 0.17],
        ResetsOnResume,
    ),
    Model {
        reports_power: false,
        ..model(
            "JAGUAR",
            "I-PACE",
            2021,
            [84.7, 11.0, 100.0, 0.22],
            ZeroWhenIdle,
        )
    },
    Model {
        reports_is_charging: false,
        ..model("BYD", "SEAL", 2024, [82.5, 11.0, 150.0, 0.16], KeepsTotal)
    },
    model("RENAULT", "ZOE", 2021, [52.0, 22.0, 50.0, 0.16], KeepsTotal),
    model("NISSAN", "LEAF", 2020, [39.0, 6.6, 50.0, 0.16], NotCapable),
    Model {
        batches_plug_and_charge: true,
        ..model(
            "FORD",
            "E-Transit",
            2023,
            [68.0, 11.0, 115.0, 0.30],
            NotCapable,
        )
    },
    Model {
        reports_power: false,
        ..model("KIA", "EV6", 2023, [77.4, 11.0, 233.0, 0.18], NotCapable)
    },
];

/// Wall boxes and depot chargers, kW (single-phase 16 A up to three-phase 32 A).
pub const AC_CHARGERS_KW: [f64; 4] = [3.7, 7.4, 11.0, 22.0];
/// Fast chargers on the road, kW.
pub const DC_CHARGERS_KW: [f64; 4] = [50.0, 150.0, 250.0, 350.0];

/// DC power as a share of the peak at a state of charge: full up to 50 %, then tapering.
pub fn dc_taper(soc: f64) -> f64 {
    if soc <= 50.0 {
        1.0
    } else if soc <= 80.0 {
        1.0 - (soc - 50.0) / 30.0 * 0.6
    } else {
        (0.4 - (soc - 80.0) / 20.0 * 0.3).max(0.05)
    }
}

/// AC power as a share of the charger's: full until the battery is nearly full.
pub fn ac_taper(soc: f64) -> f64 {
    if soc <= 95.0 {
        1.0
    } else {
        (1.0 - (soc - 95.0) / 5.0 * 0.7).max(0.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tapers_fall_as_the_battery_fills() {
        assert_eq!(dc_taper(20.0), 1.0);
        assert!((dc_taper(80.0) - 0.4).abs() < 1e-9);
        assert!(dc_taper(99.0) < dc_taper(81.0));
        assert_eq!(ac_taper(90.0), 1.0);
        assert!(ac_taper(99.0) < 0.5);
    }
}
