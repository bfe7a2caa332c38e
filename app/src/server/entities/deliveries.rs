//! Every accepted webhook delivery, raw body included. `event_id` is unique: that is
//! the idempotency guarantee (a retry with the same eventId inserts nothing).

use crate::domain::events::Outcome;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "deliveries")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub event_id: Option<String>,
    pub delivery_id: Option<String>,
    pub webhook_id: Option<String>,
    /// `VEHICLE_STATE`, `VEHICLE_ERROR`, another v4 type as sent, or `legacy:<eventName>`.
    pub event_type: String,
    pub mode: Option<String>,
    pub vehicle_id: Option<String>,
    /// Trigger labels (`FIRST_DELIVERY` or signal codes) as a JSON array.
    pub triggers: Json,
    pub delivered_at: Option<i64>,
    pub received_at: i64,
    pub signature: Option<String>,
    pub user_agent: Option<String>,
    /// `stored`, `test` (TEST mode: kept, changes nothing) or `ignored` (unknown type).
    pub outcome: Outcome,
    pub signal_count: i32,
    pub raw_body: Vec<u8>,
    /// When its readings, errors and sessions were committed; NULL while it waits.
    pub processed_at: Option<i64>,
    /// Why it could not be processed (the raw body is kept).
    pub process_error: Option<String>,
    /// When `chargelog prune` removed the raw body (then empty); NULL while it is kept.
    pub raw_pruned_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
