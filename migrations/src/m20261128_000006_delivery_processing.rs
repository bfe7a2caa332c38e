//! Deliveries are stored first and processed after: the webhook answers once the raw
//! delivery is committed, and a processor then stores its readings and derives sessions.
//!
//! `processed_at` is set when a delivery's effects (readings, latest state, errors,
//! sessions, its log row) are committed; until then it is NULL and the delivery is
//! waiting. `process_error` keeps why a delivery could not be processed (it is then
//! marked processed so that the queue moves on; its raw body stays). Every delivery
//! stored before this migration was processed when it arrived.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000006_delivery_processing"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE deliveries ADD COLUMN processed_at BIGINT")
            .await?;
        db.execute_unprepared("ALTER TABLE deliveries ADD COLUMN process_error TEXT")
            .await?;
        db.execute_unprepared("UPDATE deliveries SET processed_at = received_at")
            .await?;
        // The waiting deliveries, oldest first, and one vehicle's, without reading the
        // processed ones.
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_waiting ON deliveries (id) WHERE processed_at IS NULL",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_waiting_vehicle ON deliveries (vehicle_id, id) \
             WHERE processed_at IS NULL",
        )
        .await?;
        // The few that could not be processed, counted for /readyz and /metrics.
        db.execute_unprepared(
            "CREATE INDEX idx_deliveries_failed ON deliveries (id) WHERE process_error IS NOT NULL",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX idx_deliveries_failed")
            .await?;
        db.execute_unprepared("DROP INDEX idx_deliveries_waiting_vehicle")
            .await?;
        db.execute_unprepared("DROP INDEX idx_deliveries_waiting")
            .await?;
        db.execute_unprepared("ALTER TABLE deliveries DROP COLUMN process_error")
            .await?;
        db.execute_unprepared("ALTER TABLE deliveries DROP COLUMN processed_at")
            .await?;
        Ok(())
    }
}
