//! What a load or what-if request asks for, read from its parameters: a range of the
//! place's local days, an interval length and a cap, each bounded.

use crate::domain::buckets::parse_date;
use chrono::{Days, NaiveDate};

/// Interval lengths offered (minutes): 15 is what demand charges are measured over.
pub const INTERVALS: [u32; 3] = [5, 15, 60];
pub const DEFAULT_INTERVAL: u32 = 15;
/// Longest range of the load: a year (and a leap day).
pub const MAX_LOAD_DAYS: u64 = 366;
/// Days shown when no range is asked for.
pub const DEFAULT_LOAD_DAYS: u64 = 30;
/// Longest range a what-if replays (a minute at a time, every session).
pub const MAX_WHAT_IF_DAYS: u64 = 31;
pub const DEFAULT_WHAT_IF_DAYS: u64 = 7;
/// The largest cap accepted (kW): far beyond any depot's connection.
pub const MAX_CAP_KW: f64 = 100_000.0;

/// A parameter that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub param: &'static str,
    pub message: String,
}

fn invalid(param: &'static str, message: impl Into<String>) -> Invalid {
    Invalid {
        param,
        message: message.into(),
    }
}

/// First and last local day (inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalDays {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

/// The range from optional `from` and `to` (`YYYY-MM-DD`): `to` defaults to `today`,
/// `from` to `default_days` ending at `to`; at most `max_days` long.
pub fn range(
    from: Option<&str>,
    to: Option<&str>,
    today: NaiveDate,
    default_days: u64,
    max_days: u64,
) -> Result<LocalDays, Invalid> {
    let date = |name: &'static str, raw: Option<&str>| -> Result<Option<NaiveDate>, Invalid> {
        match raw.map(str::trim).filter(|r| !r.is_empty()) {
            None => Ok(None),
            Some(r) => parse_date(r)
                .map(Some)
                .ok_or_else(|| invalid(name, "expected a date such as 2026-03-01")),
        }
    };
    let to_date = date("to", to)?;
    let from_date = date("from", from)?;
    let (from, to) = match (from_date, to_date) {
        (Some(f), Some(t)) => (f, t),
        (Some(f), None) => (f, today.max(f).min(f + Days::new(default_days - 1))),
        (None, Some(t)) => (t - Days::new(default_days - 1), t),
        (None, None) => (today - Days::new(default_days - 1), today),
    };
    if from > to {
        return Err(invalid("from", "must not be after `to`"));
    }
    if (to - from).num_days() + 1 > max_days as i64 {
        return Err(invalid(
            "from",
            format!("the range from `from` to `to` is longer than {max_days} days"),
        ));
    }
    Ok(LocalDays { from, to })
}

/// An interval length: `5m`, `15m`, `60m`, `1h` (or the bare minutes); 15 when absent.
pub fn interval(raw: Option<&str>) -> Result<u32, Invalid> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(DEFAULT_INTERVAL);
    };
    let minutes = match raw {
        "1h" => Some(60),
        _ => raw.strip_suffix('m').unwrap_or(raw).parse::<u32>().ok(),
    };
    minutes
        .filter(|m| INTERVALS.contains(m))
        .ok_or_else(|| invalid("interval", "expected 5m, 15m or 60m"))
}

/// A power cap in kW: a number above 0 and at most [`MAX_CAP_KW`].
pub fn cap_kw(raw: Option<&str>) -> Result<f64, Invalid> {
    let raw = raw.map(str::trim).filter(|r| !r.is_empty());
    let cap = raw
        .ok_or_else(|| invalid("cap_kw", "required: the site's limit in kW"))?
        .parse::<f64>()
        .map_err(|_| invalid("cap_kw", "expected a number of kW"))?;
    if !(cap.is_finite() && cap > 0.0 && cap <= MAX_CAP_KW) {
        return Err(invalid(
            "cap_kw",
            format!("expected more than 0 and at most {MAX_CAP_KW} kW"),
        ));
    }
    Ok(cap)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn a_range_defaults_to_the_last_days_and_is_bounded() {
        let today = d("2026-03-31");
        let r = |f, t| range(f, t, today, 30, 366);
        assert_eq!(
            r(None, None),
            Ok(LocalDays {
                from: d("2026-03-02"),
                to: today
            })
        );
        assert_eq!(
            r(Some("2026-01-01"), None),
            Ok(LocalDays {
                from: d("2026-01-01"),
                to: d("2026-01-30")
            })
        );
        assert_eq!(
            r(None, Some("2026-02-10")),
            Ok(LocalDays {
                from: d("2026-01-12"),
                to: d("2026-02-10")
            })
        );
        assert_eq!(
            r(Some("2025-03-31"), Some("2026-03-31")),
            Ok(LocalDays {
                from: d("2025-03-31"),
                to: today
            })
        );
        let long = r(Some("2025-03-30"), Some("2026-03-31")).unwrap_err();
        assert!(long.message.contains("366"), "{long:?}");
        assert!(r(Some("2026-03-02"), Some("2026-03-01")).is_err());
        assert_eq!(r(Some("yesterday"), None).unwrap_err().param, "from");
        assert_eq!(r(None, Some("2026-13-01")).unwrap_err().param, "to");
    }

    #[test]
    fn intervals_and_caps_are_read_or_refused() {
        assert_eq!(interval(None), Ok(15));
        assert_eq!(interval(Some("5m")), Ok(5));
        assert_eq!(interval(Some("60")), Ok(60));
        assert_eq!(interval(Some("1h")), Ok(60));
        assert!(interval(Some("10m")).is_err());
        assert_eq!(cap_kw(Some("150")), Ok(150.0));
        assert!(cap_kw(None).is_err());
        assert!(cap_kw(Some("0")).is_err());
        assert!(cap_kw(Some("NaN")).is_err());
        assert!(cap_kw(Some("1e9")).is_err());
    }
}
