//! A tariff: what a kWh, a minute and a session cost at a place (or, as the fleet
//! default, at no place) from a local date on. Energy prices come in time-of-use bands
//! read in the place's local time; the first band that holds a moment prices the energy
//! added then, else the default price.

use crate::domain::sessions::ChargerType;
use chrono::{Datelike, Days, NaiveDate, NaiveDateTime, Timelike, Weekday};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A day of the week, as tariffs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Day {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

impl Day {
    /// `mon` … `sun`, as tariffs name them.
    pub fn as_str(self) -> &'static str {
        match self {
            Day::Mon => "mon",
            Day::Tue => "tue",
            Day::Wed => "wed",
            Day::Thu => "thu",
            Day::Fri => "fri",
            Day::Sat => "sat",
            Day::Sun => "sun",
        }
    }

    pub fn of(date: NaiveDate) -> Day {
        match date.weekday() {
            Weekday::Mon => Day::Mon,
            Weekday::Tue => Day::Tue,
            Weekday::Wed => Day::Wed,
            Weekday::Thu => Day::Thu,
            Weekday::Fri => Day::Fri,
            Weekday::Sat => Day::Sat,
            Weekday::Sun => Day::Sun,
        }
    }
}

/// A local time of day to the minute, `"HH:MM"` from `"00:00"` to `"24:00"` (the end of
/// the day, which only ends a band).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ClockTime(u16);

impl ClockTime {
    pub const MIDNIGHT: ClockTime = ClockTime(0);
    pub const END_OF_DAY: ClockTime = ClockTime(24 * 60);

    pub fn parse(text: &str) -> Option<ClockTime> {
        let (h, m) = text.split_once(':')?;
        if h.len() != 2 || m.len() != 2 {
            return None;
        }
        let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
        (m < 60 && (h < 24 || (h == 24 && m == 0))).then_some(ClockTime(h * 60 + m))
    }

    /// Minutes since midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }

    fn of(at: NaiveDateTime) -> u32 {
        at.hour() * 3600 + at.minute() * 60 + at.second()
    }

    fn seconds(self) -> u32 {
        u32::from(self.0) * 60
    }
}

impl TryFrom<String> for ClockTime {
    type Error = String;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        ClockTime::parse(&text).ok_or_else(|| format!("{text:?} is not a time from 00:00 to 24:00"))
    }
}

impl From<ClockTime> for String {
    fn from(t: ClockTime) -> String {
        format!("{:02}:{:02}", t.0 / 60, t.0 % 60)
    }
}

/// A time-of-use price: on `days`, from `from` to `to` (local; a band whose `to` is not
/// after its `from` runs past midnight), in `months` (1 to 12; all when `None`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Band {
    pub days: Vec<Day>,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "22:00"))]
    pub from: ClockTime,
    #[cfg_attr(feature = "ssr", schema(value_type = String, example = "06:00"))]
    pub to: ClockTime,
    pub months: Option<Vec<u32>>,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub price_per_kwh: Decimal,
}

impl Band {
    /// Whether the band starts on a local date: its day and month are listed.
    fn starts_on(&self, date: NaiveDate) -> bool {
        self.days.contains(&Day::of(date))
            && self
                .months
                .as_ref()
                .is_none_or(|m| m.contains(&date.month()))
    }

    /// Whether the band prices energy added at the local moment `at`. A band that runs past
    /// midnight belongs to the day it starts on: Fridays from 22:00 to 06:00 holds from
    /// Friday 22:00 to Saturday 06:00, and its months are those of the Friday.
    pub fn holds(&self, at: NaiveDateTime) -> bool {
        let (now, from, to) = (ClockTime::of(at), self.from.seconds(), self.to.seconds());
        let date = at.date();
        if from < to {
            return (from..to).contains(&now) && self.starts_on(date);
        }
        let yesterday = date.checked_sub_days(Days::new(1));
        (now >= from && self.starts_on(date))
            || (now < to && yesterday.is_some_and(|d| self.starts_on(d)))
    }
}

/// A tariff has at most this many time-of-use bands: real ones have a handful, and each
/// band adds to the work of pricing every session.
pub const MAX_BANDS: usize = 24;

/// One version of a tariff: in force from `valid_from` (a local date) until the next
/// version's. Amounts are exact decimals in `currency` (ISO 4217).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Tariff {
    pub currency: String,
    pub valid_from: NaiveDate,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub session_fee: Decimal,
    /// Charged on the session's duration, start to end.
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub per_minute: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    #[cfg_attr(feature = "ssr", schema(value_type = String))]
    pub default_per_kwh: Decimal,
    /// Only sessions on this kind of charger, when set (public networks price them apart).
    pub charger_type: Option<ChargerType>,
    pub bands: Vec<Band>,
}

/// What is wrong with a tariff, naming the field (`bands[1].to`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    pub field: String,
    pub message: String,
}

fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        field: field.into(),
        message: message.into(),
    }
}

impl Tariff {
    /// The price of a kWh added at the local moment `at`, with the index of the band that
    /// sets it (`None`: the default price).
    pub fn price_at(&self, at: NaiveDateTime) -> (Option<usize>, Decimal) {
        self.bands
            .iter()
            .position(|b| b.holds(at))
            .map_or((None, self.default_per_kwh), |i| {
                (Some(i), self.bands[i].price_per_kwh)
            })
    }

    /// The local times of day at which the price may change: midnight (a new day or
    /// month) and each band's edges.
    pub fn edges(&self) -> Vec<ClockTime> {
        let mut edges = vec![ClockTime::MIDNIGHT];
        for band in &self.bands {
            edges.extend(
                [band.from, band.to]
                    .into_iter()
                    .filter(|t| *t != ClockTime::END_OF_DAY),
            );
        }
        edges.sort_unstable();
        edges.dedup();
        edges
    }

    /// Checks what the types cannot: a known currency, no negative price, at most
    /// [`MAX_BANDS`] bands that name days, months from 1 to 12, and a band that lasts (`from` ≠ `to`, and none starting
    /// at 24:00).
    pub fn check(&self) -> Result<(), Invalid> {
        if super::currency::minor_units(&self.currency).is_none() {
            return Err(invalid(
                "currency",
                "must be an ISO 4217 currency code with a minor unit, such as EUR",
            ));
        }
        for (field, amount) in [
            ("session_fee", self.session_fee),
            ("per_minute", self.per_minute),
            ("default_per_kwh", self.default_per_kwh),
        ] {
            if amount.is_sign_negative() && !amount.is_zero() {
                return Err(invalid(field, "must not be negative"));
            }
        }
        if self.bands.len() > MAX_BANDS {
            return Err(invalid(
                "bands",
                format!("at most {MAX_BANDS} bands (each may name several days and months)"),
            ));
        }
        for (i, band) in self.bands.iter().enumerate() {
            let field = |name: &str| format!("bands[{i}].{name}");
            if band.days.is_empty() {
                return Err(invalid(field("days"), "names no day"));
            }
            if band.from == ClockTime::END_OF_DAY {
                return Err(invalid(field("from"), "a band cannot start at 24:00"));
            }
            if band.from == band.to {
                return Err(invalid(field("to"), "must differ from `from`"));
            }
            if let Some(months) = &band.months {
                if months.is_empty() || months.iter().any(|m| !(1..=12).contains(m)) {
                    return Err(invalid(field("months"), "must list months from 1 to 12"));
                }
            }
            if band.price_per_kwh.is_sign_negative() && !band.price_per_kwh.is_zero() {
                return Err(invalid(field("price_per_kwh"), "must not be negative"));
            }
        }
        Ok(())
    }
}

/// The version of a tariff in force on a local date: the latest that starts on or
/// before it.
pub fn in_force(versions: &[Tariff], date: NaiveDate) -> Option<&Tariff> {
    versions
        .iter()
        .filter(|t| t.valid_from <= date)
        .max_by_key(|t| t.valid_from)
}
