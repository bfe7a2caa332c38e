//! The webhook log as the UI shows it: what became of each request to the webhook
//! endpoint, and the live-update message that announces a new one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// What became of one request to `/webhooks/smartcar`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[cfg_attr(
    feature = "ssr",
    derive(sea_orm::DeriveValueType),
    sea_orm(value_type = "String")
)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Vehicle data, stored with its readings or errors.
    Stored,
    /// `meta.mode = TEST`: kept, changes nothing.
    Test,
    /// An event type chargelog does not process: kept raw.
    Ignored,
    /// An eventId already stored: nothing changed.
    Duplicate,
    /// A missing or wrong `SC-Signature`: refused with 401, body not kept.
    RejectedSignature,
    /// Correctly signed but not processable: kept whole as a dead letter.
    DeadLetter,
    /// A VERIFY challenge answered.
    Verified,
}

impl Outcome {
    pub const ALL: [Outcome; 7] = [
        Outcome::Stored,
        Outcome::Duplicate,
        Outcome::RejectedSignature,
        Outcome::DeadLetter,
        Outcome::Test,
        Outcome::Ignored,
        Outcome::Verified,
    ];

    /// The stored and URL form.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Stored => "stored",
            Outcome::Test => "test",
            Outcome::Ignored => "ignored",
            Outcome::Duplicate => "duplicate",
            Outcome::RejectedSignature => "rejected_signature",
            Outcome::DeadLetter => "dead_letter",
            Outcome::Verified => "verified",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|o| o.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Stored => "Stored",
            Outcome::Test => "Test (not applied)",
            Outcome::Ignored => "Kept, not processed",
            Outcome::Duplicate => "Duplicate",
            Outcome::RejectedSignature => "Rejected signature",
            Outcome::DeadLetter => "Dead letter",
            Outcome::Verified => "VERIFY answered",
        }
    }

    /// Outcomes an operator should look at.
    pub fn is_problem(self) -> bool {
        matches!(self, Outcome::RejectedSignature | Outcome::DeadLetter)
    }
}

crate::domain::text::text_enum!(Outcome, "outcome");

/// One row of the deliveries page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct LogEntry {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    pub outcome: Outcome,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub vehicle_id: Option<String>,
    pub triggers: Vec<String>,
    pub detail: Option<String>,
}

/// A page of the webhook log, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    /// Pass as `before` for the next (older) page.
    pub next_before: Option<i64>,
    /// Vehicles to filter by: id and display name.
    pub vehicles: Vec<(String, String)>,
}

/// Which part of the webhook log the deliveries page shows, from its URL.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    /// Only this vehicle's deliveries.
    pub vehicle: Option<String>,
    /// Only deliveries with this outcome (`Outcome::as_str`).
    pub outcome: Option<String>,
    /// Only entries older than this log id (paging).
    pub before: Option<i64>,
}

/// Sent to open pages when a webhook request has been handled (after commit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveEvent {
    pub id: i64,
    pub outcome: String,
    pub vehicle_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_through_their_text() {
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
            assert_eq!(
                serde_json::to_value(o).unwrap(),
                serde_json::Value::from(o.as_str())
            );
        }
        assert_eq!(Outcome::parse("nonsense"), None);
    }
}
