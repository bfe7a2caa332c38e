//! What if a site had been capped: the recorded sessions at a place replayed as if its
//! chargers had shared a power cap, a minute at a time.
//!
//! Each vehicle draws at most what it really drew at the same charge: its limit is the
//! power of the recorded minute in which it had added as much energy as it has now
//! (so a vehicle held back keeps its taper where its battery is, not where the clock
//! is). A minute in which the record shows it not charging before its session ended (a
//! timer, a full battery waiting) stays a minute without charge. It stops when it has
//! the energy it really got, or when it really left (unplugged), short of it.
//!
//! The cap is shared in one of two ways ([`Share`]): equally among the vehicles charging,
//! what one cannot use going to the others; or to the vehicles leaving soonest first.
//! Without a cap (or with one above the recorded peak) the replay is the record.

/// The replay's time step.
pub const STEP_MS: i64 = 60_000;

/// Energy below which a vehicle counts as having what it needs (kWh).
const EPSILON_KWH: f64 = 1e-9;

/// A session as recorded at the place.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub id: String,
    /// Its first minute (epoch ms, a multiple of [`STEP_MS`]).
    pub start_ms: i64,
    /// The average power it drew in each minute from `start_ms` (kW, not negative).
    pub minutes_kw: Vec<f64>,
    /// When the vehicle left (unplugged), epoch ms; before the record's end it is taken as
    /// the record's end.
    pub leaves_ms: i64,
}

impl Recorded {
    /// A session's minutes at the place (`site_load::minutes`) as a recording: its power
    /// each minute from its first, gaps as minutes without charge.
    pub fn from_minutes(
        id: &str,
        minutes: &std::collections::BTreeMap<i64, crate::domain::site_load::MinuteEnergy>,
        leaves_ms: i64,
    ) -> Recorded {
        let start_ms = minutes.keys().next().copied().unwrap_or(leaves_ms);
        let mut minutes_kw = Vec::new();
        for (&minute, energy) in minutes {
            let k = ((minute - start_ms) / STEP_MS) as usize;
            minutes_kw.resize(k, 0.0);
            minutes_kw.push(energy.iter().sum::<f64>() * 60.0);
        }
        Recorded {
            id: id.to_owned(),
            start_ms,
            minutes_kw,
            leaves_ms,
        }
    }

    fn end_ms(&self) -> i64 {
        self.start_ms + STEP_MS * self.minutes_kw.len() as i64
    }

    fn leaves_ms(&self) -> i64 {
        self.leaves_ms.max(self.end_ms())
    }

    /// The energy it got (kWh).
    pub fn energy_kwh(&self) -> f64 {
        let mut energy = 0.0;
        for kw in &self.minutes_kw {
            energy += kw / 60.0;
        }
        energy
    }

    /// When it got the last of it: the end of its last minute with power (its start if none).
    pub fn done_ms(&self) -> i64 {
        let last = self.minutes_kw.iter().rposition(|kw| *kw > 0.0);
        last.map_or(self.start_ms, |i| self.start_ms + STEP_MS * (i as i64 + 1))
    }
}

/// How a cap is shared among the vehicles that want more than it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Equally; what one vehicle cannot use goes to the others.
    Equal,
    /// Vehicles leaving soonest first, each as much as it can draw.
    SoonestFirst,
}

/// What became of one session in a replay.
#[derive(Debug, Clone, PartialEq)]
pub struct Replayed {
    pub id: String,
    /// The energy it got (kWh): the recorded energy unless it left short.
    pub energy_kwh: f64,
    /// What it lacked when it left (kWh; 0 when it got all).
    pub short_kwh: f64,
    /// When it had all its energy (None: it left short).
    pub done_ms: Option<i64>,
    /// The power it drew each minute from its start (kW).
    pub minutes_kw: Vec<f64>,
}

/// A vehicle's recorded minutes with power, by the energy it had added at their start:
/// (energy at the start, energy at the end, kW).
fn capability(session: &Recorded) -> Vec<(f64, f64, f64)> {
    let mut energy = 0.0;
    let mut out = Vec::new();
    for &kw in &session.minutes_kw {
        if kw > 0.0 {
            let end = energy + kw / 60.0;
            out.push((energy, end, kw));
            energy = end;
        }
    }
    out
}

/// The power it drew when it had added `energy` (0 past its energy).
fn limit_at(capability: &[(f64, f64, f64)], energy: f64) -> f64 {
    let i = capability.partition_point(|&(_, end, _)| end <= energy);
    capability.get(i).map_or(0.0, |&(_, _, kw)| kw)
}

/// Shares `cap_kw` among `wants` (kW each, in the order given for [`Share::SoonestFirst`]).
pub fn share(wants: &[f64], cap_kw: f64, how: Share) -> Vec<f64> {
    let total: f64 = wants.iter().sum();
    if total <= cap_kw {
        return wants.to_vec();
    }
    let mut given = vec![0.0; wants.len()];
    let mut left = cap_kw.max(0.0);
    match how {
        Share::SoonestFirst => {
            for (g, want) in given.iter_mut().zip(wants) {
                *g = want.min(left);
                left -= *g;
            }
        }
        Share::Equal => {
            // Water-filling: the smallest wants are met in full while they are under an
            // equal share of what is left; the rest get that share.
            let mut order: Vec<usize> = (0..wants.len()).collect();
            order.sort_by(|&a, &b| wants[a].total_cmp(&wants[b]));
            let mut waiting = order.len();
            for i in order {
                let fair = left / waiting as f64;
                given[i] = wants[i].min(fair);
                left -= given[i];
                waiting -= 1;
            }
        }
    }
    given
}

/// Replays `sessions` under `cap_kw` (`f64::INFINITY`: no cap), shared `how`.
pub fn replay(sessions: &[Recorded], cap_kw: f64, how: Share) -> Vec<Replayed> {
    let capabilities: Vec<_> = sessions.iter().map(capability).collect();
    let goals: Vec<f64> = sessions.iter().map(Recorded::energy_kwh).collect();
    let mut energy = vec![0.0_f64; sessions.len()];
    let mut done: Vec<Option<i64>> = vec![None; sessions.len()];
    let mut drawn: Vec<Vec<f64>> = vec![Vec::new(); sessions.len()];
    let (Some(first), Some(last)) = (
        sessions.iter().map(|s| s.start_ms).min(),
        sessions.iter().map(Recorded::leaves_ms).max(),
    ) else {
        return Vec::new();
    };
    // Each session's leaving and recorded finishing times, read once.
    let leaves: Vec<i64> = sessions.iter().map(Recorded::leaves_ms).collect();
    let done_recorded: Vec<i64> = sessions.iter().map(Recorded::done_ms).collect();
    // Sessions join the replay as their start comes and drop out once done or gone; those
    // charging are kept soonest to leave first, then by id: the order the cap is offered in.
    let offer = |i: usize| (leaves[i], sessions[i].id.as_str());
    let mut arrivals: Vec<usize> = (0..sessions.len()).collect();
    arrivals.sort_by_key(|&i| sessions[i].start_ms);
    let mut arrived = 0;
    let mut charging: Vec<usize> = Vec::new();
    let mut t = first;
    while t < last {
        while let Some(&i) = arrivals
            .get(arrived)
            .filter(|&&i| sessions[i].start_ms <= t)
        {
            let at = charging.partition_point(|&j| offer(j) < offer(i));
            charging.insert(at, i);
            arrived += 1;
        }
        charging.retain(|&i| t < leaves[i] && done[i].is_none());
        if charging.is_empty() {
            // Nobody here: on to the next arrival (starts lie on the minute grid).
            match arrivals.get(arrived) {
                Some(&i) => t = t.max(sessions[i].start_ms),
                None => break,
            }
            continue;
        }
        let mut wants = Vec::with_capacity(charging.len());
        for &i in &charging {
            let s = &sessions[i];
            // A pause in the record before it was done (a timer) is kept; the minutes
            // after it was done are free to catch up in.
            let minute = ((t - s.start_ms) / STEP_MS) as usize;
            let paused =
                t < done_recorded[i] && s.minutes_kw.get(minute).is_some_and(|kw| *kw <= 0.0);
            let left_kwh = goals[i] - energy[i];
            let want = if paused || left_kwh <= EPSILON_KWH {
                0.0
            } else {
                limit_at(&capabilities[i], energy[i]).min(left_kwh * 60.0)
            };
            wants.push(want);
        }
        let given = share(&wants, cap_kw, how);
        for (&i, kw) in charging.iter().zip(given) {
            let s = &sessions[i];
            let minute = ((t - s.start_ms) / STEP_MS) as usize;
            if drawn[i].len() < minute {
                drawn[i].resize(minute, 0.0);
            }
            drawn[i].push(kw);
            energy[i] += kw / 60.0;
            if goals[i] - energy[i] <= EPSILON_KWH && done[i].is_none() && goals[i] > 0.0 {
                done[i] = Some(t + STEP_MS);
            }
        }
        t += STEP_MS;
    }
    sessions
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let mut minutes = std::mem::take(&mut drawn[i]);
            while minutes.last().is_some_and(|kw| *kw <= 0.0) {
                minutes.pop();
            }
            let got_all = goals[i] - energy[i] <= EPSILON_KWH;
            Replayed {
                id: s.id.clone(),
                energy_kwh: energy[i],
                short_kwh: if got_all { 0.0 } else { goals[i] - energy[i] },
                done_ms: if got_all {
                    Some(done[i].unwrap_or(s.start_ms))
                } else {
                    None
                },
                minutes_kw: minutes,
            }
        })
        .collect()
}

/// The site's power each minute from `from_ms` (kW), summed over sessions given as
/// (start, kW each minute).
pub fn site_minutes<'a>(
    sessions: impl IntoIterator<Item = (i64, &'a [f64])>,
    from_ms: i64,
) -> Vec<f64> {
    let mut site: Vec<f64> = Vec::new();
    for (start, minutes) in sessions {
        let offset = ((start - from_ms) / STEP_MS) as usize;
        if site.len() < offset + minutes.len() {
            site.resize(offset + minutes.len(), 0.0);
        }
        for (k, kw) in minutes.iter().enumerate() {
            site[offset + k] += kw;
        }
    }
    site
}

/// The highest average power over intervals of `interval_minutes`, aligned to the epoch
/// (the demand charge's peak), of a site's power each minute from `from_ms`.
pub fn peak_kw(site: &[f64], from_ms: i64, interval_minutes: i64) -> f64 {
    let interval_ms = interval_minutes * STEP_MS;
    let mut sums: std::collections::BTreeMap<i64, f64> = std::collections::BTreeMap::new();
    for (k, kw) in site.iter().enumerate() {
        let at = from_ms + STEP_MS * k as i64;
        *sums.entry(at.div_euclid(interval_ms)).or_default() += kw;
    }
    sums.values()
        .map(|sum| sum / interval_minutes as f64)
        .fold(0.0, f64::max)
}

/// What a cap would have done, as the what-if report says it.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub recorded_peak_kw: f64,
    pub new_peak_kw: f64,
    /// Sessions that got all their energy, later than recorded.
    pub sessions_later: usize,
    pub median_delay_min: f64,
    pub worst_delay_min: f64,
    /// Sessions whose vehicle left before it had the energy it really got.
    pub sessions_short: usize,
    pub kwh_short: f64,
}

/// Replays `sessions` under `cap_kw`, shared `how`, and sums up what changed, peaks over
/// intervals of `interval_minutes`.
pub fn summarize(sessions: &[Recorded], cap_kw: f64, how: Share, interval_minutes: i64) -> Summary {
    let from = sessions.iter().map(|s| s.start_ms).min().unwrap_or(0);
    let recorded = site_minutes(
        sessions
            .iter()
            .map(|s| (s.start_ms, s.minutes_kw.as_slice())),
        from,
    );
    let replayed = replay(sessions, cap_kw, how);
    let new = site_minutes(
        sessions
            .iter()
            .zip(&replayed)
            .map(|(s, r)| (s.start_ms, r.minutes_kw.as_slice())),
        from,
    );
    let mut delays: Vec<f64> = sessions
        .iter()
        .zip(&replayed)
        .filter_map(|(s, r)| {
            let late = r.done_ms? - s.done_ms();
            (late > 0).then(|| late as f64 / STEP_MS as f64)
        })
        .collect();
    delays.sort_by(f64::total_cmp);
    let short: Vec<f64> = replayed
        .iter()
        .filter(|r| r.done_ms.is_none())
        .map(|r| r.short_kwh)
        .collect();
    Summary {
        recorded_peak_kw: peak_kw(&recorded, from, interval_minutes),
        new_peak_kw: peak_kw(&new, from, interval_minutes),
        sessions_later: delays.len(),
        median_delay_min: median(&delays),
        worst_delay_min: delays.last().copied().unwrap_or(0.0),
        sessions_short: short.len(),
        // From +0 (a float sum of nothing is -0).
        kwh_short: short.iter().fold(0.0, |sum, kwh| sum + kwh),
    }
}

/// The median of sorted values (0 for none).
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests;
