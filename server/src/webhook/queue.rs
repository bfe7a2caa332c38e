//! The deliveries waiting to be applied: accepted (stored, raw body included) but whose
//! readings, errors and sessions are not applied yet (`processed_at` is NULL). The
//! processor claims them a vehicle at a time ([`claim`]); `/readyz` and `/metrics` read
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

/// Claims, inside the caller's transaction, the waiting deliveries of the vehicle whose
/// delivery has waited longest: up to `limit` of them, oldest first (a delivery without
/// a vehicle alone). On PostgreSQL they are locked `FOR UPDATE SKIP LOCKED`, so the
/// processors of several server processes never claim the same delivery.
pub async fn claim(txn: &impl ConnectionTrait, limit: u64) -> Result<Vec<Waiting>, DbErr> {
    let backend = txn.get_database_backend();
    let waiting = || {
        let query = deliveries::Entity::find()
            .select_only()
            .filter(deliveries::Column::ProcessedAt.is_null())
            .order_by_asc(deliveries::Column::Id);
        if backend == DatabaseBackend::Postgres {
            query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        } else {
            query
        }
    };
    let oldest: Option<(i64, Option<String>)> = waiting()
        .columns([deliveries::Column::Id, deliveries::Column::VehicleId])
        .limit(1)
        .into_tuple()
        .one(txn)
        .await?;
    let Some((oldest, vehicle)) = oldest else {
        return Ok(Vec::new());
    };
    let mut batch = waiting().columns([
        deliveries::Column::Id,
        deliveries::Column::ReceivedAt,
        deliveries::Column::RawBody,
    ]);
    batch = match vehicle {
        Some(vehicle) => batch
            .filter(deliveries::Column::VehicleId.eq(vehicle))
            .limit(limit),
        None => batch.filter(deliveries::Column::Id.eq(oldest)),
    };
    let waiting = batch
        .into_tuple::<(i64, i64, Vec<u8>)>()
        .all(txn)
        .await?
        .into_iter()
        .map(|(id, received_at, raw_body)| Waiting {
            id,
            received_at,
            raw_body,
        })
        .collect();
    Ok(waiting)
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
        waiting: count_waiting(db).await?,
        oldest_received_at: oldest,
        failed,
    })
}

/// How many deliveries wait to be processed.
pub async fn count_waiting(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    use sea_orm::PaginatorTrait;
    deliveries::Entity::find()
        .filter(deliveries::Column::ProcessedAt.is_null())
        .count(db)
        .await
}
