//! Data health: how late a vehicle's deliveries arrive and how often, counted in fixed
//! buckets so that a week of a fleet adds up from a few stored rows.
//!
//! A delivery's lag is `deliveredAt` (else when we received it) minus the newest
//! `oemUpdatedAt` of its signals: how long the newest observation it carries took to
//! reach us. Lags are counted in [`LAG_BUCKETS`], a 1-2-5 series of upper bounds from
//! one second to two days; a percentile is reported as the bound of the bucket it falls
//! in ("at most 2 min"), which is as exact as an operator needs and adds up across
//! vehicles and days, where exact percentiles would need every lag kept.

use serde::{Deserialize, Serialize};

/// Upper bounds of the lag buckets, in seconds; one more bucket holds longer lags.
pub const LAG_BUCKETS: [i64; 18] = [
    1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 21_600, 43_200, 86_400,
    172_800,
];

/// The bucket of deliveries that carry no `oemUpdatedAt` (errors, static facts).
pub const NO_LAG: i32 = -1;

/// How many days the page looks back over: the last seven UTC days, today included.
pub const WINDOW_DAYS: i64 = 7;

const DAY_MS: i64 = 86_400_000;

/// Days since 1970-01-01 (UTC) of a time in epoch milliseconds.
pub fn day_of(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// The first day of the window that ends at `now_ms`, and when it starts (epoch ms).
pub fn window_start(now_ms: i64) -> (i64, i64) {
    let first = day_of(now_ms) - (WINDOW_DAYS - 1);
    (first, first * DAY_MS)
}

/// A delivery's lag in milliseconds: from the newest observation it carries (`None` if
/// it carries none) to when it was delivered.
pub fn lag_ms(delivered_at: i64, newest_oem_updated_at: Option<i64>) -> Option<i64> {
    newest_oem_updated_at.map(|oem| delivered_at - oem)
}

/// The bucket a lag falls in. A lag at or below zero (clocks a little apart) counts as
/// the first; `None` is [`NO_LAG`].
pub fn bucket(lag_ms: Option<i64>) -> i32 {
    let Some(lag) = lag_ms else { return NO_LAG };
    let index = LAG_BUCKETS
        .iter()
        .position(|&bound| lag <= bound * 1000)
        .unwrap_or(LAG_BUCKETS.len());
    i32::try_from(index).unwrap_or(i32::MAX)
}

/// A percentile, as the bucket it falls in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LagBound {
    /// At most this many seconds.
    AtMost(i64),
    /// Longer than this many seconds (the last bucket).
    MoreThan(i64),
}

impl LagBound {
    /// "≤ 30 s", "≤ 2 min", "≤ 6 h", "> 2 d".
    pub fn label(self) -> String {
        match self {
            LagBound::AtMost(s) => format!("≤ {}", duration(s)),
            LagBound::MoreThan(s) => format!("> {}", duration(s)),
        }
    }

    /// The bound in seconds, for sorting and the API.
    pub fn seconds(self) -> i64 {
        match self {
            LagBound::AtMost(s) | LagBound::MoreThan(s) => s,
        }
    }
}

fn duration(s: i64) -> String {
    match s {
        s if s < 60 => format!("{s} s"),
        s if s < 3_600 => format!("{} min", s / 60),
        s if s < 86_400 => format!("{} h", s / 3_600),
        s => format!("{} d", s / 86_400),
    }
}

/// Deliveries counted by lag bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LagCounts {
    /// Index `i` counts bucket `i`; the last, lags above every bound.
    counts: [u64; LAG_BUCKETS.len() + 1],
    /// Deliveries without a lag.
    without: u64,
}

impl LagCounts {
    /// Adds `count` deliveries of a stored bucket; an unknown bucket counts as without.
    pub fn add(&mut self, bucket: i32, count: u64) {
        match usize::try_from(bucket)
            .ok()
            .and_then(|i| self.counts.get_mut(i))
        {
            Some(slot) => *slot += count,
            None => self.without += count,
        }
    }

    /// Every delivery counted, with a lag or without.
    pub fn deliveries(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.without
    }

    /// The `p`-th percentile (0 < p ≤ 100) of the lags, nearest rank; `None` without lags.
    pub fn percentile(&self, p: u32) -> Option<LagBound> {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return None;
        }
        let rank = (total * u64::from(p.clamp(1, 100))).div_ceil(100);
        let mut seen = 0;
        for (i, count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(match LAG_BUCKETS.get(i) {
                    Some(&bound) => LagBound::AtMost(bound),
                    None => LagBound::MoreThan(LAG_BUCKETS[LAG_BUCKETS.len() - 1]),
                });
            }
        }
        None
    }
}

/// How long a vehicle's deliveries have been counted in the window that ends at `now_ms`:
/// since the window's start or its first delivery, whichever is later, and at least a
/// day, so that a new vehicle's first few deliveries are not taken for a day's rate.
pub fn counted_for(first_seen_ms: i64, now_ms: i64) -> i64 {
    let (_, from) = window_start(now_ms);
    (now_ms - first_seen_ms.max(from)).max(MIN_COUNTED_MS)
}

/// The shortest time a rate is taken over (see [`counted_for`]).
pub const MIN_COUNTED_MS: i64 = DAY_MS;

/// Deliveries per day over `elapsed_ms`; `None` over no time at all.
pub fn per_day(deliveries: u64, elapsed_ms: i64) -> Option<f64> {
    (elapsed_ms > 0).then(|| deliveries as f64 * DAY_MS as f64 / elapsed_ms as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_fall_in_the_bucket_of_their_upper_bound() {
        assert_eq!(bucket(None), NO_LAG);
        assert_eq!(bucket(Some(-5_000)), 0, "clocks apart count as no lag");
        assert_eq!(bucket(Some(0)), 0);
        assert_eq!(bucket(Some(1_000)), 0);
        assert_eq!(bucket(Some(1_001)), 1);
        assert_eq!(bucket(Some(30_000)), 5);
        assert_eq!(bucket(Some(30_001)), 6);
        assert_eq!(bucket(Some(172_800_000)), 17);
        assert_eq!(bucket(Some(172_800_001)), 18);
        assert_eq!(bucket(Some(i64::MAX)), 18);
    }

    #[test]
    fn percentiles_are_nearest_rank_over_buckets() {
        let mut counts = LagCounts::default();
        assert_eq!(counts.percentile(50), None);
        // 90 deliveries within 5 s, 9 within 2 min, 1 after three days; 4 errors.
        counts.add(bucket(Some(4_000)), 90);
        counts.add(bucket(Some(100_000)), 9);
        counts.add(bucket(Some(3 * 86_400_000)), 1);
        counts.add(NO_LAG, 4);
        assert_eq!(counts.deliveries(), 104);
        assert_eq!(counts.percentile(50), Some(LagBound::AtMost(5)));
        assert_eq!(counts.percentile(90), Some(LagBound::AtMost(5)));
        assert_eq!(counts.percentile(95), Some(LagBound::AtMost(120)));
        assert_eq!(counts.percentile(99), Some(LagBound::AtMost(120)));
        assert_eq!(counts.percentile(100), Some(LagBound::MoreThan(172_800)));
        assert_eq!(counts.percentile(100).unwrap().label(), "> 2 d");
        assert_eq!(LagBound::AtMost(120).label(), "≤ 2 min");
        assert_eq!(LagBound::AtMost(21_600).label(), "≤ 6 h");
        assert_eq!(LagBound::AtMost(5).label(), "≤ 5 s");
    }

    #[test]
    fn an_unknown_stored_bucket_counts_as_without_lag() {
        let mut counts = LagCounts::default();
        counts.add(99, 2);
        counts.add(-7, 1);
        assert_eq!(counts.deliveries(), 3);
        assert_eq!(counts.percentile(50), None);
    }

    #[test]
    fn the_window_is_seven_utc_days_with_today() {
        // 2026-03-14 10:00 UTC.
        let now = 1_773_482_400_000;
        let (first, from) = window_start(now);
        assert_eq!(day_of(now) - first, 6);
        assert_eq!(from, first * DAY_MS);
        assert_eq!(day_of(from), first);
        assert_eq!(day_of(from - 1), first - 1);
        assert_eq!(day_of(-1), -1);
    }

    #[test]
    fn a_rate_is_taken_over_the_window_or_the_vehicles_time_and_at_least_a_day() {
        let now = 1_773_482_400_000;
        let (_, from) = window_start(now);
        assert_eq!(counted_for(from - 30 * DAY_MS, now), now - from);
        assert_eq!(counted_for(now - 2 * DAY_MS, now), 2 * DAY_MS);
        assert_eq!(counted_for(now - 60_000, now), DAY_MS);
        assert_eq!(counted_for(now, now), DAY_MS);
    }

    #[test]
    fn rates_are_per_elapsed_day() {
        assert_eq!(per_day(14, 7 * DAY_MS), Some(2.0));
        assert_eq!(per_day(3, DAY_MS / 2), Some(6.0));
        assert_eq!(per_day(3, 0), None);
        assert_eq!(lag_ms(10_000, Some(4_000)), Some(6_000));
        assert_eq!(lag_ms(10_000, None), None);
    }
}
