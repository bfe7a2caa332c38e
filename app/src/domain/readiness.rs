//! Will a vehicle be ready when it leaves? From what it last reported (state of charge,
//! cable, charging, power, charge limit, capacity) and what its own history says (its
//! usual power where it is, how its power falls near full), the state of charge it will
//! have at its next departure, and a status an operator acts on.
//!
//! The model: the vehicle charges from its last reported state of charge, from the time
//! it reported it, at one power up to [`TAPER_KNEE`] percent and at that power times its
//! taper ratio above, until its charge limit or the departure. Power and capacity are the
//! battery's (energy added per hour), the same side as the sessions' energy.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

/// Above this state of charge, charging slows down.
pub const TAPER_KNEE: f64 = 80.0;
/// Power above the knee as a share of power below it, with no history to say: a plain
/// middle between AC charging (little taper) and DC fast charging (much).
pub const DEFAULT_TAPER: f64 = 0.5;
/// Power with no reading and no history: a common 7.4 kW (32 A, one phase) wallbox,
/// less what does not reach the battery.
pub const DEFAULT_POWER_KW: f64 = 7.0;
/// Usable capacity with no signal and no history: a mid-size fleet EV.
pub const DEFAULT_CAPACITY_KWH: f64 = 60.0;

/// What the board says of a vehicle, most urgent first (the order it sorts by).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType, utoipa::ToSchema),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Charging, but predicted below the requirement at departure.
    AtRisk,
    /// Below the requirement, and not plugged in.
    NotPlugged,
    /// Below the requirement, plugged in, not charging.
    PluggedNotCharging,
    /// Its charge limit is below the requirement: it stops short whatever happens.
    LimitTooLow,
    /// Nothing heard for longer than the silence threshold (or no state of charge ever).
    NoData,
    /// Charging, and predicted to reach the requirement.
    OnTrack,
    /// At or above the requirement now.
    Ready,
    /// No departure ahead: it follows no schedule, or one with no departures.
    NoSchedule,
}

impl Status {
    pub const ALL: [Status; 8] = [
        Status::AtRisk,
        Status::NotPlugged,
        Status::PluggedNotCharging,
        Status::LimitTooLow,
        Status::NoData,
        Status::OnTrack,
        Status::Ready,
        Status::NoSchedule,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::AtRisk => "at_risk",
            Status::NotPlugged => "not_plugged",
            Status::PluggedNotCharging => "plugged_not_charging",
            Status::LimitTooLow => "limit_too_low",
            Status::NoData => "no_data",
            Status::OnTrack => "on_track",
            Status::Ready => "ready",
            Status::NoSchedule => "no_schedule",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether someone has to act before the departure.
    pub fn needs_action(self) -> bool {
        self < Status::OnTrack
    }

    /// How an operator reads it.
    pub fn label(self) -> &'static str {
        match self {
            Status::AtRisk => "At risk",
            Status::NotPlugged => "Not plugged in",
            Status::PluggedNotCharging => "Plugged, not charging",
            Status::LimitTooLow => "Charge limit too low",
            Status::NoData => "No data",
            Status::OnTrack => "On track",
            Status::Ready => "Ready",
            Status::NoSchedule => "No schedule",
        }
    }
}

crate::domain::text::text_enum!(Status, "readiness status");

/// What a prediction was made from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Input {
    /// The power it reports while charging now.
    PowerNow,
    /// Its median power in past sessions at this place.
    MedianPowerHere,
    /// Its median power in past sessions anywhere.
    MedianPowerAnywhere,
    /// No power known: [`DEFAULT_POWER_KW`].
    DefaultPower,
    /// The battery's nominal capacity, as reported.
    CapacitySignal,
    /// Capacity estimated from its sessions (energy added per percent).
    CapacityHistory,
    /// No capacity known: [`DEFAULT_CAPACITY_KWH`].
    DefaultCapacity,
    /// The charge limit it reports.
    ChargeLimit,
    /// How its power fell above the knee in its past sessions at this place.
    TaperHistory,
    /// No history of the knee: [`DEFAULT_TAPER`].
    DefaultTaper,
}

impl Input {
    pub fn as_str(self) -> &'static str {
        match self {
            Input::PowerNow => "power_now",
            Input::MedianPowerHere => "median_power_here",
            Input::MedianPowerAnywhere => "median_power_anywhere",
            Input::DefaultPower => "default_power",
            Input::CapacitySignal => "capacity_signal",
            Input::CapacityHistory => "capacity_history",
            Input::DefaultCapacity => "default_capacity",
            Input::ChargeLimit => "charge_limit",
            Input::TaperHistory => "taper_history",
            Input::DefaultTaper => "default_taper",
        }
    }

    pub const ALL: [Input; 10] = [
        Input::PowerNow,
        Input::MedianPowerHere,
        Input::MedianPowerAnywhere,
        Input::DefaultPower,
        Input::CapacitySignal,
        Input::CapacityHistory,
        Input::DefaultCapacity,
        Input::ChargeLimit,
        Input::TaperHistory,
        Input::DefaultTaper,
    ];

    pub fn parse(s: &str) -> Option<Self> {
        Input::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// How an operator reads it.
    pub fn label(self) -> &'static str {
        match self {
            Input::PowerNow => "power now",
            Input::MedianPowerHere => "its usual power here",
            Input::MedianPowerAnywhere => "its usual power",
            Input::DefaultPower => "assumed 7 kW",
            Input::CapacitySignal => "reported capacity",
            Input::CapacityHistory => "capacity from its sessions",
            Input::DefaultCapacity => "assumed 60 kWh",
            Input::ChargeLimit => "charge limit",
            Input::TaperHistory => "its taper here",
            Input::DefaultTaper => "assumed taper",
        }
    }

    fn is_default(self) -> bool {
        matches!(
            self,
            Input::DefaultPower | Input::DefaultCapacity | Input::DefaultTaper
        )
    }
}

/// How far a prediction is to be trusted: `high` from what the vehicle reports now,
/// `medium` when its history filled a gap, `low` when a default did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType, utoipa::ToSchema),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum Confidence {
    Low,
    Medium,
    High,
}

impl Confidence {
    pub const ALL: [Confidence; 3] = [Confidence::Low, Confidence::Medium, Confidence::High];

    pub fn as_str(self) -> &'static str {
        match self {
            Confidence::Low => "low",
            Confidence::Medium => "medium",
            Confidence::High => "high",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Confidence::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

crate::domain::text::text_enum!(Confidence, "confidence");

/// What a vehicle last reported.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Snapshot {
    pub soc: Option<f64>,
    /// When the state of charge was true (its `oemUpdatedAt`).
    pub soc_at: Option<DateTime<Utc>>,
    pub plugged: Option<bool>,
    pub charging: Option<bool>,
    /// Only while charging.
    pub power_kw: Option<f64>,
    pub charge_limit: Option<f64>,
    pub capacity_kwh: Option<f64>,
    /// How fresh its data is: the newest time anything it reported was true.
    pub last_heard: Option<DateTime<Utc>>,
}

/// What its own past sessions say (`None` where they say nothing).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Profile {
    pub median_power_here: Option<f64>,
    pub median_power_anywhere: Option<f64>,
    /// Power above the knee over power below it, in its sessions at this place.
    pub taper_here: Option<f64>,
    pub capacity_kwh: Option<f64>,
}

/// What the schedule asks: the next departure and the charge it needs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Need {
    pub departure: DateTime<Utc>,
    pub required_soc: f64,
}

/// When silence means the data can no longer be trusted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Silence {
    pub plugged: TimeDelta,
    pub unplugged: TimeDelta,
}

impl Default for Silence {
    fn default() -> Self {
        Silence {
            plugged: TimeDelta::hours(6),
            unplugged: TimeDelta::hours(24),
        }
    }
}

impl Silence {
    /// Whether a vehicle last heard at `last_heard` is silent at `now`.
    pub fn is_silent(
        &self,
        plugged: Option<bool>,
        last_heard: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> bool {
        let limit = if plugged == Some(true) {
            self.plugged
        } else {
            self.unplugged
        };
        now - last_heard > limit
    }
}

/// A prediction: the state of charge at departure, what it used, how sure it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    pub soc: f64,
    pub inputs: Vec<Input>,
    pub confidence: Confidence,
}

/// The board's verdict on one vehicle.
#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub status: Status,
    /// The state of charge at departure as things stand (a vehicle not charging keeps
    /// what it has); `None` with no departure or no state of charge.
    pub predicted: Option<Prediction>,
}

/// The state of charge a vehicle charging from `soc` at `at` has at `departure`.
pub fn predict(
    snapshot: &Snapshot,
    profile: &Profile,
    from: DateTime<Utc>,
    soc: f64,
    departure: DateTime<Utc>,
) -> Prediction {
    let mut inputs = Vec::new();
    let (power, power_input) = match (
        snapshot.power_kw.filter(|p| *p > 0.0),
        profile.median_power_here,
        profile.median_power_anywhere,
    ) {
        (Some(p), _, _) => (p, Input::PowerNow),
        (None, Some(p), _) => (p, Input::MedianPowerHere),
        (None, None, Some(p)) => (p, Input::MedianPowerAnywhere),
        (None, None, None) => (DEFAULT_POWER_KW, Input::DefaultPower),
    };
    inputs.push(power_input);
    let (capacity, capacity_input) = match (
        snapshot.capacity_kwh.filter(|c| *c > 0.0),
        profile.capacity_kwh.filter(|c| *c > 0.0),
    ) {
        (Some(c), _) => (c, Input::CapacitySignal),
        (None, Some(c)) => (c, Input::CapacityHistory),
        (None, None) => (DEFAULT_CAPACITY_KWH, Input::DefaultCapacity),
    };
    inputs.push(capacity_input);
    let limit = match snapshot.charge_limit.filter(|l| *l > 0.0 && *l <= 100.0) {
        Some(l) => {
            inputs.push(Input::ChargeLimit);
            l
        }
        None => 100.0,
    };
    let (taper, taper_input) = match profile.taper_here.filter(|t| *t > 0.0 && *t <= 1.0) {
        Some(t) => (t, Input::TaperHistory),
        None => (DEFAULT_TAPER, Input::DefaultTaper),
    };
    inputs.push(taper_input);

    // Power below and above the knee: a power read above the knee is already tapered.
    let (below, above) = if power_input == Input::PowerNow && soc > TAPER_KNEE {
        (power / taper, power)
    } else {
        (power, power * taper)
    };
    let mut hours = ((departure - from).num_seconds().max(0) as f64) / 3600.0;
    let mut reached = soc;
    if reached < TAPER_KNEE.min(limit) {
        let stop = TAPER_KNEE.min(limit);
        let needed = (stop - reached) / 100.0 * capacity / below;
        let spent = needed.min(hours);
        reached += spent * below / capacity * 100.0;
        hours -= spent;
        if spent >= needed {
            reached = stop;
        }
    }
    if reached < limit && hours > 0.0 {
        reached = (reached + hours * above / capacity * 100.0).min(limit);
    }
    let reached = reached.max(soc.min(limit)).min(100.0);

    let confidence = if inputs
        .iter()
        .any(|i| i.is_default() && *i != Input::DefaultTaper)
    {
        Confidence::Low
    } else if power_input == Input::PowerNow && capacity_input == Input::CapacitySignal {
        Confidence::High
    } else {
        Confidence::Medium
    };
    Prediction {
        soc: reached,
        inputs,
        confidence,
    }
}

/// The verdict on a vehicle at `now`. Checked in order: a departure ahead, data to judge
/// by, charge enough already, a charge limit that allows the requirement, a cable, the
/// charging, and then the prediction.
pub fn assess(
    now: DateTime<Utc>,
    need: Option<Need>,
    snapshot: &Snapshot,
    profile: &Profile,
    silence: &Silence,
) -> Assessment {
    let Some(need) = need.filter(|n| n.departure > now) else {
        return Assessment {
            status: Status::NoSchedule,
            predicted: None,
        };
    };
    let silent = snapshot
        .last_heard
        .is_none_or(|heard| silence.is_silent(snapshot.plugged, heard, now));
    let Some(soc) = snapshot.soc.filter(|_| !silent) else {
        return Assessment {
            status: Status::NoData,
            predicted: None,
        };
    };
    let charging = snapshot.charging == Some(true);
    let as_things_stand = |charging: bool| {
        if charging {
            let from = snapshot.soc_at.unwrap_or(now).min(now);
            predict(snapshot, profile, from, soc, need.departure)
        } else {
            Prediction {
                soc,
                inputs: Vec::new(),
                confidence: Confidence::High,
            }
        }
    };
    let status = if soc >= need.required_soc {
        Status::Ready
    } else if snapshot.charge_limit.is_some_and(|l| l < need.required_soc) {
        Status::LimitTooLow
    } else if !charging && snapshot.plugged == Some(true) {
        Status::PluggedNotCharging
    } else if !charging {
        Status::NotPlugged
    } else if as_things_stand(true).soc + 1e-9 >= need.required_soc {
        Status::OnTrack
    } else {
        Status::AtRisk
    };
    Assessment {
        status,
        predicted: Some(as_things_stand(charging)),
    }
}

/// How long until a departure: "in 45 min", "in 4 h 05 min", "in 3 days"; "now" when
/// it is due or past.
pub fn format_until(ms: i64) -> String {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    match ms {
        ms if ms < MINUTE => "now".to_owned(),
        ms if ms < HOUR => format!("in {} min", ms / MINUTE),
        ms if ms < DAY => format!("in {} h {:02} min", ms / HOUR, ms % HOUR / MINUTE),
        ms if ms < 2 * DAY => "in 1 day".to_owned(),
        ms => format!("in {} days", ms / DAY),
    }
}

/// Past sessions a profile reads: the vehicle's newest completed ones.
pub const HISTORY_SESSIONS: u64 = 30;
/// A session says what the capacity is only when its state of charge moved this much.
const MIN_CAPACITY_SPAN: f64 = 20.0;

/// A completed session, as a profile reads it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PastSession {
    pub id: String,
    pub place_id: Option<String>,
    pub soc_start: Option<f64>,
    pub soc_end: Option<f64>,
    pub energy_kwh: Option<f64>,
    pub avg_power_kw: Option<f64>,
    /// Energy added so far (kWh) at instants (epoch ms), as sessions store it.
    pub curve: Vec<(i64, f64)>,
}

/// What one session says: its power below the knee, its taper, the capacity it implies.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct SessionFacts {
    power: Option<f64>,
    taper: Option<f64>,
    capacity: Option<f64>,
}

/// The energy curve's time (ms) at which `energy` was reached, between two points.
fn time_at_energy(curve: &[(i64, f64)], energy: f64) -> Option<f64> {
    curve.windows(2).find_map(|pair| {
        let ((t0, e0), (t1, e1)) = (pair[0], pair[1]);
        (e0 <= energy && energy <= e1 && e1 > e0)
            .then(|| t0 as f64 + (energy - e0) / (e1 - e0) * (t1 - t0) as f64)
    })
}

fn facts(session: &PastSession) -> SessionFacts {
    let mut facts = SessionFacts {
        power: session.avg_power_kw.filter(|p| *p > 0.0),
        ..SessionFacts::default()
    };
    let (Some(start), Some(end), Some(energy)) =
        (session.soc_start, session.soc_end, session.energy_kwh)
    else {
        return facts;
    };
    let span = end - start;
    if span >= MIN_CAPACITY_SPAN && energy > 0.0 {
        facts.capacity = Some(energy / span * 100.0);
    }
    // Crossing the knee: the state of charge is read as rising with the energy, so the
    // curve tells when the knee was passed, and the power on either side of it.
    let (Some(&(t_first, _)), Some(&(t_last, _))) = (session.curve.first(), session.curve.last())
    else {
        return facts;
    };
    if start < TAPER_KNEE && TAPER_KNEE < end && energy > 0.0 {
        let at_knee = energy * (TAPER_KNEE - start) / span;
        if let Some(t_knee) = time_at_energy(&session.curve, at_knee) {
            let hours = |ms: f64| ms / 3_600_000.0;
            let (before, after) = (
                hours(t_knee - t_first as f64),
                hours(t_last as f64 - t_knee),
            );
            if before > 0.0 && after > 0.0 {
                let below = at_knee / before;
                let above = (energy - at_knee) / after;
                facts.power = Some(below);
                facts.taper = Some((above / below).clamp(0.05, 1.0));
            }
        }
    }
    facts
}

/// The median of the finite `values`.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    })
}

/// What a vehicle's past sessions say, at the place it is now (`None`: at no place).
pub fn profile(history: &[PastSession], place_id: Option<&str>) -> Profile {
    let all: Vec<(bool, SessionFacts)> = history
        .iter()
        .map(|s| {
            (
                place_id.is_some() && s.place_id.as_deref() == place_id,
                facts(s),
            )
        })
        .collect();
    let pick = |here: bool, f: fn(&SessionFacts) -> Option<f64>| {
        median(
            all.iter()
                .filter(|(at, _)| *at || !here)
                .filter_map(|(_, facts)| f(facts))
                .collect(),
        )
    };
    Profile {
        median_power_here: pick(true, |f| f.power),
        median_power_anywhere: pick(false, |f| f.power),
        taper_here: pick(true, |f| f.taper),
        capacity_kwh: pick(false, |f| f.capacity),
    }
}

#[cfg(test)]
mod tests;
