//! The webhook's hot path on SQLite: appending delivery rows on a connection of its own.
//!
//! Under load, what a webhook request waits for is its delivery row and one commit per
//! batch (see `writer`). Through SeaORM and sqlx every batch is a generated multi-row
//! statement handed to sqlx's connection thread; here it is one prepared statement, run
//! once per row on a dedicated `rusqlite` connection, on a thread of its own. Both link
//! the same SQLite library, so locking and the WAL behave as between any two
//! connections; the writer's gate still gives one of them the write lock at a time.
//!
//! Only the common case comes here: a delivery with vehicle data (it waits for the
//! processor) and an eventId not repeated within the batch. A row the statement does not
//! insert (its eventId is already stored) or refuses goes back to the caller, which
//! stores it the general way (`store::accept_in`); a statement that fails in SQLite
//! undoes only itself, so one bad row does not spoil the others. If the transaction
//! cannot begin (the database stayed locked past the busy timeout) or commit, the
//! batch is answered 503 at once: trying again the general way would wait as long
//! again, past Smartcar's 15 s.

use super::store::{DeliveryRecord, Disposition, Stored};
use super::writer::Job;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::collections::HashSet;
use std::path::Path;
use std::time::Duration;
use tokio::sync::oneshot;

/// The same row as `store::delivery_row` for a waiting delivery.
const INSERT: &str = "INSERT INTO deliveries (event_id, delivery_id, webhook_id, event_type, \
     mode, vehicle_id, triggers, delivered_at, received_at, signature, user_agent, outcome, \
     signal_count, raw_body, processed_at, process_error) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'stored', ?12, ?13, NULL, NULL) \
     ON CONFLICT (event_id) DO NOTHING RETURNING id";

/// A batch for the appender thread, and where the jobs it did not store go back.
struct Batch {
    jobs: Vec<Job>,
    rest: oneshot::Sender<Appended>,
}

/// What the appender did with a batch.
pub(super) struct Appended {
    /// Jobs it did not store, in their order, for the general path.
    pub(super) rest: Vec<Job>,
    /// Whether it stored (and answered) at least one delivery.
    pub(super) stored: bool,
}

/// The appender thread's mailbox. Dropping every handle stops the thread.
#[derive(Debug, Clone)]
pub struct Appender {
    batches: std::sync::mpsc::Sender<Batch>,
}

impl Appender {
    /// Opens its own connection to the SQLite file (WAL, `synchronous=FULL`, as the
    /// pool's) and starts its thread.
    pub fn open(path: &Path) -> Result<Self, rusqlite::Error> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let (batches, inbox) = std::sync::mpsc::channel::<Batch>();
        std::thread::Builder::new()
            .name("chargelog-append".to_owned())
            .spawn(move || {
                let mut conn = conn;
                while let Ok(Batch { jobs, rest }) = inbox.recv() {
                    let _ = rest.send(append(&mut conn, jobs));
                }
            })
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        Ok(Appender { batches })
    }

    /// Stores what it can of `jobs` in one transaction and answers those requests after
    /// the commit; returns the rest. If the thread has stopped, returns every job.
    pub(super) async fn append(&self, jobs: Vec<Job>) -> Appended {
        let (rest, back) = oneshot::channel();
        match self.batches.send(Batch { jobs, rest }) {
            Ok(()) => back.await.unwrap_or_else(|_| Appended {
                rest: Vec::new(),
                stored: false,
            }),
            Err(std::sync::mpsc::SendError(batch)) => Appended {
                rest: batch.jobs,
                stored: false,
            },
        }
    }
}

/// Whether a job takes the fast path: vehicle data to process, and an eventId.
fn eligible(job: &Job) -> Option<&str> {
    match job.disposition {
        Disposition::Waiting { .. } => job.record.event_id.as_ref().map(|e| e.as_str()),
        Disposition::Complete(_) => None,
    }
}

fn signal_count(disposition: Disposition) -> i64 {
    match disposition {
        Disposition::Waiting { signal_count } => i64::try_from(signal_count).unwrap_or(i64::MAX),
        Disposition::Complete(_) => 0,
    }
}

fn append(conn: &mut Connection, jobs: Vec<Job>) -> Appended {
    let mut seen = HashSet::new();
    let (fast, mut rest): (Vec<Job>, Vec<Job>) = jobs
        .into_iter()
        .partition(|job| eligible(job).is_some_and(|id| seen.insert(id.to_owned())));
    if fast.is_empty() {
        return Appended {
            rest,
            stored: false,
        };
    }
    if let Err(err) = conn.execute_batch("BEGIN IMMEDIATE") {
        // The database is locked past the busy timeout, or failing: the general way
        // would wait as long again, past Smartcar's timeout. Answer 503 now.
        refuse(fast, &err);
        return Appended {
            rest,
            stored: false,
        };
    }
    let mut inserted = Vec::with_capacity(fast.len());
    let mut refused = Vec::new();
    match conn.prepare_cached(INSERT) {
        Ok(mut statement) => {
            for job in fast {
                match insert(&mut statement, &job.record, job.disposition) {
                    Ok(Some(id)) => inserted.push((job, id)),
                    // Already stored (a retry): the general path logs the repeat.
                    Ok(None) => refused.push(job),
                    Err(err) => {
                        tracing::warn!(error = %err, "the appender could not store a delivery; storing it the general way");
                        refused.push(job);
                    }
                }
            }
        }
        Err(err) => {
            tracing::warn!(error = %err, "the appender could not prepare its statement");
            refused.extend(fast);
        }
    }
    if inserted.is_empty() {
        let _ = conn.execute_batch("ROLLBACK");
        rest.extend(refused);
        return Appended {
            rest,
            stored: false,
        };
    }
    if let Err(err) = conn.execute_batch("COMMIT") {
        // After a failed COMMIT the transaction may still be open; close it.
        let _ = conn.execute_batch("ROLLBACK");
        refuse(refused, &err);
        refuse(inserted.into_iter().map(|(job, _)| job), &err);
        return Appended {
            rest,
            stored: false,
        };
    }
    for (job, delivery_row_id) in inserted {
        let _ = job.reply.send(Ok(Stored::New {
            delivery_row_id,
            waiting: true,
        }));
    }
    rest.extend(refused);
    Appended { rest, stored: true }
}

/// Answers every job 503: nothing of theirs is stored.
fn refuse(jobs: impl IntoIterator<Item = Job>, err: &rusqlite::Error) {
    let why = format!("SQLite: {err}");
    tracing::error!(error = %why, "could not store a batch of deliveries; answering 503");
    for job in jobs {
        let _ = job.reply.send(Err(sea_orm::DbErr::Custom(why.clone())));
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
                signal_count(disposition),
                record.raw_body,
            ],
            |row| row.get(0),
        )
        .optional()
}
