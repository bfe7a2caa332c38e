//! VEHICLE_ERROR entries (ERROR and RESOLVED), attached to their vehicle.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "vehicle_errors")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_row_id: i64,
    pub vehicle_id: String,
    pub error_type: Option<String>,
    pub code: Option<String>,
    /// `ERROR` or `RESOLVED` (open: stored as sent).
    pub state: Option<String>,
    pub description: Option<String>,
    pub suggested_user_message: Option<String>,
    pub doc_url: Option<String>,
    pub resolution: Option<String>,
    /// Affected signal codes as a JSON array; empty means the whole vehicle.
    pub signals: Json,
    /// `meta.deliveredAt` when known, else the receive time.
    pub reported_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
