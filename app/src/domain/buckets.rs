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

/// Sums sessions' energy into the buckets of `[from, to)` by the bucket their start
/// falls in. Every bucket of the range is listed, empty ones with 0.
pub fn energy_buckets(
    bucket: Bucket,
    tz: Tz,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    sessions: &[(DateTime<Utc>, Option<f64>)],
) -> Vec<crate::domain::api::EnergyBucket> {
    let starts = bucket_starts(bucket, tz, from, to);
    let mut out: Vec<crate::domain::api::EnergyBucket> = starts
        .iter()
        .map(|&start| crate::domain::api::EnergyBucket {
            start,
            energy_kwh: 0.0,
            sessions: 0,
        })
        .collect();
    for (at, kwh) in sessions {
        if *at < from || *at >= to {
            continue;
        }
        // The last bucket that starts at or before `at`.
        let i = starts.partition_point(|s| s <= at);
        if let Some(b) = i.checked_sub(1).and_then(|i| out.get_mut(i)) {
            b.energy_kwh += kwh.unwrap_or(0.0);
            b.sessions += 1;
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
    fn parse_names() {
        assert_eq!(Bucket::parse("week"), Some(Bucket::Week));
        assert_eq!(Bucket::parse("year"), None);
    }
}
