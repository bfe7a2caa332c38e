//! Places, tariffs and what each session cost (issue 20):
//! - `places`: named circles; a session belongs to the one whose circle holds its start.
//!   Names are unique by `name_key` (the name in lower case).
//! - `tariffs`: a place's prices (or the fleet default's, with no place), one version per
//!   place, charger type and `valid_from` (`scope_key` is unique); the tariff itself is
//!   kept as its JSON.
//! - `sessions` gain where their energy went in time (`energy_curve`), their place, grid
//!   energy and cost as last priced, and `pricing_due`: not null while the session waits
//!   to be (re)priced; the stamp lets a pricer store its answer only for the session it
//!   read.
//! - `manual_costs`: an operator's cost for a session, kept by the session's id so that it
//!   survives re-derivation (and shows as unattached when its session is gone).

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000011_places_and_costs"
    }
}

#[derive(DeriveIden)]
enum Places {
    Table,
    Id,
    Name,
    NameKey,
    Kind,
    Latitude,
    Longitude,
    RadiusM,
    Timezone,
    ChargingEfficiency,
    CostCenter,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tariffs {
    Table,
    Id,
    PlaceId,
    ScopeKey,
    ValidFrom,
    ChargerType,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    EnergyCurve,
    PlaceId,
    GridEnergyKwh,
    CostAmount,
    CostCurrency,
    TariffId,
    CostBreakdown,
    PricingDue,
}

#[derive(DeriveIden)]
enum ManualCosts {
    Table,
    SessionId,
    VehicleId,
    Amount,
    Currency,
    Note,
    SetAt,
}

const SESSIONS_DUE: &str = "idx_sessions_pricing_due";
const SESSIONS_PLACE: &str = "idx_sessions_place";
const TARIFFS_PLACE: &str = "idx_tariffs_place";
const MANUAL_VEHICLE: &str = "idx_manual_costs_vehicle";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Places::Table)
                    .col(ColumnDef::new(Places::Id).string().not_null().primary_key())
                    .col(ColumnDef::new(Places::Name).string().not_null())
                    .col(
                        ColumnDef::new(Places::NameKey)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Places::Kind).string().not_null())
                    .col(ColumnDef::new(Places::Latitude).double().not_null())
                    .col(ColumnDef::new(Places::Longitude).double().not_null())
                    .col(ColumnDef::new(Places::RadiusM).double().not_null())
                    .col(ColumnDef::new(Places::Timezone).string().not_null())
                    .col(ColumnDef::new(Places::ChargingEfficiency).double())
                    .col(ColumnDef::new(Places::CostCenter).string())
                    .col(ColumnDef::new(Places::CreatedAt).big_integer().not_null())
                    .col(ColumnDef::new(Places::UpdatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tariffs::Table)
                    .col(
                        ColumnDef::new(Tariffs::Id)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Tariffs::PlaceId).string())
                    .col(
                        ColumnDef::new(Tariffs::ScopeKey)
                            .string()
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Tariffs::ValidFrom).string().not_null())
                    .col(ColumnDef::new(Tariffs::ChargerType).string())
                    .col(ColumnDef::new(Tariffs::Body).json().not_null())
                    .col(ColumnDef::new(Tariffs::CreatedAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(TARIFFS_PLACE)
                    .table(Tariffs::Table)
                    .col(Tariffs::PlaceId)
                    .to_owned(),
            )
            .await?;
        // SQLite adds one column per statement.
        let columns = [
            ColumnDef::new(Sessions::EnergyCurve).json().to_owned(),
            ColumnDef::new(Sessions::PlaceId).string().to_owned(),
            ColumnDef::new(Sessions::GridEnergyKwh).double().to_owned(),
            ColumnDef::new(Sessions::CostAmount).string().to_owned(),
            ColumnDef::new(Sessions::CostCurrency).string().to_owned(),
            ColumnDef::new(Sessions::TariffId).string().to_owned(),
            ColumnDef::new(Sessions::CostBreakdown).json().to_owned(),
            ColumnDef::new(Sessions::PricingDue)
                .big_integer()
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        // Every stored session waits to be priced once.
        manager
            .exec_stmt(
                Query::update()
                    .table(Sessions::Table)
                    .value(Sessions::PricingDue, 1)
                    .to_owned(),
            )
            .await?;
        for (name, column) in [
            (SESSIONS_DUE, Sessions::PricingDue),
            (SESSIONS_PLACE, Sessions::PlaceId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Sessions::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ManualCosts::Table)
                    .col(
                        ColumnDef::new(ManualCosts::SessionId)
                            .string()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(ManualCosts::VehicleId).string().not_null())
                    .col(ColumnDef::new(ManualCosts::Amount).string().not_null())
                    .col(ColumnDef::new(ManualCosts::Currency).string().not_null())
                    .col(ColumnDef::new(ManualCosts::Note).string().not_null())
                    .col(ColumnDef::new(ManualCosts::SetAt).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name(MANUAL_VEHICLE)
                    .table(ManualCosts::Table)
                    .col(ManualCosts::VehicleId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ManualCosts::Table).to_owned())
            .await?;
        for name in [SESSIONS_DUE, SESSIONS_PLACE] {
            manager
                .drop_index(Index::drop().name(name).table(Sessions::Table).to_owned())
                .await?;
        }
        for column in [
            Sessions::EnergyCurve,
            Sessions::PlaceId,
            Sessions::GridEnergyKwh,
            Sessions::CostAmount,
            Sessions::CostCurrency,
            Sessions::TariffId,
            Sessions::CostBreakdown,
            Sessions::PricingDue,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(Tariffs::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Places::Table).to_owned())
            .await
    }
}
