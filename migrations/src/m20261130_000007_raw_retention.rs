//! Raw bodies can be pruned (`chargelog prune --raw-older-than`): `raw_pruned_at` says
//! when a delivery's raw body was removed, so an empty body is never mistaken for what
//! Smartcar sent. Only applied deliveries are pruned; their readings stay.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261130_000007_raw_retention"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE deliveries ADD COLUMN raw_pruned_at BIGINT")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE deliveries DROP COLUMN raw_pruned_at")
            .await?;
        Ok(())
    }
}
