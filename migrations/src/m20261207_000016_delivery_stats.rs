//! `delivery_stats`: how many deliveries each vehicle sent each UTC day, counted by how
//! late they were (their lag, `deliveredAt` minus the newest `oemUpdatedAt` they carry,
//! in the fixed buckets of `app::domain::health::LAG_BUCKETS`; bucket -1 counts
//! deliveries without a lag, such as errors). Kept as deliveries are applied, so the
//! data health page reads a week of a vehicle in a few rows however long the history.
//! The key starts with the day: a week of the fleet is one range of it. Filled from
//! the deliveries of the last days by the server's next start (`rebuilds`).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000016_delivery_stats"
    }
}

#[derive(DeriveIden)]
enum DeliveryStats {
    Table,
    Day,
    VehicleId,
    Bucket,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DeliveryStats::Table)
                    .col(ColumnDef::new(DeliveryStats::Day).big_integer().not_null())
                    .col(ColumnDef::new(DeliveryStats::VehicleId).text().not_null())
                    .col(ColumnDef::new(DeliveryStats::Bucket).integer().not_null())
                    .col(
                        ColumnDef::new(DeliveryStats::Count)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(DeliveryStats::Day)
                            .col(DeliveryStats::VehicleId)
                            .col(DeliveryStats::Bucket),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DeliveryStats::Table).to_owned())
            .await
    }
}
