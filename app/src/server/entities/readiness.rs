//! Each vehicle's readiness verdict as last evaluated (`server::readiness`).

use crate::domain::readiness::{Confidence, Status};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "readiness")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub vehicle_id: String,
    pub status: Status,
    /// The status's place in the board's order (most urgent first).
    pub rank: i32,
    /// The next departure, or the largest time when there is none: the board's order
    /// after `rank` (NULLs sort differently on SQLite and PostgreSQL).
    pub sort_at: i64,
    pub next_departure: Option<i64>,
    pub required_soc: Option<f64>,
    pub soc: Option<f64>,
    pub soc_at: Option<i64>,
    pub predicted_soc: Option<f64>,
    pub confidence: Option<Confidence>,
    /// The prediction's inputs, comma-separated (`power_now,capacity_signal,…`).
    pub inputs: String,
    pub place_id: Option<String>,
    pub plugged: Option<bool>,
    pub charging: Option<bool>,
    pub power_kw: Option<f64>,
    pub charge_limit: Option<f64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub last_heard: Option<i64>,
    /// When time alone can change the verdict (a departure passes, silence sets in):
    /// evaluated again then. `None`: only a delivery or a schedule can change it.
    pub due_at: Option<i64>,
    pub evaluated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
