//! The ingestor: how accepted deliveries reach the database, and the processor that
//! applies them afterwards. The webhook hands it a checked delivery
//! ([`Ingestor::ingest`]) and answers once it is committed.
//!
//! PostgreSQL keeps one transaction per request ([`Writes::PerRequest`]): several
//! processes share the database.
//!
//! SQLite has a single writer per file. Without a group commit, concurrent requests each
//! open a transaction and wait for the write lock by polling (the busy timeout), so
//! throughput falls and latency jumps under load. So one writer task stores deliveries
//! that arrive together in one transaction, with one fsync, and answers each request
//! only after that commit ([`Writes::GroupCommit`]): requests queue in memory while a
//! batch commits and form the next batch. The common deliveries of a batch (vehicle
//! data, a new eventId) are appended by `sqlite_append` to the inbox, a file of its own
//! (`inbox`), whatever the processor is doing; the rest (retries, TEST and other
//! deliveries that write a log row too) are stored in the main file through SeaORM
//! (`accept::accept_in`), each in its own savepoint, taking turns with the processor
//! there ([`Gate`]). Either way one delivery that fails is undone alone and answered
//! 503; the others are committed. If a commit fails, every delivery in it is answered
//! 503: nothing is acknowledged that is not on disk.
//!
//! After each commit the processor is woken to apply what waits.

use super::accept::{self, Stored};
use super::plan::{DeliveryRecord, Disposition};
use super::processor;
use super::sqlite_append::{Appender, Fate};
use super::turns::Gate;
use crate::http::live::LiveFeed;
use app::domain::sessions::EngineConfig;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, TransactionTrait};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

/// Deliveries committed together at most.
pub const MAX_BATCH: usize = 128;
/// Deliveries waiting for the writer at most; beyond that requests wait to be queued.
const QUEUE: usize = 4 * MAX_BATCH;

/// A delivery waiting for the writer, and where its answer goes.
struct Job {
    record: DeliveryRecord,
    disposition: Disposition,
    /// Its eventId waits in the inbox: only the repeat is logged.
    repeat: bool,
    reply: oneshot::Sender<Result<Stored, DbErr>>,
}

/// How deliveries reach the database.
#[derive(Debug, Clone)]
pub struct Ingestor {
    writes: Writes,
    /// Wakes the processor.
    wake: Arc<Notify>,
    /// Stops the processor when the last handle is dropped.
    _processor: Arc<oneshot::Sender<()>>,
}

#[derive(Clone)]
enum Writes {
    /// One transaction per request (PostgreSQL).
    PerRequest,
    /// Through the group-commit writer (SQLite).
    GroupCommit(mpsc::Sender<Job>),
}

impl std::fmt::Debug for Writes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Writes::PerRequest => "PerRequest",
            Writes::GroupCommit(_) => "GroupCommit",
        })
    }
}

impl Ingestor {
    /// The writes suited to the database (for SQLite this starts the writer task), and
    /// the processor task.
    pub fn start(
        db: &DatabaseConnection,
        appender: Option<Appender>,
        processor_db: DatabaseConnection,
        engine: EngineConfig,
        live: Arc<LiveFeed>,
    ) -> Self {
        let wake = Arc::new(Notify::new());
        let (writes, gate) = match db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let gate = Gate::exclusive();
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(
                    Writer {
                        db: db.clone(),
                        appender: appender.clone(),
                        gate: gate.clone(),
                        wake: wake.clone(),
                    },
                    rx,
                ));
                (Writes::GroupCommit(tx), gate)
            }
            _ => (Writes::PerRequest, Gate::open()),
        };
        let (stop, stopped) = oneshot::channel();
        if let Err(err) = processor::spawn(
            processor_db,
            appender,
            engine,
            gate,
            wake.clone(),
            live,
            stopped,
        ) {
            tracing::error!(error = %err, "could not start the processor; deliveries are stored, and applied after a restart");
        }
        Ingestor {
            writes,
            wake,
            _processor: Arc::new(stop),
        }
    }

    /// Stores a delivery; returns once it is committed (or failed). Its vehicle data is
    /// applied soon after, by the processor.
    pub async fn ingest(
        &self,
        db: &DatabaseConnection,
        record: DeliveryRecord,
        disposition: Disposition,
    ) -> Result<Stored, DbErr> {
        match &self.writes {
            Writes::PerRequest => {
                let stored = accept::accept(db, record, disposition).await?;
                if matches!(stored, Stored::New { waiting: true, .. }) {
                    self.wake.notify_one();
                }
                Ok(stored)
            }
            Writes::GroupCommit(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send(Job {
                        record,
                        disposition,
                        repeat: false,
                        reply,
                    })
                    .await
                    .map_err(|_| stopped())?;
                answer.await.map_err(|_| stopped())?
            }
        }
    }
}

fn stopped() -> DbErr {
    DbErr::Custom("the database writer has stopped".to_owned())
}

/// The writer task's parts.
struct Writer {
    db: DatabaseConnection,
    appender: Option<Appender>,
    /// Turns at the main file's write lock, with the processor.
    gate: Gate,
    /// Wakes the processor.
    wake: Arc<Notify>,
}

async fn run(writer: Writer, mut queue: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = queue.recv().await {
        batch.push(first);
        // Everything that queued while the last batch was committing goes in this one.
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut waiting = false;
        if let Some(appender) = &writer.appender {
            let (rest, stored) = append(appender, std::mem::take(&mut batch)).await;
            waiting = stored;
            batch = rest;
        }
        if !batch.is_empty() {
            // The rest waits for its turn at the main file (up to a processor's turn) in
            // a task of its own: the next batch goes on to the inbox meanwhile.
            let mut rest = std::mem::replace(&mut batch, Vec::with_capacity(MAX_BATCH));
            let (db, gate, wake) = (writer.db.clone(), writer.gate.clone(), writer.wake.clone());
            tokio::spawn(async move {
                let _turn = gate.enter().await;
                if commit(&db, &mut rest).await {
                    wake.notify_one();
                }
            });
        }
        if waiting {
            writer.wake.notify_one();
        }
    }
}

/// Offers a batch to the fast path and answers what it stored or failed; returns the
/// jobs it left for the general path, and whether it stored any.
async fn append(appender: &Appender, batch: Vec<Job>) -> (Vec<Job>, bool) {
    let (offered, replies): (Vec<_>, Vec<_>) = batch
        .into_iter()
        .map(|job| ((job.record, job.disposition), job.reply))
        .unzip();
    let mut rest = Vec::new();
    let mut stored = false;
    for (((record, disposition), fate), reply) in
        appender.append(offered).await.into_iter().zip(replies)
    {
        match fate {
            Fate::Stored(inbox_id) => {
                stored = true;
                let _ = reply.send(Ok(Stored::InInbox { inbox_id }));
            }
            Fate::Failed(why) => {
                let _ = reply.send(Err(DbErr::Custom(why)));
            }
            Fate::Repeat | Fate::Rest => rest.push(Job {
                record,
                disposition,
                repeat: fate == Fate::Repeat,
                reply,
            }),
        }
    }
    (rest, stored)
}

/// Stores and commits one batch, then answers every request in it. Returns whether a
/// committed delivery waits for the processor.
async fn commit(db: &DatabaseConnection, batch: &mut Vec<Job>) -> bool {
    let txn = match db.begin().await {
        Ok(txn) => txn,
        Err(err) => {
            let why = err.to_string();
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(DbErr::Custom(why.clone())));
            }
            return false;
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let result = match txn.begin().await {
            Ok(savepoint) => {
                let stored = match job.repeat {
                    true => accept::log_repeat(&savepoint, job.record, job.disposition).await,
                    false => accept::accept_in(&savepoint, job.record, job.disposition).await,
                };
                match stored {
                    Ok(stored) => savepoint.commit().await.map(|()| stored),
                    Err(err) => {
                        let _ = savepoint.rollback().await;
                        Err(err)
                    }
                }
            }
            Err(err) => Err(err),
        };
        answers.push((job.reply, result));
    }
    match txn.commit().await {
        Ok(()) => {
            let waiting = answers
                .iter()
                .any(|(_, r)| matches!(r, Ok(Stored::New { waiting: true, .. })));
            for (reply, result) in answers {
                let _ = reply.send(result);
            }
            waiting
        }
        Err(err) => {
            let why = err.to_string();
            tracing::error!(error = %why, deliveries = answers.len(), "a batch failed to commit; all of it is answered 503");
            for (reply, _) in answers {
                let _ = reply.send(Err(DbErr::Custom(why.clone())));
            }
            false
        }
    }
}
