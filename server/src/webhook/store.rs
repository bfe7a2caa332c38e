//! Storing deliveries, in two steps.
//!
//! 1. **Accept** ([`accept_in`]), before the webhook answers: the delivery row, raw body
//!    included. Idempotency is the database's job: the row is inserted with
//!    `ON CONFLICT (event_id) DO NOTHING`, so a retry of an event already stored inserts
//!    nothing. Being the first statement, it also takes SQLite's write lock before
//!    anything is read. On SQLite, deliveries arriving together share one transaction
//!    (see `writer`), each in its own savepoint.
//! 2. **Process** ([`process_waiting`]), right after: the vehicle, its readings, latest
//!    state, error counts and errors, the log row, and its sessions, for a batch of
//!    waiting deliveries at once, committed together or not at all. A delivery is
//!    waiting until that commit, so a crash in between only delays it.

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
use std::collections::{BTreeMap, HashMap};

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

/// What storing a delivery needs to know of it: whether it is complete once stored,
/// or waits for the processor to apply its vehicle data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Stored with this outcome; nothing else to do.
    Complete(Outcome),
    /// Vehicle data (VEHICLE_STATE with this many signals, or VEHICLE_ERROR) that the
    /// processor applies after the webhook has answered.
    Waiting { signal_count: usize },
}

impl From<&Effect> for Disposition {
    fn from(effect: &Effect) -> Self {
        match effect {
            Effect::Nothing(outcome) => Disposition::Complete(*outcome),
            Effect::State { readings, .. } => Disposition::Waiting {
                signal_count: readings.len(),
            },
            Effect::Errors { .. } => Disposition::Waiting { signal_count: 0 },
        }
    }
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
    /// The delivery is on disk. A delivery with vehicle data then waits for the
    /// processor (`waiting`); anything else is complete, its log row included.
    New { delivery_row_id: i64, waiting: bool },
    /// The eventId was already stored: nothing changed but the log.
    Duplicate { log_id: i64 },
}

/// Stores one delivery in its own transaction (see [`accept_in`]).
pub async fn accept(
    db: &DatabaseConnection,
    record: DeliveryRecord,
    disposition: impl Into<Disposition>,
) -> Result<Stored, DbErr> {
    let txn = db.begin().await?;
    let stored = accept_in(&txn, record, disposition).await?;
    txn.commit().await?;
    Ok(stored)
}

/// What the webhook commits before it answers: the delivery row, raw body included.
/// A repeated eventId stores nothing but a log row. Vehicle data (readings, errors,
/// sessions) is applied afterwards by [`process_waiting`], from the stored raw body, so
/// the answer waits for one insert and a commit, never for session derivation.
pub async fn accept_in(
    txn: &impl ConnectionTrait,
    record: DeliveryRecord,
    disposition: impl Into<Disposition>,
) -> Result<Stored, DbErr> {
    let (outcome, waiting, signal_count) = match disposition.into() {
        Disposition::Complete(outcome) => (outcome, false, 0),
        Disposition::Waiting { signal_count } => (Outcome::Stored, true, signal_count),
    };
    let mut log = log_row(&record, outcome);
    let event_id = record.event_id.as_ref().map(|e| e.to_string());
    let row = delivery_row(&record, outcome, waiting, signal_count);
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
    if !waiting {
        log.delivery_row_id = Set(Some(delivery_row_id));
        insert_log(txn, log).await?;
    }
    Ok(Stored::New {
        delivery_row_id,
        waiting,
    })
}

fn delivery_row(
    record: &DeliveryRecord,
    outcome: Outcome,
    waiting: bool,
    signal_count: usize,
) -> deliveries::ActiveModel {
    let received_at = record.received_at.as_millis();
    deliveries::ActiveModel {
        event_id: Set(record.event_id.as_ref().map(|e| e.to_string())),
        delivery_id: Set(record.delivery_id.clone()),
        webhook_id: Set(record.webhook_id.clone()),
        event_type: Set(record.event_type.clone()),
        mode: Set(record.mode.clone()),
        vehicle_id: Set(record.vehicle_id.as_ref().map(|v| v.to_string())),
        triggers: Set(json!(record.triggers)),
        delivered_at: Set(record.delivered_at.map(EpochMs::as_millis)),
        received_at: Set(received_at),
        signature: Set(record.signature.clone()),
        user_agent: Set(record.user_agent.clone()),
        outcome: Set(outcome.as_str().to_owned()),
        signal_count: Set(i32::try_from(signal_count).unwrap_or(i32::MAX)),
        raw_body: Set(record.raw_body.clone()),
        processed_at: Set((!waiting).then_some(received_at)),
        process_error: Set(None),
        ..Default::default()
    }
}

fn log_row(record: &DeliveryRecord, outcome: Outcome) -> webhook_log::ActiveModel {
    webhook_log::ActiveModel {
        received_at: Set(record.received_at.as_millis()),
        outcome: Set(outcome.as_str().to_owned()),
        event_type: Set(Some(record.event_type.clone())),
        event_id: Set(record.event_id.as_ref().map(|e| e.to_string())),
        vehicle_id: Set(record.vehicle_id.as_ref().map(|v| v.to_string())),
        triggers: Set(Some(json!(record.triggers).to_string())),
        ..Default::default()
    }
}

/// One waiting delivery, as read back for processing.
struct Waiting {
    id: i64,
    received_at: i64,
    raw_body: Vec<u8>,
}

/// What one call of [`process_waiting`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processed {
    /// Deliveries taken from the queue (applied or marked failed).
    pub deliveries: usize,
    /// Vehicles whose sessions were brought up to date.
    pub vehicles: usize,
    /// Deliveries whose stored body could not be read again (kept, marked).
    pub failed: usize,
    ids: Vec<i64>,
}

impl Processed {
    /// The delivery row ids taken from the queue.
    pub fn ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.ids.iter().copied()
    }
}

/// A batch that was rolled back: the error, and the deliveries it held (none if they
/// could not even be read).
#[derive(Debug)]
pub struct Failed {
    pub error: DbErr,
    pub ids: Vec<i64>,
}

impl From<DbErr> for Failed {
    fn from(error: DbErr) -> Self {
        Failed {
            error,
            ids: Vec::new(),
        }
    }
}

/// A vehicle's share of a batch of waiting deliveries.
#[derive(Default)]
struct VehicleWork {
    facts: Option<VehicleFacts>,
    first_at: i64,
    last_at: i64,
    delivery_ids: Vec<i64>,
    /// (delivery row id, readings, FIRST_DELIVERY)
    states: Vec<(i64, Vec<Reading>, bool)>,
    /// (delivery row id, errors, reported at)
    errors: Vec<(i64, Vec<ErrorRecord>, i64)>,
}

impl VehicleWork {
    /// Later deliveries' make, model and year win where they have one.
    fn learn(&mut self, facts: VehicleFacts, received_at: i64) {
        self.facts = Some(match self.facts.take() {
            None => {
                self.first_at = received_at;
                self.last_at = received_at;
                facts
            }
            Some(known) => VehicleFacts {
                id: known.id,
                make: facts.make.or(known.make),
                model: facts.model.or(known.model),
                year: facts.year.or(known.year),
            },
        });
        self.first_at = self.first_at.min(received_at);
        self.last_at = self.last_at.max(received_at);
    }
}

/// Applies the oldest waiting delivery's vehicle's waiting deliveries (up to `limit`,
/// oldest first) in one transaction: their readings, latest state, error counts, vehicle
/// errors and log rows, and the vehicle's sessions, derived once for all of them. Then
/// marks them processed. Under load a vehicle's deliveries pile up while others are
/// processed, so the derivation is shared by more of them. A crash before the commit
/// leaves them all waiting, to be applied again from their raw bodies.
///
/// On PostgreSQL the deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so
/// processors of several server processes share the queue without taking the same
/// delivery twice, and the vehicle's row lock orders two batches of one vehicle. On
/// SQLite the caller serialises writers (see `processor::Gate`).
///
/// The commit does not wait for the disk (SQLite `synchronous=NORMAL` on the
/// processor's connection, PostgreSQL `synchronous_commit = off`): the deliveries
/// themselves were made durable when accepted, and a processing commit lost to a power
/// cut only leaves them waiting again.
pub async fn process_waiting(
    db: &DatabaseConnection,
    engine: &EngineConfig,
    limit: u64,
    now: EpochMs,
) -> Result<Processed, Failed> {
    use sea_orm::sea_query::{LockBehavior, LockType};
    use sea_orm::{DatabaseBackend, QueryOrder};
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    match backend {
        DatabaseBackend::Sqlite => {
            // Take SQLite's write lock before reading: a read transaction that later
            // writes fails at once (no busy wait) if another connection wrote meanwhile.
            txn.execute_unprepared("UPDATE deliveries SET id = id WHERE id = -1")
                .await?;
        }
        DatabaseBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL synchronous_commit TO OFF")
                .await?;
        }
        _ => {}
    }
    let waiting = || {
        let query = deliveries::Entity::find()
            .select_only()
            .filter(deliveries::Column::ProcessedAt.is_null())
            .order_by_asc(deliveries::Column::Id);
        if backend == DatabaseBackend::Postgres {
            query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        } else {
            query
        }
    };
    let oldest: Option<(i64, Option<String>)> = waiting()
        .columns([deliveries::Column::Id, deliveries::Column::VehicleId])
        .limit(1)
        .into_tuple()
        .one(&txn)
        .await?;
    let Some((oldest, vehicle)) = oldest else {
        txn.commit().await?;
        return Ok(Processed::default());
    };
    let mut batch = waiting().columns([
        deliveries::Column::Id,
        deliveries::Column::ReceivedAt,
        deliveries::Column::RawBody,
    ]);
    batch = match vehicle {
        Some(vehicle) => batch
            .filter(deliveries::Column::VehicleId.eq(vehicle))
            .limit(limit),
        None => batch.filter(deliveries::Column::Id.eq(oldest)),
    };
    let waiting: Vec<Waiting> = batch
        .into_tuple::<(i64, i64, Vec<u8>)>()
        .all(&txn)
        .await?
        .into_iter()
        .map(|(id, received_at, raw_body)| Waiting {
            id,
            received_at,
            raw_body,
        })
        .collect();
    let ids: Vec<i64> = waiting.iter().map(|w| w.id).collect();
    let failed = |error| Failed {
        error,
        ids: ids.clone(),
    };
    let mut processed = apply(&txn, waiting, engine, now).await.map_err(failed)?;
    txn.commit().await.map_err(failed)?;
    processed.ids = ids;
    Ok(processed)
}

/// Processes waiting deliveries until none wait (bulk loads, tests); returns how many.
/// Not for use beside a running processor on SQLite, which would contend for the lock.
pub async fn drain(
    db: &DatabaseConnection,
    engine: &EngineConfig,
    limit: u64,
    now: EpochMs,
) -> Result<usize, Failed> {
    let mut total = 0;
    loop {
        let done = process_waiting(db, engine, limit, now).await?;
        if done.deliveries == 0 {
            return Ok(total);
        }
        total += done.deliveries;
    }
}

/// Applies waiting deliveries inside the caller's transaction.
async fn apply(
    txn: &impl ConnectionTrait,
    waiting: Vec<Waiting>,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<Processed, DbErr> {
    let mut work: BTreeMap<String, VehicleWork> = BTreeMap::new();
    let mut logs = Vec::with_capacity(waiting.len());
    let mut failed: Vec<(i64, String)> = Vec::new();
    let mut done: Vec<i64> = Vec::with_capacity(waiting.len());
    for delivery in waiting {
        let received_at = EpochMs::new(delivery.received_at).unwrap_or(now);
        let (record, effect) = match super::plan_body(&delivery.raw_body, received_at) {
            Ok(planned) => planned,
            Err(err) => {
                // It was planned once already, when it arrived; only a change of the
                // parser can make it fail now. Kept, marked, and logged.
                failed.push((delivery.id, format!("could not be processed: {err}")));
                continue;
            }
        };
        let mut log = log_row(&record, Outcome::Stored);
        log.delivery_row_id = Set(Some(delivery.id));
        logs.push(log);
        done.push(delivery.id);
        let reported_at = record
            .delivered_at
            .map_or(delivery.received_at, EpochMs::as_millis);
        match effect {
            Effect::Nothing(_) => {}
            Effect::State {
                vehicle,
                readings,
                first_delivery,
            } => {
                let entry = work.entry(vehicle.id.to_string()).or_default();
                entry.learn(vehicle, delivery.received_at);
                entry.delivery_ids.push(delivery.id);
                entry.states.push((delivery.id, readings, first_delivery));
            }
            Effect::Errors { vehicle, errors } => {
                let entry = work.entry(vehicle.id.to_string()).or_default();
                entry.learn(vehicle, delivery.received_at);
                entry.delivery_ids.push(delivery.id);
                entry.errors.push((delivery.id, errors, reported_at));
            }
        }
    }
    let vehicles = work.len();
    // In id order: every batch locks vehicles in the same order.
    for (vehicle_id, work) in work {
        let Some(facts) = &work.facts else { continue };
        // The upsert locks the vehicle's row until commit: batches touching one vehicle
        // derive its sessions one after the other, in any number of processes.
        upsert_vehicle(txn, facts, work.first_at, work.last_at).await?;
        let stored = store_readings(txn, &facts.id, &work.states).await?;
        count_errors(txn, &facts.id, &stored, work.last_at).await?;
        for (delivery_row_id, errors, reported_at) in work.errors {
            store_errors(txn, delivery_row_id, &facts.id, errors, reported_at).await?;
        }
        let touched = sessions::touched(txn, &vehicle_id, &work.delivery_ids, &stored).await?;
        sessions::update_vehicle(txn, &vehicle_id, touched, engine, now).await?;
    }
    for (id, error) in &failed {
        tracing::error!(delivery_row_id = id, error = %error, "a stored delivery could not be processed; its raw body is kept");
        record_failure(txn, *id, error, now).await?;
    }
    for chunk in done.chunks(ID_CHUNK) {
        deliveries::Entity::update_many()
            .col_expr(
                deliveries::Column::ProcessedAt,
                Expr::value(now.as_millis()),
            )
            .filter(deliveries::Column::Id.is_in(chunk.iter().copied()))
            .exec(txn)
            .await?;
    }
    // The log rows go last, just before the commit: their ids are then handed out as
    // late as possible, so live updates (which follow ids) do not pass them by.
    for chunk in logs.chunks(LOG_CHUNK) {
        webhook_log::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(txn)
            .await?;
    }
    Ok(Processed {
        deliveries: done.len() + failed.len(),
        vehicles,
        failed: failed.len(),
        ids: Vec::new(),
    })
}

/// Marks one waiting delivery as failed, its error kept; the raw body stays.
pub async fn mark_failed(
    db: &DatabaseConnection,
    delivery_row_id: i64,
    error: &str,
    now: EpochMs,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    record_failure(
        &txn,
        delivery_row_id,
        &format!("could not be processed: {error}"),
        now,
    )
    .await?;
    txn.commit().await
}

/// Marks a waiting delivery processed with its error, and logs it as a dead letter.
async fn record_failure(
    txn: &impl ConnectionTrait,
    delivery_row_id: i64,
    error: &str,
    now: EpochMs,
) -> Result<(), DbErr> {
    let updated = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::ProcessedAt,
            Expr::value(now.as_millis()),
        )
        .col_expr(
            deliveries::Column::ProcessError,
            Expr::value(error.to_owned()),
        )
        .filter(deliveries::Column::Id.eq(delivery_row_id))
        .filter(deliveries::Column::ProcessedAt.is_null())
        .exec(txn)
        .await?;
    if updated.rows_affected > 0 {
        insert_log(
            txn,
            webhook_log::ActiveModel {
                received_at: Set(now.as_millis()),
                outcome: Set(Outcome::DeadLetter.as_str().to_owned()),
                delivery_row_id: Set(Some(delivery_row_id)),
                detail: Set(Some(error.to_owned())),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}

/// The processor's queue, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub waiting: u64,
    /// When the oldest waiting delivery was received.
    pub oldest_received_at: Option<i64>,
    /// Deliveries that could not be processed.
    pub failed: u64,
}

pub async fn backlog(db: &impl ConnectionTrait) -> Result<Backlog, DbErr> {
    use sea_orm::PaginatorTrait;
    use sea_orm::QueryOrder;
    let oldest = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::ReceivedAt)
        .filter(deliveries::Column::ProcessedAt.is_null())
        .order_by_asc(deliveries::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    let failed = deliveries::Entity::find()
        .filter(deliveries::Column::ProcessError.is_not_null())
        .count(db)
        .await?;
    Ok(Backlog {
        waiting: count_waiting(db).await?,
        oldest_received_at: oldest,
        failed,
    })
}

/// How many deliveries wait to be processed.
pub async fn count_waiting(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    deliveries::Entity::find()
        .filter(deliveries::Column::ProcessedAt.is_null())
        .count(db)
        .await
}

/// Ids per `IN (…)` list.
const ID_CHUNK: usize = 500;
/// Log rows per INSERT (8 columns each).
const LOG_CHUNK: usize = 500;
/// Readings per INSERT (17 columns each; SQLite allows 32 766 parameters).
const READING_CHUNK: usize = 1000;

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
    first_at: i64,
    last_at: i64,
) -> Result<(), DbErr> {
    use vehicles::Column as C;
    let row = vehicles::ActiveModel {
        id: Set(vehicle.id.to_string()),
        make: Set(vehicle.make.clone()),
        model: Set(vehicle.model.clone()),
        year: Set(vehicle.year),
        first_seen_at: Set(first_at),
        last_delivery_at: Set(last_at),
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

/// Stores the readings of a vehicle's deliveries (delivery row id, readings,
/// FIRST_DELIVERY) and moves its latest state forward; returns the stored rows.
async fn store_readings(
    db: &impl ConnectionTrait,
    vehicle_id: &VehicleId,
    deliveries: &[(i64, Vec<Reading>, bool)],
) -> Result<Vec<signal_readings::Model>, DbErr> {
    let rows: Vec<signal_readings::ActiveModel> = deliveries
        .iter()
        .flat_map(|(delivery_row_id, readings, first_delivery)| {
            readings.iter().map(move |r| {
                let c = columns(r);
                signal_readings::ActiveModel {
                    delivery_row_id: Set(*delivery_row_id),
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
                    first_delivery: Set(*first_delivery),
                    ..Default::default()
                }
            })
        })
        .collect();
    let mut stored = Vec::with_capacity(rows.len());
    for chunk in rows.chunks(READING_CHUNK) {
        stored.extend(
            signal_readings::Entity::insert_many(chunk.to_vec())
                .exec_with_returning(db)
                .await?,
        );
    }
    update_latest(db, &stored).await?;
    Ok(stored)
}

/// Adds newly stored errored readings to the per-signal error counts.
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

/// A dead letter as kept: its row, and how often its body has come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeadLettered {
    pub id: i64,
    pub times_received: i64,
}

/// The key a dead letter is kept under: the SHA-256 of its body, in hex.
pub fn body_hash(raw_body: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(raw_body))
}

/// Keeps a dead letter and a log row for this arrival. A body that came before is not
/// kept again: its row counts one more arrival (`times_received`), so a sender that
/// repeats itself adds a log row, never another copy of the body.
pub async fn dead_letter(
    db: &DatabaseConnection,
    letter: DeadLetter,
) -> Result<DeadLettered, DbErr> {
    use dead_letters::Column as C;
    let hash = body_hash(&letter.raw_body);
    let at = letter.received_at.as_millis();
    let txn = db.begin().await?;
    let row = dead_letters::ActiveModel {
        received_at: Set(at),
        last_received_at: Set(at),
        times_received: Set(1),
        body_hash: Set(Some(hash.clone())),
        signature: Set(letter.signature),
        user_agent: Set(letter.user_agent),
        content_type: Set(letter.content_type),
        error: Set(letter.error.clone()),
        raw_body: Set(letter.raw_body),
        ..Default::default()
    };
    dead_letters::Entity::insert(row)
        .on_conflict(
            OnConflict::column(C::BodyHash)
                .value(
                    C::TimesReceived,
                    Expr::cust("dead_letters.times_received + 1"),
                )
                .value(C::LastReceivedAt, Expr::cust("excluded.last_received_at"))
                .to_owned(),
        )
        .exec_without_returning(&txn)
        .await?;
    let (id, times_received): (i64, i64) = dead_letters::Entity::find()
        .select_only()
        .column(C::Id)
        .column(C::TimesReceived)
        .filter(C::BodyHash.eq(hash))
        .into_tuple()
        .one(&txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("the dead letter just kept".into()))?;
    insert_log(
        &txn,
        webhook_log::ActiveModel {
            received_at: Set(at),
            outcome: Set(Outcome::DeadLetter.as_str().to_owned()),
            detail: Set(Some(letter.error)),
            dead_letter_id: Set(Some(id)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(DeadLettered { id, times_received })
}
