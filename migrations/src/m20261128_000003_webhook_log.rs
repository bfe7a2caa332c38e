//! The webhook log: one row per request to the webhook endpoint with what became of it
//! (stored, duplicate, rejected signature, dead letter...), for the deliveries page and
//! live updates. Existing deliveries and dead letters are copied in, oldest first.
//! Also indexes for "signals that error" (a small part of a vehicle's readings) and for
//! the fleet's sessions by start time.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000003_webhook_log"
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    StartedAt,
}

#[derive(DeriveIden)]
enum WebhookLog {
    Table,
    Id,
    ReceivedAt,
    Outcome,
    EventType,
    EventId,
    VehicleId,
    Triggers,
    DeliveryRowId,
    DeadLetterId,
    Detail,
}

const BACKFILL: &str = "\
INSERT INTO webhook_log \
  (received_at, outcome, event_type, event_id, vehicle_id, triggers, delivery_row_id, dead_letter_id, detail) \
SELECT received_at, outcome, event_type, event_id, vehicle_id, triggers, delivery_row_id, dead_letter_id, detail FROM ( \
  SELECT received_at, outcome, event_type, event_id, vehicle_id, CAST(triggers AS TEXT) AS triggers, \
         id AS delivery_row_id, CAST(NULL AS BIGINT) AS dead_letter_id, CAST(NULL AS TEXT) AS detail, id AS ord \
  FROM deliveries \
  UNION ALL \
  SELECT received_at, 'dead_letter', NULL, NULL, NULL, NULL, NULL, id, error, id FROM dead_letters \
) AS earlier ORDER BY received_at, ord";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookLog::Table)
                    .col(
                        ColumnDef::new(WebhookLog::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(WebhookLog::ReceivedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(WebhookLog::Outcome).text().not_null())
                    .col(ColumnDef::new(WebhookLog::EventType).text())
                    .col(ColumnDef::new(WebhookLog::EventId).text())
                    .col(ColumnDef::new(WebhookLog::VehicleId).text())
                    .col(ColumnDef::new(WebhookLog::Triggers).text())
                    .col(ColumnDef::new(WebhookLog::DeliveryRowId).big_integer())
                    .col(ColumnDef::new(WebhookLog::DeadLetterId).big_integer())
                    .col(ColumnDef::new(WebhookLog::Detail).text())
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("idx_webhook_log_vehicle", WebhookLog::VehicleId),
            ("idx_webhook_log_outcome", WebhookLog::Outcome),
            // A session's deliveries, found from its readings.
            ("idx_webhook_log_delivery", WebhookLog::DeliveryRowId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(WebhookLog::Table)
                        .col(col)
                        .col(WebhookLog::Id)
                        .to_owned(),
                )
                .await?;
        }
        // The fleet's energy by session start, for every vehicle at once.
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_started")
                    .table(Sessions::Table)
                    .col(Sessions::StartedAt)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(BACKFILL).await?;
        // Partial index: both SQLite and PostgreSQL keep only the errored readings in it.
        db.execute_unprepared(
            "CREATE INDEX idx_signal_readings_errors ON signal_readings (vehicle_id, code) \
             WHERE status = 'error'",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX idx_signal_readings_errors")
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("idx_sessions_started")
                    .table(Sessions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookLog::Table).to_owned())
            .await
    }
}
