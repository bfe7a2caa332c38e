//! Applying accepted deliveries, after the webhook has answered for them: the vehicle,
//! its readings, latest state, error counts and errors, the log rows, and its charging
//! sessions (and with them the fleet table's row and the fleet's energy sums), for a
//! batch of a few vehicles' waiting deliveries at once, committed together (with their
//! counts and lags for the data health page) or not at all. Each delivery is planned
//! again from its stored raw body (`plan::plan_body`). A delivery waits until that
//! commit, so a crash in between only delays it.

use super::accept::log_row;
use super::inbox;
use super::plan::{plan_body, Effect, ErrorRecord, VehicleFacts};
use super::queue::{self, record_failure, Waiting};
use super::sqlite_append::Appender;
use app::domain::events::Outcome;
use app::domain::ids::VehicleId;
use app::domain::reading::{Reading, ReadingOutcome, ReadingStatus, ReadingValue};
use app::domain::sessions::EngineConfig;
use app::domain::time::EpochMs;
use app::server::entities::{
    deliveries, signal_readings, vehicle_errors, vehicle_latest, vehicles, webhook_log,
};
use app::server::fleet_energy::EnergyLedger;
use app::server::{fleet, readiness, sessions};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, TransactionTrait, TryIntoModel,
};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// What one call of [`process_waiting`] applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Deliveries taken from the queue (applied or marked failed).
    pub deliveries: usize,
    /// Vehicles whose sessions were brought up to date.
    pub vehicles: usize,
    /// Deliveries whose stored body could not be read again (kept, marked).
    pub failed: usize,
    ids: Vec<i64>,
}

impl Applied {
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

/// Applies the waiting deliveries of the vehicles whose deliveries have waited longest
/// (up to `limit`, see `queue::claim`) in one transaction: their readings, latest state,
/// error counts, vehicle errors and log rows, and each vehicle's sessions, derived once
/// for all of its deliveries. Then marks them processed. Under load a vehicle's
/// deliveries pile up while others are processed, so the derivation is shared by more
/// of them. A crash before the commit
/// leaves them all waiting, to be applied again from their raw bodies.
///
/// On PostgreSQL the deliveries are claimed with `FOR UPDATE SKIP LOCKED`, so
/// processors of several server processes share the queue without taking the same
/// delivery twice, and the vehicle's row lock orders two batches of one vehicle; the
/// commit does not wait for the disk (`synchronous_commit = off`): the deliveries
/// themselves were made durable when accepted, and a processing commit lost to a power
/// cut only leaves them waiting again.
///
/// On SQLite the caller serialises writers (see `turns::Gate`), and the transaction
/// first moves up to [`MOVE`] deliveries from the inbox (`inbox`) into `deliveries`,
/// kept even if applying them fails (applying runs in a savepoint). The commit waits for
/// the disk, as the moved rows are then deleted from the inbox: by the `appender`'s
/// thread, the inbox's writer, when given and running, or else on this connection.
pub async fn process_waiting(
    db: &DatabaseConnection,
    appender: Option<&Appender>,
    engine: &EngineConfig,
    limit: u64,
    now: EpochMs,
) -> Result<Applied, Failed> {
    use sea_orm::DatabaseBackend;
    let txn = db.begin().await?;
    let backend = txn.get_database_backend();
    let mut moved = None;
    match backend {
        DatabaseBackend::Sqlite => {
            // Take SQLite's write lock before reading: a read transaction that later
            // writes fails at once (no busy wait) if another connection wrote meanwhile.
            // Not `BEGIN IMMEDIATE`: that would take the attached inbox's lock too, and
            // make the webhook's appender wait.
            txn.execute_unprepared("UPDATE deliveries SET id = id WHERE id = -1")
                .await?;
            moved = inbox::take(&txn, MOVE).await?;
        }
        DatabaseBackend::Postgres => {
            txn.execute_unprepared("SET LOCAL synchronous_commit TO OFF")
                .await?;
        }
        _ => {}
    }
    // What was moved from the inbox is committed even if applying fails, so that a
    // delivery that keeps failing can be marked failed by its `deliveries` row.
    let applying = txn.begin().await?;
    let waiting = queue::claim(&applying, limit).await?;
    let ids: Vec<i64> = waiting.iter().map(|w| w.id).collect();
    let applied = match waiting.is_empty() {
        true => Ok(Applied::default()),
        false => apply(&applying, waiting, engine, now).await,
    };
    let mut processed = match applied {
        Ok(applied) => {
            applying.commit().await?;
            applied
        }
        Err(error) => {
            applying.rollback().await?;
            txn.commit().await?;
            forget(db, appender, moved).await;
            return Err(Failed { error, ids });
        }
    };
    txn.commit().await.map_err(|error| Failed {
        error,
        ids: ids.clone(),
    })?;
    forget(db, appender, moved).await;
    processed.ids = ids;
    Ok(processed)
}

/// Deletes from the inbox what a committed turn moved out of it. If that fails, the
/// rows are skipped and deleted by a later turn.
async fn forget(db: &DatabaseConnection, appender: Option<&Appender>, moved: Option<i64>) {
    let Some(last) = moved else { return };
    if appender.is_some_and(|appender| appender.forget(last)) {
        return;
    }
    if let Err(err) = inbox::forget(db, last).await {
        tracing::warn!(error = %err, "could not delete moved deliveries from the inbox; a later turn will");
    }
}

/// Deliveries moved from SQLite's inbox in one turn at most (`inbox::take`): more than a
/// turn applies, so that under load the backlog waits in `deliveries`, where a turn
/// claims every waiting delivery of the vehicles it takes.
const MOVE: u64 = 1024;

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
        let done = process_waiting(db, None, engine, limit, now).await?;
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
) -> Result<Applied, DbErr> {
    let mut work: BTreeMap<VehicleId, VehicleWork> = BTreeMap::new();
    let mut logs = Vec::with_capacity(waiting.len());
    let mut failed: Vec<(i64, String)> = Vec::new();
    let mut done: Vec<i64> = Vec::with_capacity(waiting.len());
    let mut tally = app::server::health::Tally::default();
    for delivery in waiting {
        let received_at = EpochMs::new(delivery.received_at).unwrap_or(now);
        let (record, effect) = match plan_body(&delivery.raw_body, received_at) {
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
                let newest = readings
                    .iter()
                    .filter_map(|r| r.oem_updated_at.map(EpochMs::as_millis))
                    .max();
                let lag = app::domain::health::lag_ms(reported_at, newest);
                tally.add(vehicle.id.as_str(), delivery.received_at, lag);
                let entry = work.entry(vehicle.id.clone()).or_default();
                entry.learn(vehicle, delivery.received_at);
                entry.delivery_ids.push(delivery.id);
                entry.states.push((delivery.id, readings, first_delivery));
            }
            Effect::Errors { vehicle, errors } => {
                tally.add(vehicle.id.as_str(), delivery.received_at, None);
                let entry = work.entry(vehicle.id.clone()).or_default();
                entry.learn(vehicle, delivery.received_at);
                entry.delivery_ids.push(delivery.id);
                entry.errors.push((delivery.id, errors, reported_at));
            }
        }
    }
    let vehicles = work.len();
    let mut ledger = EnergyLedger::default();
    let mut refreshed: Vec<VehicleId> = Vec::with_capacity(vehicles);
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
        sessions::update_vehicle(txn, &vehicle_id, touched, engine, now, &mut ledger).await?;
        refreshed.push(vehicle_id);
    }
    // The fleet table's rows and the fleet's energy sums, after every vehicle's
    // sessions: the sums' rows are then locked in slot order, the same in every batch.
    fleet::refresh(txn, &refreshed.iter().collect::<Vec<_>>(), engine, now).await?;
    // Their readiness and alerts, from the rows just refreshed, so the board moves with
    // the live event this commit announces.
    readiness::evaluate(txn, &refreshed, now.to_datetime()).await?;
    ledger.write(txn).await?;
    tally.write(txn).await?;
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
    Ok(Applied {
        deliveries: done.len() + failed.len(),
        vehicles,
        failed: failed.len(),
        ids: Vec::new(),
    })
}

/// Ids per `IN (…)` list.
const ID_CHUNK: usize = 500;
/// Log rows per INSERT (8 columns each).
const LOG_CHUNK: usize = 500;
/// Readings per INSERT (17 columns each; SQLite allows 32 766 parameters).
const READING_CHUNK: usize = 1000;

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
        // The fleet row's columns are filled by `fleet::refresh` in the same batch.
        ..Default::default()
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
    status: ReadingStatus,
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
                status: ReadingStatus::Ok,
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
            status: ReadingStatus::Error,
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
                    status: Set(c.status),
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
        // Only the ids come back: reading every row back (its JSON body parsed again)
        // cost a third of the insert. A multi-row insert hands out ids in the order of
        // its rows (SQLite's rowids under the write lock, PostgreSQL's sequence within
        // one statement), so the ids in ascending order are the rows' in order.
        let mut ids = signal_readings::Entity::insert_many(chunk.to_vec())
            .exec_with_returning_keys(db)
            .await?;
        if ids.len() != chunk.len() {
            return Err(DbErr::Custom(format!(
                "{} readings inserted, {} ids returned",
                chunk.len(),
                ids.len()
            )));
        }
        ids.sort_unstable();
        for (id, row) in ids.into_iter().zip(chunk) {
            let mut row = row.clone();
            row.id = Set(id);
            stored.push(row.try_into_model()?);
        }
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
    for r in stored.iter().filter(|r| r.status == ReadingStatus::Error) {
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
    for row in stored.iter().filter(|r| r.status == ReadingStatus::Ok) {
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
