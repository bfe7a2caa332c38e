//! Departure schedules (see `domain::schedule`): the fleet default and vehicles' overrides.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "schedules")]
pub struct Model {
    /// `fleet` for the fleet default, else the vehicle's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub scope: String,
    pub timezone: String,
    pub required_soc: i32,
    /// The `domain::schedule::Departure`s, as the API writes them.
    pub departures: Json,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
