//! How often each signal of each vehicle has reported each error, kept as it happens.
//!
//! The vehicle page lists the signals that report errors with a count and the last time.
//! Counting errored readings each time grows with history: a signal the vehicle cannot
//! supply (`VEHICLE_NOT_CAPABLE`) errors in every delivery, so ten years hold hundreds of
//! thousands of them. This table holds the counts, one row per vehicle, signal and error,
//! so the page reads a handful of rows however long the history. Existing errors are
//! counted in when the migration runs.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000005_signal_error_counts"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        // Missing error types and codes are stored as '' so that they take part in the
        // key (NULLs never conflict).
        db.execute_unprepared(
            "CREATE TABLE signal_error_counts (\
               vehicle_id TEXT NOT NULL, \
               code TEXT NOT NULL, \
               error_type TEXT NOT NULL, \
               error_code TEXT NOT NULL, \
               count BIGINT NOT NULL, \
               last_at BIGINT NOT NULL, \
               PRIMARY KEY (vehicle_id, code, error_type, error_code))",
        )
        .await?;
        db.execute_unprepared(
            "INSERT INTO signal_error_counts \
               (vehicle_id, code, error_type, error_code, count, last_at) \
             SELECT r.vehicle_id, r.code, COALESCE(r.error_type, ''), \
                    COALESCE(r.error_code, ''), COUNT(*), MAX(d.received_at) \
             FROM signal_readings r JOIN deliveries d ON d.id = r.delivery_row_id \
             WHERE r.status = 'error' \
             GROUP BY r.vehicle_id, r.code, COALESCE(r.error_type, ''), \
                      COALESCE(r.error_code, '')",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP TABLE signal_error_counts")
            .await?;
        Ok(())
    }
}
