//! The JSON shapes of alerts (`/api/v1/alerts`) and of their settings
//! (`/api/v1/alerts/settings`, the body is `domain::alerts::Settings`).

use crate::domain::alerts::Kind;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertItem {
    pub id: i64,
    pub vehicle_id: String,
    /// Make, model and year, as far as known.
    pub name: Option<String>,
    pub kind: Kind,
    /// The facts in one line, as the alerts page shows them.
    pub summary: String,
    pub opened_at: DateTime<Utc>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// The operator who acknowledged it.
    pub acknowledged_by: Option<String>,
    pub note: Option<String>,
    /// Absent while it is open.
    pub resolved_at: Option<DateTime<Utc>>,
    /// What opened it: the rule's readings (times RFC 3339, SoC in percent, power in kW).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub facts: serde_json::Value,
}

/// Open alerts of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct KindCount {
    pub kind: Kind,
    pub open: u64,
}

/// A page of alerts: open first, then resolved, newest first within each.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AlertList {
    pub alerts: Vec<AlertItem>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
    /// Open alerts in the whole fleet (not only this filter's), by kind.
    pub open: u64,
    pub open_by_kind: Vec<KindCount>,
}

/// An operator's acknowledgement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Acknowledgement {
    /// At most 500 characters; replaces an earlier note.
    pub note: Option<String>,
}

/// The open alerts as the live stream announces them (`/live`, event `alerts`): how many,
/// how many of those acknowledged, and the newest one's id. Any alert opened, resolved
/// or acknowledged changes it (a new alert's id is above every other's), so a page knows
/// when what it shows is out of date. Sent as three numbers, `3 1 1042`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenAlerts {
    pub open: u64,
    pub acknowledged: u64,
    pub newest_id: i64,
}

impl OpenAlerts {
    pub fn encode(&self) -> String {
        format!("{} {} {}", self.open, self.acknowledged, self.newest_id)
    }

    pub fn decode(text: &str) -> Option<OpenAlerts> {
        let mut parts = text.split(' ');
        let alerts = OpenAlerts {
            open: parts.next()?.parse().ok()?,
            acknowledged: parts.next()?.parse().ok()?,
            newest_id: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(alerts)
    }
}

/// The alerts page's data: a page of alerts, and the open alerts' state it was read at
/// (`OpenAlerts::encode`), so the page knows when it is out of date.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsView {
    pub list: AlertList,
    pub state: String,
}

/// Where alert notifications go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyEndpoint {
    pub id: i64,
    /// `webhook` or `email`.
    pub kind: String,
    pub name: String,
    pub url: String,
    /// The webhook's signing secret.
    pub secret: String,
    pub created_at: DateTime<Utc>,
    pub removed_at: Option<DateTime<Utc>>,
    pub removed_reason: Option<String>,
    /// Notifications waiting, delivered, and given up (after 24 hours, or gone).
    pub pending: u64,
    pub delivered: u64,
    pub failed: u64,
}

/// One attempt to deliver a notification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyAttempt {
    pub id: i64,
    pub notification_id: i64,
    pub at: DateTime<Utc>,
    pub event: String,
    pub alert_id: i64,
    /// The receiver's HTTP status, or 250 from an SMTP server that took the mail.
    pub status: Option<i32>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// The notifications page: the endpoints, and the delivery log of the one shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotificationsView {
    pub endpoints: Vec<NotifyEndpoint>,
    /// The endpoint whose log is shown, its attempts, and where the next page starts.
    pub shown: Option<i64>,
    pub attempts: Vec<NotifyAttempt>,
    pub next_before: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::OpenAlerts;

    #[test]
    fn open_alerts_read_back_what_they_write() {
        let state = OpenAlerts {
            open: 3,
            acknowledged: 1,
            newest_id: 1042,
        };
        assert_eq!(state.encode(), "3 1 1042");
        assert_eq!(OpenAlerts::decode("3 1 1042"), Some(state));
        for bad in ["", "3 1", "3 1 1042 7", "-1 0 0", "a b c"] {
            assert_eq!(OpenAlerts::decode(bad), None, "{bad:?}");
        }
    }
}
