//! One simulated vehicle's life: parked, driving, plugged in, charging at home or on the
//! road. It records what Smartcar would report (snapshots of every signal, with the
//! triggers that fired) and what really happened (the charging sessions, to the watt-hour).

use super::catalog::{self, EnergyCounter, Model};
use super::TruthSession;
use app::domain::signals;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Charging is integrated in steps this long.
const STEP: i64 = 30_000;
/// Pauses shorter than chargelog's default merge gap (10 min) stay in one session; the
/// simulator makes them clearly shorter or clearly longer, so the truth is not a coin toss.
const SHORT_PAUSE: (i64, i64) = (2 * MINUTE, 6 * MINUTE);
const LONG_PAUSE: (i64, i64) = (25 * MINUTE, 60 * MINUTE);

/// What kind of delivery a snapshot becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The first delivery after subscribing (`FIRST_DELIVERY`).
    First,
    /// Something a trigger watches changed: plug, charge start or stop.
    Change,
    /// A value update while charging or driving; noise may error some of its signals.
    Update,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detailed {
    Charging,
    NotCharging,
    FullyCharged,
}

impl Detailed {
    pub fn as_str(self) -> &'static str {
        match self {
            Detailed::Charging => "CHARGING",
            Detailed::NotCharging => "NOT_CHARGING",
            Detailed::FullyCharged => "FULLY_CHARGED",
        }
    }
}

/// Every signal's value at one moment, as the vehicle reports it.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub at: i64,
    pub kind: Kind,
    pub triggers: Vec<&'static str>,
    pub is_charging: bool,
    pub plugged: bool,
    pub detailed: Detailed,
    /// Whole percent, as live OEMs report it.
    pub soc: f64,
    pub counter_kwh: f64,
    pub power_w: f64,
    pub voltage: f64,
    pub limit: f64,
    pub minutes_to_complete: f64,
    pub range_km: f64,
    pub odometer_km: f64,
    pub latitude: f64,
    pub longitude: f64,
    pub heading: f64,
    pub fast_charger: bool,
}

/// A `VEHICLE_ERROR`: the vehicle could not be reached, and later that it can again.
#[derive(Debug, Clone)]
pub struct VehicleError {
    pub at: i64,
    pub resolved: bool,
    pub code: &'static str,
}

#[derive(Debug, Clone)]
pub enum Event {
    State(Snapshot),
    Error(VehicleError),
}

impl Event {
    pub fn at(&self) -> i64 {
        match self {
            Event::State(s) => s.at,
            Event::Error(e) => e.at,
        }
    }
}

/// What stays fixed for one vehicle.
#[derive(Debug, Clone)]
pub struct Profile {
    pub id: String,
    pub model: Model,
    pub home: (f64, f64),
    pub home_charger_kw: f64,
    /// Waits for the night tariff before charging at home.
    pub scheduled: bool,
    pub limit: f64,
    /// Typical kilometres a working day.
    pub daily_km: f64,
    /// Minutes between updates while AC charging.
    pub ac_update_min: i64,
    /// Reports with the documentation's payload shape rather than the live one.
    pub doc_shape: bool,
    pub misbehaviour: Misbehaviour,
}

/// What a vehicle does wrong in the last [`MISBEHAVES_FOR`] of a simulation, so that a
/// demo shows what the readiness board and the alerts are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Misbehaviour {
    #[default]
    None,
    /// Comes home and is not plugged in.
    LeftUnplugged,
    /// Comes home, is plugged in, and never starts charging (a charger fault, a schedule
    /// set in the car); it keeps reporting every two hours.
    NeverCharges,
    /// Reports nothing more.
    GoesSilent,
}

impl Misbehaviour {
    pub const ALL: [Misbehaviour; 3] = [
        Misbehaviour::LeftUnplugged,
        Misbehaviour::NeverCharges,
        Misbehaviour::GoesSilent,
    ];
}

/// How long before the end of a simulation a vehicle misbehaves.
pub const MISBEHAVES_FOR: i64 = 30 * HOUR;

struct Open {
    started_at: i64,
    start_observed: bool,
    soc_start: f64,
    energy: f64,
    energy_observed: f64,
    fast: bool,
    location: (f64, f64),
    intervals: usize,
    /// `energy` and `energy_observed` as of the newest snapshot: all a reader can know
    /// of a session that has not ended.
    reported: (f64, f64),
    /// Snapshots sent since it started, the first included.
    snapshots: usize,
}

pub struct VehicleSim {
    rng: fastrand::Rng,
    /// Draws for noise only, so that noise never changes the history itself.
    noise_rng: fastrand::Rng,
    pub profile: Profile,
    start: i64,
    end: i64,
    t: i64,
    soc: f64,
    odometer: f64,
    pos: (f64, f64),
    heading: f64,
    plugged: bool,
    charging: bool,
    fast: bool,
    power_kw: f64,
    /// What the charger gives at a low state of charge, kW.
    peak_kw: f64,
    counter: f64,
    limit: f64,
    detailed: Detailed,
    /// A counter that still shows the last total until the session's second reading.
    reset_pending: bool,
    pub events: Vec<Event>,
    pub truth: Vec<TruthSession>,
    open: Option<Open>,
    first_sent: bool,
    last_snap_at: Option<i64>,
    /// Chance a day holds a `VEHICLE_ERROR` (reported and resolved).
    error_rate: f64,
}

fn round_to(x: f64, places: i32) -> f64 {
    let f = 10f64.powi(places);
    (x * f).round() / f
}

impl VehicleSim {
    pub fn new(
        profile: Profile,
        rng: fastrand::Rng,
        noise_rng: fastrand::Rng,
        start: i64,
        end: i64,
        error_rate: f64,
    ) -> Self {
        let home = profile.home;
        let limit = profile.limit;
        Self {
            rng,
            noise_rng,
            profile,
            start,
            end,
            t: start,
            soc: 50.0,
            odometer: 0.0,
            pos: home,
            heading: 0.0,
            plugged: false,
            charging: false,
            fast: false,
            power_kw: 0.0,
            peak_kw: 0.0,
            counter: 0.0,
            limit,
            detailed: Detailed::NotCharging,
            reset_pending: false,
            events: Vec::new(),
            truth: Vec::new(),
            open: None,
            first_sent: false,
            last_snap_at: None,
            error_rate,
        }
    }

    fn between(&mut self, (lo, hi): (i64, i64)) -> i64 {
        self.rng.i64(lo..=hi)
    }

    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + self.rng.f64() * (hi - lo)
    }

    fn model(&self) -> &Model {
        &self.profile.model
    }

    fn done(&self) -> bool {
        self.t >= self.end
    }

    /// Whether the vehicle does `what` wrong now.
    fn misbehaving(&self, what: Misbehaviour) -> bool {
        self.profile.misbehaviour == what && self.t >= self.end - MISBEHAVES_FOR
    }

    /// Records what the vehicle reports now.
    fn snap(&mut self, kind: Kind, triggers: &[&'static str]) {
        // One report per moment: two at the same time would be one snapshot to a reader.
        if let Some(last) = self.last_snap_at {
            if self.t <= last {
                self.t = last + 1_000;
            }
        }
        if self.t > self.end || self.t < self.start || self.misbehaving(Misbehaviour::GoesSilent) {
            return;
        }
        self.last_snap_at = Some(self.t);
        let kind = if self.first_sent { kind } else { Kind::First };
        self.first_sent = true;
        let (power_w, voltage) = if self.charging {
            let v = if self.fast {
                self.uniform(380.0, 420.0).round()
                    * if self.model().max_dc_kw > 200.0 {
                        2.0
                    } else {
                        1.0
                    }
            } else if self.power_kw > 7.5 {
                400.0
            } else {
                230.0
            };
            ((self.power_kw * 1000.0).round(), v)
        } else {
            (0.0, 0.0)
        };
        let model = *self.model();
        let minutes_to_complete = if self.charging && self.power_kw > 0.0 {
            ((self.limit - self.soc).max(0.0) / 100.0 * model.capacity_kwh / self.power_kw * 60.0)
                .round()
        } else {
            0.0
        };
        let counter = if model.counter == EnergyCounter::ZeroWhenIdle
            && !self.charging
            && self.open.is_none()
        {
            0.0
        } else {
            round_to(self.counter, 2)
        };
        let snapshot = Snapshot {
            at: self.t,
            kind,
            triggers: triggers.to_vec(),
            is_charging: self.charging,
            plugged: self.plugged,
            detailed: self.detailed,
            soc: self.soc.round(),
            counter_kwh: counter,
            power_w,
            voltage,
            limit: self.limit,
            minutes_to_complete,
            range_km: (self.soc / 100.0 * model.capacity_kwh / model.kwh_per_km).round(),
            odometer_km: round_to(self.odometer, 1),
            latitude: round_to(self.pos.0, 6),
            longitude: round_to(self.pos.1, 6),
            heading: self.heading.round(),
            fast_charger: self.plugged && self.fast,
        };
        self.events.push(Event::State(snapshot));
        if let Some(open) = self.open.as_mut() {
            open.reported = (open.energy, open.energy_observed);
            open.snapshots += 1;
        }
    }

    fn charge_trigger(&self) -> &'static str {
        if self.model().reports_is_charging {
            signals::IS_CHARGING
        } else {
            signals::DETAILED_CHARGING_STATUS
        }
    }

    /// Runs the vehicle from the start to the end of the simulation.
    pub fn run(mut self) -> Self {
        self.begin();
        let mut day_start = self.start - self.start.rem_euclid(DAY);
        while !self.done() {
            self.day(day_start);
            day_start += DAY;
            if self.t < day_start {
                self.t = day_start;
            }
        }
        if let Some(open) = self.open.take() {
            self.close(open, None);
        }
        self.events.sort_by_key(Event::at);
        self
    }

    /// The state at subscription: parked, plugged in, or already charging.
    fn begin(&mut self) {
        self.soc = self.uniform(25.0, 85.0);
        self.odometer = self.uniform(2_000.0, 80_000.0);
        self.counter = round_to(self.uniform(5.0, 40.0), 2);
        self.t = self.start + self.between((0, 2 * HOUR));
        let roll = self.rng.f64();
        if roll < 0.2 && self.soc < self.limit - 10.0 {
            // Already charging at home when Smartcar first looks.
            self.plugged = true;
            self.fast = false;
            self.peak_kw = self.ac_power();
            self.power_kw = self.peak_kw * self.taper();
            self.charging = true;
            self.detailed = Detailed::Charging;
            self.counter = round_to(self.uniform(0.5, 8.0), 2);
            let before = self.counter;
            self.open = Some(Open {
                started_at: self.t,
                start_observed: false,
                soc_start: self.soc.round(),
                energy: before,
                energy_observed: 0.0,
                fast: false,
                location: (round_to(self.pos.0, 6), round_to(self.pos.1, 6)),
                intervals: 1,
                reported: (0.0, 0.0),
                snapshots: 0,
            });
            self.snap(Kind::First, &[]);
            let deadline = self.t + 14 * HOUR;
            self.charge_until(deadline);
        } else {
            if roll < 0.35 {
                self.plugged = true;
            }
            self.snap(Kind::First, &[]);
        }
    }

    fn ac_power(&self) -> f64 {
        self.profile.home_charger_kw.min(self.model().max_ac_kw)
    }

    /// One day: out in the morning, trips (with a fast charge if the battery runs low),
    /// home in the evening, plugged in overnight.
    fn day(&mut self, day_start: i64) {
        // 1970-01-01 was a Thursday: day 0 is weekday 3 counting from Monday.
        let weekend = ((day_start / DAY) + 3).rem_euclid(7) >= 5;
        if weekend && self.rng.f64() < 0.6 {
            self.t = self.t.max(day_start + DAY);
            self.maybe_error(day_start);
            return;
        }
        let departure = day_start + self.between((6 * HOUR + 30 * MINUTE, 9 * HOUR));
        if self.t < departure {
            self.t = departure;
        }
        self.leave();
        let km_today = self.profile.daily_km * self.uniform(0.4, 1.6);
        let trips = self.rng.usize(1..=4);
        for trip in 0..trips {
            if self.done() {
                return;
            }
            let km = km_today / trips as f64;
            self.drive(km, trip + 1 == trips);
            if trip + 1 < trips {
                self.t += self.between((20 * MINUTE, 3 * HOUR));
            }
        }
        self.maybe_error(day_start);
        // Home: plug in unless the battery is nearly full (or it misbehaves).
        if self.misbehaving(Misbehaviour::LeftUnplugged) {
            self.t += self.between((2 * MINUTE, 20 * MINUTE));
            self.snap(Kind::Update, &[]);
        } else if self.soc < self.limit - 3.0 || self.rng.f64() < 0.3 {
            self.t += self.between((2 * MINUTE, 20 * MINUTE));
            self.come_home_and_charge();
        }
    }

    /// A `VEHICLE_ERROR` now and then (asleep, unreachable), resolved a while later. It
    /// may land inside a charging session, which it must not end.
    fn maybe_error(&mut self, day_start: i64) {
        if self.noise_rng.f64() >= self.error_rate {
            return;
        }
        let at = day_start + self.noise_rng.i64(0..=DAY - 2 * HOUR);
        if at < self.start || at > self.end {
            return;
        }
        let code = if self.noise_rng.bool() {
            "UNREACHABLE"
        } else {
            "ASLEEP"
        };
        self.events.push(Event::Error(VehicleError {
            at,
            resolved: false,
            code,
        }));
        let resolved = at + self.noise_rng.i64(10 * MINUTE..=2 * HOUR);
        if resolved <= self.end {
            self.events.push(Event::Error(VehicleError {
                at: resolved,
                resolved: true,
                code,
            }));
        }
    }

    /// Stops charging if it still is, and unplugs.
    fn leave(&mut self) {
        if self.charging {
            self.stop(Detailed::NotCharging);
            self.t += self.between((MINUTE, 4 * MINUTE));
        }
        if self.plugged {
            self.plugged = false;
            self.fast = false;
            self.detailed = Detailed::NotCharging;
            self.snap(Kind::Change, &[signals::IS_CABLE_CONNECTED]);
            self.t += self.between((MINUTE, 10 * MINUTE));
        }
    }

    fn drive(&mut self, km: f64, homeward: bool) {
        let speed_kmh = self.uniform(30.0, 70.0);
        let mut left = km;
        while left > 0.0 && !self.done() {
            let usable =
                (self.soc - 12.0) / 100.0 * self.model().capacity_kwh / self.model().kwh_per_km;
            let leg = left.min(usable.max(0.0));
            self.move_by(leg, speed_kmh, homeward && leg >= left);
            left -= leg;
            if left > 0.5 {
                self.fast_charge();
            } else {
                break;
            }
        }
    }

    fn move_by(&mut self, km: f64, speed_kmh: f64, homeward: bool) {
        let minutes = (km / speed_kmh * 60.0).max(1.0);
        self.t += (minutes * MINUTE as f64) as i64;
        self.soc -= km * self.model().kwh_per_km / self.model().capacity_kwh * 100.0;
        self.soc = self.soc.max(1.0);
        self.odometer += km;
        self.pos = if homeward {
            self.profile.home
        } else {
            let (lat, lon) = self.profile.home;
            (
                lat + self.uniform(-0.15, 0.15),
                lon + self.uniform(-0.25, 0.25),
            )
        };
        self.heading = self.uniform(0.0, 359.0);
        self.snap(
            Kind::Update,
            &[signals::STATE_OF_CHARGE, signals::PRECISE_LOCATION],
        );
    }

    /// A stop at a fast charger on the road, to 80 %.
    fn fast_charge(&mut self) {
        self.t += self.between((3 * MINUTE, 10 * MINUTE));
        let station = catalog::DC_CHARGERS_KW[self.rng.usize(0..catalog::DC_CHARGERS_KW.len())];
        self.fast = true;
        let limit = self.limit;
        self.limit = 80.0_f64.max(self.soc + 5.0).min(95.0);
        self.plug_and_start(station.min(self.model().max_dc_kw));
        self.charge_until(self.t + 3 * HOUR);
        self.t += self.between((MINUTE, 5 * MINUTE));
        self.leave();
        self.limit = limit;
    }

    fn come_home_and_charge(&mut self) {
        self.fast = false;
        if self.misbehaving(Misbehaviour::NeverCharges) {
            self.plugged = true;
            self.detailed = Detailed::NotCharging;
            self.snap(Kind::Change, &[signals::IS_CABLE_CONNECTED]);
            let until = (self.t + 14 * HOUR).min(self.end);
            while self.t + 2 * HOUR < until {
                self.t += 2 * HOUR;
                self.snap(Kind::Update, &[]);
            }
            return;
        }
        let power = self.ac_power();
        if self.profile.scheduled {
            self.plugged = true;
            self.snap(Kind::Change, &[signals::IS_CABLE_CONNECTED]);
            // Off-peak starts after midnight.
            let midnight = self.t - self.t.rem_euclid(DAY) + DAY;
            self.t = self.t.max(midnight + self.between((0, 90 * MINUTE)));
            if self.done() {
                return;
            }
            self.start_charging(power, &[self.charge_trigger()], true);
        } else {
            self.plug_and_start(power);
        }
        let deadline = self.t + 16 * HOUR;
        self.charge_until(deadline);
    }

    /// Plugs in and starts: one event, or two a moment apart, as the OEM does it.
    fn plug_and_start(&mut self, power_kw: f64) {
        self.plugged = true;
        if self.model().batches_plug_and_charge {
            self.start_charging(
                power_kw,
                &[signals::IS_CABLE_CONNECTED, self.charge_trigger()],
                true,
            );
        } else {
            self.snap(Kind::Change, &[signals::IS_CABLE_CONNECTED]);
            self.t += self.between((10_000, 2 * MINUTE));
            self.start_charging(power_kw, &[self.charge_trigger()], true);
        }
    }

    /// Starts charging. A counter resets (as its OEM does) only on a new plug-in; charging
    /// that resumes after a pause carries on counting.
    fn start_charging(&mut self, power_kw: f64, triggers: &[&'static str], new_plug_in: bool) {
        if self.done() {
            return;
        }
        self.charging = true;
        self.detailed = Detailed::Charging;
        self.peak_kw = power_kw;
        self.power_kw = power_kw * self.taper();
        if new_plug_in {
            match self.model().counter {
                EnergyCounter::LateReset => self.reset_pending = true,
                EnergyCounter::NotCapable => {}
                _ => self.counter = 0.0,
            }
        }
        if self.open.is_none() {
            self.open = Some(Open {
                started_at: self.t,
                start_observed: true,
                soc_start: self.soc.round(),
                energy: 0.0,
                energy_observed: 0.0,
                fast: self.fast,
                location: (round_to(self.pos.0, 6), round_to(self.pos.1, 6)),
                intervals: 1,
                reported: (0.0, 0.0),
                snapshots: 0,
            });
        }
        self.snap(Kind::Change, triggers);
        if self.reset_pending {
            self.counter = 0.0;
            self.reset_pending = false;
        }
    }

    fn taper(&self) -> f64 {
        if self.fast {
            catalog::dc_taper(self.soc)
        } else {
            catalog::ac_taper(self.soc)
        }
    }

    /// Charges until the limit (or the deadline, or the end of the simulation), with
    /// updates at the vehicle's pace and, now and then, a pause.
    fn charge_until(&mut self, deadline: i64) {
        let every = if self.fast {
            3 * MINUTE
        } else {
            self.profile.ac_update_min * MINUTE
        };
        let mut next_update = self.t + every;
        let pause_at = if self.rng.f64() < 0.15 {
            Some(self.t + self.between((20 * MINUTE, 2 * HOUR)))
        } else {
            None
        };
        let mut paused = false;
        let capacity = self.model().capacity_kwh;
        while self.charging && self.soc < self.limit && self.t < deadline && !self.done() {
            if !paused && pause_at.is_some_and(|p| self.t >= p) {
                paused = true;
                if !self.pause() {
                    return;
                }
                next_update = self.t + every;
                continue;
            }
            self.power_kw = self.peak_kw * self.taper();
            let needed_kwh = (self.limit - self.soc) / 100.0 * capacity;
            let step_kwh = self.power_kw * STEP as f64 / HOUR as f64;
            let (kwh, ms) = if step_kwh >= needed_kwh {
                (
                    needed_kwh,
                    (needed_kwh / self.power_kw * HOUR as f64).ceil() as i64,
                )
            } else {
                (step_kwh, STEP)
            };
            self.add_energy(kwh);
            self.t += ms.max(1);
            if self.t >= next_update && self.soc < self.limit - 1e-9 {
                let trigger = [signals::STATE_OF_CHARGE];
                self.snap(Kind::Update, &trigger);
                next_update = self.t + every;
            }
        }
        if self.charging && !self.done() {
            let full = self.soc >= self.limit - 1e-9;
            self.stop(if full {
                Detailed::FullyCharged
            } else {
                Detailed::NotCharging
            });
        }
    }

    fn add_energy(&mut self, kwh: f64) {
        self.soc += kwh / self.model().capacity_kwh * 100.0;
        self.counter += kwh;
        if let Some(open) = self.open.as_mut() {
            open.energy += kwh;
            open.energy_observed += kwh;
        }
    }

    /// A pause with the cable in: short ones stay in the session, long ones end it and
    /// the resumption starts another. Returns false if the simulation ended meanwhile.
    fn pause(&mut self) -> bool {
        let short = self.rng.f64() < 0.6;
        self.charging = false;
        self.detailed = Detailed::NotCharging;
        self.power_kw = 0.0;
        self.snap(Kind::Change, &[self.charge_trigger()]);
        if !short {
            if let Some(open) = self.open.take() {
                self.close(open, Some(self.t));
            }
        }
        let pause = self.between(if short { SHORT_PAUSE } else { LONG_PAUSE });
        self.t += pause;
        if self.done() {
            return false;
        }
        if self.model().counter == EnergyCounter::ResetsOnResume {
            self.counter = 0.0;
        }
        if let Some(open) = self.open.as_mut() {
            open.intervals += 1;
        }
        let power = self.peak_kw;
        let trigger = [self.charge_trigger()];
        // After a long pause this is a new session to chargelog, but the car saw one
        // plug-in: its counter carries on.
        self.start_charging(power, &trigger, false);
        true
    }

    fn stop(&mut self, detailed: Detailed) {
        self.charging = false;
        self.power_kw = 0.0;
        self.detailed = detailed;
        self.snap(Kind::Change, &[self.charge_trigger()]);
        if let Some(open) = self.open.take() {
            self.close(open, Some(self.t));
        }
    }

    fn close(&mut self, open: Open, ended_at: Option<i64>) {
        // A stop after the simulation's end is never reported (`snap` drops it): to
        // anyone reading the deliveries the session is still charging.
        let ended_at = ended_at.filter(|&t| t <= self.end);
        let model = self.model();
        let source = match (model.counter, model.reports_power) {
            // A session that has not ended and was seen once has one power reading, no
            // interval to integrate: all anyone can say comes from the state of charge.
            (EnergyCounter::NotCapable, true) if ended_at.is_none() && open.snapshots < 2 => "soc",
            (EnergyCounter::NotCapable, true) => "power",
            (EnergyCounter::NotCapable, false) => "soc",
            _ => "counter",
        };
        // A counter knows the energy from before the first observation; power and
        // state of charge only what was seen.
        let (energy, observed) = if ended_at.is_some() {
            (open.energy, open.energy_observed)
        } else {
            open.reported
        };
        let energy = if source == "counter" {
            energy
        } else {
            observed
        };
        let soc_end = if ended_at.is_some() {
            Some(self.soc.round())
        } else {
            self.events.iter().rev().find_map(|e| match e {
                Event::State(s) => Some(s.soc),
                Event::Error(_) => None,
            })
        };
        self.truth.push(TruthSession {
            vehicle_id: self.profile.id.clone(),
            started_at: open.started_at,
            ended_at,
            start_observed: open.start_observed,
            soc_start: open.soc_start,
            soc_end,
            energy_kwh: round_to(energy, 3),
            energy_source: source.to_owned(),
            charger_type: if open.fast { "DC" } else { "AC" }.to_owned(),
            latitude: open.location.0,
            longitude: open.location.1,
            intervals: open.intervals,
            capacity_kwh: model.capacity_kwh,
        });
    }
}
