//! Derived charging sessions; rebuilt from readings whenever they change.

use crate::domain::sessions::{ChargerType, EnergySource, SessionStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub vehicle_id: String,
    pub status: SessionStatus,
    pub started_at: i64,
    pub ended_at: Option<i64>,
    pub start_observed: bool,
    pub end_inferred: bool,
    pub duration_s: i64,
    pub plugged_in_at: Option<i64>,
    pub unplugged_at: Option<i64>,
    pub last_reading_at: i64,
    pub soc_start: Option<f64>,
    pub soc_end: Option<f64>,
    pub range_start_km: Option<f64>,
    pub range_end_km: Option<f64>,
    pub energy_added_kwh: Option<f64>,
    pub energy_source: Option<EnergySource>,
    pub max_power_kw: Option<f64>,
    pub avg_power_kw: Option<f64>,
    pub charge_limit_percent: Option<f64>,
    pub charger_type: Option<ChargerType>,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    /// Charging intervals as a JSON array of `{start, end}` (epoch ms).
    pub intervals: Json,
    /// The energy added so far at instants, `[[ms, kWh], …]` (`None` in rows stored
    /// before it was kept: their energy is spread evenly).
    pub energy_curve: Option<Json>,
    /// What pricing found, as of its last run: the place holding the start, the grid
    /// energy (with the place's efficiency), and the cost under the tariff in force.
    pub place_id: Option<String>,
    pub grid_energy_kwh: Option<f64>,
    /// A decimal string, rounded to the currency's minor unit.
    pub cost_amount: Option<String>,
    pub cost_currency: Option<String>,
    pub tariff_id: Option<String>,
    /// `domain::pricing::Breakdown` as JSON.
    pub cost_breakdown: Option<Json>,
    /// Not null while the session waits to be (re)priced: a stamp that changes whenever
    /// it is due again, so a pricer stores its answer only if nothing changed meanwhile.
    pub pricing_due: Option<i64>,
    /// `cost_amount` in the currency's minor unit (cents), for exact sums in SQL.
    pub cost_minor: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
