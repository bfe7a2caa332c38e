//! Energy added by the fleet's sessions per quarter hour of their start: the fleet
//! chart and totals read these sums instead of every session (see
//! `server::fleet_energy`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "fleet_energy")]
pub struct Model {
    /// The slot's start, epoch ms, a multiple of 15 minutes.
    #[sea_orm(primary_key, auto_increment = false)]
    pub slot: i64,
    /// Whole watt-hours, each session rounded once: sums and differences are exact.
    pub energy_wh: i64,
    pub sessions: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
