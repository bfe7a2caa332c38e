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

/// The latest value at or before `t`.
fn latest_at_or_before(series: &[(i64, f64)], t: i64) -> Option<f64> {
    series
        .iter()
        .rev()
        .find(|(at, _)| *at <= t)
        .map(|(_, v)| *v)
}

fn within(series: &[(i64, f64)], start: i64, end: i64) -> Vec<(i64, f64)> {
    series
        .iter()
        .copied()
        .filter(|(at, _)| *at >= start && *at <= end)
        .collect()
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

/// Trapezoid integral of power (W) in kWh, and the time it covers (ms); samples further
/// apart than `max_gap_ms` are not bridged.
pub(super) fn power_energy(samples: &[(i64, f64)], max_gap_ms: i64) -> (f64, i64) {
    let mut kwh = 0.0;
    let mut covered = 0;
    for pair in samples.windows(2) {
        let ((t0, w0), (t1, w1)) = (pair[0], pair[1]);
        let dt = t1 - t0;
        if dt > 0 && dt <= max_gap_ms {
            kwh += (w0 + w1) / 2.0 * (dt as f64 / 3_600_000.0) / 1000.0;
            covered += dt;
        }
    }
    (kwh, covered)
}

fn nominal_capacity(timed: &[&Observation], untimed: &[&Observation], end: i64) -> Option<f64> {
    let timed_capacity = latest_at_or_before(&series(timed, signals::NOMINAL_CAPACITY), end);
    // Static readings carry no time: take the largest, which does not depend on order.
    timed_capacity.or_else(|| {
        untimed
            .iter()
            .filter(|o| o.code == signals::NOMINAL_CAPACITY)
            .filter_map(|o| o.value.number())
            .fold(None, |best: Option<f64>, v| {
                Some(best.map_or(v, |b| b.max(v)))
            })
    })
}

pub(super) fn metrics(
    timed: &[&Observation],
    untimed: &[&Observation],
    start: i64,
    end: i64,
    config: &EngineConfig,
) -> Metrics {
    let soc = series(timed, signals::STATE_OF_CHARGE);
    let range = series(timed, signals::RANGE);
    let energy_counter = series(timed, signals::ENERGY_ADDED);
    let power = within(&series(timed, signals::WATTAGE), start, end);

    let soc_start = latest_at_or_before(&soc, start);
    let soc_end = latest_at_or_before(&soc, end);

    let counter_values: Vec<f64> = within(&energy_counter, start, end)
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let (power_kwh, covered_ms) = power_energy(&power, config.power_gap_ms);
    let energy = if !counter_values.is_empty() {
        let baseline = energy_counter
            .iter()
            .rev()
            .find(|(at, _)| *at < start)
            .map_or(0.0, |(_, v)| *v);
        Some((
            counter_energy(baseline, &counter_values),
            EnergySource::Counter,
        ))
    } else if covered_ms > 0 {
        Some((power_kwh, EnergySource::Power))
    } else {
        match (soc_start, soc_end, nominal_capacity(timed, untimed, end)) {
            (Some(a), Some(b), Some(cap)) => {
                Some((((b - a) / 100.0 * cap).max(0.0), EnergySource::Soc))
            }
            _ => None,
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

    let mut limits = series(timed, signals::CHARGE_LIMITS);
    limits.extend(series(timed, signals::ACTIVE_LIMIT));
    limits.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let charge_limit_percent = latest_at_or_before(&limits, end);

    let locations: Vec<(i64, (f64, f64))> = timed
        .iter()
        .filter(|o| o.code == signals::PRECISE_LOCATION)
        .filter_map(|o| match o.value {
            ObservedValue::Location {
                latitude,
                longitude,
            } => Some((at(o), (latitude, longitude))),
            _ => None,
        })
        .collect();
    let location = locations
        .iter()
        .rev()
        .find(|(t, _)| *t <= start)
        .or_else(|| locations.iter().find(|(t, _)| *t <= end))
        .map(|(_, l)| *l);

    let fast_charger = timed.iter().any(|o| {
        o.code == signals::IS_FAST_CHARGER_PRESENT
            && o.value.boolean() == Some(true)
            && (start..=end).contains(&at(o))
    });
    let charger_type = if fast_charger || avg_power_kw.is_some_and(|kw| kw > 20.0) {
        Some(ChargerType::Dc)
    } else {
        Some(ChargerType::Ac)
    };

    Metrics {
        soc_start,
        soc_end,
        range_start_km: latest_at_or_before(&range, start),
        range_end_km: latest_at_or_before(&range, end),
        energy,
        max_power_kw,
        avg_power_kw,
        charge_limit_percent,
        charger_type,
        location,
    }
}
