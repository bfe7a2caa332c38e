//! The deliveries waiting to be applied: accepted (stored, raw body included) but whose
//! readings, errors and sessions are not applied yet (`processed_at` is NULL, or still
//! in SQLite's inbox, `inbox`). The
//! processor claims them a few vehicles at a time ([`claim`]); `/readyz` and `/metrics` read
//! how many wait ([`backlog`]); one that cannot be applied is marked failed
//! ([`mark_failed`]), its raw body kept.

use super::accept::insert_log;
use app::domain::events::Outcome;
use app::domain::time::EpochMs;
use app::server::entities::{deliveries, webhook_log};
use sea_orm::sea_query::{Expr, LockBehavior, LockType};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

/// One waiting delivery, as read back for processing.
pub struct Waiting {
    pub id: i64,
    pub received_at: i64,
    pub raw_body: Vec<u8>,
}

/// Claims, inside the caller's transaction, every waiting delivery of the vehicles whose
/// deliveries have waited longest, vehicle after vehicle, up to `limit` deliveries
/// (the first vehicle's oldest `limit` if it has more), oldest first. A vehicle's
/// sessions are then derived once for all its deliveries, and what a transaction costs
/// whatever it holds (the commit, the fleet's rows, readiness) is shared by several
/// vehicles. A delivery without a vehicle counts as a vehicle of its own. On PostgreSQL
/// the deliveries are locked `FOR UPDATE SKIP LOCKED`, so the processors of several
/// server processes never claim the same delivery.
pub async fn claim(txn: &impl ConnectionTrait, limit: u64) -> Result<Vec<Waiting>, DbErr> {
    let backend = txn.get_database_backend();
    let waiting = || {
        deliveries::Entity::find()
            .select_only()
            .filter(deliveries::Column::ProcessedAt.is_null())
            .order_by_asc(deliveries::Column::Id)
    };
    let ids_and_vehicles = |query: sea_orm::Select<deliveries::Entity>| {
        query
            .columns([deliveries::Column::Id, deliveries::Column::VehicleId])
            .into_tuple::<(i64, Option<String>)>()
    };
    // The vehicles, in the order their oldest waiting delivery arrived.
    let oldest = ids_and_vehicles(waiting().limit(limit)).all(txn).await?;
    let mut chosen: Vec<i64> = Vec::new();
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    for (id, vehicle) in &oldest {
        let room = limit.saturating_sub(chosen.len());
        let share: Vec<i64> = match vehicle {
            None => vec![*id],
            Some(_) if chosen.contains(id) => continue,
            Some(vehicle) => {
                let query = waiting()
                    .filter(deliveries::Column::VehicleId.eq(vehicle.as_str()))
                    .limit(room as u64 + 1);
                ids_and_vehicles(query)
                    .all(txn)
                    .await?
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect()
            }
        };
        // A vehicle is taken whole, unless it is the first and has more than `limit`.
        if share.len() > room && !chosen.is_empty() {
            break;
        }
        chosen.extend(share.into_iter().take(room));
        if chosen.len() >= limit {
            break;
        }
    }
    if chosen.is_empty() {
        return Ok(Vec::new());
    }
    let mut batch = waiting()
        .columns([
            deliveries::Column::Id,
            deliveries::Column::ReceivedAt,
            deliveries::Column::RawBody,
        ])
        .filter(deliveries::Column::Id.is_in(chosen));
    if backend == DatabaseBackend::Postgres {
        batch = batch.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    Ok(batch
        .into_tuple::<(i64, i64, Vec<u8>)>()
        .all(txn)
        .await?
        .into_iter()
        .map(|(id, received_at, raw_body)| Waiting {
            id,
            received_at,
            raw_body,
        })
        .collect())
}

/// Marks one waiting delivery as failed, its error kept; the raw body stays.
pub async fn mark_failed(
    db: &DatabaseConnection,
    delivery_row_id: i64,
    error: &str,
    now: EpochMs,
) -> Result<(), DbErr> {
    let txn = db.begin().await?;
    record_failure(
        &txn,
        delivery_row_id,
        &format!("could not be processed: {error}"),
        now,
    )
    .await?;
    txn.commit().await
}

/// Marks a waiting delivery processed with its error, and logs it as a dead letter.
pub(super) async fn record_failure(
    txn: &impl ConnectionTrait,
    delivery_row_id: i64,
    error: &str,
    now: EpochMs,
) -> Result<(), DbErr> {
    let updated = deliveries::Entity::update_many()
        .col_expr(
            deliveries::Column::ProcessedAt,
            Expr::value(now.as_millis()),
        )
        .col_expr(
            deliveries::Column::ProcessError,
            Expr::value(error.to_owned()),
        )
        .filter(deliveries::Column::Id.eq(delivery_row_id))
        .filter(deliveries::Column::ProcessedAt.is_null())
        .exec(txn)
        .await?;
    if updated.rows_affected > 0 {
        insert_log(
            txn,
            webhook_log::ActiveModel {
                received_at: Set(now.as_millis()),
                outcome: Set(Outcome::DeadLetter),
                delivery_row_id: Set(Some(delivery_row_id)),
                detail: Set(Some(error.to_owned())),
                ..Default::default()
            },
        )
        .await?;
    }
    Ok(())
}

/// The processor's queue, for `/readyz` and `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    pub waiting: u64,
    /// When the oldest waiting delivery was received.
    pub oldest_received_at: Option<i64>,
    /// Deliveries that could not be processed.
    pub failed: u64,
}

pub async fn backlog(db: &impl ConnectionTrait) -> Result<Backlog, DbErr> {
    use sea_orm::PaginatorTrait;
    use sea_orm::QueryOrder;
    let (in_inbox, inbox_oldest) = in_inbox(db).await?;
    let oldest = deliveries::Entity::find()
        .select_only()
        .column(deliveries::Column::ReceivedAt)
        .filter(deliveries::Column::ProcessedAt.is_null())
        .order_by_asc(deliveries::Column::Id)
        .limit(1)
        .into_tuple::<i64>()
        .one(db)
        .await?;
    let failed = deliveries::Entity::find()
        .filter(deliveries::Column::ProcessError.is_not_null())
        .count(db)
        .await?;
    Ok(Backlog {
        waiting: count_stored_waiting(db).await? + in_inbox,
        oldest_received_at: oldest.into_iter().chain(inbox_oldest).min(),
        failed,
    })
}

/// How many deliveries wait to be processed, in the inbox or in `deliveries`. The inbox
/// is read first: a delivery the processor moves in between is counted twice, and one
/// moved and applied still counts until it is deleted from the inbox (within about
/// 50 ms), but none is ever missed: a count of 0 means nothing waits.
pub async fn count_waiting(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    let in_inbox = in_inbox(db).await?.0;
    Ok(in_inbox + count_stored_waiting(db).await?)
}

async fn count_stored_waiting(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    deliveries::Entity::find()
        .filter(deliveries::Column::ProcessedAt.is_null())
        .count(db)
        .await
}

/// What waits in SQLite's inbox (`inbox`); PostgreSQL has none.
async fn in_inbox(db: &impl ConnectionTrait) -> Result<(u64, Option<i64>), DbErr> {
    match db.get_database_backend() {
        DatabaseBackend::Sqlite => super::inbox::waiting(db).await,
        _ => Ok((0, None)),
    }
}
