//! The writes before the webhook answers 2xx: the delivery row, raw body included
//! ([`accept_in`]), or, for a signed body that cannot be processed, a dead letter kept
//! once per distinct body ([`dead_letter`]); and the log row of a request that stored
//! nothing ([`log_unstored`]).
//!
//! Idempotency is the database's job: the row is inserted with `ON CONFLICT (event_id)
//! DO NOTHING`, so a retry of an event already stored inserts nothing but a log row.
//! Being the first statement, the insert also takes SQLite's write lock before anything
//! is read. On SQLite, deliveries arriving together share one transaction (see
//! `ingestor`), each in its own savepoint; most of them take the fast path
//! (`sqlite_append`), which runs the same statement (`insert_delivery`).

use super::plan::{DeliveryRecord, Disposition};
use app::domain::events::Outcome;
use app::domain::time::EpochMs;
use app::server::entities::{dead_letters, deliveries, webhook_log};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, QuerySelect, TransactionTrait, TryInsert, TryInsertResult,
};
use serde_json::json;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The delivery is on disk. A delivery with vehicle data then waits for the
    /// processor (`waiting`); anything else is complete, its log row included.
    New { delivery_row_id: i64, waiting: bool },
    /// On disk in SQLite's inbox (`inbox`), waiting for the processor, which moves it
    /// into `deliveries` (its row id there comes then).
    InInbox { inbox_id: i64 },
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
/// sessions) is applied afterwards (`apply`), from the stored raw body, so
/// the answer waits for one insert and a commit, never for session derivation.
pub async fn accept_in(
    txn: &impl ConnectionTrait,
    record: DeliveryRecord,
    disposition: impl Into<Disposition>,
) -> Result<Stored, DbErr> {
    let disposition = disposition.into();
    let waiting = disposition.is_waiting();
    let mut log = log_row(&record, disposition.outcome());
    let event_id = record.event_id.as_ref().map(|e| e.to_string());
    let inserted = insert_delivery(&record, disposition).exec(txn).await?;
    let delivery_row_id = match inserted {
        TryInsertResult::Inserted(result) => result.last_insert_id,
        TryInsertResult::Conflicted | TryInsertResult::Empty => {
            return log_duplicate(txn, log, event_id).await;
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

/// A repeat of a delivery that is still in the inbox (SQLite's fast path, `inbox`): only
/// its log row is written.
pub async fn log_repeat(
    txn: &impl ConnectionTrait,
    record: DeliveryRecord,
    disposition: impl Into<Disposition>,
) -> Result<Stored, DbErr> {
    let log = log_row(&record, disposition.into().outcome());
    log_duplicate(txn, log, record.event_id.map(|e| e.to_string())).await
}

/// Nothing but the log changes: the repeat is recorded against the delivery stored
/// first (none yet while that one is in the inbox).
async fn log_duplicate(
    txn: &impl ConnectionTrait,
    mut log: webhook_log::ActiveModel,
    event_id: Option<String>,
) -> Result<Stored, DbErr> {
    let first = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::Id)
        .filter(deliveries::Column::EventId.eq(event_id))
        .into_tuple::<i64>()
        .one(txn)
        .await?;
    log.outcome = Set(Outcome::Duplicate);
    log.delivery_row_id = Set(first);
    let log_id = insert_log(txn, log).await?;
    Ok(Stored::Duplicate { log_id })
}

/// The statement that stores a delivery's row, on either write path: run through SeaORM
/// here, and by the SQLite fast path (`sqlite_append`), which builds it for its own
/// connection. So the row's columns are written down once, in [`delivery_row`].
pub(super) fn insert_delivery(
    record: &DeliveryRecord,
    disposition: Disposition,
) -> TryInsert<deliveries::ActiveModel> {
    deliveries::Entity::insert(delivery_row(record, disposition))
        .on_conflict_do_nothing_on([deliveries::Column::EventId])
}

fn delivery_row(record: &DeliveryRecord, disposition: Disposition) -> deliveries::ActiveModel {
    let received_at = record.received_at.as_millis();
    let signal_count = match disposition {
        Disposition::Waiting { signal_count } => signal_count,
        Disposition::Complete(_) => 0,
    };
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
        outcome: Set(disposition.outcome()),
        signal_count: Set(i32::try_from(signal_count).unwrap_or(i32::MAX)),
        raw_body: Set(record.raw_body.clone()),
        processed_at: Set((!disposition.is_waiting()).then_some(received_at)),
        process_error: Set(None),
        ..Default::default()
    }
}

pub(super) fn log_row(record: &DeliveryRecord, outcome: Outcome) -> webhook_log::ActiveModel {
    webhook_log::ActiveModel {
        received_at: Set(record.received_at.as_millis()),
        outcome: Set(outcome),
        event_type: Set(Some(record.event_type.clone())),
        event_id: Set(record.event_id.as_ref().map(|e| e.to_string())),
        vehicle_id: Set(record.vehicle_id.as_ref().map(|v| v.to_string())),
        triggers: Set(Some(json!(record.triggers).to_string())),
        ..Default::default()
    }
}

pub(super) async fn insert_log(
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
        outcome: Set(outcome),
        detail: Set(detail),
        ..Default::default()
    };
    insert_log(db, row).await
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
            outcome: Set(Outcome::DeadLetter),
            detail: Set(Some(letter.error)),
            dead_letter_id: Set(Some(id)),
            ..Default::default()
        },
    )
    .await?;
    txn.commit().await?;
    Ok(DeadLettered { id, times_received })
}
