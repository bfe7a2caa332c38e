//! What an operator would set up around a simulated fleet, as the API's JSON: the depot
//! where every third vehicle charges, each other vehicle's home as a place, a fleet
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

/// The depot (Hammarby, Stockholm): its vehicles' bays lie within 200 m north of it.
pub const DEPOT: (f64, f64) = (59.3030, 18.1010);
pub const DEPOT_NAME: &str = "Depot Hammarby";

/// Whether the fleet's `index`-th vehicle charges at the depot: every third, from the first.
pub fn at_depot(index: usize) -> bool {
    index.is_multiple_of(3)
}

pub fn arrangement(vehicles: &[VehicleInfo], timezone: &str) -> Arrangement {
    let depot = (!vehicles.is_empty()).then(|| {
        json!({
            "name": DEPOT_NAME,
            "kind": "depot",
            "latitude": DEPOT.0 + 0.000_9,
            "longitude": DEPOT.1,
            "radius_m": 300.0,
            "timezone": timezone,
        })
    });
    let homes = vehicles
        .iter()
        .enumerate()
        .filter(|(i, _)| !at_depot(*i))
        .map(|(i, v)| {
            json!({
                "name": format!("{} {} home {}", v.make, v.model, i + 1),
                "kind": "home",
                "latitude": v.home_latitude,
                "longitude": v.home_longitude,
                "radius_m": 300.0,
            })
        });
    let places = depot.into_iter().chain(homes).collect();
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
