//! The fleet page reads one row per vehicle in the order it shows them, a page at a
//! time, instead of joining every vehicle to its latest signals:
//! - `vehicles` gains each vehicle's latest state (state of charge, charging, plugged
//!   in, power, range, location, the newest OEM time), its status and `sort_name` (what
//!   the name sort and the search read), with an index behind each sort key. The server
//!   fills these rows when it starts: `fleet_version` 0 marks a row not yet filled.
//! - `fleet_energy` sums the energy added by sessions per quarter hour of their start,
//!   so the fleet's chart and totals read a month as about 3 000 rows, however many
//!   vehicles there are. Sessions stored before this migration are summed here.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::ConnectionTrait;
use std::collections::BTreeMap;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261205_000009_fleet_index"
    }
}

#[derive(DeriveIden)]
enum Vehicles {
    Table,
    Id,
    SocPercent,
    IsCharging,
    IsPluggedIn,
    PowerKw,
    RangeKm,
    Latitude,
    Longitude,
    UpdatedAt,
    Status,
    SortName,
    FleetVersion,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    StartedAt,
    EnergyAddedKwh,
}

#[derive(DeriveIden)]
enum FleetEnergy {
    Table,
    Slot,
    EnergyWh,
    Sessions,
}

/// The sort keys, each with the name and id that break its ties.
const SORT_INDEXES: [(&str, Option<Vehicles>); 6] = [
    ("idx_vehicles_fleet_name", None),
    ("idx_vehicles_fleet_soc", Some(Vehicles::SocPercent)),
    ("idx_vehicles_fleet_status", Some(Vehicles::Status)),
    ("idx_vehicles_fleet_power", Some(Vehicles::PowerKw)),
    ("idx_vehicles_fleet_range", Some(Vehicles::RangeKm)),
    ("idx_vehicles_fleet_updated", Some(Vehicles::UpdatedAt)),
];

/// A quarter hour: every time zone's offset is a whole number of them, so the slots add
/// up to any zone's days. The server's `EnergyLedger` cuts slots and rounds watt-hours
/// the same way (`app::server::fleet_energy`).
const SLOT_MS: i64 = 15 * 60 * 1000;

fn slot_of(started_at: i64) -> i64 {
    started_at.div_euclid(SLOT_MS) * SLOT_MS
}

fn wh(kwh: Option<f64>) -> i64 {
    (kwh.unwrap_or(0.0) * 1000.0).round() as i64
}

/// Sessions read per query while summing.
const CHUNK: u64 = 5_000;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Names sort by their bytes on both databases (PostgreSQL would otherwise sort
        // by its locale's rules, and pages would differ between the two).
        let mut sort_name = ColumnDef::new(Vehicles::SortName);
        sort_name.string().not_null().default("");
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            sort_name.extra("COLLATE \"C\"");
        }
        let sort_name = sort_name.to_owned();
        // One column per statement: SQLite alters one at a time.
        let columns = [
            ColumnDef::new(Vehicles::SocPercent)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(Vehicles::IsCharging)
                .boolean()
                .null()
                .to_owned(),
            ColumnDef::new(Vehicles::IsPluggedIn)
                .boolean()
                .null()
                .to_owned(),
            ColumnDef::new(Vehicles::PowerKw).double().null().to_owned(),
            ColumnDef::new(Vehicles::RangeKm).double().null().to_owned(),
            ColumnDef::new(Vehicles::Latitude)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(Vehicles::Longitude)
                .double()
                .null()
                .to_owned(),
            ColumnDef::new(Vehicles::UpdatedAt)
                .big_integer()
                .null()
                .to_owned(),
            ColumnDef::new(Vehicles::Status)
                .string()
                .not_null()
                .default("unknown")
                .to_owned(),
            sort_name,
            ColumnDef::new(Vehicles::FleetVersion)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
        ];
        for mut column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Vehicles::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        for (name, key) in SORT_INDEXES {
            let mut index = Index::create();
            index.name(name).table(Vehicles::Table);
            if let Some(key) = key {
                index.col(key);
            }
            index.col(Vehicles::SortName).col(Vehicles::Id);
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("idx_vehicles_fleet_version")
                    .table(Vehicles::Table)
                    .col(Vehicles::FleetVersion)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(FleetEnergy::Table)
                    .col(
                        ColumnDef::new(FleetEnergy::Slot)
                            .big_integer()
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(FleetEnergy::EnergyWh)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(FleetEnergy::Sessions)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        sum_stored_sessions(manager).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(FleetEnergy::Table).to_owned())
            .await?;
        for (name, _) in SORT_INDEXES {
            manager
                .drop_index(Index::drop().name(name).table(Vehicles::Table).to_owned())
                .await?;
        }
        manager
            .drop_index(
                Index::drop()
                    .name("idx_vehicles_fleet_version")
                    .table(Vehicles::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Vehicles::SocPercent,
            Vehicles::IsCharging,
            Vehicles::IsPluggedIn,
            Vehicles::PowerKw,
            Vehicles::RangeKm,
            Vehicles::Latitude,
            Vehicles::Longitude,
            Vehicles::UpdatedAt,
            Vehicles::Status,
            Vehicles::SortName,
            Vehicles::FleetVersion,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Vehicles::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Sums the sessions already stored into `fleet_energy`, reading them a chunk at a time
/// in id order.
async fn sum_stored_sessions(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let db = manager.get_connection();
    let mut slots: BTreeMap<i64, (i64, i64)> = BTreeMap::new();
    let mut after = String::new();
    loop {
        let rows = db
            .query_all(
                &Query::select()
                    .columns([Sessions::Id, Sessions::StartedAt, Sessions::EnergyAddedKwh])
                    .from(Sessions::Table)
                    .and_where(Expr::col(Sessions::Id).gt(after.clone()))
                    .order_by(Sessions::Id, Order::Asc)
                    .limit(CHUNK)
                    .to_owned(),
            )
            .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("", "id")?;
        for row in &rows {
            let started_at: i64 = row.try_get("", "started_at")?;
            let kwh: Option<f64> = row.try_get("", "energy_added_kwh")?;
            let slot = slots.entry(slot_of(started_at)).or_default();
            slot.0 += wh(kwh);
            slot.1 += 1;
        }
    }
    let rows: Vec<_> = slots.into_iter().collect();
    for chunk in rows.chunks(1_000) {
        let mut insert = Query::insert();
        insert.into_table(FleetEnergy::Table).columns([
            FleetEnergy::Slot,
            FleetEnergy::EnergyWh,
            FleetEnergy::Sessions,
        ]);
        for (slot, (energy_wh, sessions)) in chunk {
            insert.values_panic([(*slot).into(), (*energy_wh).into(), (*sessions).into()]);
        }
        manager.exec_stmt(insert.to_owned()).await?;
    }
    Ok(())
}
