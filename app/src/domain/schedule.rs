//! Departure schedules: when a vehicle leaves (local times by weekday, read in a named
//! IANA zone) and the state of charge it must have by then. The fleet has a default; a
//! vehicle may override it, and a schedule with no departures says the vehicle keeps none.

use crate::domain::pricing::tariff::{ClockTime, Day, Invalid};
use chrono::{DateTime, Days, Duration, LocalResult, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// The state of charge a schedule asks for unless it names one.
pub const DEFAULT_REQUIRED_SOC: u8 = 80;
/// Departure entries a schedule may hold (two shifts a day, every day, fit).
pub const MAX_DEPARTURES: usize = 14;

fn default_required_soc() -> u8 {
    DEFAULT_REQUIRED_SOC
}

/// One departure time on some days of the week.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Departure {
    pub days: Vec<Day>,
    /// Local time, `HH:MM`.
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "06:00"))]
    pub time: ClockTime,
}

/// A departure schedule, as the API reads and writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// The IANA zone the departure times are read in.
    #[cfg_attr(feature = "ssr", schema(example = "Europe/Berlin"))]
    pub timezone: String,
    /// Percent the battery must hold at departure, 1 to 100 (80 unless given).
    #[serde(default = "default_required_soc")]
    pub required_soc: u8,
    /// No departures: the vehicle keeps no schedule (overriding the fleet default).
    pub departures: Vec<Departure>,
}

fn invalid(field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

impl Schedule {
    /// Checks what the types cannot, naming the field.
    pub fn check(&self) -> Result<(), Invalid> {
        if self.zone().is_none() {
            return Err(invalid(
                "timezone",
                "must be an IANA time zone such as Europe/Berlin",
            ));
        }
        if !(1..=100).contains(&self.required_soc) {
            return Err(invalid("required_soc", "must be from 1 to 100 (percent)"));
        }
        if self.departures.len() > MAX_DEPARTURES {
            return Err(invalid(
                "departures",
                format!("at most {MAX_DEPARTURES} entries"),
            ));
        }
        for (i, departure) in self.departures.iter().enumerate() {
            if departure.days.is_empty() {
                return Err(invalid(
                    &format!("departures[{i}].days"),
                    "must name at least one day (mon to sun)",
                ));
            }
            if departure.time >= ClockTime::END_OF_DAY {
                return Err(invalid(
                    &format!("departures[{i}].time"),
                    "must be from 00:00 to 23:59",
                ));
            }
        }
        Ok(())
    }

    pub fn zone(&self) -> Option<Tz> {
        self.timezone.parse().ok()
    }

    /// The first departure strictly after `now`, or `None` when there are no departures
    /// (or the zone is unknown). A local time that a clock change skips (02:30 on a
    /// spring-forward morning) is the first moment after the gap; one that occurs twice
    /// (autumn) is its first occurrence.
    pub fn next_departure(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let zone = self.zone()?;
        let today = now.with_timezone(&zone).date_naive();
        // From yesterday (where a clock change at midnight skips 23:30, it moves to today)
        // to a week ahead.
        (0..=8)
            .filter_map(|offset| today.pred_opt()?.checked_add_days(Days::new(offset)))
            .flat_map(|date| {
                self.departures
                    .iter()
                    .filter(move |d| d.days.contains(&Day::of(date)))
                    .filter_map(move |d| at_local(zone, date, d.time))
            })
            .filter(|&at| at > now)
            .min()
    }
}

/// The instant a local date and time name in `zone`.
fn at_local(zone: Tz, date: NaiveDate, time: ClockTime) -> Option<DateTime<Utc>> {
    let minutes = i64::from(time.minutes());
    let local = date.and_hms_opt(0, 0, 0)? + Duration::minutes(minutes);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(at) => Some(at.with_timezone(&Utc)),
        LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
        // In a gap: the first minute that exists after it (gaps last at most a few hours).
        LocalResult::None => (1..=24 * 60).find_map(|m| {
            zone.from_local_datetime(&(local + Duration::minutes(m)))
                .earliest()
                .map(|at| at.with_timezone(&Utc))
        }),
    }
}

/// The days as an operator reads them: runs of three or more as a range ("Mon–Fri"),
/// others listed ("Sat, Sun").
pub fn describe_days(days: &[Day]) -> String {
    const ALL: [Day; 7] = [
        Day::Mon,
        Day::Tue,
        Day::Wed,
        Day::Thu,
        Day::Fri,
        Day::Sat,
        Day::Sun,
    ];
    let name = |d: Day| {
        let s = d.as_str();
        format!("{}{}", s[..1].to_uppercase(), &s[1..])
    };
    let on: Vec<bool> = ALL.iter().map(|d| days.contains(d)).collect();
    if on.iter().all(|b| *b) {
        return "Every day".to_owned();
    }
    let mut parts = Vec::new();
    let mut i = 0;
    while i < ALL.len() {
        if !on[i] {
            i += 1;
            continue;
        }
        let start = i;
        while i + 1 < ALL.len() && on[i + 1] {
            i += 1;
        }
        match i - start {
            0 => parts.push(name(ALL[start])),
            1 => parts.extend([name(ALL[start]), name(ALL[i])]),
            _ => parts.push(format!("{}–{}", name(ALL[start]), name(ALL[i]))),
        }
        i += 1;
    }
    parts.join(", ")
}

impl Schedule {
    /// "Mon–Fri 06:00; Sat 08:00", or "No departures".
    pub fn describe_departures(&self) -> String {
        if self.departures.is_empty() {
            return "No departures".to_owned();
        }
        self.departures
            .iter()
            .map(|d| format!("{} {}", describe_days(&d.days), String::from(d.time)))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// Where a vehicle's schedule comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ScheduleSource {
    /// Its own override.
    Vehicle,
    /// The fleet default.
    Fleet,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule(zone: &str, departures: &[(&[Day], &str)]) -> Schedule {
        Schedule {
            timezone: zone.to_owned(),
            required_soc: 80,
            departures: departures
                .iter()
                .map(|(days, time)| Departure {
                    days: days.to_vec(),
                    time: ClockTime::parse(time).unwrap(),
                })
                .collect(),
        }
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    const WEEKDAYS: &[Day] = &[Day::Mon, Day::Tue, Day::Wed, Day::Thu, Day::Fri];

    #[test]
    fn reads_the_api_body() {
        let s: Schedule = serde_json::from_str(
            r#"{"timezone":"Europe/Berlin","required_soc":80,"departures":[{"days":["mon","tue","wed","thu","fri"],"time":"06:00"}]}"#,
        )
        .unwrap();
        assert_eq!(s, schedule("Europe/Berlin", &[(WEEKDAYS, "06:00")]));
        assert!(s.check().is_ok());
        let no_soc: Schedule =
            serde_json::from_str(r#"{"timezone":"UTC","departures":[]}"#).unwrap();
        assert_eq!(no_soc.required_soc, DEFAULT_REQUIRED_SOC);
    }

    #[test]
    fn refusals_name_the_field() {
        let field = |s: Schedule| s.check().unwrap_err().field;
        assert_eq!(field(schedule("Mars/Olympus", &[])), "timezone");
        let mut low = schedule("UTC", &[]);
        low.required_soc = 0;
        assert_eq!(field(low), "required_soc");
        let mut high = schedule("UTC", &[]);
        high.required_soc = 101;
        assert_eq!(field(high), "required_soc");
        assert_eq!(
            field(schedule("UTC", &[(WEEKDAYS, "06:00"), (&[], "07:00")])),
            "departures[1].days"
        );
        assert_eq!(
            field(schedule("UTC", &[(WEEKDAYS, "24:00")])),
            "departures[0].time"
        );
        let many: Vec<(&[Day], &str)> = vec![(WEEKDAYS, "06:00"); MAX_DEPARTURES + 1];
        assert_eq!(field(schedule("UTC", &many)), "departures");
        let err = serde_json::from_str::<Schedule>(
            r#"{"timezone":"UTC","departures":[{"days":["mon"],"time":"6am"}]}"#,
        );
        assert!(err.is_err());
    }

    #[test]
    fn next_departure_is_the_first_one_after_now() {
        let s = schedule("Europe/Berlin", &[(WEEKDAYS, "06:00")]);
        // Thursday 2026-12-03 04:00 UTC is 05:00 in Berlin: today's 06:00 is next.
        assert_eq!(
            s.next_departure(utc("2026-12-03T04:00:00Z")),
            Some(utc("2026-12-03T05:00:00Z"))
        );
        // At the departure itself, the next one is tomorrow's.
        assert_eq!(
            s.next_departure(utc("2026-12-03T05:00:00Z")),
            Some(utc("2026-12-04T05:00:00Z"))
        );
        // Friday after departure: Monday's.
        assert_eq!(
            s.next_departure(utc("2026-12-04T12:00:00Z")),
            Some(utc("2026-12-07T05:00:00Z"))
        );
        assert_eq!(
            schedule("UTC", &[]).next_departure(utc("2026-12-04T12:00:00Z")),
            None
        );
    }

    #[test]
    fn a_departure_just_after_midnight_is_tomorrow_morning() {
        let s = schedule("Europe/Berlin", &[(&[Day::Mon], "00:15")]);
        // Sunday 2026-12-06 23:30 Berlin (22:30 UTC): Monday 00:15 Berlin, 45 minutes on.
        assert_eq!(
            s.next_departure(utc("2026-12-06T22:30:00Z")),
            Some(utc("2026-12-06T23:15:00Z"))
        );
    }

    #[test]
    fn several_departures_a_day_pick_the_nearest() {
        let s = schedule(
            "America/New_York",
            &[(WEEKDAYS, "14:00"), (WEEKDAYS, "05:30")],
        );
        // Monday 2026-12-07 10:00 New York (15:00 UTC): the 14:00 departure.
        assert_eq!(
            s.next_departure(utc("2026-12-07T15:00:00Z")),
            Some(utc("2026-12-07T19:00:00Z"))
        );
    }

    #[test]
    fn schedules_read_plainly() {
        assert_eq!(
            schedule("UTC", &[(WEEKDAYS, "06:00"), (&[Day::Sat], "08:30")]).describe_departures(),
            "Mon–Fri 06:00; Sat 08:30"
        );
        assert_eq!(
            describe_days(&[Day::Sun, Day::Mon, Day::Wed, Day::Sat]),
            "Mon, Wed, Sat, Sun"
        );
        assert_eq!(describe_days(&[Day::Tue, Day::Wed]), "Tue, Wed");
        assert_eq!(
            describe_days(&[
                Day::Mon,
                Day::Tue,
                Day::Wed,
                Day::Thu,
                Day::Fri,
                Day::Sat,
                Day::Sun
            ]),
            "Every day"
        );
        assert_eq!(schedule("UTC", &[]).describe_departures(), "No departures");
    }

    #[test]
    fn dst_mornings() {
        // Berlin springs forward on Sunday 2026-03-29: 02:00 becomes 03:00.
        let gap = schedule("Europe/Berlin", &[(&[Day::Sun], "02:30")]);
        assert_eq!(
            gap.next_departure(utc("2026-03-28T23:00:00Z")),
            Some(utc("2026-03-29T01:00:00Z")),
            "02:30 does not exist: the first minute after the gap (03:00 CEST)"
        );
        // 06:00 on that morning is 04:00 UTC (CEST), not 05:00.
        let six = schedule("Europe/Berlin", &[(&[Day::Sun], "06:00")]);
        assert_eq!(
            six.next_departure(utc("2026-03-28T23:00:00Z")),
            Some(utc("2026-03-29T04:00:00Z"))
        );
        // It falls back on Sunday 2026-10-25: 02:30 happens twice, the first counts.
        let twice = schedule("Europe/Berlin", &[(&[Day::Sun], "02:30")]);
        assert_eq!(
            twice.next_departure(utc("2026-10-24T22:00:00Z")),
            Some(utc("2026-10-25T00:30:00Z"))
        );
        let after = schedule("Europe/Berlin", &[(&[Day::Sun], "06:00")]);
        assert_eq!(
            after.next_departure(utc("2026-10-24T22:00:00Z")),
            Some(utc("2026-10-25T05:00:00Z"))
        );
    }
}
