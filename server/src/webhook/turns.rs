//! Turns at writing between the webhook's writer (the accept phase) and the processor
//! (the apply phase), where the database has one writer (SQLite), and how the processor
//! paces itself by what the writer is doing.
//!
//! On SQLite the processor yields to the writer: it takes its turn when the writer has
//! nothing queued. During a burst (the writer's batches hold [`SATURATED_BATCH`]
//! deliveries or more on average: requests pile up while it commits) it steps aside
//! altogether, for up to [`MAX_DEFER`] at a time, and then takes a short turn followed by
//! a rest as long as the turn took, its wait for the writer included ([`Pace::Yield`]).
//! Acknowledging deliveries (what Smartcar waits for, and retries only three times)
//! keeps the machine during a burst; the backlog waits on disk and is applied afterwards
//! in larger batches, all of it about as soon as before (measured:
//! `docs/PERFORMANCE.md`). Under a steady load the writer's batches stay small: the
//! processor still takes short turns while the writer is busy, so no request waits long
//! behind one, but takes them one after another, without the rest ([`Pace::Short`]). A
//! steady load leaves a vehicle only one or two deliveries to apply at a time, so
//! applying costs more per delivery than after a burst, and resting then too halved what
//! the processor kept up with (measured, `docs/PERFORMANCE.md`).
//!
//! On PostgreSQL there are no turns ([`Gate::open`]): it takes concurrent writers.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The writer counts as busy this long after its last batch.
const BUSY_WINDOW: Duration = Duration::from_millis(20);
/// The longest the processor yields to a busy writer before it takes a turn anyway.
const MAX_DEFER: Duration = Duration::from_millis(500);
/// Batches this large on average mean requests queue while the writer commits: a
/// burst. The average is a moving one (each batch weighs a quarter): one large batch
/// alone is what piles up while the processor holds the write lock for a turn, under
/// any load, and counting it would starve the processor (measured: at a steady 600
/// deliveries a second the backlog then grew twice as fast).
const SATURATED_BATCH: usize = 8;

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
#[derive(Clone)]
pub struct WriterWatch {
    /// Deliveries queued for the writer and not yet taken into a batch.
    pub queued: Arc<dyn Fn() -> usize + Send + Sync>,
    pub activity: Arc<Activity>,
}

impl std::fmt::Debug for WriterWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriterWatch")
            .field("queued", &(self.queued)())
            .field("activity", &self.activity)
            .finish()
    }
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
pub enum Pace {
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
    pub async fn take(&self) -> (Option<OwnedMutexGuard<()>>, Pace) {
        let Some(writer) = &self.writer else {
            return (self.gate.enter().await, Pace::Free);
        };
        let since = Instant::now();
        while since.elapsed() < MAX_DEFER {
            let pause = if writer.activity.saturated(BUSY_WINDOW) {
                BUSY_WINDOW / 2
            } else if (writer.queued)() > 0 {
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
