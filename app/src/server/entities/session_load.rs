//! Each placed session's energy in each 5-minute slice of the clock at its place, by
//! where its power came from, in mWh (`server::site_load`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "session_load")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub place_id: String,
    /// The slice's start, epoch ms (a multiple of 5 minutes).
    #[sea_orm(primary_key, auto_increment = false)]
    pub slice_ms: i64,
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    pub vehicle_id: String,
    pub wattage_mwh: i64,
    pub samples_mwh: i64,
    pub average_mwh: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
