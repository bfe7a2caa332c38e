//! Each vehicle's newest value per signal. A row only moves forward in `oemUpdatedAt`,
//! so a late delivery of an older observation never overwrites a newer one.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "vehicle_latest")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub vehicle_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    pub reading_id: i64,
    pub oem_updated_at: Option<i64>,
    pub retrieved_at: Option<i64>,
    pub value_num: Option<f64>,
    pub value_bool: Option<bool>,
    pub value_text: Option<String>,
    pub unit: Option<String>,
    pub body: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
