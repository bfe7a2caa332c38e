//! Each place's energy in each 5-minute slice of the clock, by where its power came
//! from (mWh), and the sessions charging in it: `session_load` summed, kept with it.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "place_load")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub place_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub slice_ms: i64,
    pub vehicles: i64,
    pub wattage_mwh: i64,
    pub samples_mwh: i64,
    pub average_mwh: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
