//! Readiness for departures (issue 21):
//! - `schedules` holds the fleet default (`scope` = `fleet`) and each vehicle's override
//!   (`scope` = its id); the departures are kept as their JSON. A vehicle with no row
//!   follows the fleet default.
//! - `readiness`: each vehicle's verdict as last evaluated (on every applied delivery,
//!   and again at `due_at`, when time alone can change it), read a page at a time by
//!   urgency (`rank`, then the next departure `sort_at`).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000013_readiness"
    }
}

#[derive(DeriveIden)]
enum Schedules {
    Table,
    Scope,
    Timezone,
    RequiredSoc,
    Departures,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Readiness {
    Table,
    VehicleId,
    Status,
    Rank,
    SortAt,
    NextDeparture,
    RequiredSoc,
    Soc,
    SocAt,
    PredictedSoc,
    Confidence,
    Inputs,
    PlaceId,
    Plugged,
    Charging,
    PowerKw,
    ChargeLimit,
    Latitude,
    Longitude,
    LastHeard,
    DueAt,
    EvaluatedAt,
}

const READINESS_ORDER: &str = "idx_readiness_order";
const READINESS_DUE: &str = "idx_readiness_due";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Schedules::Table)
                    .col(
                        ColumnDef::new(Schedules::Scope)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Schedules::Timezone).string().not_null())
                    .col(ColumnDef::new(Schedules::RequiredSoc).integer().not_null())
                    .col(ColumnDef::new(Schedules::Departures).json().not_null())
                    .col(
                        ColumnDef::new(Schedules::UpdatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        let optional = |column: Readiness| ColumnDef::new(column).to_owned();
        manager
            .create_table(
                Table::create()
                    .table(Readiness::Table)
                    .col(
                        ColumnDef::new(Readiness::VehicleId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Readiness::Status).string().not_null())
                    .col(ColumnDef::new(Readiness::Rank).integer().not_null())
                    .col(ColumnDef::new(Readiness::SortAt).big_integer().not_null())
                    .col(optional(Readiness::NextDeparture).big_integer())
                    .col(optional(Readiness::RequiredSoc).double())
                    .col(optional(Readiness::Soc).double())
                    .col(optional(Readiness::SocAt).big_integer())
                    .col(optional(Readiness::PredictedSoc).double())
                    .col(optional(Readiness::Confidence).string())
                    .col(ColumnDef::new(Readiness::Inputs).string().not_null())
                    .col(optional(Readiness::PlaceId).string())
                    .col(optional(Readiness::Plugged).boolean())
                    .col(optional(Readiness::Charging).boolean())
                    .col(optional(Readiness::PowerKw).double())
                    .col(optional(Readiness::ChargeLimit).double())
                    .col(optional(Readiness::Latitude).double())
                    .col(optional(Readiness::Longitude).double())
                    .col(optional(Readiness::LastHeard).big_integer())
                    .col(optional(Readiness::DueAt).big_integer())
                    .col(
                        ColumnDef::new(Readiness::EvaluatedAt)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(READINESS_ORDER)
                    .table(Readiness::Table)
                    .col(Readiness::Rank)
                    .col(Readiness::SortAt)
                    .col(Readiness::VehicleId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(READINESS_DUE)
                    .table(Readiness::Table)
                    .col(Readiness::DueAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Readiness::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Schedules::Table).to_owned())
            .await
    }
}
