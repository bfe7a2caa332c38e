//! The accept phase's fast path on SQLite: appending delivery rows to the inbox
//! (`inbox`), on connections of its own.
//!
//! Under load, what a webhook request waits for is its delivery row and one commit per
//! batch (see `ingestor`). Through SeaORM and sqlx every batch is a generated multi-row
//! statement handed to sqlx's connection thread; here it is one prepared statement, run
//! once per row on a dedicated `rusqlite` connection to the inbox, on a thread of its
//! own. The statement is the one the general path runs (`accept::insert_delivery`,
//! built by SeaORM for SQLite) with the inbox's table for `deliveries`, so the two paths
//! store the same row. The inbox has its own write lock, and this thread is its only
//! writer (it also deletes what the processor has moved out): a delivery's
//! acknowledgement never waits for the processor.
//!
//! Only the common case comes here: a delivery with vehicle data (it waits for the
//! processor) and an eventId. Each row is looked up first in `deliveries` (a second,
//! read-only connection to the main file, read after the inbox's write lock is taken, so
//! a row the processor has just moved is seen in one place or the other): a repeat of a
//! stored delivery is handed back ([`Fate::Rest`]) to be stored the general way
//! (`accept::accept_in`), which logs it as a duplicate; so is a row the statement
//! refuses. A repeat of a delivery still in the inbox is only logged
//! ([`Fate::Repeat`]). A statement that fails in SQLite undoes only itself, so one bad
//! row does not spoil the others. If the transaction cannot begin (the inbox stayed
//! locked past the busy timeout) or commit, the rows it held fail at once
//! ([`Fate::Failed`]): trying again the general way would wait as long again, past
//! Smartcar's 15 s.

use super::accept::insert_delivery;
use super::plan::{DeliveryRecord, Disposition};
use rusqlite::types::Value as SqliteValue;
use rusqlite::{Connection, OptionalExtension};
use sea_orm::sea_query::{Alias, Value};
use sea_orm::{DbBackend, QueryTrait};
use std::time::Duration;
use tokio::sync::oneshot;

/// A delivery offered to the fast path.
pub type Offered = (DeliveryRecord, Disposition);

/// What became of one offered delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Stored and committed, as this inbox row.
    Stored(i64),
    /// Its eventId waits in the inbox already: log the repeat, store nothing.
    Repeat,
    /// Not taken: store it the general way.
    Rest,
    /// Nothing of it is stored, and trying again now would not help: answer 503.
    Failed(String),
}

/// What the appender thread is asked to do.
enum Message {
    /// Store a batch, and send back the fates.
    Append {
        offered: Vec<Offered>,
        fates: oneshot::Sender<Vec<(Offered, Fate)>>,
    },
    /// Delete the inbox rows up to this id: the processor has committed them to the main
    /// file (see `inbox`).
    Forget(i64),
}

/// How long a deletion waits for a batch to ride along with before it is committed
/// alone.
const FORGET_ALONE_AFTER: Duration = Duration::from_millis(50);

/// The appender thread's mailbox. Dropping every handle stops the thread.
#[derive(Debug, Clone)]
pub struct Appender {
    mailbox: std::sync::mpsc::Sender<Message>,
}

impl Appender {
    /// Starts the appender's thread on its own connections (opened, set up as the
    /// pool's, by `db::open_appender`): `inbox` to write, `main` to read. The thread is
    /// the inbox's only writer: it also deletes what the processor has moved out
    /// ([`Appender::forget`]), in the transaction of the next batch, so neither ever
    /// waits for the other's lock.
    pub fn start(inbox: Connection, main: Connection) -> Result<Self, rusqlite::Error> {
        inbox.execute_batch(&super::inbox::create_table("main"))?;
        let (mailbox, messages) = std::sync::mpsc::channel::<Message>();
        std::thread::Builder::new()
            .name("chargelog-append".to_owned())
            .spawn(move || run(inbox, main, messages))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Appender { mailbox })
    }

    /// Asks for the inbox rows up to `last` to be deleted, soon; false if the thread
    /// has stopped (then the caller deletes them itself).
    pub fn forget(&self, last: i64) -> bool {
        self.mailbox.send(Message::Forget(last)).is_ok()
    }

    /// Stores what it can of `offered` in one transaction; returns every delivery with
    /// its fate, in the order given. If the thread has stopped, every one is `Rest`.
    pub async fn append(&self, offered: Vec<Offered>) -> Vec<(Offered, Fate)> {
        let (fates, back) = oneshot::channel();
        match self.mailbox.send(Message::Append { offered, fates }) {
            Ok(()) => back.await.unwrap_or_default(),
            Err(std::sync::mpsc::SendError(Message::Append { offered, .. })) => offered
                .into_iter()
                .map(|offered| (offered, Fate::Rest))
                .collect(),
            Err(_) => Vec::new(),
        }
    }
}

/// The appender thread: batches as they come; a deletion rides along with the next
/// batch, or is committed alone [`FORGET_ALONE_AFTER`] the first request for it, if no
/// batch came.
fn run(mut inbox: Connection, main: Connection, messages: std::sync::mpsc::Receiver<Message>) {
    use std::sync::mpsc::RecvTimeoutError;
    use std::time::Instant;
    let mut forget: Option<i64> = None;
    let mut deadline = Instant::now();
    loop {
        let message = match forget {
            None => messages.recv().map_err(|_| RecvTimeoutError::Disconnected),
            Some(_) => messages.recv_timeout(deadline.saturating_duration_since(Instant::now())),
        };
        match message {
            Ok(Message::Append { offered, fates }) => {
                let _ = fates.send(append(&mut inbox, &main, offered, forget.take()));
            }
            Ok(Message::Forget(last)) => {
                if forget.is_none() {
                    deadline = Instant::now() + FORGET_ALONE_AFTER;
                }
                forget = forget.max(Some(last));
            }
            Err(RecvTimeoutError::Timeout) => {
                if let Some(last) = forget.take() {
                    delete(&inbox, last);
                }
            }
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Deletes the inbox rows up to `last` (moved into the main file); whether it did. A
/// failed deletion is only logged: the next processor turn asks again.
fn delete(inbox: &Connection, last: i64) -> bool {
    let deleted = inbox
        .prepare_cached("DELETE FROM pending WHERE id <= ?1")
        .and_then(|mut statement| statement.execute([last]));
    if let Err(err) = &deleted {
        tracing::warn!(error = %err, "could not delete moved deliveries from the inbox; a later turn will");
    }
    deleted.is_ok()
}

/// Whether a delivery takes the fast path: vehicle data to process, and an eventId.
fn eligible((record, disposition): &Offered) -> Option<&str> {
    match disposition {
        Disposition::Waiting { .. } => record.event_id.as_ref().map(|e| e.as_str()),
        Disposition::Complete(_) => None,
    }
}

/// Stores the batch's fast rows in one transaction, which also deletes the inbox rows
/// up to `forget`, if given.
fn append(
    inbox: &mut Connection,
    main: &Connection,
    offered: Vec<Offered>,
    forget: Option<i64>,
) -> Vec<(Offered, Fate)> {
    let fast: Vec<bool> = offered.iter().map(|o| eligible(o).is_some()).collect();
    let mut fates = vec![Fate::Rest; offered.len()];
    if !fast.contains(&true) {
        if let Some(last) = forget {
            delete(inbox, last);
        }
        return offered.into_iter().zip(fates).collect();
    }
    if let Err(err) = inbox.execute_batch("BEGIN IMMEDIATE") {
        // The inbox is locked past the busy timeout, or failing: the general way would
        // wait as long again, past Smartcar's timeout. Answer 503 now.
        fail(&mut fates, &fast, &err);
        return offered.into_iter().zip(fates).collect();
    }
    let mut changed = forget.is_some_and(|last| delete(inbox, last));
    for (i, (record, disposition)) in offered.iter().enumerate() {
        let Some(event_id) = eligible(&offered[i]).filter(|_| fast[i]) else {
            continue;
        };
        let fate = stored(main, event_id).and_then(|stored| match stored {
            true => Ok(Fate::Rest),
            false => {
                insert(inbox, record, *disposition).map(|id| id.map_or(Fate::Repeat, Fate::Stored))
            }
        });
        match fate {
            Ok(fate) => {
                changed |= matches!(fate, Fate::Stored(_));
                fates[i] = fate;
            }
            Err(err) => {
                tracing::warn!(error = %err, "the appender could not store a delivery; storing it the general way");
            }
        }
    }
    if !changed {
        let _ = inbox.execute_batch("ROLLBACK");
        return offered.into_iter().zip(fates).collect();
    }
    if let Err(err) = inbox.execute_batch("COMMIT") {
        // After a failed COMMIT the transaction may still be open; close it.
        let _ = inbox.execute_batch("ROLLBACK");
        fail(&mut fates, &fast, &err);
    }
    offered.into_iter().zip(fates).collect()
}

/// Whether a delivery with this eventId is already in `deliveries`.
fn stored(main: &Connection, event_id: &str) -> rusqlite::Result<bool> {
    main.prepare_cached("SELECT 1 FROM deliveries WHERE event_id = ?1")?
        .query_row([event_id], |_| Ok(()))
        .optional()
        .map(|found| found.is_some())
}

/// Every delivery the transaction held fails: nothing of theirs is stored.
fn fail(fates: &mut [Fate], fast: &[bool], err: &rusqlite::Error) {
    let why = format!("SQLite: {err}");
    tracing::error!(error = %why, "could not store a batch of deliveries; answering 503");
    for (fate, _) in fates.iter_mut().zip(fast).filter(|(_, fast)| **fast) {
        *fate = Fate::Failed(why.clone());
    }
}

/// Inserts one row into the inbox with the general path's statement (plus `RETURNING
/// id`); `None` if its eventId waits there already. The SQL is the same for every row,
/// so SQLite prepares it once per connection.
fn insert(
    inbox: &Connection,
    record: &DeliveryRecord,
    disposition: Disposition,
) -> rusqlite::Result<Option<i64>> {
    let mut insert = insert_delivery(record, disposition);
    insert
        .query()
        .into_table(Alias::new("pending"))
        .returning_col(Alias::new("id"));
    let statement = insert.build(DbBackend::Sqlite);
    let values = statement.values.map(|v| v.0).unwrap_or_default();
    let values = values
        .into_iter()
        .map(sqlite_value)
        .collect::<rusqlite::Result<Vec<_>>>()?;
    inbox
        .prepare_cached(&statement.sql)?
        .query_row(rusqlite::params_from_iter(values), |row| row.get(0))
        .optional()
}

/// A SeaORM value as SQLite stores it through sqlx: JSON as text. Only the kinds a
/// delivery row holds are needed; any other is refused, and the row stored the general
/// way.
fn sqlite_value(value: Value) -> rusqlite::Result<SqliteValue> {
    let refuse = |value: &Value| {
        rusqlite::Error::ToSqlConversionFailure(format!("no SQLite form for {value:?}").into())
    };
    Ok(match value {
        Value::Int(v) => v.map_or(SqliteValue::Null, |v| SqliteValue::Integer(v.into())),
        Value::BigInt(v) => v.map_or(SqliteValue::Null, SqliteValue::Integer),
        Value::String(v) => v.map_or(SqliteValue::Null, SqliteValue::Text),
        Value::Bytes(v) => v.map_or(SqliteValue::Null, SqliteValue::Blob),
        Value::Json(v) => v.map_or(SqliteValue::Null, |v| SqliteValue::Text(v.to_string())),
        other => return Err(refuse(&other)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DatabaseSettings;
    use crate::webhook::accept::{accept, Stored};
    use app::domain::ids::{EventId, VehicleId};
    use app::domain::time::EpochMs;
    use app::server::entities::deliveries;
    use sea_orm::EntityTrait;

    fn record(event_id: &str) -> DeliveryRecord {
        DeliveryRecord {
            event_id: Some(EventId::parse(event_id).unwrap()),
            delivery_id: Some("delivery-1".to_owned()),
            webhook_id: Some("webhook-1".to_owned()),
            event_type: "VEHICLE_STATE".to_owned(),
            mode: Some("LIVE".to_owned()),
            vehicle_id: Some(VehicleId::parse("vehicle-1").unwrap()),
            triggers: vec!["charge-ischarging".to_owned()],
            delivered_at: Some(EpochMs::new(1_700_000_000_000).unwrap()),
            received_at: EpochMs::new(1_700_000_000_250).unwrap(),
            signature: Some("abc123".to_owned()),
            user_agent: Some("Smartcar/1".to_owned()),
            raw_body: b"{\"eventType\":\"VEHICLE_STATE\"}".to_vec(),
        }
    }

    /// The two write paths store the same row: a waiting delivery appended to the inbox
    /// and moved into `deliveries`, and one accepted the general way, differ in their id
    /// and eventId only. A repeat is told apart by where its first copy is.
    #[tokio::test]
    async fn the_fast_path_stores_the_general_paths_row() {
        use sea_orm::TransactionTrait;
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("rows.db").display());
        let settings = DatabaseSettings::parse(&url).unwrap();
        let db = crate::db::connect(&settings).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let appender = crate::db::open_appender(&settings).unwrap().unwrap();
        let waiting = Disposition::Waiting { signal_count: 3 };

        let fates = appender
            .append(vec![(record("fast"), waiting), (record("fast"), waiting)])
            .await;
        let Fate::Stored(inbox_id) = fates[0].1 else {
            panic!("the fast path did not store the delivery: {:?}", fates[0].1);
        };
        assert_eq!(fates[1].1, Fate::Repeat, "a repeat within the inbox");
        let Stored::New {
            delivery_row_id: general_id,
            waiting: true,
        } = accept(&db, record("general"), waiting).await.unwrap()
        else {
            panic!("the general path did not store a waiting delivery");
        };
        let txn = db.begin().await.unwrap();
        assert_eq!(
            crate::webhook::inbox::take(&txn, 10).await.unwrap(),
            Some(inbox_id)
        );
        txn.commit().await.unwrap();
        // Deleted by the appender's thread, alone as no batch follows.
        assert!(appender.forget(inbox_id));
        let asked = std::time::Instant::now();
        while crate::webhook::inbox::waiting(&db).await.unwrap() != (0, None) {
            assert!(asked.elapsed() < Duration::from_secs(5), "not deleted");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }

        let row = |event_id: &'static str| {
            let db = db.clone();
            async move {
                use sea_orm::{ColumnTrait, QueryFilter};
                let mut row = deliveries::Entity::find()
                    .filter(deliveries::Column::EventId.eq(event_id))
                    .one(&db)
                    .await
                    .unwrap()
                    .unwrap();
                row.id = 0;
                row.event_id = None;
                row
            }
        };
        let fast = row("fast").await;
        assert_eq!(fast, row("general").await);
        assert_eq!(fast.signal_count, 3);
        assert_eq!(fast.processed_at, None);
        assert_eq!(fast.triggers, serde_json::json!(["charge-ischarging"]));
        assert_ne!(general_id, 0);

        // Now stored in `deliveries`: a repeat goes the general way, which logs it.
        let fates = appender.append(vec![(record("fast"), waiting)]).await;
        assert_eq!(fates[0].1, Fate::Rest);
    }
}
