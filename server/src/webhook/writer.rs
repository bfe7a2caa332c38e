//! Group commit for SQLite: one writer task stores deliveries that arrive together in one
//! transaction, with one fsync, and answers each request only after that commit.
//!
//! SQLite has a single writer. Without this, concurrent requests each open a transaction
//! and wait for the write lock by polling (the busy timeout), so throughput falls and
//! latency jumps under load. With it, requests queue in memory while a batch commits and
//! form the next batch. Each delivery runs in its own savepoint, so one that fails is
//! rolled back alone and answered 503; the others are committed. If the commit fails,
//! every delivery of the batch is answered 503: nothing is acknowledged that is not on
//! disk.
//!
//! PostgreSQL keeps one transaction per request: several processes share the database,
//! and a batch there would hold many vehicles' locks at once.

use super::store::{self, DeliveryRecord, Effect, Stored};
use app::domain::sessions::EngineConfig;
use sea_orm::{DatabaseBackend, DatabaseConnection, DbErr, TransactionTrait};
use tokio::sync::{mpsc, oneshot};

/// Deliveries committed together at most.
pub const MAX_BATCH: usize = 128;
/// Deliveries waiting for the writer at most; beyond that requests wait to be queued.
const QUEUE: usize = 4 * MAX_BATCH;

struct Job {
    record: DeliveryRecord,
    effect: Effect,
    reply: oneshot::Sender<Result<Stored, DbErr>>,
}

/// How deliveries reach the database.
#[derive(Debug, Clone)]
pub enum Ingestor {
    /// One transaction per request (PostgreSQL).
    Direct,
    /// Through the group-commit writer (SQLite).
    Batched(mpsc::Sender<JobHandle>),
}

/// A queued delivery (opaque outside this module).
pub struct JobHandle(Job);

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobHandle")
    }
}

impl Ingestor {
    /// The writer suited to the database; for SQLite this starts the writer task.
    pub fn start(db: &DatabaseConnection, engine: EngineConfig) -> Self {
        match db.get_database_backend() {
            DatabaseBackend::Sqlite => {
                let (tx, rx) = mpsc::channel(QUEUE);
                tokio::spawn(run(db.clone(), engine, rx));
                Ingestor::Batched(tx)
            }
            _ => Ingestor::Direct,
        }
    }

    /// Stores a delivery; returns once it is committed (or failed).
    pub async fn ingest(
        &self,
        db: &DatabaseConnection,
        record: DeliveryRecord,
        effect: Effect,
        engine: &EngineConfig,
    ) -> Result<Stored, DbErr> {
        match self {
            Ingestor::Direct => store::ingest(db, record, effect, engine).await,
            Ingestor::Batched(queue) => {
                let (reply, answer) = oneshot::channel();
                queue
                    .send(JobHandle(Job {
                        record,
                        effect,
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

async fn run(db: DatabaseConnection, engine: EngineConfig, mut queue: mpsc::Receiver<JobHandle>) {
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
        commit(&db, &engine, &mut batch).await;
    }
}

/// Stores and commits one batch, then answers every request in it.
async fn commit(db: &DatabaseConnection, engine: &EngineConfig, batch: &mut Vec<Job>) {
    let txn = match db.begin().await {
        Ok(txn) => txn,
        Err(err) => {
            let why = err.to_string();
            for job in batch.drain(..) {
                let _ = job.reply.send(Err(DbErr::Custom(why.clone())));
            }
            return;
        }
    };
    let mut answers = Vec::with_capacity(batch.len());
    for job in batch.drain(..) {
        let result = match txn.begin().await {
            Ok(savepoint) => {
                match store::ingest_in(&savepoint, job.record, job.effect, engine).await {
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
            for (reply, result) in answers {
                let _ = reply.send(result);
            }
        }
        Err(err) => {
            let why = err.to_string();
            tracing::error!(error = %why, deliveries = answers.len(), "a batch failed to commit; all of it is answered 503");
            for (reply, _) in answers {
                let _ = reply.send(Err(DbErr::Custom(why.clone())));
            }
        }
    }
}
