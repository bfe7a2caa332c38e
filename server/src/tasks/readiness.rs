//! Readiness and alerts in the background: every few seconds, the vehicles whose verdict
//! or alerts time alone may have changed (a departure passed or came near, silence set
//! in, a cable idle past its threshold) or whose schedule or alert settings changed are
//! evaluated again (`app::server::readiness`); deliveries evaluate theirs as they are
//! applied. Each server process runs one; they may overlap safely (a verdict is a
//! function of the stored data and the time, and an alert opens once per vehicle and
//! kind, by a unique key).

use app::server::readiness::evaluate_due;
use sea_orm::DatabaseConnection;
use std::time::Duration;

pub const EVERY: Duration = Duration::from_secs(5);
/// Vehicles with no verdict yet (stored before this existed) are looked for this often.
const MISSING_EVERY: u32 = 12;

pub async fn run(db: DatabaseConnection) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut passes: u32 = 0;
    loop {
        tick.tick().await;
        let missing = passes.is_multiple_of(MISSING_EVERY);
        passes = passes.wrapping_add(1);
        let now = crate::clock::now().to_datetime();
        match evaluate_due(&db, now, missing).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(vehicles = n, "evaluated readiness and alerts"),
            Err(err) => tracing::warn!(error = %err, "evaluating readiness failed; will retry"),
        }
    }
}
