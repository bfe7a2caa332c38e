//! Deliveries (raw, idempotent on eventId), dead letters, vehicles, per-signal readings,
//! each vehicle's latest value per signal, and VEHICLE_ERROR entries.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261128_000001_initial"
    }
}

#[derive(DeriveIden)]
enum Deliveries {
    Table,
    Id,
    EventId,
    DeliveryId,
    WebhookId,
    EventType,
    Mode,
    VehicleId,
    Triggers,
    DeliveredAt,
    ReceivedAt,
    Signature,
    UserAgent,
    Outcome,
    SignalCount,
    RawBody,
}

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    Id,
    ReceivedAt,
    Signature,
    UserAgent,
    ContentType,
    Error,
    RawBody,
}

#[derive(DeriveIden)]
enum Vehicles {
    Table,
    Id,
    Make,
    Model,
    Year,
    FirstSeenAt,
    LastDeliveryAt,
}

#[derive(DeriveIden)]
enum SignalReadings {
    Table,
    Id,
    DeliveryRowId,
    VehicleId,
    Code,
    Name,
    GroupName,
    OemUpdatedAt,
    RetrievedAt,
    Status,
    ValueNum,
    ValueBool,
    ValueText,
    Unit,
    RawUnit,
    ErrorType,
    ErrorCode,
    Body,
}

#[derive(DeriveIden)]
enum VehicleLatest {
    Table,
    VehicleId,
    Code,
    ReadingId,
    OemUpdatedAt,
    RetrievedAt,
    ValueNum,
    ValueBool,
    ValueText,
    Unit,
    Body,
}

#[derive(DeriveIden)]
enum VehicleErrors {
    Table,
    Id,
    DeliveryRowId,
    VehicleId,
    ErrorType,
    Code,
    State,
    Description,
    SuggestedUserMessage,
    DocUrl,
    Resolution,
    Signals,
    ReportedAt,
}

fn id<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn text<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).text().to_owned()
}

fn text_required<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn millis<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().to_owned()
}

fn millis_required<T: IntoIden>(col: T) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Deliveries::Table)
                    .col(id(Deliveries::Id))
                    .col(text(Deliveries::EventId).unique_key())
                    .col(text(Deliveries::DeliveryId))
                    .col(text(Deliveries::WebhookId))
                    .col(text_required(Deliveries::EventType))
                    .col(text(Deliveries::Mode))
                    .col(text(Deliveries::VehicleId))
                    .col(ColumnDef::new(Deliveries::Triggers).json().not_null())
                    .col(millis(Deliveries::DeliveredAt))
                    .col(millis_required(Deliveries::ReceivedAt))
                    .col(text(Deliveries::Signature))
                    .col(text(Deliveries::UserAgent))
                    .col(text_required(Deliveries::Outcome))
                    .col(ColumnDef::new(Deliveries::SignalCount).integer().not_null())
                    .col(ColumnDef::new(Deliveries::RawBody).blob().not_null())
                    .to_owned(),
            )
            .await?;
        // The delivery log lists newest first, optionally for one vehicle.
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_received")
                    .table(Deliveries::Table)
                    .col(Deliveries::ReceivedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_deliveries_vehicle_received")
                    .table(Deliveries::Table)
                    .col(Deliveries::VehicleId)
                    .col(Deliveries::ReceivedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DeadLetters::Table)
                    .col(id(DeadLetters::Id))
                    .col(millis_required(DeadLetters::ReceivedAt))
                    .col(text(DeadLetters::Signature))
                    .col(text(DeadLetters::UserAgent))
                    .col(text(DeadLetters::ContentType))
                    .col(text_required(DeadLetters::Error))
                    .col(ColumnDef::new(DeadLetters::RawBody).blob().not_null())
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Vehicles::Table)
                    .col(text_required(Vehicles::Id).primary_key())
                    .col(text(Vehicles::Make))
                    .col(text(Vehicles::Model))
                    .col(ColumnDef::new(Vehicles::Year).integer())
                    .col(millis_required(Vehicles::FirstSeenAt))
                    .col(millis_required(Vehicles::LastDeliveryAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SignalReadings::Table)
                    .col(id(SignalReadings::Id))
                    .col(
                        ColumnDef::new(SignalReadings::DeliveryRowId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text_required(SignalReadings::VehicleId))
                    .col(text_required(SignalReadings::Code))
                    .col(text(SignalReadings::Name))
                    .col(text(SignalReadings::GroupName))
                    .col(millis(SignalReadings::OemUpdatedAt))
                    .col(millis(SignalReadings::RetrievedAt))
                    .col(text_required(SignalReadings::Status))
                    .col(ColumnDef::new(SignalReadings::ValueNum).double())
                    .col(ColumnDef::new(SignalReadings::ValueBool).boolean())
                    .col(text(SignalReadings::ValueText))
                    .col(text(SignalReadings::Unit))
                    .col(text(SignalReadings::RawUnit))
                    .col(text(SignalReadings::ErrorType))
                    .col(text(SignalReadings::ErrorCode))
                    .col(ColumnDef::new(SignalReadings::Body).json().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_signal_readings_delivery")
                            .from(SignalReadings::Table, SignalReadings::DeliveryRowId)
                            .to(Deliveries::Table, Deliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Session derivation walks one vehicle's readings in OEM time order, all
        // signals or one code at a time.
        manager
            .create_index(
                Index::create()
                    .name("idx_signal_readings_vehicle_time")
                    .table(SignalReadings::Table)
                    .col(SignalReadings::VehicleId)
                    .col(SignalReadings::OemUpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signal_readings_vehicle_code_time")
                    .table(SignalReadings::Table)
                    .col(SignalReadings::VehicleId)
                    .col(SignalReadings::Code)
                    .col(SignalReadings::OemUpdatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_signal_readings_delivery")
                    .table(SignalReadings::Table)
                    .col(SignalReadings::DeliveryRowId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VehicleLatest::Table)
                    .col(text_required(VehicleLatest::VehicleId))
                    .col(text_required(VehicleLatest::Code))
                    .col(
                        ColumnDef::new(VehicleLatest::ReadingId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(millis(VehicleLatest::OemUpdatedAt))
                    .col(millis(VehicleLatest::RetrievedAt))
                    .col(ColumnDef::new(VehicleLatest::ValueNum).double())
                    .col(ColumnDef::new(VehicleLatest::ValueBool).boolean())
                    .col(text(VehicleLatest::ValueText))
                    .col(text(VehicleLatest::Unit))
                    .col(ColumnDef::new(VehicleLatest::Body).json().not_null())
                    .primary_key(
                        Index::create()
                            .col(VehicleLatest::VehicleId)
                            .col(VehicleLatest::Code),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VehicleErrors::Table)
                    .col(id(VehicleErrors::Id))
                    .col(
                        ColumnDef::new(VehicleErrors::DeliveryRowId)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text_required(VehicleErrors::VehicleId))
                    .col(text(VehicleErrors::ErrorType))
                    .col(text(VehicleErrors::Code))
                    .col(text(VehicleErrors::State))
                    .col(text(VehicleErrors::Description))
                    .col(text(VehicleErrors::SuggestedUserMessage))
                    .col(text(VehicleErrors::DocUrl))
                    .col(text(VehicleErrors::Resolution))
                    .col(ColumnDef::new(VehicleErrors::Signals).json().not_null())
                    .col(millis_required(VehicleErrors::ReportedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_vehicle_errors_delivery")
                            .from(VehicleErrors::Table, VehicleErrors::DeliveryRowId)
                            .to(Deliveries::Table, Deliveries::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_vehicle_errors_vehicle_time")
                    .table(VehicleErrors::Table)
                    .col(VehicleErrors::VehicleId)
                    .col(VehicleErrors::ReportedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            VehicleErrors::Table.into_iden(),
            VehicleLatest::Table.into_iden(),
            SignalReadings::Table.into_iden(),
            Vehicles::Table.into_iden(),
            DeadLetters::Table.into_iden(),
            Deliveries::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
