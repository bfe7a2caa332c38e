//! The ingest transaction: one delivery, its vehicle, its readings and each vehicle's
//! latest state, committed together or not at all.
//!
//! Idempotency is the database's job: the delivery row is inserted first with
//! `ON CONFLICT (event_id) DO NOTHING`. A retry of an event already stored inserts
//! nothing, and the transaction stops there, so nothing else changes. Being the first
//! statement, it also takes SQLite's write lock before anything is read. On SQLite,
//! deliveries arriving together share one transaction (see `writer`), each in its own
//! savepoint.

pub use app::domain::events::Outcome;
use app::domain::ids::{EventId, VehicleId};
use app::domain::reading::{Reading, ReadingOutcome, ReadingValue};
use app::domain::sessions::EngineConfig;
use app::domain::time::EpochMs;
use app::server::entities::{
    dead_letters, deliveries, signal_readings, vehicle_errors, vehicle_latest, vehicles,
    webhook_log,
};
use app::server::sessions;
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect, TransactionTrait, TryInsertResult,
};
use serde_json::{json, Value};
use std::collections::HashMap;

/// The delivery row, as the handler saw it.
#[derive(Debug, Clone)]
pub struct DeliveryRecord {
    pub event_id: Option<EventId>,
    pub delivery_id: Option<String>,
    pub webhook_id: Option<String>,
    pub event_type: String,
    pub mode: Option<String>,
    pub vehicle_id: Option<VehicleId>,
    pub triggers: Vec<String>,
    pub delivered_at: Option<EpochMs>,
    pub received_at: EpochMs,
    pub signature: Option<String>,
    pub user_agent: Option<String>,
    pub raw_body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct VehicleFacts {
    pub id: VehicleId,
    pub make: Option<String>,
    pub model: Option<String>,
    pub year: Option<i32>,
}

#[derive(Debug, Clone)]
pub struct ErrorRecord {
    pub kind: Option<String>,
    pub code: Option<String>,
    pub state: Option<String>,
    pub description: Option<String>,
    pub suggested_user_message: Option<String>,
    pub doc_url: Option<String>,
    pub resolution: Option<String>,
    pub signals: Vec<String>,
}

/// What the delivery does beyond being stored.
#[derive(Debug, Clone)]
pub enum Effect {
    /// Stored raw; changes nothing else.
    Nothing(Outcome),
    /// VEHICLE_STATE: the vehicle, one row per signal, and its latest state.
    State {
        vehicle: VehicleFacts,
        readings: Vec<Reading>,
        /// The delivery carried a FIRST_DELIVERY trigger.
        first_delivery: bool,
    },
    /// VEHICLE_ERROR: the vehicle and its error entries.
    Errors {
        vehicle: VehicleFacts,
        errors: Vec<ErrorRecord>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    New {
        delivery_row_id: i64,
        log_id: i64,
    },
    /// The eventId was already stored: nothing changed but the log.
    Duplicate {
        log_id: i64,
    },
}

/// Stores one delivery in its own transaction.
pub async fn ingest(
    db: &DatabaseConnection,
    record: DeliveryRecord,
    effect: Effect,
    engine: &EngineConfig,
) -> Result<Stored, DbErr> {
    let txn = db.begin().await?;
    let stored = ingest_in(&txn, record, effect, engine).await?;
    txn.commit().await?;
    Ok(stored)
}

/// Stores one delivery inside a transaction the caller commits (or a savepoint of one).
pub async fn ingest_in(
    txn: &impl ConnectionTrait,
    record: DeliveryRecord,
    effect: Effect,
    engine: &EngineConfig,
) -> Result<Stored, DbErr> {
    store_in(txn, record, effect, Some(engine)).await
}

/// Stores one delivery; brings its vehicle's sessions up to date when given an engine.
/// Without one (bulk loads), the caller re-derives the vehicles afterwards.
pub async fn store_in(
    txn: &impl ConnectionTrait,
    record: DeliveryRecord,
    effect: Effect,
    engine: Option<&EngineConfig>,
) -> Result<Stored, DbErr> {
    let outcome = match &effect {
        Effect::Nothing(outcome) => *outcome,
        Effect::State { .. } | Effect::Errors { .. } => Outcome::Stored,
    };
    let signal_count = match &effect {
        Effect::State { readings, .. } => readings.len(),
        _ => 0,
    };
    let as_of = record.received_at;
    let received_at = as_of.as_millis();
    let reported_at = record.delivered_at.map_or(received_at, EpochMs::as_millis);
    let mut log = webhook_log::ActiveModel {
        received_at: Set(received_at),
        outcome: Set(outcome.as_str().to_owned()),
        event_type: Set(Some(record.event_type.clone())),
        event_id: Set(record.event_id.as_ref().map(|e| e.to_string())),
        vehicle_id: Set(record.vehicle_id.as_ref().map(|v| v.to_string())),
        triggers: Set(Some(json!(record.triggers).to_string())),
        ..Default::default()
    };
    let event_id = record.event_id.as_ref().map(|e| e.to_string());
    let row = deliveries::ActiveModel {
        event_id: Set(record.event_id.map(String::from)),
        delivery_id: Set(record.delivery_id),
        webhook_id: Set(record.webhook_id),
        event_type: Set(record.event_type),
        mode: Set(record.mode),
        vehicle_id: Set(record.vehicle_id.map(String::from)),
        triggers: Set(json!(record.triggers)),
        delivered_at: Set(record.delivered_at.map(EpochMs::as_millis)),
        received_at: Set(received_at),
        signature: Set(record.signature),
        user_agent: Set(record.user_agent),
        outcome: Set(outcome.as_str().to_owned()),
        signal_count: Set(i32::try_from(signal_count).unwrap_or(i32::MAX)),
        raw_body: Set(record.raw_body),
        ..Default::default()
    };
    let inserted = deliveries::Entity::insert(row)
        .on_conflict_do_nothing_on([deliveries::Column::EventId])
        .exec(txn)
        .await?;
    let delivery_row_id = match inserted {
        TryInsertResult::Inserted(result) => result.last_insert_id,
        TryInsertResult::Conflicted | TryInsertResult::Empty => {
            // Nothing but the log changes: the repeat is recorded against the delivery
            // stored first.
            let first = deliveries::Entity::find()
                .select_only()
                .column(deliveries::Column::Id)
                .filter(deliveries::Column::EventId.eq(event_id))
                .into_tuple::<i64>()
                .one(txn)
                .await?;
            log.outcome = Set(Outcome::Duplicate.as_str().to_owned());
            log.delivery_row_id = Set(first);
            let log_id = insert_log(txn, log).await?;
            return Ok(Stored::Duplicate { log_id });
        }
    };

    match effect {
        Effect::Nothing(_) => {}
        Effect::State {
            vehicle,
            readings,
            first_delivery,
        } => {
            // The upsert locks the vehicle's row until commit: concurrent deliveries for
            // one vehicle derive its sessions one after the other.
            upsert_vehicle(txn, &vehicle, received_at).await?;
            let stored =
                store_readings(txn, delivery_row_id, &vehicle.id, &readings, first_delivery)
                    .await?;
            count_errors(txn, &vehicle.id, &stored, received_at).await?;
            if let Some(engine) = engine {
                let touched =
                    sessions::touched(txn, vehicle.id.as_str(), delivery_row_id, &stored).await?;
                sessions::update_vehicle(txn, vehicle.id.as_str(), touched, engine, as_of).await?;
            }
        }
        Effect::Errors { vehicle, errors } => {
            upsert_vehicle(txn, &vehicle, received_at).await?;
            store_errors(txn, delivery_row_id, &vehicle.id, errors, reported_at).await?;
        }
    }
    // The log row goes last, just before the commit: its id is then handed out as late
    // as possible, so live updates (which follow ids) do not pass it by while this
    // transaction is still deriving sessions.
    log.delivery_row_id = Set(Some(delivery_row_id));
    let log_id = insert_log(txn, log).await?;
    Ok(Stored::New {
        delivery_row_id,
        log_id,
    })
}

async fn insert_log(
    db: &impl ConnectionTrait,
    row: webhook_log::ActiveModel,
) -> Result<i64, DbErr> {
    Ok(webhook_log::Entity::insert(row)
        .exec(db)
        .await?
        .last_insert_id)
}

/// Records a request that stored nothing: a refused signature or an answered VERIFY.
/// The body of a refused request is not trusted, so nothing from it is kept.
pub async fn log_unstored(
    db: &DatabaseConnection,
    received_at: EpochMs,
    outcome: Outcome,
    detail: Option<String>,
) -> Result<i64, DbErr> {
    let row = webhook_log::ActiveModel {
        received_at: Set(received_at.as_millis()),
        outcome: Set(outcome.as_str().to_owned()),
        detail: Set(detail),
        ..Default::default()
    };
    insert_log(db, row).await
}

async fn upsert_vehicle(
    db: &impl ConnectionTrait,
    vehicle: &VehicleFacts,
    received_at: i64,
) -> Result<(), DbErr> {
    use vehicles::Column as C;
    let row = vehicles::ActiveModel {
        id: Set(vehicle.id.to_string()),
        make: Set(vehicle.make.clone()),
        model: Set(vehicle.model.clone()),
        year: Set(vehicle.year),
        first_seen_at: Set(received_at),
        last_delivery_at: Set(received_at),
    };
    // A delivery that leaves make/model/year out keeps what we knew; the newest
    // delivery time wins even when commits finish out of order.
    let on_conflict = OnConflict::column(C::Id)
        .value(
            C::Make,
            Expr::cust("COALESCE(excluded.make, vehicles.make)"),
        )
        .value(
            C::Model,
            Expr::cust("COALESCE(excluded.model, vehicles.model)"),
        )
        .value(
            C::Year,
            Expr::cust("COALESCE(excluded.year, vehicles.year)"),
        )
        .value(
            C::LastDeliveryAt,
            Expr::cust(
                "CASE WHEN excluded.last_delivery_at > vehicles.last_delivery_at \
                 THEN excluded.last_delivery_at ELSE vehicles.last_delivery_at END",
            ),
        )
        .to_owned();
    vehicles::Entity::insert(row)
        .on_conflict(on_conflict)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Column values shared by a reading row and a latest-state row.
struct Columns {
    status: &'static str,
    value_num: Option<f64>,
    value_bool: Option<bool>,
    value_text: Option<String>,
    unit: Option<String>,
    raw_unit: Option<String>,
    error_type: Option<String>,
    error_code: Option<String>,
}

fn columns(reading: &Reading) -> Columns {
    match &reading.outcome {
        ReadingOutcome::Value {
            value,
            unit,
            raw_unit,
        } => {
            let (num, boolean, text) = match value {
                ReadingValue::Number(n) => (Some(*n), None, None),
                ReadingValue::Bool(b) => (None, Some(*b), None),
                ReadingValue::Text(t) => (None, None, Some(t.clone())),
                ReadingValue::None => (None, None, None),
            };
            Columns {
                status: "ok",
                value_num: num,
                value_bool: boolean,
                value_text: text,
                unit: unit.map(|u| u.symbol().to_owned()),
                raw_unit: raw_unit.clone(),
                error_type: None,
                error_code: None,
            }
        }
        ReadingOutcome::Error { kind, code } => Columns {
            status: "error",
            value_num: None,
            value_bool: None,
            value_text: None,
            unit: None,
            raw_unit: None,
            error_type: kind.clone(),
            error_code: code.clone(),
        },
    }
}

async fn store_readings(
    db: &impl ConnectionTrait,
    delivery_row_id: i64,
    vehicle_id: &VehicleId,
    readings: &[Reading],
    first_delivery: bool,
) -> Result<Vec<signal_readings::Model>, DbErr> {
    if readings.is_empty() {
        return Ok(Vec::new());
    }
    let rows = readings.iter().map(|r| {
        let c = columns(r);
        signal_readings::ActiveModel {
            delivery_row_id: Set(delivery_row_id),
            vehicle_id: Set(vehicle_id.to_string()),
            code: Set(r.code.to_string()),
            name: Set(r.name.clone()),
            group_name: Set(r.group.clone()),
            oem_updated_at: Set(r.oem_updated_at.map(EpochMs::as_millis)),
            retrieved_at: Set(r.retrieved_at.map(EpochMs::as_millis)),
            status: Set(c.status.to_owned()),
            value_num: Set(c.value_num),
            value_bool: Set(c.value_bool),
            value_text: Set(c.value_text),
            unit: Set(c.unit),
            raw_unit: Set(c.raw_unit),
            error_type: Set(c.error_type),
            error_code: Set(c.error_code),
            body: Set(r.body.clone()),
            first_delivery: Set(first_delivery),
            ..Default::default()
        }
    });
    let stored = signal_readings::Entity::insert_many(rows)
        .exec_with_returning(db)
        .await?;
    update_latest(db, &stored).await?;
    Ok(stored)
}

/// Adds a delivery's errored readings to the per-signal error counts.
async fn count_errors(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    stored: &[signal_readings::Model],
    received_at: i64,
) -> Result<(), DbErr> {
    use app::server::entities::signal_error_counts::{ActiveModel, Column, Entity};
    let mut counts: HashMap<(String, String, String), i64> = HashMap::new();
    for r in stored.iter().filter(|r| r.status == "error") {
        let key = (
            r.code.clone(),
            r.error_type.clone().unwrap_or_default(),
            r.error_code.clone().unwrap_or_default(),
        );
        *counts.entry(key).or_default() += 1;
    }
    if counts.is_empty() {
        return Ok(());
    }
    let rows = counts
        .into_iter()
        .map(|((code, error_type, error_code), count)| ActiveModel {
            vehicle_id: Set(vehicle_id.to_string()),
            code: Set(code),
            error_type: Set(error_type),
            error_code: Set(error_code),
            count: Set(count),
            last_at: Set(received_at),
        });
    Entity::insert_many(rows)
        .on_conflict(
            OnConflict::columns([
                Column::VehicleId,
                Column::Code,
                Column::ErrorType,
                Column::ErrorCode,
            ])
            .value(
                Column::Count,
                Expr::cust("signal_error_counts.count + excluded.count"),
            )
            .value(
                Column::LastAt,
                Expr::cust(
                    "CASE WHEN excluded.last_at > signal_error_counts.last_at \
                     THEN excluded.last_at ELSE signal_error_counts.last_at END",
                ),
            )
            .to_owned(),
        )
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// Moves each signal's latest value forward. Errored readings leave the last known value
/// in place; a reading without an OEM time (a static fact) only fills a gap. A row is
/// replaced only by a strictly newer `oem_updated_at` (ties broken by `retrieved_at`), so
/// the result does not depend on the order deliveries arrive in.
async fn update_latest(
    db: &impl ConnectionTrait,
    stored: &[signal_readings::Model],
) -> Result<(), DbErr> {
    // One row per code: a database refuses to upsert the same key twice in a statement.
    let mut newest: HashMap<&str, &signal_readings::Model> = HashMap::new();
    for row in stored.iter().filter(|r| r.status == "ok") {
        let key = |r: &signal_readings::Model| (r.oem_updated_at, r.retrieved_at, r.id);
        newest
            .entry(row.code.as_str())
            .and_modify(|best| {
                if key(row) > key(best) {
                    *best = row;
                }
            })
            .or_insert(row);
    }
    if newest.is_empty() {
        return Ok(());
    }
    let mut rows: Vec<&signal_readings::Model> = newest.into_values().collect();
    rows.sort_by(|a, b| a.code.cmp(&b.code));
    use vehicle_latest::Column as C;
    let models = rows.into_iter().map(|r| vehicle_latest::ActiveModel {
        vehicle_id: Set(r.vehicle_id.clone()),
        code: Set(r.code.clone()),
        reading_id: Set(r.id),
        oem_updated_at: Set(r.oem_updated_at),
        retrieved_at: Set(r.retrieved_at),
        value_num: Set(r.value_num),
        value_bool: Set(r.value_bool),
        value_text: Set(r.value_text.clone()),
        unit: Set(r.unit.clone()),
        body: Set(r.body.clone()),
    });
    let on_conflict = OnConflict::columns([C::VehicleId, C::Code])
        .update_columns([
            C::ReadingId,
            C::OemUpdatedAt,
            C::RetrievedAt,
            C::ValueNum,
            C::ValueBool,
            C::ValueText,
            C::Unit,
            C::Body,
        ])
        .action_and_where(Expr::cust(
            "excluded.oem_updated_at IS NOT NULL AND (\
               vehicle_latest.oem_updated_at IS NULL \
               OR excluded.oem_updated_at > vehicle_latest.oem_updated_at \
               OR (excluded.oem_updated_at = vehicle_latest.oem_updated_at \
                   AND COALESCE(excluded.retrieved_at, 0) > COALESCE(vehicle_latest.retrieved_at, 0)))",
        ))
        .to_owned();
    vehicle_latest::Entity::insert_many(models)
        .on_conflict(on_conflict)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

async fn store_errors(
    db: &impl ConnectionTrait,
    delivery_row_id: i64,
    vehicle_id: &VehicleId,
    errors: Vec<ErrorRecord>,
    reported_at: i64,
) -> Result<(), DbErr> {
    if errors.is_empty() {
        return Ok(());
    }
    let rows = errors.into_iter().map(|e| vehicle_errors::ActiveModel {
        delivery_row_id: Set(delivery_row_id),
        vehicle_id: Set(vehicle_id.to_string()),
        error_type: Set(e.kind),
        code: Set(e.code),
        state: Set(e.state),
        description: Set(e.description),
        suggested_user_message: Set(e.suggested_user_message),
        doc_url: Set(e.doc_url),
        resolution: Set(e.resolution),
        signals: Set(Value::from(e.signals)),
        reported_at: Set(reported_at),
        ..Default::default()
    });
    vehicle_errors::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// A signed body that could not be processed, kept whole.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    pub received_at: EpochMs,
    pub signature: Option<String>,
    pub user_agent: Option<String>,
    pub content_type: Option<String>,
    pub error: String,
    pub raw_body: Vec<u8>,
}

/// Keeps a dead letter and its log row; returns both ids.
pub async fn dead_letter(db: &DatabaseConnection, letter: DeadLetter) -> Result<(i64, i64), DbErr> {
    let txn = db.begin().await?;
    let mut log = webhook_log::ActiveModel {
        received_at: Set(letter.received_at.as_millis()),
        outcome: Set(Outcome::DeadLetter.as_str().to_owned()),
        detail: Set(Some(letter.error.clone())),
        ..Default::default()
    };
    let row = dead_letters::ActiveModel {
        received_at: Set(letter.received_at.as_millis()),
        signature: Set(letter.signature),
        user_agent: Set(letter.user_agent),
        content_type: Set(letter.content_type),
        error: Set(letter.error),
        raw_body: Set(letter.raw_body),
        ..Default::default()
    };
    let id = dead_letters::Entity::insert(row)
        .exec(&txn)
        .await?
        .last_insert_id;
    log.dead_letter_id = Set(Some(id));
    let log_id = insert_log(&txn, log).await?;
    txn.commit().await?;
    Ok((id, log_id))
}
