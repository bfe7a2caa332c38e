//! The fleet search reads an index of words instead of every name:
//! - `vehicle_terms` holds each word of each vehicle's name (make, model, year and id),
//!   so a search finds the vehicles with a word that starts with what was typed by one
//!   range read. The server fills it when it starts (its fleet rule's version changes,
//!   so every fleet row is filled again, and each vehicle's words with it).
//! - An index over (status, time of the newest reading) counts the vehicles charging
//!   now without reading their rows.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000010_fleet_search"
    }
}

#[derive(DeriveIden)]
enum Vehicles {
    Table,
    Status,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VehicleTerms {
    Table,
    Term,
    VehicleId,
}

const STATUS_INDEX: &str = "idx_vehicles_fleet_status_updated";
const BY_VEHICLE: &str = "idx_vehicle_terms_vehicle";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Words compare by their bytes on both databases, as names do: a search's range
        // of words is then the same on each.
        let mut term = ColumnDef::new(VehicleTerms::Term);
        term.string().not_null();
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            term.extra("COLLATE \"C\"");
        }
        manager
            .create_table(
                Table::create()
                    .table(VehicleTerms::Table)
                    .col(&mut term)
                    .col(ColumnDef::new(VehicleTerms::VehicleId).string().not_null())
                    .primary_key(
                        Index::create()
                            .col(VehicleTerms::Term)
                            .col(VehicleTerms::VehicleId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_VEHICLE)
                    .table(VehicleTerms::Table)
                    .col(VehicleTerms::VehicleId)
                    .col(VehicleTerms::Term)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(STATUS_INDEX)
                    .table(Vehicles::Table)
                    .col(Vehicles::Status)
                    .col(Vehicles::UpdatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(STATUS_INDEX)
                    .table(Vehicles::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(VehicleTerms::Table).to_owned())
            .await
    }
}
