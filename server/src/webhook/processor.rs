//! The processor: the task that applies waiting deliveries (readings, latest state,
//! errors, sessions) after the webhook has answered for them.
//!
//! One task per server process. It wakes when the webhook commits a delivery that
//! waits, and on its own every second (deliveries accepted by another process, or left
//! by a crash). Each turn takes the vehicles whose deliveries have waited longest and
//! applies up to [`BATCH`] of their waiting deliveries in one transaction
//! (`apply::process_waiting`, `queue::claim`; on SQLite it first moves what waits in the
//! inbox, `inbox`), deriving each vehicle's sessions once for all of its deliveries:
//! under load a vehicle's deliveries pile up, and the work per delivery shrinks. On
//! SQLite it takes turns at the main file's write lock with the webhook's general path
//! (`turns`), which stores the rare deliveries the inbox does not take; the common ones
//! go to the inbox, which only the webhook's appender writes (deleting, too, what the
//! processor has moved), so acknowledging never waits for a turn and turns need no
//! pacing.
//!
//! A batch that fails is retried one delivery at a time. A delivery that fails alone
//! three times while the database answers is marked failed (its raw body is kept, its
//! error recorded, and a dead-letter log row written), so one bad delivery cannot stop
//! the queue. If the database does not answer, the processor waits and tries again.

use super::apply::{self, Failed};
use super::queue;
use super::sqlite_append::Appender;
use super::turns::Gate;
use crate::clock::now;
use crate::http::live::LiveFeed;
use app::domain::sessions::EngineConfig;
use sea_orm::{DatabaseBackend, DatabaseConnection};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// Deliveries applied in one transaction at most.
pub const BATCH: u64 = 128;
/// How often the queue is looked at when nothing woke the processor.
const POLL: Duration = Duration::from_secs(1);
/// Failures of one delivery on its own before it is marked failed.
const ATTEMPTS: u32 = 3;
/// The longest wait between attempts while the database fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How far below the server's other threads the processor's runs (a `nice` value: at
/// 10, against one thread at the default 0 that wants the same core, it gets about a
/// tenth of it).
const LOWER_PRIORITY: i32 = 10;

/// Starts the processor. On SQLite it runs on a thread of its own, at a lower priority
/// than the threads that acknowledge deliveries, and so does SQLite's thread for its
/// connection (started from it; `db::connect_processor`): when both want the CPU,
/// acknowledging (what Smartcar waits for, and retries only three times) goes first,
/// and applying takes what is left, all of it when the webhook is quiet. The processor
/// stops when `stop`'s sender is dropped. On PostgreSQL the work is the database's: it
/// runs as a task of the server's runtime.
pub fn spawn(
    db: DatabaseConnection,
    appender: Option<Appender>,
    engine: EngineConfig,
    gate: Gate,
    wake: Arc<Notify>,
    live: Arc<LiveFeed>,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> std::io::Result<()> {
    let sqlite = db.get_database_backend() == DatabaseBackend::Sqlite;
    let processor = async move {
        tokio::select! {
            () = run(db, appender, engine, gate, wake, live) => {}
            _ = stop => {}
        }
    };
    if !sqlite {
        tokio::spawn(processor);
        return Ok(());
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name("chargelog-apply".to_owned())
        .spawn(move || {
            lower_priority();
            runtime.block_on(processor);
        })?;
    Ok(())
}

/// Lowers the calling thread's priority (on Linux the `nice` value is per thread, and
/// the threads it starts inherit it).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    if let Err(err) =
        rustix::process::setpriority_process(Some(rustix::thread::gettid()), LOWER_PRIORITY)
    {
        tracing::warn!(error = %err, "could not lower the processor's priority; it competes with acknowledging");
    }
}

async fn run(
    db: DatabaseConnection,
    appender: Option<Appender>,
    engine: EngineConfig,
    gate: Gate,
    wake: Arc<Notify>,
    live: Arc<LiveFeed>,
) {
    let mut limit = BATCH;
    let mut failures: HashMap<i64, u32> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        let result = {
            let _turn = gate.enter().await;
            apply::process_waiting(&db, appender.as_ref(), &engine, limit, now()).await
        };
        match result {
            Ok(done) if done.deliveries == 0 => {
                limit = BATCH;
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            Ok(done) => {
                live.nudge();
                for id in done.ids() {
                    failures.remove(&id);
                }
                limit = BATCH;
                backoff = Duration::from_millis(100);
                tracing::debug!(
                    deliveries = done.deliveries,
                    vehicles = done.vehicles,
                    "processed waiting deliveries"
                );
            }
            Err(Failed { error, ids }) if ids.len() > 1 => {
                tracing::warn!(%error, deliveries = ids.len(), "a batch of waiting deliveries failed; retrying them one at a time");
                limit = 1;
            }
            Err(Failed { error, ids }) => {
                let alone = ids.first().copied();
                let attempts = alone.map_or(0, |id| {
                    let n = failures.entry(id).or_default();
                    *n += 1;
                    *n
                });
                match alone {
                    Some(id) if attempts >= ATTEMPTS && database_answers(&db).await => {
                        let why = error.to_string();
                        tracing::error!(delivery_row_id = id, error = %why, "a stored delivery fails to process; marked failed, its raw body kept");
                        let marked = {
                            let _turn = gate.enter().await;
                            queue::mark_failed(&db, id, &why, now()).await
                        };
                        match marked {
                            Ok(()) => {
                                failures.remove(&id);
                                live.nudge();
                            }
                            Err(err) => {
                                tracing::warn!(error = %err, "could not mark a delivery failed")
                            }
                        }
                    }
                    _ => {
                        tracing::warn!(%error, retry_in_ms = backoff.as_millis() as u64, "could not process waiting deliveries; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                }
            }
        }
    }
}

async fn database_answers(db: &DatabaseConnection) -> bool {
    db.ping().await.is_ok()
}
