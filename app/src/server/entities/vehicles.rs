//! A vehicle, and its row in the fleet table: the latest state, status and sort name
//! are kept by `server::fleet::refresh` as deliveries are applied, so the fleet page
//! reads one indexed row per vehicle it shows.

use crate::domain::fleet::ChargeStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "vehicles")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
    pub first_seen_at: i64,
    pub last_delivery_at: i64,
    pub soc_percent: Option<f64>,
    pub is_charging: Option<bool>,
    pub is_plugged_in: Option<bool>,
    /// Only while charging: the last power of a finished charge is not a power now.
    pub power_kw: Option<f64>,
    pub range_km: Option<f64>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// The newest `oemUpdatedAt` of any of the vehicle's readings.
    pub updated_at: Option<i64>,
    /// As of the last refresh or stale sweep; pages judge staleness again when they read.
    pub status: ChargeStatus,
    pub sort_name: String,
    /// The version of the fleet row's rule it was last filled by (0: never).
    pub fleet_version: i32,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
