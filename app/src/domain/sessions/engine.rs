//! The session state machine: snapshots in OEM-time order in, session frames out.
//!
//! A snapshot is every reading that shares one `oemUpdatedAt`. Within a snapshot a start
//! is applied first, then the values, then an end, so the snapshots that start and end
//! a session both belong to it.

use super::energy::{metrics, Series};
use super::{ChargingInterval, EngineConfig, Observation, Session, SessionStatus};
use crate::domain::signals;
use crate::domain::time::EpochMs;

/// The input in one canonical order, without exact duplicates. Retries and repeats of
/// a reading collapse into one, which counts as FIRST_DELIVERY only if every copy came
/// in one: a FIRST_DELIVERY that repeats a reading already seen normally (after a
/// re-subscription) must not turn an observed start into an unobserved one.
pub(super) fn canonical(observations: &[Observation]) -> Vec<Observation> {
    let mut sorted: Vec<&Observation> = observations.iter().collect();
    sorted.sort_by(|a, b| {
        (a.at, &a.code, a.value.sort_key()).cmp(&(b.at, &b.code, b.value.sort_key()))
    });
    let mut out: Vec<Observation> = Vec::with_capacity(sorted.len());
    for o in sorted {
        match out.last_mut() {
            Some(last) if last.at == o.at && last.code == o.code && last.value == o.value => {
                last.first_delivery &= o.first_delivery;
            }
            _ => out.push(o.clone()),
        }
    }
    out
}

struct Snapshot {
    at: i64,
    first_delivery: bool,
    charging: Option<bool>,
    cable: Option<bool>,
}

/// Groups timed observations into snapshots and reads the charging and cable state of
/// each. IsCharging is authoritative; DetailedChargingStatus stands in for it only
/// before the vehicle's first IsCharging reading (some vehicles cannot supply it, or only
/// start to later).
fn snapshots(timed: &[&Observation]) -> Vec<Snapshot> {
    let mut out: Vec<Snapshot> = Vec::new();
    let mut reports_is_charging = false;
    let mut i = 0;
    while i < timed.len() {
        let Some(at) = timed[i].at.map(EpochMs::as_millis) else {
            i += 1;
            continue;
        };
        let end = timed[i..]
            .iter()
            .position(|o| o.at.map(EpochMs::as_millis) != Some(at))
            .map_or(timed.len(), |n| i + n);
        let group = &timed[i..end];
        i = end;
        let is_charging = group
            .iter()
            .rev()
            .find(|o| o.code == signals::IS_CHARGING && o.value.boolean().is_some());
        reports_is_charging |= is_charging.is_some();
        let charging_obs = if reports_is_charging {
            is_charging
        } else {
            group.iter().rev().find(|o| {
                o.code == signals::DETAILED_CHARGING_STATUS
                    && matches!(o.value, super::ObservedValue::Text(_))
            })
        };
        let charging = charging_obs.and_then(|o| match &o.value {
            super::ObservedValue::Bool(b) => Some(*b),
            super::ObservedValue::Text(t) => Some(t.eq_ignore_ascii_case("CHARGING")),
            _ => None,
        });
        let cable = group
            .iter()
            .rev()
            .find(|o| o.code == signals::IS_CABLE_CONNECTED)
            .and_then(|o| o.value.boolean());
        out.push(Snapshot {
            at,
            first_delivery: charging_obs.is_some_and(|o| o.first_delivery),
            charging,
            cable,
        });
    }
    out
}

/// A session while the state machine still works on it.
struct Frame {
    start: i64,
    start_observed: bool,
    intervals: Vec<ChargingInterval>,
    plugged_in_at: Option<i64>,
    last_at: i64,
}

/// A session's boundaries, before its numbers are worked out.
pub(super) struct Bounds {
    pub start: i64,
    pub end: Option<i64>,
    pub status: SessionStatus,
    pub start_observed: bool,
    pub end_inferred: bool,
    pub plugged_in_at: Option<i64>,
    pub unplugged_at: Option<i64>,
    pub last_at: i64,
    pub intervals: Vec<ChargingInterval>,
}

enum State {
    Idle,
    Charging(Frame),
    /// Charging stopped at `since` with the cable still in: a resume within the merge
    /// gap continues the session.
    Paused(Frame, i64),
}

fn ms(t: i64) -> EpochMs {
    // Every time here came from an `EpochMs`, so it is valid.
    EpochMs::new(t).unwrap_or_else(|_| unreachable!("engine times come from EpochMs"))
}

fn close_interval(frame: &mut Frame, at: i64) {
    if let Some(last) = frame.intervals.last_mut() {
        if last.end.is_none() {
            last.end = Some(ms(at));
        }
    }
}

fn finish(frame: Frame, end: i64, status: SessionStatus, unplugged_at: Option<i64>) -> Bounds {
    Bounds {
        start: frame.start,
        end: Some(end),
        status,
        start_observed: frame.start_observed,
        end_inferred: status == SessionStatus::Stale,
        plugged_in_at: frame.plugged_in_at,
        unplugged_at,
        last_at: frame.last_at.min(end).max(frame.start),
        intervals: frame.intervals,
    }
}

pub(super) fn bounds(
    timed: &[&Observation],
    config: &EngineConfig,
    as_of: EpochMs,
    resume: Option<&Resume>,
) -> Vec<Bounds> {
    let mut sessions: Vec<Bounds> = Vec::new();
    let mut state = State::Idle;
    let mut last_charging: Option<bool> = None;
    let mut cable: Option<bool> = None;
    let mut plugged_since: Option<i64> = None;
    // The newest closed session still plugged in, waiting to learn when it was unplugged.
    let mut awaiting_unplug: Option<usize> = None;
    let mut seen_before = false;
    // Whether an IsCharging=true may start a session: at first, and again after charging
    // was seen to stop, the cable was pulled, or a session went stale. A vehicle that
    // keeps repeating `true` after an unplug does not start phantom sessions.
    let mut armed = true;
    let mut snaps = snapshots(timed).into_iter().peekable();

    // Resuming: the snapshots before the resume point only tell what was known there.
    if let Some(resume) = resume {
        while let Some(snap) = snaps.next_if(|s| s.at < resume.from.as_millis()) {
            seen_before = true;
            if snap.charging.is_some() {
                last_charging = snap.charging;
            }
            cable = snap.cable.or(cable);
        }
        plugged_since = if cable == Some(true) {
            resume.plugged_in_at.map(EpochMs::as_millis)
        } else {
            None
        };
    }

    for (i, snap) in snaps.enumerate() {
        // Time passing closes what it closes before this snapshot is applied.
        state = match state {
            State::Charging(f) if config.is_stale(f.last_at, snap.at) => {
                let last = f.last_at;
                sessions.push(finish(f, last, SessionStatus::Stale, None));
                awaiting_unplug = Some(sessions.len() - 1);
                armed = true;
                State::Idle
            }
            State::Paused(f, since) if snap.at - since >= config.merge_gap_ms => {
                sessions.push(finish(f, since, SessionStatus::Completed, None));
                awaiting_unplug = Some(sessions.len() - 1);
                State::Idle
            }
            other => other,
        };

        match snap.cable {
            Some(true) if cable != Some(true) => plugged_since = Some(snap.at),
            Some(false) => plugged_since = None,
            _ => {}
        }
        cable = snap.cable.or(cable);
        let first_sight = (i == 0 && !seen_before) || snap.first_delivery;

        state = match state {
            State::Idle => {
                if snap.charging == Some(true) && armed && cable != Some(false) {
                    awaiting_unplug = None;
                    armed = false;
                    State::Charging(Frame {
                        start: snap.at,
                        start_observed: !first_sight && last_charging == Some(false),
                        intervals: vec![ChargingInterval {
                            start: ms(snap.at),
                            end: None,
                        }],
                        plugged_in_at: plugged_since,
                        last_at: snap.at,
                    })
                } else {
                    if snap.cable == Some(false) {
                        if let Some(idx) = awaiting_unplug.take() {
                            sessions[idx].unplugged_at = Some(snap.at);
                        }
                    }
                    State::Idle
                }
            }
            State::Charging(mut f) => {
                f.last_at = snap.at;
                let unplugged = snap.cable == Some(false);
                if snap.charging == Some(false) || unplugged {
                    close_interval(&mut f, snap.at);
                    if unplugged || config.merge_gap_ms <= 0 {
                        let unplugged_at = unplugged.then_some(snap.at);
                        sessions.push(finish(f, snap.at, SessionStatus::Completed, unplugged_at));
                        awaiting_unplug = (!unplugged).then_some(sessions.len() - 1);
                        State::Idle
                    } else {
                        State::Paused(f, snap.at)
                    }
                } else {
                    State::Charging(f)
                }
            }
            State::Paused(mut f, since) => {
                if snap.cable == Some(false) {
                    sessions.push(finish(f, since, SessionStatus::Completed, Some(snap.at)));
                    State::Idle
                } else if snap.charging == Some(true) {
                    f.intervals.push(ChargingInterval {
                        start: ms(snap.at),
                        end: None,
                    });
                    f.last_at = snap.at;
                    State::Charging(f)
                } else {
                    State::Paused(f, since)
                }
            }
        };
        if snap.charging.is_some() {
            last_charging = snap.charging;
        }
        if snap.charging == Some(false) || snap.cable == Some(false) {
            armed = true;
        }
    }

    match state {
        State::Idle => {}
        State::Charging(f) => {
            if config.is_stale(f.last_at, as_of.as_millis()) {
                let last = f.last_at;
                sessions.push(finish(f, last, SessionStatus::Stale, None));
            } else {
                sessions.push(Bounds {
                    start: f.start,
                    end: None,
                    status: SessionStatus::Charging,
                    start_observed: f.start_observed,
                    end_inferred: false,
                    plugged_in_at: f.plugged_in_at,
                    unplugged_at: None,
                    last_at: f.last_at,
                    intervals: f.intervals,
                });
            }
        }
        // A pause at the end of the data is an end: if charging resumes within the merge
        // gap, that reading re-derives the vehicle and the two halves join again.
        State::Paused(f, since) => sessions.push(finish(f, since, SessionStatus::Completed, None)),
    }
    sessions
}

/// Where a partial re-derivation starts: the start of a stored session that began at
/// or before the earliest new reading. Nothing before it can change, because a session
/// only ever depends on readings from its own start onward and on what was known just
/// before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resume {
    /// The stored session's start.
    pub from: EpochMs,
    /// The stored session's `plugged_in_at` (it may lie before `from`).
    pub plugged_in_at: Option<EpochMs>,
}

/// Derives one vehicle's sessions from its readings.
///
/// `as_of` is "now": it only decides whether a session still charging has gone stale.
pub fn derive(
    vehicle_id: &str,
    observations: &[Observation],
    config: &EngineConfig,
    as_of: EpochMs,
) -> Vec<Session> {
    derive_inner(vehicle_id, observations, config, as_of, None)
}

/// Derives the sessions that start at or after `resume.from`.
///
/// `observations` must hold every reading at or after `resume.from`, and before it at
/// least each signal's last reading (plus the readings without a time): that is what
/// the engine needs to know the state at the resume point and each session's starting
/// values. The result equals the part of [`derive`] over all readings that starts at or
/// after `resume.from`.
pub fn derive_from(
    vehicle_id: &str,
    observations: &[Observation],
    config: &EngineConfig,
    as_of: EpochMs,
    resume: Resume,
) -> Vec<Session> {
    derive_inner(vehicle_id, observations, config, as_of, Some(&resume))
}

fn derive_inner(
    vehicle_id: &str,
    observations: &[Observation],
    config: &EngineConfig,
    as_of: EpochMs,
    resume: Option<&Resume>,
) -> Vec<Session> {
    let all = canonical(observations);
    let timed: Vec<&Observation> = all.iter().filter(|o| o.at.is_some()).collect();
    let untimed: Vec<&Observation> = all.iter().filter(|o| o.at.is_none()).collect();
    let series = Series::new(&timed, &untimed);
    bounds(&timed, config, as_of, resume)
        .into_iter()
        .map(|b| {
            let m = metrics(&series, b.start, b.end.unwrap_or(b.last_at), config);
            Session {
                id: Session::id_for(vehicle_id, ms(b.start)),
                status: b.status,
                started_at: ms(b.start),
                ended_at: b.end.map(ms),
                start_observed: b.start_observed,
                end_inferred: b.end_inferred,
                plugged_in_at: b.plugged_in_at.map(ms),
                unplugged_at: b.unplugged_at.map(ms),
                last_reading_at: ms(b.last_at),
                intervals: b.intervals,
                soc_start: m.soc_start,
                soc_end: m.soc_end,
                range_start_km: m.range_start_km,
                range_end_km: m.range_end_km,
                energy_added_kwh: m.energy.map(|(kwh, _)| kwh),
                energy_source: m.energy.map(|(_, source)| source),
                energy_curve: m.energy_curve,
                max_power_kw: m.max_power_kw,
                avg_power_kw: m.avg_power_kw,
                charge_limit_percent: m.charge_limit_percent,
                charger_type: m.charger_type,
                latitude: m.location.map(|(lat, _)| lat),
                longitude: m.location.map(|(_, lon)| lon),
            }
        })
        .collect()
}
