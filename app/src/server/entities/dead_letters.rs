//! Correctly signed bodies that could not be processed, kept whole with the reason: one
//! row per distinct body, counting how often it came.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "dead_letters")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The first arrival.
    pub received_at: i64,
    /// The latest arrival.
    pub last_received_at: i64,
    /// Arrivals of this body, the first included.
    pub times_received: i64,
    /// SHA-256 of `raw_body`, hex: one row per body. `None` only while a migration runs.
    #[sea_orm(unique)]
    pub body_hash: Option<String>,
    pub signature: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub error: String,
    pub raw_body: Vec<u8>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
