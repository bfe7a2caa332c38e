//! Dates and times as the UI writes them ("2026-03-14 19:02", "Sat 14 Mar 2026").
//!
//! Written from chrono's calendar fields rather than with `format("%Y-%m-%d …")`: the
//! format strings are interpreted at run time, and that interpreter is a sizeable part
//! of the WASM every page loads. chrono still does all the calendar arithmetic; this
//! module only puts the fields in order, in English.

use chrono::{Datelike, Month, NaiveDate, Timelike};

/// "Mar": a month's first three letters.
fn month_abbr(date: NaiveDate) -> &'static str {
    month_name(date).get(..3).unwrap_or_default()
}

/// "March".
fn month_name(date: NaiveDate) -> &'static str {
    u8::try_from(date.month())
        .ok()
        .and_then(|m| Month::try_from(m).ok())
        .map_or("", |m| m.name())
}

/// "19:02".
pub fn hour_minute(at: &impl Timelike) -> String {
    format!("{:02}:{:02}", at.hour(), at.minute())
}

/// "2026-03-14 19:02".
pub fn date_minute<T: Datelike + Timelike>(at: &T) -> String {
    format!(
        "{:04}-{:02}-{:02} {}",
        at.year(),
        at.month(),
        at.day(),
        hour_minute(at)
    )
}

/// "2026-03-14 19:02:05".
pub fn date_second<T: Datelike + Timelike>(at: &T) -> String {
    format!("{}:{:02}", date_minute(at), at.second())
}

/// "14 Mar".
pub fn day_month(date: NaiveDate) -> String {
    format!("{} {}", date.day(), month_abbr(date))
}

/// "14 Mar 2026".
pub fn day_month_year(date: NaiveDate) -> String {
    format!("{} {}", day_month(date), date.year())
}

/// "Sat 14 Mar 2026".
pub fn weekday_date(date: NaiveDate) -> String {
    format!("{} {}", date.weekday(), day_month_year(date))
}

/// "Mar 2026".
pub fn month_abbr_year(date: NaiveDate) -> String {
    format!("{} {}", month_abbr(date), date.year())
}

/// "March 2026".
pub fn month_year(date: NaiveDate) -> String {
    format!("{} {}", month_name(date), date.year())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, FixedOffset, NaiveDateTime};

    /// Each function writes what chrono's format string for it writes, on every day of
    /// four years (a leap year among them) and at times with one-digit fields.
    #[test]
    fn the_same_text_as_chronos_format_strings() {
        let first = NaiveDate::from_ymd_opt(2023, 1, 1).unwrap();
        for date in first.iter_days().take(4 * 366) {
            assert_eq!(day_month(date), date.format("%-d %b").to_string());
            assert_eq!(day_month_year(date), date.format("%-d %b %Y").to_string());
            assert_eq!(weekday_date(date), date.format("%a %-d %b %Y").to_string());
            assert_eq!(month_abbr_year(date), date.format("%b %Y").to_string());
            assert_eq!(month_year(date), date.format("%B %Y").to_string());
        }
        let offset = FixedOffset::east_opt(3600).unwrap();
        for text in [
            "2026-03-14T09:05:07",
            "2026-12-31T23:59:59",
            "0987-01-02T00:00:00",
        ] {
            let naive: NaiveDateTime = text.parse().unwrap();
            let at: DateTime<FixedOffset> = naive.and_local_timezone(offset).unwrap();
            assert_eq!(hour_minute(&at), at.format("%H:%M").to_string());
            assert_eq!(date_minute(&at), at.format("%Y-%m-%d %H:%M").to_string());
            assert_eq!(date_second(&at), at.format("%Y-%m-%d %H:%M:%S").to_string());
        }
    }
}
