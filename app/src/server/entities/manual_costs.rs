//! Costs an operator set by hand (a public charger's receipt), by session id: they win
//! over tariffs and outlive re-derivation.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "manual_costs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub session_id: String,
    pub vehicle_id: String,
    /// A decimal string in the currency's minor unit.
    pub amount: String,
    pub currency: String,
    pub note: String,
    pub set_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
