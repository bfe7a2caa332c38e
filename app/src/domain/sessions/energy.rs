//! A session's numbers: energy added (counter, else power, else state of charge), state
//! of charge and range at both ends, power, charge limit, place and charger type.

use super::{ChargerType, EnergySource, EngineConfig, Observation, ObservedValue};
use crate::domain::signals;

pub(super) struct Metrics {
    pub soc_start: Option<f64>,
    pub soc_end: Option<f64>,
    pub range_start_km: Option<f64>,
    pub range_end_km: Option<f64>,
    pub energy: Option<(f64, EnergySource)>,
    /// The energy added so far at instants inside the session (see [`energy_curve`]).
    pub energy_curve: Vec<(i64, f64)>,
    pub max_power_kw: Option<f64>,
    pub avg_power_kw: Option<f64>,
    pub charge_limit_percent: Option<f64>,
    pub charger_type: Option<ChargerType>,
    pub location: Option<(f64, f64)>,
}

fn at(o: &Observation) -> i64 {
    o.at.map_or(0, |t| t.as_millis())
}

/// One number per timestamp for `code` (the canonical order's last wins a conflict).
fn series(timed: &[&Observation], code: &str) -> Vec<(i64, f64)> {
    let mut out: Vec<(i64, f64)> = Vec::new();
    for o in timed.iter().filter(|o| o.code == code) {
        if let Some(v) = o.value.number() {
            match out.last_mut() {
                Some(last) if last.0 == at(o) => last.1 = v,
                _ => out.push((at(o), v)),
            }
        }
    }
    out
}

/// The latest value at or before `t` (series are in time order).
fn latest_at_or_before(series: &[(i64, f64)], t: i64) -> Option<f64> {
    let after = series.partition_point(|(at, _)| *at <= t);
    after.checked_sub(1).map(|i| series[i].1)
}

/// The part of a series in `[start, end]`.
fn within(series: &[(i64, f64)], start: i64, end: i64) -> &[(i64, f64)] {
    let from = series.partition_point(|(at, _)| *at < start);
    let to = series.partition_point(|(at, _)| *at <= end);
    &series[from..to.max(from)]
}

/// Energy from a cumulative counter: from the last value strictly before the session,
/// add every increase; a drop is a reset, so the new value itself was added.
pub(super) fn counter_energy(baseline: f64, values: &[f64]) -> f64 {
    let mut previous = baseline;
    let mut total = 0.0;
    for &v in values {
        total += if v >= previous { v - previous } else { v };
        previous = v;
    }
    total
}

/// The energy added so far at each counter reading, as [`counter_energy`] adds it up.
fn counter_curve(start: i64, baseline: f64, readings: &[(i64, f64)]) -> Vec<(i64, f64)> {
    let mut curve = vec![(start, 0.0)];
    let (mut previous, mut total) = (baseline, 0.0);
    for &(at, v) in readings {
        total += if v >= previous { v - previous } else { v };
        previous = v;
        curve.push((at, total));
    }
    curve
}

/// The energy added so far at each power sample, as [`power_energy`] adds it up.
fn power_curve(samples: &[(i64, f64)], max_gap_ms: i64) -> Vec<(i64, f64)> {
    let mut curve: Vec<(i64, f64)> = samples
        .first()
        .map(|&(t, _)| (t, 0.0))
        .into_iter()
        .collect();
    let mut total = 0.0;
    for pair in samples.windows(2) {
        total += power_energy(pair, max_gap_ms).0;
        curve.push((pair[1].0, total));
    }
    curve
}

/// The most points a session's energy curve keeps: a long session's readings are
/// thinned evenly (its first and last kept), which moves energy between neighbouring
/// minutes at most.
pub const MAX_CURVE_POINTS: usize = 288;

/// A session's energy in time, from the source its total came from: the energy added so
/// far (kWh) at instants (ms), starting at 0. Pricing and the energy charts spread it
/// between consecutive points evenly in time.
fn energy_curve(mut curve: Vec<(i64, f64)>) -> Vec<(i64, f64)> {
    // One point per instant: the energy added by then.
    curve.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1;
        }
        same
    });
    if curve.len() > MAX_CURVE_POINTS {
        let last = curve.len() - 1;
        let step = last.div_ceil(MAX_CURVE_POINTS - 1);
        curve = curve
            .iter()
            .enumerate()
            .filter(|(i, _)| i % step == 0 || *i == last)
            .map(|(_, p)| *p)
            .collect();
    }
    curve
}

/// Trapezoid integral of power (W) in kWh, and the time it covers (ms); samples further
/// apart than `max_gap_ms` are not bridged. Next to a 0 W sample the earlier value is held
/// instead: charging stops (or pauses, or resumes) at an event, not along a ramp.
pub(super) fn power_energy(samples: &[(i64, f64)], max_gap_ms: i64) -> (f64, i64) {
    let mut kwh = 0.0;
    let mut covered = 0;
    for pair in samples.windows(2) {
        let ((t0, w0), (t1, w1)) = (pair[0], pair[1]);
        let dt = t1 - t0;
        if dt > 0 && dt <= max_gap_ms {
            // Charging starts and stops at an event, not along a ramp: next to a reading of
            // 0 W the power held its earlier value (P until a stop, 0 through a pause).
            let watts = if w0 == 0.0 || w1 == 0.0 {
                w0
            } else {
                (w0 + w1) / 2.0
            };
            kwh += watts * (dt as f64 / 3_600_000.0) / 1000.0;
            covered += dt;
        }
    }
    (kwh, covered)
}

/// Every series the metrics read, built once per derivation and shared by all sessions.
/// The most an AC charger gives, kW.
const AC_MAX_KW: f64 = 22.5;

pub(super) struct Series {
    soc: Vec<(i64, f64)>,
    range: Vec<(i64, f64)>,
    energy: Vec<(i64, f64)>,
    power: Vec<(i64, f64)>,
    limits: Vec<(i64, f64)>,
    capacity: Vec<(i64, f64)>,
    static_capacity: Option<f64>,
    locations: Vec<(i64, (f64, f64))>,
    /// `charge-isfastchargerpresent` readings: (time, present).
    fast_charger: Vec<(i64, bool)>,
}

impl Series {
    pub(super) fn new(timed: &[&Observation], untimed: &[&Observation]) -> Series {
        let mut limits = series(timed, signals::CHARGE_LIMITS);
        limits.extend(series(timed, signals::ACTIVE_LIMIT));
        limits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        Series {
            soc: series(timed, signals::STATE_OF_CHARGE),
            range: series(timed, signals::RANGE),
            energy: series(timed, signals::ENERGY_ADDED),
            power: series(timed, signals::WATTAGE),
            limits,
            capacity: series(timed, signals::NOMINAL_CAPACITY),
            // Static readings carry no time: take the largest, which does not depend on
            // order.
            static_capacity: untimed
                .iter()
                .filter(|o| o.code == signals::NOMINAL_CAPACITY)
                .filter_map(|o| o.value.number())
                .fold(None, |best: Option<f64>, v| {
                    Some(best.map_or(v, |b| b.max(v)))
                }),
            locations: timed
                .iter()
                .filter(|o| o.code == signals::PRECISE_LOCATION)
                .filter_map(|o| match o.value {
                    ObservedValue::Location {
                        latitude,
                        longitude,
                    } => Some((at(o), (latitude, longitude))),
                    _ => None,
                })
                .collect(),
            fast_charger: timed
                .iter()
                .filter(|o| o.code == signals::IS_FAST_CHARGER_PRESENT)
                .filter_map(|o| Some((at(o), o.value.boolean()?)))
                .collect(),
        }
    }
}

pub(super) fn metrics(series: &Series, start: i64, end: i64, config: &EngineConfig) -> Metrics {
    let power = within(&series.power, start, end);
    let soc_start = latest_at_or_before(&series.soc, start);
    let soc_end = latest_at_or_before(&series.soc, end);

    let counter = within(&series.energy, start, end);
    let (power_kwh, covered_ms) = power_energy(power, config.power_gap_ms);
    let (energy, curve) = if !counter.is_empty() {
        let before = series.energy.partition_point(|(t, _)| *t < start);
        let baseline = before.checked_sub(1).map_or(0.0, |i| series.energy[i].1);
        let values: Vec<f64> = counter.iter().map(|(_, v)| *v).collect();
        (
            Some((counter_energy(baseline, &values), EnergySource::Counter)),
            counter_curve(start, baseline, counter),
        )
    } else if covered_ms > 0 {
        (
            Some((power_kwh, EnergySource::Power)),
            power_curve(power, config.power_gap_ms),
        )
    } else {
        let capacity = latest_at_or_before(&series.capacity, end).or(series.static_capacity);
        match (soc_start, soc_end, capacity) {
            (Some(a), Some(b), Some(cap)) => {
                // The state of charge at each reading inside, as energy since the start
                // (never below it), ending at the session's total.
                let total = ((b - a) / 100.0 * cap).max(0.0);
                let mut curve = vec![(start, 0.0)];
                let mut high = 0.0_f64;
                for &(at, soc) in within(&series.soc, start, end) {
                    high = high.max(((soc - a) / 100.0 * cap).clamp(0.0, total));
                    curve.push((at, high));
                }
                if curve
                    .last()
                    .is_some_and(|&(at, kwh)| at < end || kwh < total)
                {
                    curve.push((end, total));
                }
                (Some((total, EnergySource::Soc)), curve)
            }
            _ => (None, Vec::new()),
        }
    };

    let max_power_kw = power
        .iter()
        .map(|(_, w)| w / 1000.0)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    let avg_power_kw = if covered_ms > 0 {
        Some(power_kwh / (covered_ms as f64 / 3_600_000.0))
    } else if !power.is_empty() {
        Some(power.iter().map(|(_, w)| w / 1000.0).sum::<f64>() / power.len() as f64)
    } else {
        None
    };

    // The place where it started: the last fix at or before the start, else the first
    // one during the session.
    let before_start = series.locations.partition_point(|(t, _)| *t <= start);
    let location = before_start
        .checked_sub(1)
        .map(|i| series.locations[i])
        .or_else(|| {
            series
                .locations
                .get(before_start)
                .filter(|(t, _)| *t <= end)
                .copied()
        })
        .map(|(_, l)| l);
    // DC when the vehicle says a fast charger is present, or when the power is beyond
    // any AC charger (22 kW: three phases of 32 A); AC when it says not, or the power is
    // known and within AC; unknown when it reports neither.
    let mut fast = series
        .fast_charger
        .iter()
        .filter(|(t, _)| (start..=end).contains(t))
        .map(|(_, present)| *present)
        .peekable();
    let said = fast.peek().is_some();
    let said_fast = fast.any(|present| present);
    let charger_type = if said_fast || avg_power_kw.is_some_and(|kw| kw > AC_MAX_KW) {
        Some(ChargerType::Dc)
    } else if said || avg_power_kw.is_some() {
        Some(ChargerType::Ac)
    } else {
        None
    };

    Metrics {
        soc_start,
        soc_end,
        range_start_km: latest_at_or_before(&series.range, start),
        range_end_km: latest_at_or_before(&series.range, end),
        energy,
        energy_curve: energy_curve(curve),
        max_power_kw,
        avg_power_kw,
        charge_limit_percent: latest_at_or_before(&series.limits, end),
        charger_type,
        location,
    }
}
