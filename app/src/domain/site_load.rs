//! The load of a place: what the fleet's vehicles drew there over time, from the
//! vehicles' side.
//!
//! A session's power over time ([`profile`]) comes from its `Charge.Wattage` readings
//! where it has them (each held until the next), else from its energy samples (the kWh
//! between two samples spread over the charging time between them), else from its
//! average power; only while it was charging (its charging intervals). The profile is
//! then cut into minutes ([`minutes`]) and the minutes of all sessions at a place into
//! intervals of 15 (or 5, or 60) minutes aligned to the clock ([`intervals`]), each with
//! its average power, the most vehicles charging at once, the energy, and which share of
//! the energy came from which source.

use std::collections::BTreeMap;

pub mod query;

/// One minute, in epoch ms.
pub const MINUTE_MS: i64 = 60_000;
const HOUR_MS: f64 = 3_600_000.0;

/// Where a stretch of a session's power comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PowerSource {
    /// `Charge.Wattage` readings.
    Wattage,
    /// The energy added between two samples of the session's energy.
    EnergySamples,
    /// The session's average power.
    Average,
}

impl PowerSource {
    pub const ALL: [PowerSource; 3] = [
        PowerSource::Wattage,
        PowerSource::EnergySamples,
        PowerSource::Average,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// A stretch of constant power: `[from_ms, to_ms)` at `kw`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Piece {
    pub from_ms: i64,
    pub to_ms: i64,
    pub kw: f64,
    pub source: PowerSource,
}

/// What is known of a session's power.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recorded<'a> {
    /// When it was charging: `[start, end)` spans, in order.
    pub charging: &'a [(i64, i64)],
    /// `Charge.Wattage` readings: (time, kW), in time order.
    pub wattage: &'a [(i64, f64)],
    /// The energy added so far: (time, kWh), in time order.
    pub energy_curve: &'a [(i64, f64)],
    /// The energy it added (kWh), when known.
    pub energy_kwh: Option<f64>,
    /// Its average power (kW), when known.
    pub avg_power_kw: Option<f64>,
}

/// The overlap of `[from, to)` with the charging spans, as spans.
fn charging_within(charging: &[(i64, i64)], from: i64, to: i64) -> Vec<(i64, i64)> {
    charging
        .iter()
        .map(|&(a, b)| (a.max(from), b.min(to)))
        .filter(|(a, b)| a < b)
        .collect()
}

fn span_ms(spans: &[(i64, i64)]) -> i64 {
    spans.iter().map(|(a, b)| b - a).sum()
}

/// A session's power over time: stretches of constant power while it was charging.
pub fn profile(session: &Recorded) -> Vec<Piece> {
    let mut pieces = Vec::new();
    if !session.wattage.is_empty() {
        // Each reading holds until the next; before the first, the first.
        for &(a, b) in session.charging {
            let mut at = a;
            let before = session.wattage.partition_point(|(t, _)| *t <= a);
            let mut kw = session.wattage[before.saturating_sub(1)].1;
            for &(t, value) in &session.wattage[before..] {
                if t >= b {
                    break;
                }
                pieces.push(Piece {
                    from_ms: at,
                    to_ms: t,
                    kw,
                    source: PowerSource::Wattage,
                });
                (at, kw) = (t, value);
            }
            pieces.push(Piece {
                from_ms: at,
                to_ms: b,
                kw,
                source: PowerSource::Wattage,
            });
        }
    } else {
        // Energy samples where they cover the charging time; the average elsewhere.
        let mut covered: Vec<(i64, i64)> = Vec::new();
        for pair in session.energy_curve.windows(2) {
            let ((t0, e0), (t1, e1)) = (pair[0], pair[1]);
            let spans = charging_within(session.charging, t0, t1);
            let ms = span_ms(&spans);
            if ms == 0 {
                continue;
            }
            let kw = ((e1 - e0) / (ms as f64 / HOUR_MS)).max(0.0);
            for (a, b) in spans {
                pieces.push(Piece {
                    from_ms: a,
                    to_ms: b,
                    kw,
                    source: PowerSource::EnergySamples,
                });
                covered.push((a, b));
            }
        }
        // The rest of the energy over the rest of the charging time.
        let sampled_kwh: f64 = pieces
            .iter()
            .map(|p| p.kw * (p.to_ms - p.from_ms) as f64 / HOUR_MS)
            .sum();
        let rest_ms = span_ms(session.charging) - span_ms(&covered);
        let average = match (session.energy_kwh, session.avg_power_kw) {
            (Some(kwh), _) if rest_ms > 0 => {
                Some(((kwh - sampled_kwh) / (rest_ms as f64 / HOUR_MS)).max(0.0))
            }
            (None, Some(kw)) => Some(kw),
            _ => None,
        };
        if let Some(kw) = average {
            for &(a, b) in session.charging {
                let mut at = a;
                for &(c, d) in covered.iter().filter(|(c, d)| *d > a && *c < b) {
                    if c > at {
                        pieces.push(Piece {
                            from_ms: at,
                            to_ms: c,
                            kw,
                            source: PowerSource::Average,
                        });
                    }
                    at = at.max(d);
                }
                if at < b {
                    pieces.push(Piece {
                        from_ms: at,
                        to_ms: b,
                        kw,
                        source: PowerSource::Average,
                    });
                }
            }
        }
    }
    pieces.retain(|p| p.to_ms > p.from_ms);
    pieces.sort_by_key(|p| p.from_ms);
    pieces
}

/// A session's energy in one minute, by source (kWh).
pub type MinuteEnergy = [f64; 3];

/// A profile cut into the minutes of the clock: each minute's energy by source.
pub fn minutes(pieces: &[Piece]) -> BTreeMap<i64, MinuteEnergy> {
    let mut out: BTreeMap<i64, MinuteEnergy> = BTreeMap::new();
    for piece in pieces {
        let mut at = piece.from_ms;
        while at < piece.to_ms {
            let minute = at.div_euclid(MINUTE_MS) * MINUTE_MS;
            let until = (minute + MINUTE_MS).min(piece.to_ms);
            let kwh = piece.kw * (until - at) as f64 / HOUR_MS;
            out.entry(minute).or_default()[piece.source.index()] += kwh;
            at = until;
        }
    }
    out
}

/// One interval of a place's load.
#[derive(Debug, Clone, PartialEq)]
pub struct Interval {
    pub start_ms: i64,
    /// Its energy over its length (kW).
    pub avg_kw: f64,
    /// The most vehicles charging in any one of its minutes.
    pub max_vehicles: u32,
    pub energy_kwh: f64,
    /// Its energy by [`PowerSource`] (kWh, in the order of [`PowerSource::ALL`]).
    pub by_source: [f64; 3],
}

/// The sessions' minutes summed into intervals of `interval_minutes` aligned to the
/// clock (epoch), in time order; intervals with no charge are left out.
pub fn intervals<'a>(
    sessions: impl IntoIterator<Item = &'a BTreeMap<i64, MinuteEnergy>>,
    interval_minutes: i64,
) -> Vec<Interval> {
    let length_ms = interval_minutes * MINUTE_MS;
    // Per minute: energy by source, and vehicles charging.
    let mut per_minute: BTreeMap<i64, (MinuteEnergy, u32)> = BTreeMap::new();
    for session in sessions {
        for (&minute, energy) in session {
            let entry = per_minute.entry(minute).or_default();
            for (sum, kwh) in entry.0.iter_mut().zip(energy) {
                *sum += kwh;
            }
            if energy.iter().sum::<f64>() > 0.0 {
                entry.1 += 1;
            }
        }
    }
    let mut out: Vec<Interval> = Vec::new();
    for (minute, (energy, vehicles)) in per_minute {
        let start_ms = minute.div_euclid(length_ms) * length_ms;
        if out.last().is_none_or(|i| i.start_ms != start_ms) {
            out.push(Interval {
                start_ms,
                avg_kw: 0.0,
                max_vehicles: 0,
                energy_kwh: 0.0,
                by_source: [0.0; 3],
            });
        }
        let Some(interval) = out.last_mut() else {
            continue;
        };
        for (sum, kwh) in interval.by_source.iter_mut().zip(energy) {
            *sum += kwh;
        }
        interval.energy_kwh += energy.iter().sum::<f64>();
        interval.max_vehicles = interval.max_vehicles.max(vehicles);
    }
    for interval in &mut out {
        interval.avg_kw = interval.energy_kwh / (length_ms as f64 / HOUR_MS);
    }
    out.retain(|i| i.energy_kwh > 0.0);
    out
}

/// The period a peak is the highest of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    Day,
    Month,
}

/// The highest interval of a day or month at a place.
#[derive(Debug, Clone, PartialEq)]
pub struct Peak {
    /// The local day, or the first day of the local month.
    pub period: chrono::NaiveDate,
    pub interval_start_ms: i64,
    pub avg_kw: f64,
    /// The vehicles that drew in it, most energy first: (vehicle, kWh).
    pub vehicles: Vec<(String, f64)>,
}

/// Each local day's or month's highest interval of `interval_minutes` (the earliest of
/// equal ones), in time order, from each vehicle's minutes at the place.
pub fn peaks(
    sessions: &[(&str, &BTreeMap<i64, MinuteEnergy>)],
    interval_minutes: i64,
    tz: chrono_tz::Tz,
    period: Period,
) -> Vec<Peak> {
    use chrono::Datelike;
    let length_ms = interval_minutes * MINUTE_MS;
    // Per interval: each vehicle's energy in it.
    let mut by_interval: BTreeMap<i64, BTreeMap<&str, f64>> = BTreeMap::new();
    for (vehicle, minutes) in sessions {
        for (&minute, energy) in minutes.iter() {
            let kwh: f64 = energy.iter().sum();
            if kwh > 0.0 {
                let start = minute.div_euclid(length_ms) * length_ms;
                *by_interval
                    .entry(start)
                    .or_default()
                    .entry(vehicle)
                    .or_default() += kwh;
            }
        }
    }
    let mut best: BTreeMap<chrono::NaiveDate, Peak> = BTreeMap::new();
    for (start, vehicles) in by_interval {
        let Some(local) = chrono::DateTime::from_timestamp_millis(start) else {
            continue;
        };
        let day = local.with_timezone(&tz).date_naive();
        let key = match period {
            Period::Day => day,
            Period::Month => day.with_day(1).unwrap_or(day),
        };
        let avg_kw = vehicles.values().sum::<f64>() / (length_ms as f64 / HOUR_MS);
        if best.get(&key).is_some_and(|p| p.avg_kw >= avg_kw) {
            continue;
        }
        let mut list: Vec<(String, f64)> = vehicles
            .into_iter()
            .map(|(v, kwh)| (v.to_owned(), kwh))
            .collect();
        list.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        best.insert(
            key,
            Peak {
                period: key,
                interval_start_ms: start,
                avg_kw,
                vehicles: list,
            },
        );
    }
    best.into_values().collect()
}

/// Average power by local weekday (Monday first) and hour, and energy by local hour of
/// day, over `[from_ms, to_ms)`.
#[derive(Debug, Clone, PartialEq)]
pub struct HourProfile {
    /// `avg_kw[weekday][hour]`: the energy in that hour of that weekday over the number of
    /// times it occurs in the range (a DST change makes one hour occur once less, or more).
    pub avg_kw: [[f64; 24]; 7],
    /// `energy_kwh[hour]`: every day's energy in that local hour.
    pub energy_kwh: [f64; 24],
}

pub fn hour_profile<'a>(
    sessions: impl IntoIterator<Item = &'a BTreeMap<i64, MinuteEnergy>>,
    from_ms: i64,
    to_ms: i64,
    tz: chrono_tz::Tz,
) -> HourProfile {
    use chrono::{Datelike, Timelike};
    let slot = |ms: i64| {
        chrono::DateTime::from_timestamp_millis(ms).map(|t| {
            let local = t.with_timezone(&tz);
            (
                local.weekday().num_days_from_monday() as usize,
                local.hour() as usize,
            )
        })
    };
    let mut energy = [[0.0_f64; 24]; 7];
    for minutes in sessions {
        for (&minute, e) in minutes.range(from_ms..to_ms) {
            if let Some((day, hour)) = slot(minute) {
                energy[day][hour] += e.iter().sum::<f64>();
            }
        }
    }
    // How often each local weekday-hour occurs: count the range's minutes, in hours.
    let mut occurs = [[0_i64; 24]; 7];
    let mut at = from_ms.div_euclid(HOUR_MS as i64) * HOUR_MS as i64;
    while at < to_ms {
        // Each quarter of an hour, so zones half or three quarters off UTC count right.
        for quarter in 0..4 {
            let t = at + quarter * 15 * MINUTE_MS;
            if (from_ms..to_ms).contains(&t) {
                if let Some((day, hour)) = slot(t) {
                    occurs[day][hour] += 1;
                }
            }
        }
        at += HOUR_MS as i64;
    }
    let mut out = HourProfile {
        avg_kw: [[0.0; 24]; 7],
        energy_kwh: [0.0; 24],
    };
    for day in 0..7 {
        for hour in 0..24 {
            let hours = occurs[day][hour] as f64 / 4.0;
            if hours > 0.0 {
                out.avg_kw[day][hour] = energy[day][hour] / hours;
            }
            out.energy_kwh[hour] += energy[day][hour];
        }
    }
    out
}

#[cfg(test)]
mod tests;
