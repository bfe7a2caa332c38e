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
}

/// Charging, plugged in, or neither, as the status column shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChargeStatus {
    Charging,
    Plugged,
    Idle,
    Unknown,
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

    pub fn status(&self) -> ChargeStatus {
        match (self.is_charging, self.is_plugged_in) {
            (Some(true), _) => ChargeStatus::Charging,
            (_, Some(true)) => ChargeStatus::Plugged,
            (Some(false), _) | (_, Some(false)) => ChargeStatus::Idle,
            (None, None) => ChargeStatus::Unknown,
        }
    }
}

impl ChargeStatus {
    pub fn label(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "Charging",
            ChargeStatus::Plugged => "Plugged in",
            ChargeStatus::Idle => "Idle",
            ChargeStatus::Unknown => "Unknown",
        }
    }

    pub fn css_class(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "status status-charging",
            ChargeStatus::Plugged => "status status-plugged",
            ChargeStatus::Idle => "status status-idle",
            ChargeStatus::Unknown => "status status-unknown",
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

/// The fleet page's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FleetOverview {
    pub totals: FleetTotals,
    /// Energy added per day over the last 30 days (by session start).
    pub daily: Vec<crate::domain::buckets::EnergyBucket>,
    pub vehicles: Vec<VehicleSummary>,
    /// Whether the server has a management token, so webhooks can be accepted.
    pub webhooks_enabled: bool,
}

/// "12.3", "80": a number with at most one decimal, no trailing ".0".
pub fn format_number(x: f64) -> String {
    let rounded = (x * 10.0).round() / 10.0;
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
        assert_eq!(s.status(), ChargeStatus::Charging);
        let p = VehicleSummary {
            is_charging: Some(false),
            is_plugged_in: Some(true),
            ..summary()
        };
        assert_eq!(p.status(), ChargeStatus::Plugged);
        let i = VehicleSummary {
            is_charging: Some(false),
            is_plugged_in: Some(false),
            ..summary()
        };
        assert_eq!(i.status(), ChargeStatus::Idle);
        assert_eq!(summary().status(), ChargeStatus::Unknown);
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
    }
}

/// Columns the fleet table sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

impl ChargeStatus {
    pub fn as_param(self) -> &'static str {
        match self {
            ChargeStatus::Charging => "charging",
            ChargeStatus::Plugged => "plugged",
            ChargeStatus::Idle => "idle",
            ChargeStatus::Unknown => "unknown",
        }
    }

    pub fn parse(s: &str) -> Option<ChargeStatus> {
        [
            ChargeStatus::Charging,
            ChargeStatus::Plugged,
            ChargeStatus::Idle,
            ChargeStatus::Unknown,
        ]
        .into_iter()
        .find(|c| c.as_param() == s)
    }
}

/// The fleet page's search, status filter and sort, as they stand in the URL
/// (`?q=&status=&sort=&dir=`). Unknown values fall back to the defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct FleetQuery {
    pub q: String,
    pub status: Option<ChargeStatus>,
    pub sort: SortKey,
    pub descending: bool,
}

impl FleetQuery {
    pub fn from_params(
        q: Option<String>,
        status: Option<String>,
        sort: Option<String>,
        dir: Option<String>,
    ) -> FleetQuery {
        FleetQuery {
            q: q.unwrap_or_default().trim().to_owned(),
            status: status.as_deref().and_then(ChargeStatus::parse),
            sort: sort
                .as_deref()
                .and_then(SortKey::parse)
                .unwrap_or(SortKey::Name),
            descending: dir.as_deref() == Some("desc"),
        }
    }

    fn matches(&self, v: &VehicleSummary) -> bool {
        let needle = self.q.to_lowercase();
        let text_ok = needle.is_empty()
            || v.display_name().to_lowercase().contains(&needle)
            || v.id.to_lowercase().contains(&needle);
        text_ok && self.status.is_none_or(|s| v.status() == s)
    }

    /// Filters and sorts; vehicles without the sorted value come last either way.
    pub fn apply(&self, vehicles: Vec<VehicleSummary>) -> Vec<VehicleSummary> {
        use std::cmp::Ordering;
        let mut out: Vec<VehicleSummary> =
            vehicles.into_iter().filter(|v| self.matches(v)).collect();
        let number = |v: &VehicleSummary| -> Option<f64> {
            match self.sort {
                SortKey::Soc => v.soc_percent,
                SortKey::Power => v.power_kw,
                SortKey::Range => v.range_km,
                SortKey::Updated => v.updated_at.map(|t| t.timestamp_millis() as f64),
                SortKey::Name | SortKey::Status => None,
            }
        };
        out.sort_by(|a, b| {
            let ordering = match self.sort {
                // Make and model first: the year in the display name would lead.
                SortKey::Name => Some(sort_name(a).cmp(&sort_name(b))),
                SortKey::Status => Some(a.status().as_param().cmp(b.status().as_param())),
                _ => match (number(a), number(b)) {
                    (Some(x), Some(y)) => Some(x.total_cmp(&y)),
                    (Some(_), None) => return Ordering::Less,
                    (None, Some(_)) => return Ordering::Greater,
                    (None, None) => None,
                },
            };
            let ordering = ordering.unwrap_or(Ordering::Equal);
            let ordering = if self.descending {
                ordering.reverse()
            } else {
                ordering
            };
            ordering.then_with(|| a.id.cmp(&b.id))
        });
        out
    }

    /// The link that sorts by `key`: ascending first, then toggling.
    pub fn sort_href(&self, key: SortKey) -> String {
        let descending = self.sort == key && !self.descending;
        let mut params = vec![format!("sort={}", key.as_param())];
        if descending {
            params.push("dir=desc".into());
        }
        if !self.q.is_empty() {
            params.push(format!("q={}", url_escape(&self.q)));
        }
        if let Some(s) = self.status {
            params.push(format!("status={}", s.as_param()));
        }
        format!("?{}", params.join("&"))
    }
}

fn sort_name(v: &VehicleSummary) -> String {
    format!(
        "{} {} {}",
        v.make.as_deref().unwrap_or(""),
        v.model.as_deref().unwrap_or(""),
        v.id
    )
    .to_lowercase()
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

    #[test]
    fn path_segments_keep_colons_and_escape_the_rest() {
        assert_eq!(path_escape("v1:1773511330000"), "v1:1773511330000");
        assert_eq!(path_escape("a/b?c#d%"), "a%2Fb%3Fc%23d%25");
    }

    fn vehicle(id: &str, make: &str, soc: Option<f64>, charging: Option<bool>) -> VehicleSummary {
        VehicleSummary {
            id: id.into(),
            make: Some(make.into()),
            model: None,
            year: None,
            soc_percent: soc,
            is_charging: charging,
            ..super::tests::summary()
        }
    }

    fn fleet() -> Vec<VehicleSummary> {
        vec![
            vehicle("a", "TESLA", Some(40.0), Some(true)),
            vehicle("b", "POLESTAR", Some(80.0), Some(false)),
            vehicle("c", "BYD", None, None),
        ]
    }

    fn ids(v: &[VehicleSummary]) -> Vec<&str> {
        v.iter().map(|v| v.id.as_str()).collect()
    }

    #[test]
    fn search_by_name_or_id_case_insensitively() {
        let q = FleetQuery::from_params(Some(" tesla ".into()), None, None, None);
        assert_eq!(ids(&q.apply(fleet())), ["a"]);
        let q = FleetQuery::from_params(Some("B".into()), None, None, None);
        assert_eq!(
            ids(&q.apply(fleet())),
            ["c", "b"],
            "BYD by name, b by id; sorted by name"
        );
    }

    #[test]
    fn filter_by_status() {
        let q = FleetQuery::from_params(None, Some("charging".into()), None, None);
        assert_eq!(ids(&q.apply(fleet())), ["a"]);
        let q = FleetQuery::from_params(None, Some("unknown".into()), None, None);
        assert_eq!(ids(&q.apply(fleet())), ["c"]);
        let bogus = FleetQuery::from_params(None, Some("flying".into()), None, None);
        assert_eq!(bogus.status, None);
    }

    #[test]
    fn sort_by_a_number_puts_missing_values_last_both_ways() {
        let up = FleetQuery::from_params(None, None, Some("soc".into()), None);
        assert_eq!(ids(&up.apply(fleet())), ["a", "b", "c"]);
        let down = FleetQuery::from_params(None, None, Some("soc".into()), Some("desc".into()));
        assert_eq!(ids(&down.apply(fleet())), ["b", "a", "c"]);
    }

    #[test]
    fn sort_links_toggle_direction_and_keep_the_filter() {
        let q = FleetQuery::from_params(
            Some("a b".into()),
            Some("idle".into()),
            Some("soc".into()),
            None,
        );
        assert_eq!(
            q.sort_href(SortKey::Soc),
            "?sort=soc&dir=desc&q=a%20b&status=idle"
        );
        assert_eq!(q.sort_href(SortKey::Name), "?sort=name&q=a%20b&status=idle");
    }
}
