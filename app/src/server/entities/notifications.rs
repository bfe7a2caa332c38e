//! The notification queue: one row per alert event and endpoint.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notifications")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub endpoint_id: i64,
    pub alert_id: i64,
    /// `alert.opened` or `alert.resolved`.
    pub event: String,
    /// The JSON sent, byte for byte on every attempt (the signature covers it).
    pub body: String,
    /// `pending`, `delivered`, `failed` or `gone`.
    pub state: String,
    pub created_at: i64,
    /// When the next attempt is due.
    pub due_at: i64,
    /// A sender holds it until then.
    pub leased_until: Option<i64>,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub done_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const PENDING: &str = "pending";
pub const DELIVERED: &str = "delivered";
pub const FAILED: &str = "failed";
pub const GONE: &str = "gone";
