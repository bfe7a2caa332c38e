//! The signal codes chargelog reads meaning from. Every other code is stored as sent.

pub const IS_CHARGING: &str = "charge-ischarging";
pub const IS_CABLE_CONNECTED: &str = "charge-ischargingcableconnected";
pub const DETAILED_CHARGING_STATUS: &str = "charge-detailedchargingstatus";
pub const ENERGY_ADDED: &str = "charge-energyadded";
pub const WATTAGE: &str = "charge-wattage";
pub const AMPERAGE: &str = "charge-amperage";
pub const VOLTAGE: &str = "charge-voltage";
pub const CHARGE_LIMITS: &str = "charge-chargelimits";
pub const ACTIVE_LIMIT: &str = "charge-activelimit";
pub const TIME_TO_COMPLETE: &str = "charge-timetocomplete";
pub const STATE_OF_CHARGE: &str = "tractionbattery-stateofcharge";
pub const RANGE: &str = "tractionbattery-range";
pub const NOMINAL_CAPACITY: &str = "tractionbattery-nominalcapacity";
pub const PRECISE_LOCATION: &str = "location-preciselocation";
pub const ODOMETER: &str = "odometer-traveleddistance";
pub const IS_FAST_CHARGER_PRESENT: &str = "charge-isfastchargerpresent";

/// The codes the fleet overview needs from each vehicle's latest state.
pub const FLEET_OVERVIEW: [&str; 6] = [
    STATE_OF_CHARGE,
    IS_CHARGING,
    IS_CABLE_CONNECTED,
    RANGE,
    WATTAGE,
    PRECISE_LOCATION,
];
