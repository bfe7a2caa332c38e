//! One vehicle that lives in real time, for demo mode: it fast-charges, drives off,
//! arrives at the next charger and charges again, reporting every few seconds, so an open
//! page has something to show changing.

use super::catalog::{dc_taper, MODELS};
use super::payload::{self, Envelope};
use super::uuid;
use super::vehicle::{Detailed, Kind, Profile, Snapshot};
use app::domain::signals;

/// How often the live vehicle reports while charging or driving, ms.
pub const EVERY_MS: i64 = 10_000;
/// Fast charger power, kW.
const CHARGER_KW: f64 = 150.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Plugged in and charging until 80 %.
    Charging,
    /// Stopped at 80 %, still plugged in, for a few reports.
    Done(u8),
    /// Driving (the battery falls) for a number of reports.
    Driving(u8),
}

pub struct LiveVehicle {
    profile: Profile,
    rng: fastrand::Rng,
    phase: Phase,
    soc: f64,
    counter: f64,
    odometer: f64,
    position: (f64, f64),
    first: bool,
}

impl LiveVehicle {
    pub fn new(seed: u64) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed);
        let home = (59.3326, 18.0649);
        let profile = Profile {
            id: uuid(&mut rng),
            model: MODELS[2],
            home,
            home_charger_kw: 11.0,
            scheduled: false,
            limit: 80.0,
            daily_km: 150.0,
            ac_update_min: 5,
            doc_shape: false,
            misbehaviour: super::vehicle::Misbehaviour::None,
        };
        Self {
            profile,
            rng,
            phase: Phase::Charging,
            soc: 24.0,
            counter: 0.0,
            odometer: 31_250.0,
            position: home,
            first: true,
        }
    }

    pub fn id(&self) -> &str {
        &self.profile.id
    }

    /// Moves `EVERY_MS` on and returns the delivery (a body) the vehicle sends at `now`.
    pub fn tick(&mut self, now: i64) -> String {
        let capacity = self.profile.model.capacity_kwh;
        let hours = EVERY_MS as f64 / 3_600_000.0;
        let (charging, plugged, power_kw, triggers): (bool, bool, f64, Vec<&'static str>) =
            match self.phase {
                Phase::Charging => {
                    let kw = CHARGER_KW.min(self.profile.model.max_dc_kw) * dc_taper(self.soc);
                    let kwh = (kw * hours).min((80.0 - self.soc) / 100.0 * capacity);
                    self.soc += kwh / capacity * 100.0;
                    self.counter += kwh;
                    if self.soc >= 80.0 - 1e-6 {
                        self.phase = Phase::Done(3);
                        (false, true, 0.0, vec![signals::IS_CHARGING])
                    } else {
                        (true, true, kw, vec![signals::STATE_OF_CHARGE])
                    }
                }
                Phase::Done(0) => {
                    self.phase = Phase::Driving(18);
                    (false, false, 0.0, vec![signals::IS_CABLE_CONNECTED])
                }
                Phase::Done(n) => {
                    self.phase = Phase::Done(n - 1);
                    (false, true, 0.0, vec![])
                }
                Phase::Driving(0) => {
                    // At the next charger: plugged in and charging in one event.
                    self.phase = Phase::Charging;
                    self.counter = 0.0;
                    let kw = CHARGER_KW.min(self.profile.model.max_dc_kw) * dc_taper(self.soc);
                    (
                        true,
                        true,
                        kw,
                        vec![signals::IS_CABLE_CONNECTED, signals::IS_CHARGING],
                    )
                }
                Phase::Driving(n) => {
                    self.phase = Phase::Driving(n - 1);
                    let km = 2.5;
                    self.odometer += km;
                    self.soc -= km * self.profile.model.kwh_per_km / capacity * 100.0 * 6.0;
                    self.soc = self.soc.max(8.0);
                    self.position.0 += self.rng.f64() * 0.01 - 0.004;
                    self.position.1 += self.rng.f64() * 0.02 - 0.008;
                    (
                        false,
                        false,
                        0.0,
                        vec![signals::STATE_OF_CHARGE, signals::PRECISE_LOCATION],
                    )
                }
            };
        let kind = if self.first {
            Kind::First
        } else {
            Kind::Update
        };
        self.first = false;
        let snapshot = Snapshot {
            at: now,
            kind,
            triggers,
            is_charging: charging,
            plugged,
            detailed: if charging {
                Detailed::Charging
            } else if plugged {
                Detailed::FullyCharged
            } else {
                Detailed::NotCharging
            },
            soc: self.soc.round(),
            counter_kwh: (self.counter * 100.0).round() / 100.0,
            power_w: (power_kw * 1000.0).round(),
            voltage: if charging { 400.0 } else { 0.0 },
            limit: 80.0,
            minutes_to_complete: if charging && power_kw > 0.0 {
                ((80.0 - self.soc) / 100.0 * capacity / power_kw * 60.0).round()
            } else {
                0.0
            },
            range_km: (self.soc / 100.0 * capacity / self.profile.model.kwh_per_km).round(),
            odometer_km: (self.odometer * 10.0).round() / 10.0,
            latitude: (self.position.0 * 1e6).round() / 1e6,
            longitude: (self.position.1 * 1e6).round() / 1e6,
            heading: 90.0,
            fast_charger: plugged,
        };
        let envelope = Envelope {
            event_id: uuid(&mut self.rng),
            delivery_id: uuid(&mut self.rng),
            delivered_at: now + 1_000,
            test_mode: false,
        };
        payload::vehicle_state(&self.profile, &snapshot, &envelope, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_live_vehicle_charges_drives_and_charges_again() {
        let mut car = LiveVehicle::new(1);
        let mut bodies = Vec::new();
        for i in 0..400 {
            bodies.push(car.tick(1_800_000_000_000 + i * EVERY_MS));
        }
        assert!(bodies[0].contains("FIRST_DELIVERY"));
        let stops = bodies
            .iter()
            .filter(|b| {
                b.contains(r#""FULLY_CHARGED""#)
                    && b.contains(
                        r#""code":"charge-ischarging","name":"IsCharging","group":"Charge"}}"#,
                    )
            })
            .count();
        assert!(stops >= 1, "a session ends");
        let starts = bodies
            .iter()
            .filter(|b| b.contains(r#""code":"charge-ischargingcableconnected","name":"IsChargingCableConnected","group":"Charge"}},{"type":"SIGNAL_UPDATED""#))
            .count();
        assert!(starts >= 1, "and another begins");
    }
}
