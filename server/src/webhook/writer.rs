//! How accepted deliveries reach the database, and the processor that applies them.
//!
//! Group commit for SQLite: one writer task stores deliveries that arrive together in one
//! transaction, with one fsync, and answers each request only after that commit.
//!
//! SQLite has a single writer. Without this, concurrent requests each open a transaction
//! and wait for the write lock by polling (the busy timeout), so throughput falls and
//! latency jumps under load. With it, requests queue in memory while a batch commits and
//! form the next batch. The common deliveries of a batch (vehicle data, a new eventId)
//! are appended by `append` on a connection of its own, one prepared statement per row;
//! the rest (retries, TEST and other deliveries that write a log row too) are stored
//! through SeaORM, each in its own savepoint. Either way one delivery that fails is
//! undone alone and answered 503; the others are committed. If a commit fails, every
//! delivery in it is answered 503: nothing is acknowledged that is not on disk.
//!
//! PostgreSQL keeps one transaction per request: several processes share the database.
//!
//! After each commit the processor (see `processor`) is woken to apply what waits. On
//! SQLite the writer and the processor take turns through one gate, so neither waits on
//! SQLite's busy timeout.

use super::append::Appender;
use super::processor::{self, Activity, Gate, WriterWatch};
use super::store::{self, DeliveryRecord, Disposition, Stored};
use crate::http::live::LiveFeed;
use app::domain::sessions::EngineConfig;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, TransactionTrait};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Notify};

/// Deliveries committed together at most.
pub const MAX_BATCH: usize = 128;
/// Deliveries waiting for the writer at most; beyond that requests wait to be queued.
const QUEUE: usize = 4 * MAX_BATCH;

pub(super) struct Job {
    pub(super) record: DeliveryRecord,
    pub(super) disposition: Disposition,
    pub(super) reply: oneshot::Sender<Result<Stored, DbErr>>,
}

/// How deliveries reach the database.
#[derive(Debug, Clone)]
pub struct Ingestor {
    mode: Mode,
    /// Wakes the processor.
    wake: Arc<Notify>,
}

#[derive(Debug, Clone)]
enum Mode {
    /// One transaction per request (PostgreSQL).
    Direct,
    /// Through the group-commit writer (SQLite).
    Batched(mpsc::Sender<JobHandle>),
}

/// A queued delivery (opaque outside this module).
pub struct JobHandle(Job);

/// Deliveries queued for the writer and not yet taken into a batch.
pub fn queued(writer: &mpsc::WeakSender<JobHandle>) -> usize {
    writer
        .upgrade()
        .map_or(0, |queue| queue.max_capacity() - queue.capacity())
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobHandle")
    }
}

impl Ingestor {
    /// The writer suited to the database (for SQLite this starts the writer task), and
    /// the processor task.
    pub fn start(
        db: &DatabaseConnection,
        appender: Option<Appender>,
        processor_db: DatabaseConnection,
        engine: EngineConfig,
        live: Arc<LiveFeed>,
    ) -> Self {
        let wake = Arc::new(Notify::new());
        let (mode, turns) = match db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let gate = Gate::exclusive();
                let (tx, rx) = mpsc::channel(QUEUE);
                let activity = Arc::new(Activity::default());
                tokio::spawn(run(
                    Writer {
                        db: db.clone(),
                        appender,
                        gate: gate.clone(),
                        wake: wake.clone(),
                        activity: activity.clone(),
                    },
                    rx,
                ));
                let turns = processor::Turns {
                    gate,
                    writer: Some(WriterWatch {
                        queue: tx.downgrade(),
                        activity,
                    }),
                };
                (Mode::Batched(tx), turns)
            }
            _ => (
                Mode::Direct,
                processor::Turns {
                    gate: Gate::open(),
                    writer: None,
                },
            ),
        };
        tokio::spawn(processor::run(
            processor_db,
            engine,
            turns,
            wake.clone(),
            live,
        ));
        Ingestor { mode, wake }
    }

    /// Stores a delivery; returns once it is committed (or failed). Its vehicle data is
    /// applied soon after, by the processor.
    pub async fn ingest(
        &self,
        db: &DatabaseConnection,
        record: DeliveryRecord,
        disposition: Disposition,
    ) -> Result<Stored, DbErr> {
        match &self.mode {
            Mode::Direct => {
                let stored = store::accept(db, record, disposition).await?;
                if matches!(stored, Stored::New { waiting: true, .. }) {
                    self.wake.notify_one();
                }
                Ok(stored)
            }
            Mode::Batched(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send(JobHandle(Job {
                        record,
                        disposition,
                        reply,
                    }))
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
    gate: Gate,
    /// Wakes the processor.
    wake: Arc<Notify>,
    activity: Arc<Activity>,
}

async fn run(writer: Writer, mut queue: mpsc::Receiver<JobHandle>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(JobHandle(first)) = queue.recv().await {
        batch.push(first);
        // Everything that queued while the last batch was committing goes in this one.
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(JobHandle(job)) => batch.push(job),
                Err(_) => break,
            }
        }
        let size = batch.len();
        let waiting = {
            let _turn = writer.gate.enter().await;
            let mut appended = false;
            if let Some(appender) = &writer.appender {
                let done = appender.append(std::mem::take(&mut batch)).await;
                appended = done.stored;
                batch = done.rest;
            }
            let committed = !batch.is_empty() && commit(&writer.db, &mut batch).await;
            appended || committed
        };
        writer.activity.mark(size);
        if waiting {
            writer.wake.notify_one();
        }
    }
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
                match store::accept_in(&savepoint, job.record, job.disposition).await {
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
