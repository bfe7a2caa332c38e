//! One row per request to the webhook endpoint and what became of it: the deliveries
//! page reads it, and live updates follow its ids.

use crate::domain::events::Outcome;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_log")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub received_at: i64,
    /// See [`crate::domain::events::Outcome`].
    pub outcome: Outcome,
    pub event_type: Option<String>,
    pub event_id: Option<String>,
    pub vehicle_id: Option<String>,
    /// Trigger labels as a JSON array (text).
    pub triggers: Option<String>,
    /// The stored delivery (for a duplicate: the one stored first).
    pub delivery_row_id: Option<i64>,
    pub dead_letter_id: Option<i64>,
    /// Why a delivery was refused or dead-lettered.
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
