//! What month reports and the fleet's energy sums read:
//! - `sessions.cost_minor`: a priced session's cost in its currency's minor unit (cents),
//!   so a month's costs add up exactly in the database. Every session is priced once more
//!   to fill it.
//! - `idx_sessions_report`: the columns a month report sums, by start, so the database sums
//!   a month of the fleet from the index alone (a session's later columns lie past its
//!   energy curve, and reading them for every session cost 180 ms a month at 1 000
//!   vehicles; docs/PERFORMANCE.md).
//! - `rebuilds`: which version of a derived table's rule its rows were built by; the
//!   server rebuilds a table whose rule is newer at its next start. The first is
//!   `fleet_energy`, whose sums now count energy where it was added rather than where its
//!   session started (an empty `rebuilds` makes the next start rebuild it).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000012_report_sums"
    }
}

#[derive(DeriveIden)]
enum Rebuilds {
    Table,
    Name,
    Version,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    VehicleId,
    Status,
    StartedAt,
    EndedAt,
    LastReadingAt,
    EnergyAddedKwh,
    ChargerType,
    PlaceId,
    GridEnergyKwh,
    CostCurrency,
    CostMinor,
    PricingDue,
}

const SESSIONS_REPORT: &str = "idx_sessions_report";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Rebuilds::Table)
                    .col(
                        ColumnDef::new(Rebuilds::Name)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Rebuilds::Version).integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(ColumnDef::new(Sessions::CostMinor).big_integer())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(SESSIONS_REPORT)
                    .table(Sessions::Table)
                    .col(Sessions::StartedAt)
                    .col(Sessions::EndedAt)
                    .col(Sessions::LastReadingAt)
                    .col(Sessions::VehicleId)
                    .col(Sessions::PlaceId)
                    .col(Sessions::ChargerType)
                    .col(Sessions::CostCurrency)
                    .col(Sessions::Status)
                    .col(Sessions::EnergyAddedKwh)
                    .col(Sessions::GridEnergyKwh)
                    .col(Sessions::CostMinor)
                    .col(Sessions::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(
                Query::update()
                    .table(Sessions::Table)
                    .value(Sessions::PricingDue, 1)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name(SESSIONS_REPORT)
                    .table(Sessions::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::CostMinor)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Rebuilds::Table).to_owned())
            .await
    }
}
