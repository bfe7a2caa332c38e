//! How often each signal of each vehicle has reported each error, and when last; kept up
//! to date at ingest so the vehicle page does not count history. A missing error type or
//! code is stored as `''`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_error_counts")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub vehicle_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub error_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub error_code: String,
    pub count: i64,
    /// When the newest such error was received (epoch ms).
    pub last_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
