//! Deliveries per vehicle and UTC day, counted by lag bucket (`domain::health`); kept
//! at ingest so the data health page does not count history.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_stats")]
pub struct Model {
    /// Days since 1970-01-01 (UTC) of when the delivery was received.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub vehicle_id: String,
    /// An index into `domain::health::LAG_BUCKETS`; -1: no lag (no `oemUpdatedAt`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket: i32,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
