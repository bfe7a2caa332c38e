//! The accept phase's fast path on SQLite: appending delivery rows on a connection of
//! its own.
//!
//! Under load, what a webhook request waits for is its delivery row and one commit per
//! batch (see `ingestor`). Through SeaORM and sqlx every batch is a generated multi-row
//! statement handed to sqlx's connection thread; here it is one prepared statement, run
//! once per row on a dedicated `rusqlite` connection, on a thread of its own. Both link
//! the same SQLite library, so locking and the WAL behave as between any two
//! connections; the ingestor's turns still give one of them the write lock at a time.
//!
//! Only the common case comes here: a delivery with vehicle data (it waits for the
//! processor) and an eventId not repeated within the batch. A row the statement does not
//! insert (its eventId is already stored) or refuses is handed back ([`Fate::Rest`]) to
//! be stored the general way (`accept::accept_in`); a statement that fails in SQLite
//! undoes only itself, so one bad row does not spoil the others. If the transaction
//! cannot begin (the database stayed locked past the busy timeout) or commit, the rows
//! it held fail at once ([`Fate::Failed`]): trying again the general way would wait as
//! long again, past Smartcar's 15 s.

use super::plan::{DeliveryRecord, Disposition};
use app::domain::events::Outcome;
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::HashSet;
use tokio::sync::oneshot;

/// The same row as `accept::delivery_row` for a waiting delivery.
const INSERT: &str = "INSERT INTO deliveries (event_id, delivery_id, webhook_id, event_type, \
     mode, vehicle_id, triggers, delivered_at, received_at, signature, user_agent, outcome, \
     signal_count, raw_body, processed_at, process_error) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, NULL, NULL) \
     ON CONFLICT (event_id) DO NOTHING RETURNING id";

/// A delivery offered to the fast path.
pub type Offered = (DeliveryRecord, Disposition);

/// What became of one offered delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    /// Stored and committed, as this delivery row.
    Stored(i64),
    /// Not taken: store it the general way.
    Rest,
    /// Nothing of it is stored, and trying again now would not help: answer 503.
    Failed(String),
}

/// A batch for the appender thread, and where its fates go.
struct Batch {
    offered: Vec<Offered>,
    fates: oneshot::Sender<Vec<(Offered, Fate)>>,
}

/// The appender thread's mailbox. Dropping every handle stops the thread.
#[derive(Debug, Clone)]
pub struct Appender {
    batches: std::sync::mpsc::Sender<Batch>,
}

impl Appender {
    /// Starts the appender's thread on its own connection to the SQLite file (opened,
    /// set up as the pool's, by `db::open_appender`).
    pub fn start(conn: Connection) -> Result<Self, rusqlite::Error> {
        let (batches, inbox) = std::sync::mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("chargelog-append".to_owned())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(Batch { offered, fates }) = inbox.recv() {
                    let _ = fates.send(append(&mut conn, offered));
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Appender { batches })
    }

    /// Stores what it can of `offered` in one transaction; returns every delivery with
    /// its fate, in the order given. If the thread has stopped, every one is `Rest`.
    pub async fn append(&self, offered: Vec<Offered>) -> Vec<(Offered, Fate)> {
        let (fates, back) = oneshot::channel();
        match self.batches.send(Batch { offered, fates }) {
            Ok(()) => back.await.unwrap_or_default(),
            Err(std::sync::mpsc::SendError(batch)) => batch
                .offered
                .into_iter()
                .map(|offered| (offered, Fate::Rest))
                .collect(),
        }
    }
}

/// Whether a delivery takes the fast path: vehicle data to process, and an eventId.
fn eligible((record, disposition): &Offered) -> Option<&str> {
    match disposition {
        Disposition::Waiting { .. } => record.event_id.as_ref().map(|e| e.as_str()),
        Disposition::Complete(_) => None,
    }
}

fn signal_count(disposition: Disposition) -> i64 {
    match disposition {
        Disposition::Waiting { signal_count } => i64::try_from(signal_count).unwrap_or(i64::MAX),
        Disposition::Complete(_) => 0,
    }
}

fn append(conn: &mut Connection, offered: Vec<Offered>) -> Vec<(Offered, Fate)> {
    let mut seen = HashSet::new();
    let fast: Vec<bool> = offered
        .iter()
        .map(|o| eligible(o).is_some_and(|id| seen.insert(id.to_owned())))
        .collect();
    let mut fates = vec![Fate::Rest; offered.len()];
    if !fast.contains(&true) {
        return offered.into_iter().zip(fates).collect();
    }
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        // The database is locked past the busy timeout, or failing: the general way
        // would wait as long again, past Smartcar's timeout. Answer 503 now.
        fail(&mut fates, &fast, &err);
        return offered.into_iter().zip(fates).collect();
    }
    let mut inserted = false;
    match conn.prepare_cached(INSERT) {
        Ok(mut statement) => {
            for (i, (record, disposition)) in offered.iter().enumerate() {
                if !fast[i] {
                    continue;
                }
                match insert(&mut statement, record, *disposition) {
                    Ok(Some(id)) => {
                        fates[i] = Fate::Stored(id);
                        inserted = true;
                    }
                    // Already stored (a retry): the general path logs the repeat.
                    Ok(None) => {}
                    Err(err) => {
                        tracing::warn!(error = %err, "the appender could not store a delivery; storing it the general way");
                    }
                }
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "the appender could not prepare its statement");
        }
    }
    if !inserted {
        let _ = conn.execute_batch("ROLLBACK");
        return offered.into_iter().zip(fates).collect();
    }
    if let Err(err) = conn.execute_batch("COMMIT") {
        // After a failed COMMIT the transaction may still be open; close it.
        let _ = conn.execute_batch("ROLLBACK");
        fail(&mut fates, &fast, &err);
    }
    offered.into_iter().zip(fates).collect()
}

/// Every delivery the transaction held fails: nothing of theirs is stored.
fn fail(fates: &mut [Fate], fast: &[bool], err: &rusqlite::Error) {
    let why = format!("SQLite: {err}");
    tracing::error!(error = %why, "could not store a batch of deliveries; answering 503");
    for (fate, _) in fates.iter_mut().zip(fast).filter(|(_, fast)| **fast) {
        *fate = Fate::Failed(why.clone());
    }
}

/// Inserts one row; `None` if its eventId is already stored.
fn insert(
    statement: &mut rusqlite::CachedStatement<'_>,
    record: &DeliveryRecord,
    disposition: Disposition,
) -> rusqlite::Result<Option<i64>> {
    let triggers = serde_json::to_string(&record.triggers)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    statement
        .query_row(
            params![
                record.event_id.as_ref().map(|e| e.as_str()),
                record.delivery_id,
                record.webhook_id,
                record.event_type,
                record.mode,
                record.vehicle_id.as_ref().map(|v| v.as_str()),
                triggers,
                record.delivered_at.map(|t| t.as_millis()),
                record.received_at.as_millis(),
                record.signature,
                record.user_agent,
                Outcome::Stored.as_str(),
                signal_count(disposition),
                record.raw_body,
            ],
            |row| row.get(0),
        )
        .optional()
}
