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
//! Dead letters go whole with the same cutoff, counted from their latest arrival, and so
//! do their log rows: a correctly signed body that could not be processed is kept until
//! the retention an operator chose, like the raw bodies, and no longer.
//!
//! Rows are pruned a thousand per transaction, so a running server's writes wait for one
//! short transaction at most.

use app::server::entities::{dead_letters, deliveries, webhook_log};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, TransactionTrait,
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
    /// Dead letters removed (or that would be): none of their body's arrivals is newer
    /// than the cutoff.
    pub dead_letters: u64,
    /// The bytes of their bodies.
    pub dead_letter_bytes: i64,
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
        let chunk = next_chunk(prunable(before), deliveries::Column::Id, after, &txn).await?;
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
    prune_dead_letters(db, before, dry_run, &mut pruned).await?;
    Ok(pruned)
}

/// The next [`CHUNK`] of `rows` after id `after`, in id order: each row's id and the size
/// of its raw body.
async fn next_chunk<E: EntityTrait>(
    rows: sea_orm::Select<E>,
    id: E::Column,
    after: i64,
    txn: &impl ConnectionTrait,
) -> Result<Vec<(i64, Option<i64>)>, DbErr> {
    rows.filter(id.gt(after))
        .select_only()
        .column(id)
        .column_as(Expr::cust("CAST(length(raw_body) AS BIGINT)"), "bytes")
        .order_by_asc(id)
        .limit(CHUNK)
        .into_tuple()
        .all(txn)
        .await
}

/// Removes the dead letters last received before `before`, and their log rows.
async fn prune_dead_letters(
    db: &DatabaseConnection,
    before: i64,
    dry_run: bool,
    pruned: &mut Pruned,
) -> Result<(), DbErr> {
    let mut after = 0i64;
    loop {
        let txn = db.begin().await?;
        let old =
            dead_letters::Entity::find().filter(dead_letters::Column::LastReceivedAt.lt(before));
        let chunk = next_chunk(old, dead_letters::Column::Id, after, &txn).await?;
        let Some(&(last, _)) = chunk.last() else {
            txn.commit().await?;
            return Ok(());
        };
        after = last;
        pruned.dead_letters += chunk.len() as u64;
        pruned.dead_letter_bytes += chunk.iter().filter_map(|(_, b)| *b).sum::<i64>();
        if !dry_run {
            // Checked again as they go: a body that came back meanwhile stays, with
            // its log lines.
            let still_old = || {
                sea_orm::Condition::all()
                    .add(dead_letters::Column::Id.is_in(chunk.iter().map(|(id, _)| *id)))
                    .add(dead_letters::Column::LastReceivedAt.lt(before))
            };
            let going = dead_letters::Entity::find()
                .select_only()
                .column(dead_letters::Column::Id)
                .filter(still_old())
                .into_query();
            webhook_log::Entity::delete_many()
                .filter(webhook_log::Column::DeadLetterId.in_subquery(going))
                .exec(&txn)
                .await?;
            dead_letters::Entity::delete_many()
                .filter(still_old())
                .exec(&txn)
                .await?;
        }
        txn.commit().await?;
    }
}

/// Gives the freed space back to the file system (SQLite) or marks it reusable
/// (PostgreSQL). Holds the database's write lock while it runs.
pub async fn vacuum(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("VACUUM").await.map(|_| ())
}
