//! Places operators define (see `domain::places`).

use crate::domain::places::PlaceKind;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "places")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// The name in lower case: unique, so no two places are told apart by case alone.
    pub name_key: String,
    pub kind: PlaceKind,
    pub latitude: f64,
    pub longitude: f64,
    pub radius_m: f64,
    pub timezone: String,
    pub charging_efficiency: Option<f64>,
    pub cost_center: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
