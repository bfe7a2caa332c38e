//! The processor: the task that applies waiting deliveries (readings, latest state,
//! errors, sessions) after the webhook has answered for them.
//!
//! One task per server process. It wakes when the webhook commits a delivery that
//! waits, and on its own every second (deliveries accepted by another process, or left
//! by a crash). Each turn takes the vehicles whose deliveries have waited longest and
//! applies up to [`BATCH`] of their waiting deliveries in one transaction
//! (`apply::process_waiting`, `queue::claim`), deriving each vehicle's sessions once for
//! all of its deliveries: under load a vehicle's deliveries pile up, and the work per
//! delivery shrinks. On SQLite it takes turns with the webhook's writer (`turns`), with
//! shorter turns while the writer is busy: [`STEADY_BATCH`] under a steady load,
//! [`BUSY_BATCH`] during a burst.
//!
//! A batch that fails is retried one delivery at a time. A delivery that fails alone
//! three times while the database answers is marked failed (its raw body is kept, its
//! error recorded, and a dead-letter log row written), so one bad delivery cannot stop
//! the queue. If the database does not answer, the processor waits and tries again.

use super::apply::{self, Failed};
use super::queue;
use super::turns::{Pace, Turns};
use crate::clock::now;
use crate::http::live::LiveFeed;
use app::domain::sessions::EngineConfig;
use sea_orm::DatabaseConnection;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// Deliveries applied in one transaction at most.
pub const BATCH: u64 = 128;
/// Deliveries applied in one turn taken while the writer commits now and then (a steady
/// load): long enough that the turn's own work is shared (measured at a steady 1 000 a
/// second over 200 vehicles: turns of 64 applied 630 a second, turns of 16 only 320, as
/// each vehicle's sessions were derived for fewer deliveries). The price: a request
/// waits behind up to one such turn (ack p99 87 → 124 ms at 1 000 a second, 67 → 199 ms
/// at 500; `docs/PERFORMANCE.md`, "Steady load").
const STEADY_BATCH: u64 = 64;
/// Deliveries applied in one turn during a burst: short turns, so that acknowledging
/// keeps most of the machine.
const BUSY_BATCH: u64 = 16;
/// How often the queue is looked at when nothing woke the processor.
const POLL: Duration = Duration::from_secs(1);
/// Failures of one delivery on its own before it is marked failed.
const ATTEMPTS: u32 = 3;
/// The longest wait between attempts while the database fails.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

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
                Pace::Short => limit.min(STEADY_BATCH),
                Pace::Yield => limit.min(BUSY_BATCH),
            };
            let result = apply::process_waiting(&db, &engine, limit, now()).await;
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
