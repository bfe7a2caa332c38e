//! Where alert notifications go: webhook URLs with their secrets, and the SMTP recipients.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "notify_endpoints")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `webhook` or `email`.
    pub kind: String,
    pub name: String,
    /// The webhook's URL, or `mailto:` and the recipients.
    pub url: String,
    /// The webhook's signing secret (empty for e-mail).
    pub secret: String,
    pub created_at: i64,
    pub removed_at: Option<i64>,
    /// `operator`, `gone` (the receiver answered 410) or `unconfigured` (e-mail).
    pub removed_reason: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

pub const WEBHOOK: &str = "webhook";
pub const EMAIL: &str = "email";
