//! What the fleet page shows: plain data, the same on server and browser.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A vehicle's latest known state, each value from the newest reading of its signal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VehicleSummary {
    pub id: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub soc_percent: Option<f64>,
    pub is_charging: Option<bool>,
    pub is_plugged_in: Option<bool>,
    pub range_km: Option<f64>,
    pub power_kw: Option<f64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Energy added by sessions that started in the last 7 and 30 days.
    pub energy_7d_kwh: f64,
    pub energy_30d_kwh: f64,
    /// The newest `oemUpdatedAt` of any of the vehicle's readings.
    pub updated_at: Option<DateTime<Utc>>,
    /// When chargelog last received a delivery for this vehicle.
    pub last_delivery_at: DateTime<Utc>,
    /// The status as shown: what the signals say, or stale when they are old.
    pub status: ChargeStatus,
}

/// Charging, plugged in, or neither, as the status column shows it; stale when the
/// vehicle's newest reading is older than the stale time (then what it last said is
/// [`VehicleSummary::reported_status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    Charging,
    Plugged,
    Idle,
    Unknown,
    Stale,
}

crate::domain::text::text_enum!(ChargeStatus, "charge status");

impl ChargeStatus {
    pub const ALL: [ChargeStatus; 5] = [
        ChargeStatus::Charging,
        ChargeStatus::Plugged,
        ChargeStatus::Idle,
        ChargeStatus::Unknown,
        ChargeStatus::Stale,
    ];

    /// What the charging and cable signals say: charging wins over plugged in.
    pub fn reported(is_charging: Option<bool>, is_plugged_in: Option<bool>) -> ChargeStatus {
        match (is_charging, is_plugged_in) {
            (Some(true), _) => ChargeStatus::Charging,
            (_, Some(true)) => ChargeStatus::Plugged,
            (Some(false), _) | (_, Some(false)) => ChargeStatus::Idle,
            (None, None) => ChargeStatus::Unknown,
        }
    }

    /// The status to show at `now_ms`: the reported one, unless the vehicle's newest
    /// reading (`updated_at_ms`) is older than the stale time. A vehicle that never sent
    /// a timed reading has nothing to grow old.
    pub fn shown(
        reported: ChargeStatus,
        updated_at_ms: Option<i64>,
        now_ms: i64,
        config: &crate::domain::sessions::EngineConfig,
    ) -> ChargeStatus {
        match updated_at_ms {
            Some(at) if config.is_stale(at, now_ms) => ChargeStatus::Stale,
            _ => reported,
        }
    }
}

/// The longest word the search keeps, in characters: a longer word is cut there, in a
/// name and in a search alike.
pub const MAX_WORD: usize = 40;

/// The words of `text` as the search sees them: lower-cased runs of letters and digits,
/// each cut at [`MAX_WORD`] ("ID.4" is "id" and "4"; an id "9a61e000-7f" is "9a61e000"
/// and "7f").
pub fn search_words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w.chars().take(MAX_WORD).collect::<String>().to_lowercase())
        .collect()
}

/// What the name sort orders by and the search looks in: the words of make, model, year
/// and id, joined by single spaces ("polestar polestar 2 2023 v1").
pub fn sort_name(id: &str, year: Option<i32>, make: Option<&str>, model: Option<&str>) -> String {
    let year = year.map(|y| y.to_string());
    [make, model, year.as_deref(), Some(id)]
        .into_iter()
        .flatten()
        .flat_map(search_words)
        .collect::<Vec<_>>()
        .join(" ")
}

/// "2023 POLESTAR Polestar 2", or the id when nothing else is known.
pub fn vehicle_name(
    id: &str,
    year: Option<i32>,
    make: Option<&str>,
    model: Option<&str>,
) -> String {
    let parts: Vec<String> = [
        year.map(|y| y.to_string()),
        make.map(str::to_owned),
        model.map(str::to_owned),
    ]
    .into_iter()
    .flatten()
    .filter(|p| !p.trim().is_empty())
    .collect();
    if parts.is_empty() {
        id.to_owned()
    } else {
        parts.join(" ")
    }
}

impl VehicleSummary {
    pub fn display_name(&self) -> String {
        vehicle_name(
            &self.id,
            self.year,
            self.make.as_deref(),
            self.model.as_deref(),
        )
    }

    /// What the signals last said, stale or not.
    pub fn reported_status(&self) -> ChargeStatus {
        ChargeStatus::reported(self.is_charging, self.is_plugged_in)
    }
}

impl ChargeStatus {
    pub fn label(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "Charging",
            ChargeStatus::Plugged => "Plugged in",
            ChargeStatus::Idle => "Idle",
            ChargeStatus::Unknown => "Unknown",
            ChargeStatus::Stale => "Stale",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "status status-charging",
            ChargeStatus::Plugged => "status status-plugged",
            ChargeStatus::Idle => "status status-idle",
            ChargeStatus::Unknown => "status status-unknown",
            ChargeStatus::Stale => "status status-stale",
        }
    }
}

/// The numbers above the fleet table, in the viewer's zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct FleetTotals {
    pub vehicles: usize,
    pub charging_now: usize,
    pub kwh_today: f64,
    pub kwh_this_month: f64,
}

/// The fleet page's data: the fleet's totals and chart, and one page of its vehicles.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetPage {
    pub totals: FleetTotals,
    /// Energy added per day over the last 30 days (by session start).
    pub daily: Vec<crate::domain::buckets::EnergyBucket>,
    /// The vehicles on this page, in the query's order.
    pub vehicles: Vec<VehicleSummary>,
    /// How many vehicles match the search and filter, on every page.
    pub matching: u64,
    /// The id of the vehicle the next page starts after, if there is a next page.
    pub next: Option<String>,
    /// The id of the vehicle the previous page ends before, if there is one.
    pub prev: Option<String>,
    /// Whether the server has a management token, so webhooks can be accepted.
    pub webhooks_enabled: bool,
}

/// What a live refresh brings to an open fleet page: the vehicles it shows, each with
/// its new state (in the page's order; a vehicle's new values do not move it), and the
/// fleet's new totals and chart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetRefresh {
    pub totals: FleetTotals,
    pub daily: Vec<crate::domain::buckets::EnergyBucket>,
    pub vehicles: Vec<VehicleSummary>,
}

/// Vehicles a live refresh may ask for at once: more than a page holds.
pub const MAX_REFRESH: usize = 200;

/// "12.3", "80": a number with at most one decimal, no trailing ".0".
pub fn format_number(x: f64) -> String {
    // Adding zero turns a negative zero (a sum of nothing, -0.04 rounded) into 0.
    let rounded = (x * 10.0).round() / 10.0 + 0.0;
    if rounded.fract() == 0.0 {
        format!("{rounded:.0}")
    } else {
        format!("{rounded:.1}")
    }
}

/// "2 h 13 min", "45 min", "0 min".
pub fn format_duration(seconds: i64) -> String {
    let minutes = seconds.max(0) / 60;
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// How old, in its largest unit: "40 min", "5 h", "3 days", "8 months", "2 years".
pub fn format_age(elapsed_ms: i64) -> String {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    match elapsed_ms.max(0) {
        ms if ms < HOUR => format!("{} min", ms / MINUTE),
        ms if ms < DAY => format!("{} h", ms / HOUR),
        ms if ms < 60 * DAY => plural(ms / DAY, "day"),
        ms if ms < 365 * DAY => plural(ms / (30 * DAY), "month"),
        ms => plural(ms / (365 * DAY), "year"),
    }
}

/// How long ago, for times within the last 30 days: "just now", "3 min ago",
/// "5 h ago", "2 days ago". `None` for older times (show the date) and for the future
/// beyond a minute of clock skew.
pub fn format_ago(elapsed_ms: i64) -> Option<String> {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    match elapsed_ms {
        ms if ms < -MINUTE => None,
        ms if ms < MINUTE => Some("just now".to_owned()),
        ms if ms < HOUR => Some(format!("{} min ago", ms / MINUTE)),
        ms if ms < DAY => Some(format!("{} h ago", ms / HOUR)),
        ms if ms < 2 * DAY => Some("yesterday".to_owned()),
        ms if ms < 30 * DAY => Some(format!("{} days ago", ms / DAY)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ago_reads_naturally_and_gives_up_after_a_month() {
        let min = 60_000;
        assert_eq!(format_ago(-30_000).as_deref(), Some("just now"));
        assert_eq!(format_ago(59_999).as_deref(), Some("just now"));
        assert_eq!(format_ago(3 * min).as_deref(), Some("3 min ago"));
        assert_eq!(format_ago(60 * min).as_deref(), Some("1 h ago"));
        assert_eq!(
            format_ago(23 * 60 * min + 59 * min).as_deref(),
            Some("23 h ago")
        );
        assert_eq!(format_ago(24 * 60 * min).as_deref(), Some("yesterday"));
        assert_eq!(format_ago(3 * 24 * 60 * min).as_deref(), Some("3 days ago"));
        assert_eq!(format_ago(30 * 24 * 60 * min), None);
        assert_eq!(format_ago(-2 * min), None);
    }

    pub(super) fn summary() -> VehicleSummary {
        VehicleSummary {
            id: "v1".into(),
            make: Some("POLESTAR".into()),
            model: Some("Polestar 2".into()),
            year: Some(2023),
            soc_percent: None,
            is_charging: None,
            is_plugged_in: None,
            range_km: None,
            power_kw: None,
            latitude: None,
            longitude: None,
            energy_7d_kwh: 0.0,
            energy_30d_kwh: 0.0,
            updated_at: None,
            last_delivery_at: DateTime::<Utc>::MIN_UTC,
            status: ChargeStatus::Unknown,
        }
    }

    #[test]
    fn display_name_joins_year_make_model_or_falls_back_to_id() {
        assert_eq!(summary().display_name(), "2023 POLESTAR Polestar 2");
        let bare = VehicleSummary {
            make: None,
            model: None,
            year: None,
            ..summary()
        };
        assert_eq!(bare.display_name(), "v1");
    }

    #[test]
    fn charging_wins_over_plugged() {
        let s = VehicleSummary {
            is_charging: Some(true),
            is_plugged_in: Some(true),
            ..summary()
        };
        assert_eq!(s.reported_status(), ChargeStatus::Charging);
        let p = VehicleSummary {
            is_charging: Some(false),
            is_plugged_in: Some(true),
            ..summary()
        };
        assert_eq!(p.reported_status(), ChargeStatus::Plugged);
        let i = VehicleSummary {
            is_charging: Some(false),
            is_plugged_in: Some(false),
            ..summary()
        };
        assert_eq!(i.reported_status(), ChargeStatus::Idle);
        assert_eq!(summary().reported_status(), ChargeStatus::Unknown);
    }

    #[test]
    fn durations_read_as_hours_and_minutes() {
        assert_eq!(format_duration(8000), "2 h 13 min");
        assert_eq!(format_duration(2700), "45 min");
        assert_eq!(format_duration(7200), "2 h");
        assert_eq!(format_duration(-5), "0 min");
    }

    #[test]
    fn numbers_keep_one_decimal_at_most() {
        assert_eq!(format_number(80.0), "80");
        assert_eq!(format_number(10.85), "10.9");
        assert_eq!(format_number(0.04), "0");
        assert_eq!(format_number(-3.24), "-3.2");
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(-0.04), "0");
    }
}

/// Columns the fleet table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortKey {
    Name,
    Soc,
    Status,
    Power,
    Range,
    Updated,
}

impl SortKey {
    pub const ALL: [SortKey; 6] = [
        SortKey::Name,
        SortKey::Soc,
        SortKey::Status,
        SortKey::Power,
        SortKey::Range,
        SortKey::Updated,
    ];

    pub fn as_param(self) -> &'static str {
        match self {
            SortKey::Name => "name",
            SortKey::Soc => "soc",
            SortKey::Status => "status",
            SortKey::Power => "power",
            SortKey::Range => "range",
            SortKey::Updated => "updated",
        }
    }

    pub fn parse(s: &str) -> Option<SortKey> {
        SortKey::ALL.into_iter().find(|k| k.as_param() == s)
    }

    /// Whether some vehicles may have no value to sort by (they come last either way).
    pub fn may_be_missing(self) -> bool {
        !matches!(self, SortKey::Name | SortKey::Status)
    }
}

impl ChargeStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "charging",
            ChargeStatus::Plugged => "plugged",
            ChargeStatus::Idle => "idle",
            ChargeStatus::Unknown => "unknown",
            ChargeStatus::Stale => "stale",
        }
    }

    pub fn parse(s: &str) -> Option<ChargeStatus> {
        ChargeStatus::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a page starts: after a vehicle (the next page) or before one (the previous
/// page), in the query's order. Pages are found by the vehicle's place in that order
/// (keyset paging), so a page costs the same however deep it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PageStart {
    First,
    After(String),
    Before(String),
}

/// The fleet table's search, status filter, sort and page, as they stand in the URL
/// (`?q=&status=&sort=&dir=&after=` or `&before=`). Unknown values fall back to the
/// defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetQuery {
    pub q: String,
    pub status: Option<ChargeStatus>,
    pub sort: SortKey,
    pub descending: bool,
    pub start: PageStart,
}

/// The longest search the fleet page and the API accept, in characters.
pub const MAX_SEARCH: usize = 100;

impl Default for FleetQuery {
    fn default() -> Self {
        FleetQuery {
            q: String::new(),
            status: None,
            sort: SortKey::Name,
            descending: false,
            start: PageStart::First,
        }
    }
}

/// The URL parameters of a fleet query, as given.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FleetParams {
    pub q: Option<String>,
    pub status: Option<String>,
    pub sort: Option<String>,
    pub dir: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
}

impl FleetQuery {
    /// The page's reading of its URL: anything it does not know falls back to the
    /// default, and a search longer than [`MAX_SEARCH`] is cut there.
    pub fn from_params(p: FleetParams) -> FleetQuery {
        let start = match (p.after, p.before) {
            (Some(id), _) if !id.is_empty() => PageStart::After(id),
            (_, Some(id)) if !id.is_empty() => PageStart::Before(id),
            _ => PageStart::First,
        };
        FleetQuery {
            q: p.q
                .unwrap_or_default()
                .trim()
                .chars()
                .take(MAX_SEARCH)
                .collect(),
            status: p.status.as_deref().and_then(ChargeStatus::parse),
            sort: p
                .sort
                .as_deref()
                .and_then(SortKey::parse)
                .unwrap_or(SortKey::Name),
            descending: p.dir.as_deref() == Some("desc"),
            start,
        }
    }

    /// The search and filter's parameters, which every link of the table keeps.
    fn filter_params(&self) -> Vec<String> {
        let mut params = Vec::new();
        if !self.q.is_empty() {
            params.push(format!("q={}", url_escape(&self.q)));
        }
        if let Some(s) = self.status {
            params.push(format!("status={}", s.as_str()));
        }
        params
    }

    /// The link that sorts by `key`: ascending first, then toggling; from the first page.
    pub fn sort_href(&self, key: SortKey) -> String {
        let descending = self.sort == key && !self.descending;
        let mut params = vec![format!("sort={}", key.as_param())];
        if descending {
            params.push("dir=desc".into());
        }
        params.extend(self.filter_params());
        format!("?{}", params.join("&"))
    }

    /// The link to another page of the same search, filter and sort.
    pub fn page_href(&self, start: &PageStart) -> String {
        let mut params = self.filter_params();
        if self.sort != SortKey::Name {
            params.push(format!("sort={}", self.sort.as_param()));
        }
        if self.descending {
            params.push("dir=desc".into());
        }
        match start {
            PageStart::First => {}
            PageStart::After(id) => params.push(format!("after={}", url_escape(id))),
            PageStart::Before(id) => params.push(format!("before={}", url_escape(id))),
        }
        if params.is_empty() {
            "?".to_owned()
        } else {
            format!("?{}", params.join("&"))
        }
    }
}

/// Percent-encodes a query value (everything but unreserved characters).
pub fn url_escape(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Escapes text for one path segment of a URL (`/vehicles/{here}`); `:` and `@` stay,
/// as a path allows them.
pub fn path_escape(s: &str) -> String {
    url_escape(s).replace("%3A", ":").replace("%40", "@")
}

#[cfg(test)]
mod query_tests {
    use super::*;
    use crate::domain::sessions::EngineConfig;

    #[test]
    fn path_segments_keep_colons_and_escape_the_rest() {
        assert_eq!(path_escape("v1:1773511330000"), "v1:1773511330000");
        assert_eq!(path_escape("a/b?c#d%"), "a%2Fb%3Fc%23d%25");
    }

    fn params(q: Option<&str>, status: Option<&str>, sort: Option<&str>) -> FleetParams {
        FleetParams {
            q: q.map(Into::into),
            status: status.map(Into::into),
            sort: sort.map(Into::into),
            ..FleetParams::default()
        }
    }

    #[test]
    fn unknown_values_fall_back_and_long_searches_are_cut() {
        let q = FleetQuery::from_params(params(None, Some("flying"), Some("colour")));
        assert_eq!(q.status, None);
        assert_eq!(q.sort, SortKey::Name);
        let long = "x".repeat(MAX_SEARCH + 50);
        let q = FleetQuery::from_params(params(Some(&long), Some("stale"), None));
        assert_eq!(q.q.chars().count(), MAX_SEARCH);
        assert_eq!(q.status, Some(ChargeStatus::Stale));
    }

    #[test]
    fn sort_links_toggle_direction_keep_the_filter_and_start_over() {
        let mut q = FleetQuery::from_params(params(Some("a b"), Some("idle"), Some("soc")));
        q.start = PageStart::After("v9".into());
        assert_eq!(
            q.sort_href(SortKey::Soc),
            "?sort=soc&dir=desc&q=a%20b&status=idle"
        );
        assert_eq!(q.sort_href(SortKey::Name), "?sort=name&q=a%20b&status=idle");
    }

    #[test]
    fn page_links_keep_everything_but_the_start() {
        let q = FleetQuery::from_params(FleetParams {
            dir: Some("desc".into()),
            before: Some("v2".into()),
            ..params(Some("tesla"), None, Some("range"))
        });
        assert_eq!(q.start, PageStart::Before("v2".into()));
        assert_eq!(
            q.page_href(&PageStart::After("v 3".into())),
            "?q=tesla&sort=range&dir=desc&after=v%203"
        );
        assert_eq!(FleetQuery::default().page_href(&PageStart::First), "?");
    }

    #[test]
    fn a_status_older_than_the_stale_time_is_stale() {
        let config = EngineConfig::default();
        let hour = 3_600_000;
        let now = 1_000 * hour;
        let charging = ChargeStatus::reported(Some(true), Some(true));
        assert_eq!(charging, ChargeStatus::Charging);
        assert_eq!(
            ChargeStatus::shown(charging, Some(now - hour), now, &config),
            ChargeStatus::Charging
        );
        assert_eq!(
            ChargeStatus::shown(charging, Some(now - 13 * hour), now, &config),
            ChargeStatus::Stale
        );
        assert_eq!(
            ChargeStatus::shown(ChargeStatus::Unknown, None, now, &config),
            ChargeStatus::Unknown
        );
    }

    #[test]
    fn ages_read_in_their_largest_unit() {
        let min = 60_000;
        let day = 1_440 * min;
        assert_eq!(format_age(40 * min), "40 min");
        assert_eq!(format_age(5 * 60 * min), "5 h");
        assert_eq!(format_age(day), "1 day");
        assert_eq!(format_age(45 * day), "45 days");
        assert_eq!(format_age(250 * day), "8 months");
        assert_eq!(format_age(800 * day), "2 years");
    }

    #[test]
    fn sort_names_lead_with_make_and_model() {
        assert_eq!(
            sort_name("V1", Some(2023), Some("POLESTAR"), Some("Polestar 2")),
            "polestar polestar 2 2023 v1"
        );
        assert_eq!(sort_name("V1", None, Some(" "), None), "v1");
        assert_eq!(
            sort_name("9a61e000-7F", Some(2021), Some("VW"), Some("ID.4 Pro")),
            "vw id 4 pro 2021 9a61e000 7f"
        );
    }

    #[test]
    fn search_words_are_lower_cased_runs_of_letters_and_digits_cut_at_the_limit() {
        assert_eq!(
            search_words("  Škoda, ENYAQ-iV 80 "),
            ["škoda", "enyaq", "iv", "80"]
        );
        assert!(search_words(" - % _ ").is_empty());
        let long = "a".repeat(MAX_WORD + 10);
        assert_eq!(search_words(&long), ["a".repeat(MAX_WORD)]);
    }
}
