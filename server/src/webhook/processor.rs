//! The processor: applies waiting deliveries (readings, latest state, errors, sessions)
//! after the webhook has answered for them.
//!
//! One task per server process. It wakes when the webhook commits a delivery that
//! waits, and on its own every second (deliveries accepted by another process, or left
//! by a crash). Each turn takes the vehicle of the oldest waiting delivery and applies up
//! to [`BATCH`] of that vehicle's waiting deliveries in one transaction
//! (`store::process_waiting`), deriving its sessions once for all of them: under load a
//! vehicle's deliveries pile up, and the work per delivery shrinks.
//!
//! On SQLite the processor yields to the webhook's writer: it takes its turn when the
//! writer has nothing queued. During a burst (the writer's batches hold
//! [`SATURATED_BATCH`] deliveries or more on average: requests pile up while it commits) it steps
//! aside altogether, for up to [`MAX_DEFER`] at a time, and then takes a short turn
//! ([`BUSY_BATCH`] deliveries) followed by a rest as long as the turn took, its wait for
//! the writer included. Acknowledging deliveries (what Smartcar waits for, and retries
//! only three times) keeps the machine during a burst; the backlog waits on disk and is
//! applied afterwards in larger batches, all of it about as soon as before (measured:
//! `docs/PERFORMANCE.md`). Under a steady load the writer's batches stay small: the
//! processor still takes short turns while the writer is busy, so no request waits long
//! behind one, but takes them one after another, without the rest. A steady load leaves
//! a vehicle only one or two deliveries to apply at a time, so applying costs more per
//! delivery than after a burst, and resting then too halved what the processor kept up
//! with (measured, `docs/PERFORMANCE.md`).
//!
//! A batch that fails is retried one delivery at a time. A delivery that fails alone
//! three times while the database answers is marked failed (its raw body is kept, its
//! error recorded, and a dead-letter log row written), so one bad delivery cannot stop
//! the queue. If the database does not answer, the processor waits and tries again.

use super::store::{self, Failed};
use super::writer::JobHandle;
use crate::http::live::LiveFeed;
use app::domain::sessions::EngineConfig;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Mutex, Notify, OwnedMutexGuard};

/// Deliveries of one vehicle applied in one transaction at most.
pub const BATCH: u64 = 128;
/// Deliveries applied in one turn taken while the writer is busy: short turns, so that
/// acknowledging keeps most of the machine during a burst.
const BUSY_BATCH: u64 = 16;
/// The writer counts as busy this long after its last batch.
const BUSY_WINDOW: Duration = Duration::from_millis(20);
/// How often the queue is looked at when nothing woke the processor.
const POLL: Duration = Duration::from_secs(1);
/// Failures of one delivery on its own before it is marked failed.
const ATTEMPTS: u32 = 3;
/// The longest the processor yields to a busy writer before it takes a turn anyway.
const MAX_DEFER: Duration = Duration::from_millis(500);
/// Batches this large on average mean requests queue while the writer commits: a
/// burst. The average is a moving one (each batch weighs a quarter): one large batch
/// alone is what piles up while the processor holds the write lock for a turn, under
/// any load, and counting it would starve the processor (measured: at a steady 600
/// deliveries a second the backlog then grew twice as fast).
const SATURATED_BATCH: usize = 8;
/// The longest wait between attempts while the database fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Turns at writing, where the database has one writer (SQLite): the webhook's writer
/// and the processor take it in order of arrival instead of polling for SQLite's lock.
#[derive(Debug, Clone)]
pub struct Gate(Option<Arc<Mutex<()>>>);

impl Gate {
    pub fn exclusive() -> Self {
        Gate(Some(Arc::new(Mutex::new(()))))
    }

    /// No turns: the database takes concurrent writers (PostgreSQL).
    pub fn open() -> Self {
        Gate(None)
    }

    pub async fn enter(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.0 {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }
}

/// How the processor shares the database with the webhook's writer.
#[derive(Debug, Clone)]
pub struct Turns {
    pub gate: Gate,
    /// The writer (SQLite), whose queue and recent batches the processor watches.
    pub writer: Option<WriterWatch>,
}

/// What the processor sees of the webhook's writer.
#[derive(Debug, Clone)]
pub struct WriterWatch {
    pub queue: mpsc::WeakSender<JobHandle>,
    pub activity: Arc<Activity>,
}

/// When the writer last committed a batch, and how large its batches have been.
#[derive(Debug)]
pub struct Activity {
    base: Instant,
    /// Microseconds after `base`.
    last: AtomicU64,
    /// The moving average of batch sizes, in sixteenths of a delivery.
    average: AtomicUsize,
}

impl Default for Activity {
    fn default() -> Self {
        Activity {
            base: Instant::now(),
            last: AtomicU64::new(0),
            average: AtomicUsize::new(0),
        }
    }
}

impl Activity {
    /// The writer has committed a batch of `size` deliveries.
    pub fn mark(&self, size: usize) {
        let now = u64::try_from(self.base.elapsed().as_micros()).unwrap_or(u64::MAX);
        // Only the writer task marks: a load and a store do not race.
        let average = self.average.load(Ordering::Relaxed);
        let average = (average * 3 + size.min(1 << 16) * 16) / 4;
        self.average.store(average, Ordering::Relaxed);
        self.last.store(now, Ordering::Relaxed);
    }

    /// A burst: batches of [`SATURATED_BATCH`] or more on average, the last within
    /// `window`.
    fn saturated(&self, window: Duration) -> bool {
        self.within(window) && self.average.load(Ordering::Relaxed) >= SATURATED_BATCH * 16
    }

    fn within(&self, window: Duration) -> bool {
        let last = Duration::from_micros(self.last.load(Ordering::Relaxed));
        self.base.elapsed().saturating_sub(last) < window
    }
}

/// How a turn is paced, from what the webhook's writer is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// The writer is quiet: a full turn.
    Free,
    /// The writer commits now and then (a steady load): a short turn, so that no
    /// request waits long behind it, and the next right after.
    Short,
    /// A burst: a short turn, then a rest as long as the turn took.
    Yield,
}

impl Turns {
    /// Waits while deliveries queue for the writer, or while it is saturated (up to
    /// [`MAX_DEFER`] in all), then takes the gate. Says how the turn is paced: short
    /// while the writer is busy (a batch within [`BUSY_WINDOW`]), and followed by a rest
    /// during a burst.
    async fn take(&self) -> (Option<OwnedMutexGuard<()>>, Pace) {
        let Some(writer) = &self.writer else {
            return (self.gate.enter().await, Pace::Free);
        };
        let since = Instant::now();
        while since.elapsed() < MAX_DEFER {
            let pause = if writer.activity.saturated(BUSY_WINDOW) {
                BUSY_WINDOW / 2
            } else if super::writer::queued(&writer.queue) > 0 {
                Duration::from_millis(1)
            } else {
                break;
            };
            tokio::time::sleep(pause).await;
        }
        let pace = if writer.activity.saturated(BUSY_WINDOW) {
            Pace::Yield
        } else if writer.activity.within(BUSY_WINDOW) {
            Pace::Short
        } else {
            Pace::Free
        };
        (self.gate.enter().await, pace)
    }
}

pub async fn run(
    db: DatabaseConnection,
    engine: EngineConfig,
    turns: Turns,
    wake: Arc<Notify>,
    live: Arc<LiveFeed>,
) {
    let gate = &turns.gate;
    let mut limit = BATCH;
    let mut failures: HashMap<i64, u32> = HashMap::new();
    let mut backoff = Duration::from_millis(100);
    loop {
        let started = Instant::now();
        let (result, pace) = {
            let (_turn, pace) = turns.take().await;
            let limit = match pace {
                Pace::Free => limit,
                Pace::Short | Pace::Yield => limit.min(BUSY_BATCH),
            };
            let result = store::process_waiting(&db, &engine, limit, super::now()).await;
            (result, pace)
        };
        if pace == Pace::Yield {
            // During a burst, rest as long again as this turn took, waiting included:
            // applying gets a small share of the machine (measured: resting for the work
            // alone acknowledged a third fewer deliveries a second). Under a steady load
            // the next turn follows at once (see the module's comment).
            tokio::time::sleep(started.elapsed()).await;
        }
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
                            store::mark_failed(&db, id, &why, super::now()).await
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
