//! Cutting time into calendar days, weeks (Monday first) and months in a named time
//! zone, correct across daylight-saving changes: a bucket starts at local midnight, so
//! some days last 23 or 25 hours.

use chrono::{DateTime, Datelike, Days, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Bucket {
    Day,
    Week,
    Month,
}

impl Bucket {
    pub fn parse(s: &str) -> Option<Bucket> {
        match s {
            "day" => Some(Bucket::Day),
            "week" => Some(Bucket::Week),
            "month" => Some(Bucket::Month),
            _ => None,
        }
    }
}

/// The first instant of a local date: midnight, or the first moment after a gap when
/// a zone skips midnight.
fn local_midnight(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut time = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..24 * 4 {
        if let Some(t) = tz.from_local_datetime(&time).earliest() {
            return t.with_timezone(&Utc);
        }
        time += chrono::Duration::minutes(15);
    }
    Utc.from_utc_datetime(&time)
}

fn first_date(bucket: Bucket, date: NaiveDate) -> NaiveDate {
    match bucket {
        Bucket::Day => date,
        Bucket::Week => date - Days::new(u64::from(date.weekday().num_days_from_monday())),
        Bucket::Month => date.with_day(1).unwrap_or(date),
    }
}

fn next_date(bucket: Bucket, date: NaiveDate) -> NaiveDate {
    match bucket {
        Bucket::Day => date + Days::new(1),
        Bucket::Week => date + Days::new(7),
        Bucket::Month => date + Months::new(1),
    }
}

fn previous_date(bucket: Bucket, date: NaiveDate) -> NaiveDate {
    match bucket {
        Bucket::Day => date - Days::new(1),
        Bucket::Week => date - Days::new(7),
        Bucket::Month => date - Months::new(1),
    }
}

/// A `YYYY-MM-DD` date from a URL, between 1971 and 9998 so that a bucket before or
/// after it still exists; anything else is `None`.
pub fn parse_date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .ok()
        .filter(|d| (1971..=9998).contains(&d.year()))
}

/// The first instant of a local calendar date in `tz`.
pub fn day_start(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    local_midnight(tz, date)
}

impl Bucket {
    /// How many buckets a chart shows when no range is chosen.
    pub fn default_span(self) -> usize {
        match self {
            Bucket::Day => 30,
            Bucket::Week => 12,
            Bucket::Month => 12,
        }
    }

    pub fn as_param(self) -> &'static str {
        match self {
            Bucket::Day => "day",
            Bucket::Week => "week",
            Bucket::Month => "month",
        }
    }
}

/// Most buckets a chart draws; a longer range keeps its newest buckets.
pub const MAX_CHART_BUCKETS: usize = 400;

/// The `[from, to)` a chart covers, whole buckets in `tz`: the local dates
/// `from_date..=to_date` widened to whole buckets, or, for what is not given, the
/// last [`Bucket::default_span`] buckets up to the one holding `now`.
pub fn chart_range(
    bucket: Bucket,
    tz: Tz,
    now: DateTime<Utc>,
    from_date: Option<NaiveDate>,
    to_date: Option<NaiveDate>,
) -> (DateTime<Utc>, DateTime<Utc>) {
    let (from_date, to_date) = match (from_date, to_date) {
        (Some(f), Some(t)) if f > t => (Some(t), Some(f)),
        other => other,
    };
    let last_day = to_date.unwrap_or_else(|| now.with_timezone(&tz).date_naive());
    let last = first_date(bucket, last_day);
    let to = local_midnight(tz, next_date(bucket, last));
    let mut first = match from_date {
        Some(d) => first_date(bucket, d),
        None => (1..bucket.default_span()).fold(last, |d, _| previous_date(bucket, d)),
    };
    let mut count = 1;
    let mut date = last;
    while date > first {
        date = previous_date(bucket, date);
        count += 1;
        if count == MAX_CHART_BUCKETS {
            first = date;
            break;
        }
    }
    (local_midnight(tz, first), to)
}

/// The start of the bucket containing `at`.
pub fn bucket_start(bucket: Bucket, tz: Tz, at: DateTime<Utc>) -> DateTime<Utc> {
    let local = at.with_timezone(&tz).date_naive();
    local_midnight(tz, first_date(bucket, local))
}

/// The starts of every bucket that overlaps `[from, to)`, oldest first.
pub fn bucket_starts(
    bucket: Bucket,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let mut out = Vec::new();
    let mut date = first_date(bucket, from.with_timezone(&tz).date_naive());
    loop {
        let start = local_midnight(tz, date);
        if start >= to {
            break;
        }
        out.push(start);
        date = next_date(bucket, date);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnergyBucket {
    /// The bucket's first instant (local midnight in the requested zone), in UTC.
    pub start: DateTime<Utc>,
    pub energy_kwh: f64,
    pub sessions: i64,
}

/// Sums sessions' energy into the buckets of `[from, to)` by the bucket their start
/// falls in. Every bucket of the range is listed, empty ones with 0.
pub fn energy_buckets(
    bucket: Bucket,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    sessions: &[(DateTime<Utc>, Option<f64>)],
) -> Vec<EnergyBucket> {
    let sums: Vec<EnergySum> = sessions
        .iter()
        .map(|&(at, kwh)| EnergySum {
            at,
            energy_kwh: kwh.unwrap_or(0.0),
            sessions: 1,
        })
        .collect();
    sum_buckets(bucket, tz, from, to, &sums)
}

/// Energy and sessions already summed at a time (one session, or a slot of many).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergySum {
    pub at: DateTime<Utc>,
    pub energy_kwh: f64,
    pub sessions: i64,
}

/// Adds sums into the buckets of `[from, to)` by the bucket their time falls in. Every
/// bucket of the range is listed, empty ones with 0.
pub fn sum_buckets(
    bucket: Bucket,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    sums: &[EnergySum],
) -> Vec<EnergyBucket> {
    let starts = bucket_starts(bucket, tz, from, to);
    let mut out: Vec<EnergyBucket> = starts
        .iter()
        .map(|&start| EnergyBucket {
            start,
            energy_kwh: 0.0,
            sessions: 0,
        })
        .collect();
    for sum in sums {
        if sum.at < from || sum.at >= to {
            continue;
        }
        // The last bucket that starts at or before the sum's time.
        let i = starts.partition_point(|s| *s <= sum.at);
        if let Some(b) = i.checked_sub(1).and_then(|i| out.get_mut(i)) {
            b.energy_kwh += sum.energy_kwh;
            b.sessions += sum.sessions;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn energy_is_summed_into_the_bucket_of_each_start() {
        let tz: Tz = "Europe/Stockholm".parse().unwrap();
        let from = utc("2026-03-28T23:00:00Z");
        let to = utc("2026-03-31T22:00:00Z");
        let sessions = vec![
            (utc("2026-03-28T23:30:00Z"), Some(10.0)), // 29th 00:30 local
            (utc("2026-03-29T21:59:00Z"), Some(5.0)),  // 29th 23:59 local (UTC+2 now)
            (utc("2026-03-29T22:00:00Z"), Some(7.5)),  // 30th 00:00 local
            (utc("2026-03-30T12:00:00Z"), None),       // energy unknown: counted, 0 kWh
            (utc("2026-04-02T12:00:00Z"), Some(99.0)), // outside the range
        ];
        let b = energy_buckets(Bucket::Day, tz, from, to, &sessions);
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].energy_kwh, b[0].sessions), (15.0, 2));
        assert_eq!((b[1].energy_kwh, b[1].sessions), (7.5, 2));
        assert_eq!((b[2].energy_kwh, b[2].sessions), (0.0, 0));
    }

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn days_start_at_local_midnight() {
        let tz: Tz = "Europe/Stockholm".parse().unwrap();
        // 23:30 UTC on 14 March is 00:30 on 15 March in Stockholm (UTC+1).
        assert_eq!(
            bucket_start(Bucket::Day, tz, utc("2026-03-14T23:30:00Z")),
            utc("2026-03-14T23:00:00Z")
        );
    }

    #[test]
    fn the_spring_forward_day_has_23_hours_and_autumn_25() {
        let tz: Tz = "Europe/Stockholm".parse().unwrap();
        let days = bucket_starts(
            Bucket::Day,
            tz,
            utc("2026-03-28T12:00:00Z"),
            utc("2026-03-30T12:00:00Z"),
        );
        assert_eq!(
            days,
            vec![
                utc("2026-03-27T23:00:00Z"),
                utc("2026-03-28T23:00:00Z"),
                utc("2026-03-29T22:00:00Z")
            ]
        );
        assert_eq!((days[2] - days[1]).num_hours(), 23);
        let autumn = bucket_starts(
            Bucket::Day,
            tz,
            utc("2026-10-24T12:00:00Z"),
            utc("2026-10-26T12:00:00Z"),
        );
        assert_eq!((autumn[2] - autumn[1]).num_hours(), 25);
    }

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let tz: Tz = "America/New_York".parse().unwrap();
        // Saturday 2026-03-14 12:00 local
        let at = utc("2026-03-14T16:00:00Z");
        assert_eq!(
            bucket_start(Bucket::Week, tz, at),
            utc("2026-03-09T04:00:00Z")
        );
        assert_eq!(
            bucket_start(Bucket::Month, tz, at),
            utc("2026-03-01T05:00:00Z")
        );
        let months = bucket_starts(
            Bucket::Month,
            tz,
            utc("2026-01-15T00:00:00Z"),
            utc("2026-04-01T00:00:00Z"),
        );
        assert_eq!(months.len(), 3);
        assert_eq!(months[0], utc("2026-01-01T05:00:00Z"));
    }

    #[test]
    fn a_zone_that_skips_midnight_starts_the_day_after_the_gap() {
        // Santiago moves clocks from 00:00 to 01:00 on 2026-09-06.
        let tz: Tz = "America/Santiago".parse().unwrap();
        let start = bucket_start(Bucket::Day, tz, utc("2026-09-06T12:00:00Z"));
        assert_eq!(
            start.with_timezone(&tz).format("%H:%M").to_string(),
            "01:00"
        );
    }

    #[test]
    fn a_chart_defaults_to_the_last_buckets_up_to_now() {
        let tz: Tz = "Europe/Berlin".parse().unwrap();
        let now = utc("2026-11-28T10:00:00Z");
        let (from, to) = chart_range(Bucket::Day, tz, now, None, None);
        assert_eq!(to, utc("2026-11-28T23:00:00Z"));
        assert_eq!(from, utc("2026-10-29T23:00:00Z"));
        assert_eq!(bucket_starts(Bucket::Day, tz, from, to).len(), 30);
        // Across the October DST change the days still cut at local midnight.
        let (from, to) = chart_range(Bucket::Month, tz, now, None, None);
        assert_eq!(from, utc("2025-11-30T23:00:00Z"));
        assert_eq!(to, utc("2026-11-30T23:00:00Z"));
        assert_eq!(bucket_starts(Bucket::Month, tz, from, to).len(), 12);
    }

    #[test]
    fn a_chosen_range_is_widened_to_whole_buckets_and_capped() {
        let tz: Tz = "UTC".parse().unwrap();
        let now = utc("2026-11-28T10:00:00Z");
        let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
        // Wednesday to Wednesday: Monday of the first week to Monday after the last.
        let (from, to) = chart_range(
            Bucket::Week,
            tz,
            now,
            date("2026-03-04"),
            date("2026-03-18"),
        );
        assert_eq!(from, utc("2026-03-02T00:00:00Z"));
        assert_eq!(to, utc("2026-03-23T00:00:00Z"));
        // Reversed dates are swapped rather than refused.
        assert_eq!(
            chart_range(
                Bucket::Week,
                tz,
                now,
                date("2026-03-18"),
                date("2026-03-04")
            ),
            (from, to)
        );
        let (from, to) = chart_range(Bucket::Day, tz, now, date("2000-01-01"), None);
        assert_eq!(
            bucket_starts(Bucket::Day, tz, from, to).len(),
            MAX_CHART_BUCKETS
        );
    }

    #[test]
    fn url_dates_are_plain_dates_in_a_sane_range() {
        assert_eq!(
            parse_date(" 2026-03-14 "),
            NaiveDate::from_ymd_opt(2026, 3, 14)
        );
        assert_eq!(parse_date("2026-02-30"), None);
        assert_eq!(parse_date("+262142-12-31"), None);
        assert_eq!(parse_date("1970-01-01"), None);
        assert_eq!(parse_date("yesterday"), None);
    }

    #[test]
    fn parse_names() {
        assert_eq!(Bucket::parse("week"), Some(Bucket::Week));
        assert_eq!(Bucket::parse("year"), None);
    }
}
