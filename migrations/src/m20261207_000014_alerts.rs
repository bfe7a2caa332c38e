//! Alerts (issue 21):
//! - `settings`: fleet-wide settings as JSON by key (`alerts`: each rule's switch and
//!   threshold, `domain::alerts::Settings`); no row means the defaults.
//! - `alerts`: each alert's life, opened with the facts that opened it, acknowledged with
//!   a note, resolved. `open_key` is `vehicle|kind` while the alert is open and null
//!   after: its unique index is what lets several processes evaluate the same vehicle
//!   without ever opening the same alert twice. Read open first (`state` `open` sorts
//!   before `resolved`), newest first. `queued` says which of its events (1: opened,
//!   2: resolved too) have been put in the notification queue: the queue is filled from
//!   here, in one transaction per alert, so a crash loses no notification and none is
//!   queued twice.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000014_alerts"
    }
}

#[derive(DeriveIden)]
enum Settings {
    Table,
    Key,
    Value,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Alerts {
    Table,
    Id,
    VehicleId,
    Kind,
    State,
    OpenKey,
    OpenedAt,
    Facts,
    AcknowledgedAt,
    AcknowledgedBy,
    Note,
    ResolvedAt,
    Queued,
}

const ALERTS_OPEN_KEY: &str = "idx_alerts_open_key";
const ALERTS_ORDER: &str = "idx_alerts_order";
const ALERTS_VEHICLE: &str = "idx_alerts_vehicle";
const ALERTS_KIND: &str = "idx_alerts_kind";
const ALERTS_QUEUED: &str = "idx_alerts_queued";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Settings::Table)
                    .col(
                        ColumnDef::new(Settings::Key)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Settings::Value).json().not_null())
                    .col(ColumnDef::new(Settings::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Alerts::Table)
                    .col(
                        ColumnDef::new(Alerts::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Alerts::VehicleId).string().not_null())
                    .col(ColumnDef::new(Alerts::Kind).string().not_null())
                    .col(ColumnDef::new(Alerts::State).string().not_null())
                    .col(ColumnDef::new(Alerts::OpenKey).string())
                    .col(ColumnDef::new(Alerts::OpenedAt).big_integer().not_null())
                    .col(ColumnDef::new(Alerts::Facts).json().not_null())
                    .col(ColumnDef::new(Alerts::AcknowledgedAt).big_integer())
                    .col(ColumnDef::new(Alerts::AcknowledgedBy).string())
                    .col(ColumnDef::new(Alerts::Note).string())
                    .col(ColumnDef::new(Alerts::ResolvedAt).big_integer())
                    .col(
                        ColumnDef::new(Alerts::Queued)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .to_owned(),
            )
            .await?;
        let indexes = [
            Index::create()
                .name(ALERTS_OPEN_KEY)
                .table(Alerts::Table)
                .col(Alerts::OpenKey)
                .unique()
                .to_owned(),
            Index::create()
                .name(ALERTS_ORDER)
                .table(Alerts::Table)
                .col(Alerts::State)
                .col(Alerts::OpenedAt)
                .col(Alerts::Id)
                .to_owned(),
            Index::create()
                .name(ALERTS_VEHICLE)
                .table(Alerts::Table)
                .col(Alerts::VehicleId)
                .col(Alerts::State)
                .col(Alerts::OpenedAt)
                .to_owned(),
            Index::create()
                .name(ALERTS_QUEUED)
                .table(Alerts::Table)
                .col(Alerts::Queued)
                .col(Alerts::State)
                .to_owned(),
            Index::create()
                .name(ALERTS_KIND)
                .table(Alerts::Table)
                .col(Alerts::Kind)
                .col(Alerts::State)
                .col(Alerts::OpenedAt)
                .to_owned(),
        ];
        for index in indexes {
            manager.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Alerts::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Settings::Table).to_owned())
            .await
    }
}
