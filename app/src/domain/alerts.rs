//! Alerts: the conditions that need an operator, each a pure function of what a vehicle
//! last reported, its schedule, where it is, its newest session and its open errors, at a
//! given time. The server keeps one open alert per vehicle and kind while its condition
//! holds and resolves it when the condition ends (`server::alerts`); nothing here depends
//! on the order deliveries arrived in, only on the facts they leave behind.

use super::places::PlaceKind;
use super::pricing::tariff::Invalid;
use super::readiness::{Need, Silence, Snapshot};
use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

#[cfg(test)]
mod tests;

/// What an alert is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType, utoipa::ToSchema),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// At a depot or home, needing charge, not plugged in, shortly before departure.
    NotPlugged,
    /// Cable in, not charging, below its limit, for a while.
    PluggedNotCharging,
    /// A session ended before departure below the required state of charge.
    EndedBelowRequired,
    /// Nothing heard for hours.
    VehicleSilent,
    /// A VEHICLE_ERROR that the operator must act on (an expired authorisation, say).
    VehicleError,
    /// A session charging at under a share of the vehicle's usual power at that place.
    SlowCharging,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::NotPlugged,
        Kind::PluggedNotCharging,
        Kind::EndedBelowRequired,
        Kind::VehicleSilent,
        Kind::VehicleError,
        Kind::SlowCharging,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::NotPlugged => "not_plugged",
            Kind::PluggedNotCharging => "plugged_not_charging",
            Kind::EndedBelowRequired => "ended_below_required",
            Kind::VehicleSilent => "vehicle_silent",
            Kind::VehicleError => "vehicle_error",
            Kind::SlowCharging => "slow_charging",
        }
    }

    pub fn parse(text: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn label(self) -> &'static str {
        match self {
            Kind::NotPlugged => "Not plugged in",
            Kind::PluggedNotCharging => "Plugged, not charging",
            Kind::EndedBelowRequired => "Charging ended too low",
            Kind::VehicleSilent => "Silent",
            Kind::VehicleError => "Vehicle error",
            Kind::SlowCharging => "Slow charging",
        }
    }
}

crate::domain::text::text_enum!(Kind, "alert kind");

/// A rule with a time threshold in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Minutes {
    pub enabled: bool,
    pub minutes: u32,
}

/// A rule with no threshold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Switch {
    pub enabled: bool,
}

/// Silence: hours without a delivery, while plugged in and otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Hours {
    pub enabled: bool,
    pub plugged_hours: u32,
    pub unplugged_hours: u32,
}

/// Slow charging: under this percentage of the vehicle's median power at the place.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Share {
    pub enabled: bool,
    pub percent_of_median: u32,
}

/// Every rule's switch and threshold: the fleet's alert settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub not_plugged: Minutes,
    pub plugged_not_charging: Minutes,
    pub ended_below_required: Switch,
    pub vehicle_silent: Hours,
    pub vehicle_error: Switch,
    pub slow_charging: Share,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            not_plugged: Minutes {
                enabled: true,
                minutes: 120,
            },
            plugged_not_charging: Minutes {
                enabled: true,
                minutes: 15,
            },
            ended_below_required: Switch { enabled: true },
            vehicle_silent: Hours {
                enabled: true,
                plugged_hours: 6,
                unplugged_hours: 24,
            },
            vehicle_error: Switch { enabled: true },
            slow_charging: Share {
                enabled: true,
                percent_of_median: 50,
            },
        }
    }
}

/// Bounds of the thresholds: a day before departure, a day idle, a month silent.
pub const MAX_MINUTES: u32 = 24 * 60;
pub const MAX_HOURS: u32 = 30 * 24;

/// Sessions at a place before its median power is trusted for `slow_charging`.
pub const MIN_SESSIONS_FOR_MEDIAN: usize = 3;

/// A session judged for slow charging only after this long (its average settles).
pub const SLOW_AFTER: TimeDelta = TimeDelta::minutes(30);

impl Settings {
    /// Thresholds out of range, named by field (`vehicle_silent.plugged_hours`).
    pub fn check(&self) -> Result<(), Invalid> {
        let out_of = |field: &str, value: u32, max: u32| {
            if (1..=max).contains(&value) {
                Ok(())
            } else {
                Err(Invalid {
                    field: field.to_owned(),
                    message: format!("{value} is not between 1 and {max}"),
                })
            }
        };
        out_of("not_plugged.minutes", self.not_plugged.minutes, MAX_MINUTES)?;
        out_of(
            "plugged_not_charging.minutes",
            self.plugged_not_charging.minutes,
            MAX_MINUTES,
        )?;
        out_of(
            "vehicle_silent.plugged_hours",
            self.vehicle_silent.plugged_hours,
            MAX_HOURS,
        )?;
        out_of(
            "vehicle_silent.unplugged_hours",
            self.vehicle_silent.unplugged_hours,
            MAX_HOURS,
        )?;
        out_of(
            "slow_charging.percent_of_median",
            self.slow_charging.percent_of_median,
            99,
        )
    }

    /// The silence thresholds, which the readiness board's `no_data` uses too (whether
    /// or not the alert is on).
    pub fn silence(&self) -> Silence {
        Silence {
            plugged: TimeDelta::hours(i64::from(self.vehicle_silent.plugged_hours)),
            unplugged: TimeDelta::hours(i64::from(self.vehicle_silent.unplugged_hours)),
        }
    }

    pub fn enabled(&self, kind: Kind) -> bool {
        match kind {
            Kind::NotPlugged => self.not_plugged.enabled,
            Kind::PluggedNotCharging => self.plugged_not_charging.enabled,
            Kind::EndedBelowRequired => self.ended_below_required.enabled,
            Kind::VehicleSilent => self.vehicle_silent.enabled,
            Kind::VehicleError => self.vehicle_error.enabled,
            Kind::SlowCharging => self.slow_charging.enabled,
        }
    }
}

/// The vehicle's newest session, as `ended_below_required` and `slow_charging` read it.
#[derive(Clone, Debug, PartialEq)]
pub struct LastSession {
    pub id: String,
    pub started_at: DateTime<Utc>,
    /// `None` while it charges.
    pub ended_at: Option<DateTime<Utc>>,
    pub soc_end: Option<f64>,
    pub avg_power_kw: Option<f64>,
    pub place_kind: Option<PlaceKind>,
    pub place_name: Option<String>,
    /// The departure it charged for (the first after it ended) and the SoC it needs.
    pub need: Option<Need>,
    /// The vehicle's median average power at that place over its earlier sessions, when
    /// it has at least [`MIN_SESSIONS_FOR_MEDIAN`] of them.
    pub median_power_kw: Option<f64>,
}

/// A VEHICLE_ERROR entry as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct ErrorEntry {
    pub error_type: Option<String>,
    pub code: Option<String>,
    /// `ERROR` or `RESOLVED`.
    pub state: Option<String>,
    pub resolution: Option<String>,
    pub description: Option<String>,
    pub reported_at: DateTime<Utc>,
}

impl ErrorEntry {
    /// Whether the operator must act: anything Smartcar does not say will pass by
    /// itself (`RETRY_LATER`, or a vehicle asleep or out of reach with no advice).
    pub fn needs_operator(&self) -> bool {
        match self.resolution.as_deref() {
            Some("RETRY_LATER") => false,
            Some(_) => true,
            None => !matches!(
                (self.error_type.as_deref(), self.code.as_deref()),
                (Some("VEHICLE_STATE"), Some("ASLEEP" | "UNREACHABLE"))
            ),
        }
    }
}

/// The errors still open: for each type and code, the newest entry (by the time
/// Smartcar reported it; a RESOLVED wins a tie, then the rest of the entry decides, so
/// arrival order cannot matter) if it is an ERROR the operator must act on. Oldest first.
pub fn open_errors(entries: &[ErrorEntry]) -> Vec<&ErrorEntry> {
    let order = |e: &ErrorEntry| {
        (
            e.reported_at,
            e.state.as_deref() == Some("RESOLVED"),
            e.resolution.clone(),
            e.description.clone(),
        )
    };
    let mut newest: Vec<&ErrorEntry> = Vec::new();
    for entry in entries {
        let key = (&entry.error_type, &entry.code);
        match newest.iter_mut().find(|e| (&e.error_type, &e.code) == key) {
            Some(kept) if order(entry) > order(kept) => *kept = entry,
            Some(_) => {}
            None => newest.push(entry),
        }
    }
    let mut open: Vec<&ErrorEntry> = newest
        .into_iter()
        .filter(|e| e.state.as_deref() == Some("ERROR") && e.needs_operator())
        .collect();
    open.sort_by_key(|e| (e.reported_at, e.error_type.clone(), e.code.clone()));
    open
}

/// What the rules read about one vehicle.
#[derive(Clone, Debug, PartialEq)]
pub struct Facts<'a> {
    pub snapshot: &'a Snapshot,
    pub need: Option<Need>,
    /// The place it is at now, if one of the operator's places holds it.
    pub place_kind: Option<PlaceKind>,
    pub place_name: Option<&'a str>,
    /// Since when it has been plugged in and not charging (the first report of that state
    /// after the last report of charging or of no cable).
    pub idle_since: Option<DateTime<Utc>>,
    pub last_session: Option<&'a LastSession>,
    pub errors: &'a [&'a ErrorEntry],
}

/// A condition that holds, with the facts that show it (stored with the alert it opens).
#[derive(Clone, Debug, PartialEq)]
pub struct Condition {
    pub kind: Kind,
    pub facts: Value,
}

fn at_home_or_depot(kind: Option<PlaceKind>) -> bool {
    matches!(kind, Some(PlaceKind::Depot | PlaceKind::Home))
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// When `not_plugged` starts to apply before a departure.
fn not_plugged_from(need: &Need, settings: &Settings) -> DateTime<Utc> {
    need.departure - TimeDelta::minutes(i64::from(settings.not_plugged.minutes))
}

/// Every enabled rule whose condition holds at `now`, in [`Kind::ALL`] order.
pub fn conditions(now: DateTime<Utc>, facts: &Facts, settings: &Settings) -> Vec<Condition> {
    let snapshot = facts.snapshot;
    let mut out = Vec::new();
    let mut hold = |kind: Kind, value: Value| {
        if settings.enabled(kind) {
            out.push(Condition { kind, facts: value });
        }
    };
    let silence = settings.silence();
    let silent = snapshot
        .last_heard
        .filter(|heard| silence.is_silent(snapshot.plugged, *heard, now));

    // not_plugged: the departure is close, it needs charge and no cable is in.
    if let (Some(need), Some(soc)) = (facts.need, snapshot.soc) {
        if at_home_or_depot(facts.place_kind)
            && snapshot.plugged == Some(false)
            && soc < need.required_soc
            && need.departure > now
            && now >= not_plugged_from(&need, settings)
        {
            hold(
                Kind::NotPlugged,
                json!({
                    "departure": rfc3339(need.departure),
                    "soc": round1(soc),
                    "required_soc": need.required_soc,
                    "place": facts.place_name,
                }),
            );
        }
    }

    // plugged_not_charging: cable in, not charging, below its limit, long enough.
    if let (Some(since), Some(soc)) = (facts.idle_since, snapshot.soc) {
        let limit = snapshot.charge_limit.unwrap_or(100.0);
        let threshold = TimeDelta::minutes(i64::from(settings.plugged_not_charging.minutes));
        if snapshot.plugged == Some(true)
            && snapshot.charging == Some(false)
            && soc + 1.0 < limit
            && now - since >= threshold
        {
            hold(
                Kind::PluggedNotCharging,
                json!({
                    "since": rfc3339(since),
                    "soc": round1(soc),
                    "charge_limit": snapshot.charge_limit,
                    "place": facts.place_name,
                }),
            );
        }
    }

    // ended_below_required: its newest session ended short, and it has not charged
    // since, nor left.
    if let Some(session) = facts.last_session {
        if let (Some(ended), Some(soc_end), Some(need)) =
            (session.ended_at, session.soc_end, session.need)
        {
            let where_it_counts =
                session.place_kind.is_none() || at_home_or_depot(session.place_kind);
            let still_short = snapshot.soc.unwrap_or(soc_end) < need.required_soc;
            if where_it_counts
                && soc_end < need.required_soc
                && ended < need.departure
                && now < need.departure
                && still_short
                && snapshot.charging != Some(true)
            {
                hold(
                    Kind::EndedBelowRequired,
                    json!({
                        "session_id": session.id,
                        "ended_at": rfc3339(ended),
                        "soc_end": round1(soc_end),
                        "required_soc": need.required_soc,
                        "departure": rfc3339(need.departure),
                        "place": session.place_name,
                    }),
                );
            }
        }
    }

    // vehicle_silent.
    if let Some(heard) = silent {
        hold(
            Kind::VehicleSilent,
            json!({
                "last_heard": rfc3339(heard),
                "plugged": snapshot.plugged,
                "hours": (now - heard).num_minutes() as f64 / 60.0,
            }),
        );
    }

    // vehicle_error: every open error in one alert.
    if !facts.errors.is_empty() {
        let errors: Vec<Value> = facts
            .errors
            .iter()
            .map(|e| {
                json!({
                    "type": e.error_type,
                    "code": e.code,
                    "resolution": e.resolution,
                    "description": e.description,
                    "reported_at": rfc3339(e.reported_at),
                })
            })
            .collect();
        hold(Kind::VehicleError, json!({ "errors": errors }));
    }

    // slow_charging: the newest session's average power against the usual at its place.
    if let Some(session) = facts.last_session {
        if let (Some(avg), Some(median)) = (session.avg_power_kw, session.median_power_kw) {
            let share = f64::from(settings.slow_charging.percent_of_median) / 100.0;
            let long_enough = session.ended_at.unwrap_or(now) - session.started_at >= SLOW_AFTER;
            if long_enough && median > 0.0 && avg < share * median {
                hold(
                    Kind::SlowCharging,
                    json!({
                        "session_id": session.id,
                        "avg_power_kw": round1(avg),
                        "median_power_kw": round1(median),
                        "place": session.place_name,
                    }),
                );
            }
        }
    }
    out
}

/// The next moment after `now` at which time alone can change [`conditions`]: a departure
/// coming within reach of `not_plugged` or passing, an idle cable reaching its threshold,
/// silence setting in, a session old enough to judge.
pub fn next_change(
    now: DateTime<Utc>,
    facts: &Facts,
    settings: &Settings,
) -> Option<DateTime<Utc>> {
    let snapshot = facts.snapshot;
    let silence = settings.silence();
    let mut times = Vec::new();
    if let Some(need) = facts.need {
        times.push(not_plugged_from(&need, settings));
        times.push(need.departure);
    }
    if let Some(need) = facts.last_session.and_then(|s| s.need) {
        times.push(need.departure);
    }
    if let Some(since) = facts.idle_since {
        times.push(since + TimeDelta::minutes(i64::from(settings.plugged_not_charging.minutes)));
    }
    if let Some(heard) = snapshot.last_heard {
        let limit = if snapshot.plugged == Some(true) {
            silence.plugged
        } else {
            silence.unplugged
        };
        times.push(heard + limit + TimeDelta::milliseconds(1));
    }
    if let Some(session) = facts.last_session.filter(|s| s.ended_at.is_none()) {
        times.push(session.started_at + SLOW_AFTER);
    }
    times.into_iter().filter(|t| *t > now).min()
}

/// One line for an alert's facts, times as stored (RFC 3339, UTC): the API's and the
/// notifications'.
pub fn summary(kind: Kind, facts: &Value) -> String {
    describe(kind, facts, |time| time.to_owned())
}

/// One line for an alert's facts, each time written by `time` (given its RFC 3339 text:
/// the alerts page writes it in the viewer's zone).
pub fn describe(kind: Kind, facts: &Value, time: impl Fn(&str) -> String) -> String {
    let text = |key: &str| {
        facts
            .get(key)
            .and_then(Value::as_str)
            .map_or("?".to_owned(), &time)
    };
    let num = |key: &str| {
        facts
            .get(key)
            .and_then(Value::as_f64)
            .map_or("?".to_owned(), |n| format!("{n:.0}"))
    };
    let place = facts
        .get("place")
        .and_then(Value::as_str)
        .map(|p| format!(" at {p}"))
        .unwrap_or_default();
    match kind {
        Kind::NotPlugged => format!(
            "{} %{place}, not plugged in; needs {} % by {}",
            num("soc"),
            num("required_soc"),
            text("departure")
        ),
        Kind::PluggedNotCharging => format!(
            "{} %{place}, plugged in and not charging since {}",
            num("soc"),
            text("since")
        ),
        Kind::EndedBelowRequired => format!(
            "charging ended at {} %{place} at {}; needs {} % by {}",
            num("soc_end"),
            text("ended_at"),
            num("required_soc"),
            text("departure")
        ),
        Kind::VehicleSilent => format!("nothing heard since {}", text("last_heard")),
        Kind::VehicleError => {
            let errors = facts.get("errors").and_then(Value::as_array);
            let first = errors.and_then(|e| e.first());
            let field = |key: &str| {
                first
                    .and_then(|e| e.get(key))
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            let more = errors.map_or(0, Vec::len).saturating_sub(1);
            let code = [field("type"), field("code")]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let resolution = field("resolution");
            let mut line = if code.is_empty() {
                "an error".to_owned()
            } else {
                code
            };
            if !resolution.is_empty() {
                line.push_str(&format!(" ({resolution})"));
            }
            if more > 0 {
                line.push_str(&format!(" and {more} more"));
            }
            line
        }
        Kind::SlowCharging => format!(
            "charging at {} kW on average{place}, where it usually draws {} kW",
            facts
                .get("avg_power_kw")
                .and_then(Value::as_f64)
                .map_or("?".to_owned(), |n| format!("{n:.1}")),
            facts
                .get("median_power_kw")
                .and_then(Value::as_f64)
                .map_or("?".to_owned(), |n| format!("{n:.1}")),
        ),
    }
}
