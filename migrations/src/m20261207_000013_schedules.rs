//! Departure schedules (issue 21): `schedules` holds the fleet default (`scope` =
//! `fleet`) and each vehicle's override (`scope` = its id); the departures are kept as
//! their JSON. A vehicle with no row follows the fleet default.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000013_schedules"
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Schedules::Table).to_owned())
            .await
    }
}
