//! `chargelog prune --raw-older-than 90d`: removes the raw bodies of old deliveries.
//!
//! A raw body is what a delivery was before it was applied; once applied, sessions,
//! charts and `rederive` read its readings, never the body again. So only applied
//! deliveries lose their body: one still waiting for the processor, or one that could not
//! be applied (its body is all there is to retry it with), keeps it, and so does every
//! dead letter. The delivery row itself stays (eventId, times, signature, outcome), so a
//! retry of a pruned event is still recognised as a repeat, and `raw_pruned_at` records
//! when the body went.
//!
//! Rows are pruned a thousand per transaction, so a running server's writes wait for one
//! short transaction at most.

use app::server::entities::deliveries;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

/// Deliveries pruned per transaction.
const CHUNK: u64 = 1_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    /// Deliveries whose raw body was removed (or would be, in a dry run).
    pub deliveries: u64,
    /// The bytes of those bodies.
    pub bytes: i64,
    /// Old deliveries kept whole because they still wait or could not be applied.
    pub kept_unapplied: u64,
}

/// The deliveries received before `before` (epoch ms) whose raw body may go.
fn prunable(before: i64) -> sea_orm::Select<deliveries::Entity> {
    deliveries::Entity::find()
        .filter(deliveries::Column::ReceivedAt.lt(before))
        .filter(deliveries::Column::ProcessedAt.is_not_null())
        .filter(deliveries::Column::ProcessError.is_null())
        .filter(deliveries::Column::RawPrunedAt.is_null())
}

/// Removes the raw bodies of applied deliveries received before `before`, stamping them
/// `now`. With `dry_run`, only counts them.
pub async fn prune_raw(
    db: &DatabaseConnection,
    before: i64,
    now: i64,
    dry_run: bool,
) -> Result<Pruned, DbErr> {
    let kept_unapplied = deliveries::Entity::find()
        .filter(deliveries::Column::ReceivedAt.lt(before))
        .filter(
            Condition::any()
                .add(deliveries::Column::ProcessedAt.is_null())
                .add(deliveries::Column::ProcessError.is_not_null()),
        )
        .count(db)
        .await?;
    let mut pruned = Pruned {
        kept_unapplied,
        ..Pruned::default()
    };
    let mut after = 0i64;
    loop {
        let txn = db.begin().await?;
        let chunk: Vec<(i64, Option<i64>)> = prunable(before)
            .filter(deliveries::Column::Id.gt(after))
            .select_only()
            .column(deliveries::Column::Id)
            .column_as(Expr::cust("CAST(length(raw_body) AS BIGINT)"), "bytes")
            .order_by_asc(deliveries::Column::Id)
            .limit(CHUNK)
            .into_tuple()
            .all(&txn)
            .await?;
        let Some(&(last, _)) = chunk.last() else {
            txn.commit().await?;
            break;
        };
        after = last;
        pruned.deliveries += chunk.len() as u64;
        pruned.bytes += chunk.iter().filter_map(|(_, b)| *b).sum::<i64>();
        if !dry_run {
            deliveries::Entity::update_many()
                .col_expr(deliveries::Column::RawBody, Expr::value(Vec::<u8>::new()))
                .col_expr(deliveries::Column::RawPrunedAt, Expr::value(now))
                .filter(deliveries::Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
    }
    Ok(pruned)
}

/// Gives the freed space back to the file system (SQLite) or marks it reusable
/// (PostgreSQL). Holds the database's write lock while it runs.
pub async fn vacuum(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("VACUUM").await.map(|_| ())
}
