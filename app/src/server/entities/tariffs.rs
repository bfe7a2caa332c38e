//! Tariff versions: a place's (or, with no place, the fleet default's).

use crate::domain::sessions::ChargerType;
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tariffs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `None`: the fleet default, for sessions at no place.
    pub place_id: Option<String>,
    /// Unique: the place (or `default`), the charger type (or `any`) and `valid_from`,
    /// so one scope has one version per date.
    pub scope_key: String,
    /// `YYYY-MM-DD`, the local date from which this version applies.
    pub valid_from: String,
    pub charger_type: Option<ChargerType>,
    /// The `domain::pricing::Tariff`, as the API writes it.
    pub body: Json,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
