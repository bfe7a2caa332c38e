//! One row per signal per stored delivery: the raw material sessions are derived from.

use crate::domain::reading::ReadingStatus;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "signal_readings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub delivery_row_id: i64,
    pub vehicle_id: String,
    pub code: String,
    pub name: Option<String>,
    pub group_name: Option<String>,
    pub oem_updated_at: Option<i64>,
    pub retrieved_at: Option<i64>,
    /// `ok` or `error`.
    pub status: ReadingStatus,
    pub value_num: Option<f64>,
    pub value_bool: Option<bool>,
    pub value_text: Option<String>,
    /// Canonical unit symbol (`kWh`, `km`, `W`, `%`...), when the value is a number.
    pub unit: Option<String>,
    pub raw_unit: Option<String>,
    pub error_type: Option<String>,
    pub error_code: Option<String>,
    /// The signal's body as sent (the `status` object for an errored signal).
    pub body: Json,
    /// The delivery carried a FIRST_DELIVERY trigger.
    pub first_delivery: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
