//! The load of each place, kept as sessions are priced (`app::server::site_load`):
//!
//! - `session_load`: each session's energy at its place in each 5-minute slice of the
//!   clock, by where its power came from (`Charge.Wattage` readings, energy samples, its
//!   average), in mWh, so what a session held can be taken out exactly when it changes.
//!   Keyed by place and slice, so a peak's vehicles are one range of the key.
//! - `place_load`: the same summed per place and slice, with the vehicles charging in
//!   it: a year of a depot is one range of at most 105 120 rows.
//!
//! Sessions already placed are made due once, so the pricer fills both.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000017_site_load"
    }
}

#[derive(DeriveIden)]
enum SessionLoad {
    Table,
    PlaceId,
    SliceMs,
    SessionId,
    VehicleId,
    WattageMwh,
    SamplesMwh,
    AverageMwh,
}

#[derive(DeriveIden)]
enum PlaceLoad {
    Table,
    PlaceId,
    SliceMs,
    Vehicles,
    WattageMwh,
    SamplesMwh,
    AverageMwh,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    PlaceId,
    PricingDue,
}

const BY_SESSION: &str = "idx_session_load_session";

fn energy(column: impl IntoIden) -> ColumnDef {
    ColumnDef::new(column).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SessionLoad::Table)
                    .col(ColumnDef::new(SessionLoad::PlaceId).text().not_null())
                    .col(
                        ColumnDef::new(SessionLoad::SliceMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(SessionLoad::SessionId).text().not_null())
                    .col(ColumnDef::new(SessionLoad::VehicleId).text().not_null())
                    .col(energy(SessionLoad::WattageMwh))
                    .col(energy(SessionLoad::SamplesMwh))
                    .col(energy(SessionLoad::AverageMwh))
                    .primary_key(
                        Index::create()
                            .col(SessionLoad::PlaceId)
                            .col(SessionLoad::SliceMs)
                            .col(SessionLoad::SessionId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(BY_SESSION)
                    .table(SessionLoad::Table)
                    .col(SessionLoad::SessionId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PlaceLoad::Table)
                    .col(ColumnDef::new(PlaceLoad::PlaceId).text().not_null())
                    .col(ColumnDef::new(PlaceLoad::SliceMs).big_integer().not_null())
                    .col(ColumnDef::new(PlaceLoad::Vehicles).big_integer().not_null())
                    .col(energy(PlaceLoad::WattageMwh))
                    .col(energy(PlaceLoad::SamplesMwh))
                    .col(energy(PlaceLoad::AverageMwh))
                    .primary_key(
                        Index::create()
                            .col(PlaceLoad::PlaceId)
                            .col(PlaceLoad::SliceMs),
                    )
                    .to_owned(),
            )
            .await?;
        // Sessions priced before: due once more, so their load is counted.
        manager
            .exec_stmt(
                Query::update()
                    .table(Sessions::Table)
                    .value(Sessions::PricingDue, 1)
                    .and_where(Expr::col(Sessions::PlaceId).is_not_null())
                    .and_where(Expr::col(Sessions::PricingDue).is_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PlaceLoad::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(SessionLoad::Table).to_owned())
            .await
    }
}
