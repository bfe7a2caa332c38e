//! Alerts (see `domain::alerts`): opened, acknowledged, resolved.

use crate::domain::alerts::Kind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "alerts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vehicle_id: String,
    pub kind: Kind,
    /// `open` or `resolved`.
    pub state: String,
    /// `vehicle|kind` while open (unique), null once resolved.
    pub open_key: Option<String>,
    pub opened_at: i64,
    /// What opened it, as `domain::alerts::conditions` told.
    pub facts: Json,
    pub acknowledged_at: Option<i64>,
    /// The operator's user name.
    pub acknowledged_by: Option<String>,
    pub note: Option<String>,
    pub resolved_at: Option<i64>,
    /// Its events in the notification queue: 0 none, 1 opened, 2 resolved too.
    pub queued: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const OPEN: &str = "open";
pub const RESOLVED: &str = "resolved";

/// `queued`: nothing yet, the opening, the resolution too.
pub const QUEUED_NONE: i32 = 0;
pub const QUEUED_OPENED: i32 = 1;
pub const QUEUED_RESOLVED: i32 = 2;

/// The key that keeps one open alert per vehicle and kind.
pub fn open_key(vehicle_id: &str, kind: Kind) -> String {
    format!("{vehicle_id}|{}", kind.as_str())
}
