//! Snapshots as Smartcar webhook bodies (payload version 4.0), in the live shape or the
//! documentation's, with the unit spellings, error variants and quirks the spec lists.

use super::catalog::EnergyCounter;
use super::vehicle::{Profile, Snapshot, VehicleError};
use app::domain::signals;
use serde_json::{json, Map, Value};

pub const WEBHOOK_ID: &str = "5b0d3e7c-9a4f-4e2b-8c1d-6f7a8b9c0d1e";
pub const WEBHOOK_NAME: &str = "chargelog simulator";
const USER_ID: &str = "0c8f6e2a-3b1d-4c5e-9f7a-2d4b6c8e0a1f";

/// The signals every simulated delivery carries, in this order: (code, name, group).
const SIGNALS: [(&str, &str, &str); 15] = [
    (signals::IS_CHARGING, "IsCharging", "Charge"),
    (
        signals::IS_CABLE_CONNECTED,
        "IsChargingCableConnected",
        "Charge",
    ),
    (
        signals::DETAILED_CHARGING_STATUS,
        "DetailedChargingStatus",
        "Charge",
    ),
    (signals::STATE_OF_CHARGE, "StateOfCharge", "TractionBattery"),
    (signals::ENERGY_ADDED, "EnergyAdded", "Charge"),
    (signals::WATTAGE, "Wattage", "Charge"),
    (signals::AMPERAGE, "Amperage", "Charge"),
    (signals::VOLTAGE, "Voltage", "Charge"),
    (signals::CHARGE_LIMITS, "ChargeLimits", "Charge"),
    (signals::TIME_TO_COMPLETE, "TimeToComplete", "Charge"),
    (
        signals::IS_FAST_CHARGER_PRESENT,
        "IsFastChargerPresent",
        "Charge",
    ),
    (signals::RANGE, "Range", "TractionBattery"),
    (
        signals::NOMINAL_CAPACITY,
        "NominalCapacity",
        "TractionBattery",
    ),
    (signals::PRECISE_LOCATION, "PreciseLocation", "Location"),
    (signals::ODOMETER, "TraveledDistance", "Odometer"),
];

fn describe(code: &str) -> (&'static str, &'static str, &'static str) {
    SIGNALS
        .iter()
        .find(|(c, _, _)| *c == code)
        .copied()
        .unwrap_or((signals::STATE_OF_CHARGE, "StateOfCharge", "TractionBattery"))
}

/// Where a delivery stands apart from its snapshot.
#[derive(Debug, Clone)]
pub struct Envelope {
    pub event_id: String,
    pub delivery_id: String,
    pub delivered_at: i64,
    pub test_mode: bool,
}

/// Why a signal has no value in this delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    /// The vehicle cannot report it, in every delivery.
    NotCapable,
    /// It failed this time (noise).
    Server,
}

fn failure(profile: &Profile, code: &str, transient: &[&str]) -> Option<Failure> {
    let model = &profile.model;
    let not_capable = match code {
        signals::ENERGY_ADDED => model.counter == EnergyCounter::NotCapable,
        signals::WATTAGE | signals::AMPERAGE | signals::VOLTAGE => !model.reports_power,
        signals::IS_CHARGING => !model.reports_is_charging,
        signals::IS_FAST_CHARGER_PRESENT => !model.reports_power && model.make != "JAGUAR",
        _ => false,
    };
    if not_capable {
        Some(Failure::NotCapable)
    } else if transient.contains(&code) {
        Some(Failure::Server)
    } else {
        None
    }
}

fn body(code: &str, s: &Snapshot, profile: &Profile, doc: bool) -> Value {
    let kwh = if doc { "kilowatt_hours" } else { "kWh" };
    let (distance, per_km) = if doc {
        ("miles", 1.0 / 1.609_344)
    } else {
        ("km", 1.0)
    };
    match code {
        signals::IS_CHARGING => json!({ "value": s.is_charging }),
        signals::IS_CABLE_CONNECTED => json!({ "value": s.plugged }),
        signals::DETAILED_CHARGING_STATUS => json!({ "value": s.detailed.as_str() }),
        signals::STATE_OF_CHARGE => json!({ "value": s.soc, "unit": "percent" }),
        signals::ENERGY_ADDED => json!({ "value": s.counter_kwh, "unit": kwh }),
        signals::WATTAGE => json!({ "value": s.power_w, "unit": "watts" }),
        signals::AMPERAGE => {
            let amps = if s.voltage > 0.0 {
                (s.power_w / s.voltage * 10.0).round() / 10.0
            } else {
                0.0
            };
            json!({ "value": amps, "unit": if doc { "amps" } else { "ampere" } })
        }
        signals::VOLTAGE => json!({ "value": s.voltage, "unit": "volts" }),
        signals::CHARGE_LIMITS => json!({
            "values": [{ "type": "GLOBAL", "limit": profile.limit, "condition": null }],
            "activeLimit": if s.plugged { Value::from(s.limit) } else { Value::Null },
            "unit": "percent",
        }),
        signals::TIME_TO_COMPLETE => json!({ "value": s.minutes_to_complete }),
        signals::IS_FAST_CHARGER_PRESENT => json!({ "value": s.fast_charger }),
        signals::RANGE => json!({
            "value": (s.range_km * per_km).round(),
            "unit": distance,
            "additionalValues": [],
        }),
        signals::NOMINAL_CAPACITY => json!({
            "capacity": profile.model.capacity_kwh,
            "source": "SMARTCAR",
            "availableCapacities": [],
            "unit": "kWh",
        }),
        signals::PRECISE_LOCATION => json!({
            "latitude": s.latitude,
            "longitude": s.longitude,
            "heading": s.heading,
            "locationType": "CURRENT",
        }),
        _ => json!({ "value": (s.odometer_km * per_km * 10.0).round() / 10.0, "unit": distance }),
    }
}

fn vehicle(profile: &Profile) -> Value {
    json!({
        "id": profile.id,
        "make": profile.model.make,
        "model": profile.model.model,
        "year": profile.model.year,
    })
}

fn trigger(code: &str, doc: bool) -> Value {
    let (code, name, group) = describe(code);
    if doc {
        json!({ "code": code, "name": name, "group": group })
    } else {
        json!({ "type": "SIGNAL_UPDATED", "signal": { "code": code, "name": name, "group": group } })
    }
}

fn envelope_meta(envelope: &Envelope, signal_count: Option<usize>) -> Value {
    let mut meta = Map::new();
    meta.insert("deliveryId".into(), envelope.delivery_id.clone().into());
    meta.insert("deliveredAt".into(), envelope.delivered_at.into());
    meta.insert("version".into(), "4.0".into());
    meta.insert("webhookId".into(), WEBHOOK_ID.into());
    meta.insert("webhookName".into(), WEBHOOK_NAME.into());
    meta.insert(
        "mode".into(),
        if envelope.test_mode { "TEST" } else { "LIVE" }.into(),
    );
    if let Some(n) = signal_count {
        meta.insert("signalCount".into(), n.into());
    }
    Value::Object(meta)
}

/// A `VEHICLE_STATE` body. `transient` names signals that fail in this delivery.
pub fn vehicle_state(
    profile: &Profile,
    snapshot: &Snapshot,
    envelope: &Envelope,
    transient: &[&str],
) -> String {
    let doc = profile.doc_shape;
    let retrieved = snapshot.at + 1_500;
    let signals: Vec<Value> = SIGNALS
        .iter()
        .map(|(code, name, group)| {
            let mut signal = Map::new();
            signal.insert("code".into(), (*code).into());
            signal.insert("name".into(), (*name).into());
            signal.insert("group".into(), (*group).into());
            match failure(profile, code, transient) {
                Some(why) => {
                    let (kind, error_code) = match why {
                        Failure::NotCapable => ("COMPATIBILITY", "VEHICLE_NOT_CAPABLE"),
                        Failure::Server => ("SERVER", "INTERNAL"),
                    };
                    signal.insert(
                        "status".into(),
                        json!({ "value": "ERROR", "error": { "type": kind, "code": error_code } }),
                    );
                }
                None => {
                    signal.insert("body".into(), body(code, snapshot, profile, doc));
                    // Static facts carry no time (spec §5.3: both 0).
                    let (oem, fetched) = if *code == signals::NOMINAL_CAPACITY {
                        (0, 0)
                    } else {
                        (snapshot.at, retrieved)
                    };
                    let fetched_key = if doc { "fetchedAt" } else { "retrievedAt" };
                    signal.insert(
                        "meta".into(),
                        json!({ "oemUpdatedAt": oem, fetched_key: fetched }),
                    );
                    if !doc {
                        signal.insert("status".into(), json!({ "value": "SUCCESS" }));
                    }
                }
            }
            Value::Object(signal)
        })
        .collect();
    let first = snapshot.kind == super::vehicle::Kind::First;
    let triggers: Vec<Value> = if first {
        vec![if doc {
            json!({ "code": "FIRST_DELIVERY" })
        } else {
            json!({ "type": "FIRST_DELIVERY" })
        }]
    } else {
        snapshot.triggers.iter().map(|c| trigger(c, doc)).collect()
    };
    let count = signals.len();
    let user = json!({ "id": USER_ID });
    let value = if doc {
        json!({
            "eventId": envelope.event_id,
            "eventType": "VEHICLE_STATE",
            "vehicleId": profile.id,
            "data": {
                "user": user,
                "vehicle": vehicle(profile),
                "signals": signals,
                "triggers": triggers,
            },
            "meta": envelope_meta(envelope, Some(count)),
        })
    } else {
        json!({
            "eventId": envelope.event_id,
            "eventType": "VEHICLE_STATE",
            "data": { "user": user, "vehicle": vehicle(profile), "signals": signals },
            "triggers": triggers,
            "meta": envelope_meta(envelope, Some(count)),
        })
    };
    value.to_string()
}

/// A `VEHICLE_ERROR` body: the vehicle is unreachable or asleep, or that has cleared.
pub fn vehicle_error(profile: &Profile, error: &VehicleError, envelope: &Envelope) -> String {
    let mut entry = json!({
        "type": "VEHICLE_STATE",
        "code": error.code,
        "state": if error.resolved { "RESOLVED" } else { "ERROR" },
        "description": "The vehicle did not respond to the request for its signals.",
        "docURL": "https://smartcar.com/docs/errors/api-errors/vehicle-state-errors",
    });
    if !error.resolved {
        entry["suggestedUserMessage"] = "Your car is not reachable right now.".into();
        entry["resolution"] = json!({ "type": "RETRY_LATER" });
    }
    json!({
        "eventId": envelope.event_id,
        "eventType": "VEHICLE_ERROR",
        "data": {
            "user": { "id": USER_ID },
            "vehicle": vehicle(profile),
            "errors": [entry],
        },
        "meta": envelope_meta(envelope, None),
    })
    .to_string()
}
