//! What an operator would set up around a simulated fleet, as the API's JSON: each
//! vehicle's overnight spot as a place (every third a depot, the rest homes), a fleet
//! departure schedule (weekdays at 07:00, weekends at 09:30, needing 85 %, so the
//! vehicles whose charge limit is 80 % show what a limit too low looks like), and one
//! vehicle with no departures. Demo mode stores it directly; `chargelog simulate
//! --api-token` sends it to the server it delivers to.

use super::VehicleInfo;
use serde_json::{json, Value};

/// The charge the demo's departures need.
pub const REQUIRED_SOC: u8 = 85;

#[derive(Debug, Clone, PartialEq)]
pub struct Arrangement {
    /// Bodies for `POST /api/v1/places`.
    pub places: Vec<Value>,
    /// The body for `PUT /api/v1/schedules/default`.
    pub fleet_schedule: Value,
    /// A vehicle that keeps no departures, and its body for
    /// `PUT /api/v1/vehicles/{id}/schedule`.
    pub no_departures: Option<(String, Value)>,
}

pub fn arrangement(vehicles: &[VehicleInfo], timezone: &str) -> Arrangement {
    let places = vehicles
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let kind = if i % 3 == 0 { "depot" } else { "home" };
            json!({
                "name": format!("{} {} {kind} {}", v.make, v.model, i + 1),
                "kind": kind,
                "latitude": v.home_latitude,
                "longitude": v.home_longitude,
                "radius_m": 300.0,
            })
        })
        .collect();
    let schedule = |departures: Value| json!({"timezone": timezone, "required_soc": REQUIRED_SOC, "departures": departures});
    Arrangement {
        places,
        fleet_schedule: schedule(json!([
            {"days": ["mon", "tue", "wed", "thu", "fri"], "time": "07:00"},
            {"days": ["sat", "sun"], "time": "09:30"},
        ])),
        no_departures: vehicles
            .last()
            .filter(|_| vehicles.len() > 3)
            .map(|v| (v.id.clone(), schedule(json!([])))),
    }
}
