//! Fewer index entries per applied delivery. Every reading is a row, and every row an
//! entry in each of the table's indexes, most of them led by the vehicle's 36-character
//! id: the index entries, not the rows, were most of what storing a delivery's readings
//! cost (measured: `docs/PERFORMANCE.md`, "Steady load"). So:
//!
//! - `idx_signal_readings_vehicle_time` (vehicle, OEM time) goes: its one reader, a
//!   session's deliveries, reads through (vehicle, signal, OEM time) one range per
//!   signal instead.
//! - `idx_signal_readings_vehicle_code_value` (vehicle, signal, value), there to find a
//!   vehicle's largest static battery capacity, becomes a partial index of those
//!   readings alone (`idx_signal_readings_capacity`): one entry in sixteen.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000018_leaner_ingest"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS idx_signal_readings_vehicle_time")
            .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_signal_readings_capacity ON signal_readings (vehicle_id, value_num) \
             WHERE code = 'tractionbattery-nominalcapacity' AND oem_updated_at IS NULL",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_signal_readings_vehicle_code_value")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX idx_signal_readings_vehicle_time ON signal_readings (vehicle_id, oem_updated_at)",
        )
        .await?;
        db.execute_unprepared(
            "CREATE INDEX idx_signal_readings_vehicle_code_value \
             ON signal_readings (vehicle_id, code, value_num)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX idx_signal_readings_capacity")
            .await?;
        Ok(())
    }
}
