//! Derived charging sessions, and a FIRST_DELIVERY mark on readings (the engine treats a
//! FIRST_DELIVERY that finds the vehicle charging as "already charging when first seen").

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000002_sessions"
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    VehicleId,
    Status,
    StartedAt,
    EndedAt,
    StartObserved,
    EndInferred,
    DurationS,
    PluggedInAt,
    UnpluggedAt,
    LastReadingAt,
    SocStart,
    SocEnd,
    RangeStartKm,
    RangeEndKm,
    EnergyAddedKwh,
    EnergySource,
    MaxPowerKw,
    AvgPowerKw,
    ChargeLimitPercent,
    ChargerType,
    Latitude,
    Longitude,
    Intervals,
}

#[derive(DeriveIden)]
enum SignalReadings {
    Table,
    FirstDelivery,
    VehicleId,
    Code,
    ValueNum,
}

fn double<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).double().to_owned()
}

fn millis<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Id).text().not_null().primary_key())
                    .col(ColumnDef::new(Sessions::VehicleId).text().not_null())
                    .col(ColumnDef::new(Sessions::Status).text().not_null())
                    .col(millis(Sessions::StartedAt).not_null())
                    .col(millis(Sessions::EndedAt))
                    .col(ColumnDef::new(Sessions::StartObserved).boolean().not_null())
                    .col(ColumnDef::new(Sessions::EndInferred).boolean().not_null())
                    .col(ColumnDef::new(Sessions::DurationS).big_integer().not_null())
                    .col(millis(Sessions::PluggedInAt))
                    .col(millis(Sessions::UnpluggedAt))
                    .col(millis(Sessions::LastReadingAt).not_null())
                    .col(double(Sessions::SocStart))
                    .col(double(Sessions::SocEnd))
                    .col(double(Sessions::RangeStartKm))
                    .col(double(Sessions::RangeEndKm))
                    .col(double(Sessions::EnergyAddedKwh))
                    .col(ColumnDef::new(Sessions::EnergySource).text())
                    .col(double(Sessions::MaxPowerKw))
                    .col(double(Sessions::AvgPowerKw))
                    .col(double(Sessions::ChargeLimitPercent))
                    .col(ColumnDef::new(Sessions::ChargerType).text())
                    .col(double(Sessions::Latitude))
                    .col(double(Sessions::Longitude))
                    .col(ColumnDef::new(Sessions::Intervals).json().not_null())
                    .to_owned(),
            )
            .await?;
        // A vehicle's sessions newest first, and date-range filters on them.
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_vehicle_started")
                    .table(Sessions::Table)
                    .col(Sessions::VehicleId)
                    .col(Sessions::StartedAt)
                    .to_owned(),
            )
            .await?;
        // The largest static capacity of a vehicle, found without a scan.
        manager
            .create_index(
                Index::create()
                    .name("idx_signal_readings_vehicle_code_value")
                    .table(SignalReadings::Table)
                    .col(SignalReadings::VehicleId)
                    .col(SignalReadings::Code)
                    .col(SignalReadings::ValueNum)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SignalReadings::Table)
                    .add_column(
                        ColumnDef::new(SignalReadings::FirstDelivery)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("idx_signal_readings_vehicle_code_value")
                    .table(SignalReadings::Table)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SignalReadings::Table)
                    .drop_column(SignalReadings::FirstDelivery)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await
    }
}
