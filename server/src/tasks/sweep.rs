//! Closing sessions that went silent. A session is judged stale when it is derived; one
//! that simply stops hearing from its vehicle is not re-derived by any delivery, so this
//! task does it every few minutes (the API already shows such sessions as stale). It
//! also marks vehicles that went silent as stale in the fleet table's status column,
//! which the status sort reads (filters and pages judge staleness by time themselves).

use app::domain::sessions::EngineConfig;
use app::domain::time::EpochMs;
use app::server::fleet_energy::EnergyLedger;
use app::server::sessions::{gone_silent, lock_vehicle, update_vehicle, Touched};
use sea_orm::{DatabaseConnection, DbErr, TransactionTrait};
use std::time::Duration;

pub const EVERY: Duration = Duration::from_secs(300);

/// Log lines for requests that stored nothing (refusals, duplicates, VERIFY answers) are
/// kept this long; stored deliveries and dead letters keep theirs.
pub const LOG_KEEP_MS: i64 = 30 * 24 * 3_600_000;

/// Deletes log lines of requests that stored nothing, older than [`LOG_KEEP_MS`].
pub async fn prune_log(db: &DatabaseConnection, now: EpochMs) -> Result<u64, DbErr> {
    use app::domain::events::Outcome;
    use app::server::entities::webhook_log::{Column, Entity};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let result = Entity::delete_many()
        .filter(Column::Outcome.is_in([
            Outcome::RejectedSignature,
            Outcome::Duplicate,
            Outcome::Verified,
        ]))
        .filter(Column::ReceivedAt.lt(now.as_millis() - LOG_KEEP_MS))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Re-derives every vehicle whose open session went silent, and marks the fleet rows
/// of vehicles gone silent as stale; returns how many vehicles were re-derived.
pub async fn sweep_once(
    db: &DatabaseConnection,
    engine: &EngineConfig,
    now: EpochMs,
) -> Result<usize, DbErr> {
    let silent = gone_silent(db, engine, now).await?;
    for (vehicle_id, started_at) in &silent {
        let Ok(from) = EpochMs::new(*started_at) else {
            continue;
        };
        let txn = db.begin().await?;
        lock_vehicle(&txn, vehicle_id).await?;
        let mut ledger = EnergyLedger::default();
        update_vehicle(
            &txn,
            vehicle_id,
            Touched::From(from),
            engine,
            now,
            &mut ledger,
        )
        .await?;
        ledger.write(&txn).await?;
        txn.commit().await?;
    }
    app::server::fleet::mark_stale(db, engine, now).await?;
    Ok(silent.len())
}

pub async fn run(db: DatabaseConnection, engine: EngineConfig) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(now) = crate::clock::checked_now() else {
            continue;
        };
        match sweep_once(&db, &engine, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(vehicles = n, "closed sessions that went silent"),
            Err(err) => tracing::warn!(error = %err, "stale-session sweep failed; will retry"),
        }
        match prune_log(&db, now).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned old webhook log lines"),
            Err(err) => tracing::warn!(error = %err, "pruning the webhook log failed; will retry"),
        }
        match app::server::health::prune(&db, now.as_millis()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned old delivery counts"),
            Err(err) => {
                tracing::warn!(error = %err, "pruning old delivery counts failed; will retry")
            }
        }
        match crate::http::auth::sweep_sessions(&db, now.as_millis()).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "deleted login sessions that are over"),
            Err(err) => {
                tracing::warn!(error = %err, "deleting old login sessions failed; will retry")
            }
        }
    }
}
