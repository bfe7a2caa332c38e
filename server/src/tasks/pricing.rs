//! Pricing in the background: every few seconds, the sessions that are due (derived anew,
//! or touched by a place or tariff change) get their place and cost
//! (`app::server::pricing`). Each server process runs one; they may overlap safely.

use chrono_tz::Tz;
use sea_orm::DatabaseConnection;
use std::time::Duration;

pub const EVERY: Duration = Duration::from_secs(2);

pub async fn run(db: DatabaseConnection, zone: Tz) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match app::server::pricing::price_all_due(&db, zone).await {
            Ok(0) => {}
            Ok(n) => tracing::debug!(sessions = n, "priced sessions"),
            Err(err) => tracing::warn!(error = %err, "pricing failed; will retry"),
        }
    }
}
