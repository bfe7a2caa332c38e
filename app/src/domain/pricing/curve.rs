//! A session's energy in time: the energy added so far at each reading, and between two
//! readings the energy added between them accruing evenly in time. Cutting the curve at
//! instants (a tariff band's edge, a local midnight, a month's first instant) gives the
//! energy added in each part, and the parts always add up to the whole.

use crate::domain::buckets::{bucket_starts, Bucket};
use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;

/// Energy added since a session started (kWh) at instants (epoch ms), in time order.
#[derive(Debug, Clone, PartialEq)]
pub struct EnergyCurve {
    points: Vec<(i64, f64)>,
}

impl EnergyCurve {
    /// The curve through readings of the energy added so far, in any order. At one instant
    /// the largest reading counts, and energy added never shrinks: a reading below an
    /// earlier one is held at the earlier value. Readings that are not finite are ignored.
    pub fn new(readings: impl IntoIterator<Item = (DateTime<Utc>, f64)>) -> EnergyCurve {
        let mut sorted: Vec<(i64, f64)> = readings
            .into_iter()
            .filter(|(_, kwh)| kwh.is_finite())
            .map(|(at, kwh)| (at.timestamp_millis(), kwh.max(0.0)))
            .collect();
        sorted.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
        let mut points: Vec<(i64, f64)> = Vec::with_capacity(sorted.len());
        for (at, kwh) in sorted {
            let floor = points.last().map_or(0.0, |p| p.1);
            match points.last_mut() {
                Some(last) if last.0 == at => last.1 = kwh.max(floor),
                _ => points.push((at, kwh.max(floor))),
            }
        }
        EnergyCurve { points }
    }

    /// `kwh` added evenly from `start` to `end`: a session known only by its total.
    pub fn even(start: DateTime<Utc>, end: DateTime<Utc>, kwh: f64) -> EnergyCurve {
        EnergyCurve::new([(start, 0.0), (end.max(start), kwh)])
    }

    /// The same shape carrying `kwh` in all: the readings' timing with the session's own
    /// total (when the total comes from a better source than the readings). A curve that
    /// adds nothing has no shape to keep and stays flat.
    pub fn scaled_to(&self, kwh: f64) -> EnergyCurve {
        let total = self.total();
        if total <= 0.0 || !kwh.is_finite() {
            return self.clone();
        }
        let factor = kwh.max(0.0) / total;
        let base = self.points.first().map_or(0.0, |p| p.1);
        EnergyCurve {
            points: self
                .points
                .iter()
                .map(|&(at, v)| (at, (v - base) * factor))
                .collect(),
        }
    }

    /// Energy added from the first reading to the last.
    pub fn total(&self) -> f64 {
        match (self.points.first(), self.points.last()) {
            (Some(first), Some(last)) => last.1 - first.1,
            _ => 0.0,
        }
    }

    /// The energy added so far at `t` (ms): the first reading's before it, the last's after.
    fn added_at(&self, t: i64) -> f64 {
        let after = self.points.partition_point(|p| p.0 <= t);
        match (
            after.checked_sub(1).map(|i| self.points[i]),
            self.points.get(after),
        ) {
            (None, Some(next)) => next.1,
            (Some(before), None) => before.1,
            (Some((t0, v0)), Some(&(t1, v1))) => {
                v0 + (v1 - v0) * ((t - t0) as f64 / (t1 - t0) as f64)
            }
            (None, None) => 0.0,
        }
    }

    /// Energy added from `from` to `to` (0 when `to` is not after `from`).
    pub fn between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
        let (from, to) = (from.timestamp_millis(), to.timestamp_millis());
        if to <= from {
            return 0.0;
        }
        self.added_at(to) - self.added_at(from)
    }

    /// The energy in each part of time between consecutive `cuts` (which must be in time
    /// order); with the first cut at or before the first reading and the last at or after
    /// the last, the parts add up to [`EnergyCurve::total`].
    pub fn split(&self, cuts: &[DateTime<Utc>]) -> Vec<f64> {
        cuts.windows(2).map(|w| self.between(w[0], w[1])).collect()
    }

    /// The energy added in each local day, week or month (in `tz`) the curve reaches, by
    /// the bucket's first instant, oldest first: energy counts where it was added, not
    /// where its session started, and the buckets add up to [`EnergyCurve::total`].
    pub fn by_bucket(&self, bucket: Bucket, tz: Tz) -> Vec<(DateTime<Utc>, f64)> {
        let Some((first, last)) = self.span() else {
            return Vec::new();
        };
        let end = last + TimeDelta::milliseconds(1);
        let starts = bucket_starts(bucket, tz, first, end);
        let mut cuts = starts.clone();
        cuts.push(end);
        starts.into_iter().zip(self.split(&cuts)).collect()
    }

    /// A stored session's energy in time: its `points` (energy added so far at epoch
    /// ms) carrying its total `kwh`, or the total spread evenly from `start` to `end`
    /// when no points were kept.
    pub fn of_session(
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        kwh: f64,
        points: &[(i64, f64)],
    ) -> EnergyCurve {
        if points.is_empty() {
            return EnergyCurve::even(start, end.max(start), kwh);
        }
        EnergyCurve::new(
            points
                .iter()
                .filter_map(|&(ms, e)| Some((DateTime::from_timestamp_millis(ms)?, e))),
        )
        .scaled_to(kwh)
    }

    /// The first and last reading's instants.
    pub fn span(&self) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let at = |ms: i64| DateTime::<Utc>::from_timestamp_millis(ms);
        Some((at(self.points.first()?.0)?, at(self.points.last()?.0)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_millis(1_780_000_000_000 + minutes * 60_000).unwrap()
    }

    #[test]
    fn energy_accrues_evenly_between_readings() {
        let curve = EnergyCurve::new([(t(0), 0.0), (t(60), 6.0), (t(120), 8.0)]);
        assert_eq!(curve.total(), 8.0);
        assert_eq!(curve.between(t(0), t(30)), 3.0);
        assert_eq!(curve.between(t(30), t(90)), 4.0);
        assert_eq!(curve.between(t(90), t(200)), 1.0);
        assert_eq!(curve.between(t(-50), t(0)), 0.0);
        assert_eq!(curve.split(&[t(-10), t(60), t(130)]), vec![6.0, 2.0]);
    }

    #[test]
    fn readings_in_any_order_make_one_curve_that_never_goes_down() {
        let a = EnergyCurve::new([(t(60), 6.0), (t(0), 0.0), (t(30), 2.0), (t(30), 1.0)]);
        let b = EnergyCurve::new([(t(0), 0.0), (t(30), 2.0), (t(60), 6.0)]);
        assert_eq!(a, b);
        let dip = EnergyCurve::new([(t(0), 0.0), (t(10), 5.0), (t(20), 3.0), (t(30), 7.0)]);
        assert_eq!(dip.between(t(10), t(20)), 0.0);
        assert_eq!(dip.total(), 7.0);
        let junk = EnergyCurve::new([(t(0), f64::NAN), (t(5), 1.0)]);
        assert_eq!(junk.total(), 0.0);
    }

    #[test]
    fn a_total_alone_is_spread_evenly_and_a_shape_can_carry_another_total() {
        let even = EnergyCurve::even(t(0), t(40), 10.0);
        assert_eq!(even.between(t(0), t(10)), 2.5);
        let shaped = EnergyCurve::new([(t(0), 0.0), (t(10), 3.0), (t(40), 4.0)]).scaled_to(8.0);
        assert_eq!(shaped.total(), 8.0);
        assert_eq!(shaped.between(t(0), t(10)), 6.0);
        let flat = EnergyCurve::new([(t(0), 0.0), (t(10), 0.0)]).scaled_to(5.0);
        assert_eq!(flat.total(), 0.0);
    }

    #[test]
    fn energy_counts_in_the_day_and_month_it_was_added() {
        let berlin = chrono_tz::Europe::Berlin;
        let local = |y, m, d, h| {
            use chrono::TimeZone;
            berlin
                .with_ymd_and_hms(y, m, d, h, 0, 0)
                .unwrap()
                .with_timezone(&Utc)
        };
        // 23:00 on 31 January to 01:00 on 1 February: half in each day and month.
        let curve = EnergyCurve::even(local(2026, 1, 31, 23), local(2026, 2, 1, 1), 2.0);
        assert_eq!(
            curve.by_bucket(Bucket::Day, berlin),
            vec![(local(2026, 1, 31, 0), 1.0), (local(2026, 2, 1, 0), 1.0)]
        );
        assert_eq!(
            curve.by_bucket(Bucket::Month, berlin),
            vec![(local(2026, 1, 1, 0), 1.0), (local(2026, 2, 1, 0), 1.0)]
        );
        // The autumn night has 25 hours: 20:00 to 20:00 the next day is 25 hours, of
        // which 4 are on the Saturday.
        let curve = EnergyCurve::even(local(2026, 10, 24, 20), local(2026, 10, 25, 20), 25.0);
        let days = curve.by_bucket(Bucket::Day, berlin);
        assert_eq!(days.len(), 2);
        assert!(
            (days[0].1 - 4.0).abs() < 1e-9 && (days[1].1 - 21.0).abs() < 1e-9,
            "{days:?}"
        );
    }

    proptest! {
        /// However the time is cut, the parts add up to the session's energy.
        #[test]
        fn parts_add_up_to_the_whole(
            steps in prop::collection::vec((1_i64..600, 0.0_f64..20.0), 1..40),
            cut_minutes in prop::collection::vec(-100_i64..30_000, 0..30),
        ) {
            let mut readings = vec![(t(0), 0.0)];
            let (mut at, mut kwh) = (0, 0.0);
            for (dt, added) in steps {
                at += dt;
                kwh += added;
                readings.push((t(at), kwh));
            }
            let curve = EnergyCurve::new(readings.clone());
            let mut cuts: Vec<i64> = cut_minutes.into_iter().filter(|m| *m > 0 && *m < at).collect();
            cuts.push(-1);
            cuts.push(at + 1);
            cuts.sort_unstable();
            let cuts: Vec<DateTime<Utc>> = cuts.into_iter().map(t).collect();
            let sum: f64 = curve.split(&cuts).iter().sum();
            prop_assert!((sum - kwh).abs() < 1e-9 * kwh.max(1.0), "{sum} != {kwh}");
            readings.reverse();
            prop_assert_eq!(EnergyCurve::new(readings), curve);
        }
    }
}
