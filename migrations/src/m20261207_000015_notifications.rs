//! Notifications of alerts (issue 21):
//! - `notify_endpoints`: where they go: an operator's webhook URL with its signing secret,
//!   or the e-mail recipients of the server's SMTP configuration. Removed ones stay (their
//!   delivery log refers to them) with the time and why (`operator`, `gone`: the receiver
//!   answered 410, `unconfigured`).
//! - `notifications`: the durable queue, one row per event and endpoint, written in the
//!   transaction that opened or resolved the alert: `pending` until `delivered`, `failed`
//!   (24 hours of retries) or `gone`. A sender leases a row (`leased_until`) before sending,
//!   so two processes never send it at once; a restart finds the queue as it was.
//! - `notification_attempts`: every attempt, for the delivery log.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000015_notifications"
    }
}

#[derive(DeriveIden)]
enum NotifyEndpoints {
    Table,
    Id,
    Kind,
    Name,
    Url,
    Secret,
    CreatedAt,
    RemovedAt,
    RemovedReason,
}

#[derive(DeriveIden)]
enum Notifications {
    Table,
    Id,
    EndpointId,
    AlertId,
    Event,
    Body,
    State,
    CreatedAt,
    DueAt,
    LeasedUntil,
    Attempts,
    LastStatus,
    LastError,
    DoneAt,
}

#[derive(DeriveIden)]
enum NotificationAttempts {
    Table,
    Id,
    NotificationId,
    EndpointId,
    At,
    Status,
    Error,
    DurationMs,
}

fn id(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(NotifyEndpoints::Table)
                    .col(id(NotifyEndpoints::Id))
                    .col(ColumnDef::new(NotifyEndpoints::Kind).string().not_null())
                    .col(ColumnDef::new(NotifyEndpoints::Name).string().not_null())
                    .col(ColumnDef::new(NotifyEndpoints::Url).string().not_null())
                    .col(ColumnDef::new(NotifyEndpoints::Secret).string().not_null())
                    .col(
                        ColumnDef::new(NotifyEndpoints::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(NotifyEndpoints::RemovedAt).big_integer())
                    .col(ColumnDef::new(NotifyEndpoints::RemovedReason).string())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Notifications::Table)
                    .col(id(Notifications::Id))
                    .col(
                        ColumnDef::new(Notifications::EndpointId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Notifications::AlertId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Notifications::Event).string().not_null())
                    .col(ColumnDef::new(Notifications::Body).text().not_null())
                    .col(ColumnDef::new(Notifications::State).string().not_null())
                    .col(
                        ColumnDef::new(Notifications::CreatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Notifications::DueAt)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Notifications::LeasedUntil).big_integer())
                    .col(ColumnDef::new(Notifications::Attempts).integer().not_null())
                    .col(ColumnDef::new(Notifications::LastStatus).integer())
                    .col(ColumnDef::new(Notifications::LastError).string())
                    .col(ColumnDef::new(Notifications::DoneAt).big_integer())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(NotificationAttempts::Table)
                    .col(id(NotificationAttempts::Id))
                    .col(
                        ColumnDef::new(NotificationAttempts::NotificationId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationAttempts::EndpointId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(NotificationAttempts::At)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(NotificationAttempts::Status).integer())
                    .col(ColumnDef::new(NotificationAttempts::Error).string())
                    .col(
                        ColumnDef::new(NotificationAttempts::DurationMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name("idx_notifications_due")
                .table(Notifications::Table)
                .col(Notifications::State)
                .col(Notifications::DueAt)
                .to_owned(),
            Index::create()
                .name("idx_notifications_endpoint")
                .table(Notifications::Table)
                .col(Notifications::EndpointId)
                .col(Notifications::State)
                .to_owned(),
            Index::create()
                .name("idx_notification_attempts_endpoint")
                .table(NotificationAttempts::Table)
                .col(NotificationAttempts::EndpointId)
                .col(NotificationAttempts::Id)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            NotificationAttempts::Table.into_iden(),
            Notifications::Table.into_iden(),
            NotifyEndpoints::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
