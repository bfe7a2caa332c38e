//! A dead letter is kept once per body: `body_hash` (the SHA-256 of the raw body, hex)
//! is unique, `times_received` counts its arrivals and `last_received_at` is the latest,
//! so a sender that repeats an unprocessable body adds to a count, not another copy.
//! Rows kept before this migration are hashed here, one body in memory at a time; copies
//! of one body merge into the oldest, with their log rows pointing at it. All of it is
//! one transaction, on SQLite too, so a run cut short leaves the table as it was.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, TryGetable};
use sha2::{Digest, Sha256};

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261204_000008_dead_letter_once"
    }
}

#[derive(DeriveIden)]
enum DeadLetters {
    Table,
    Id,
    ReceivedAt,
    LastReceivedAt,
    TimesReceived,
    BodyHash,
    RawBody,
}

#[derive(DeriveIden)]
enum WebhookLog {
    Table,
    DeadLetterId,
}

/// Row ids read per query.
const CHUNK: u64 = 500;

fn get<T: TryGetable>(
    row: &sea_orm_migration::sea_orm::QueryResult,
    column: &str,
) -> Result<T, DbErr> {
    row.try_get("", column)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared("ALTER TABLE dead_letters ADD COLUMN body_hash TEXT")
            .await?;
        db.execute_unprepared(
            "ALTER TABLE dead_letters ADD COLUMN times_received BIGINT NOT NULL DEFAULT 1",
        )
        .await?;
        db.execute_unprepared(
            "ALTER TABLE dead_letters ADD COLUMN last_received_at BIGINT NOT NULL DEFAULT 0",
        )
        .await?;
        db.execute_unprepared("UPDATE dead_letters SET last_received_at = received_at")
            .await?;
        // Unique from the start (rows not hashed yet are NULL, which may repeat), so the
        // merge below finds an earlier copy through the index.
        manager
            .create_index(
                Index::create()
                    .name("idx_dead_letters_body")
                    .table(DeadLetters::Table)
                    .col(DeadLetters::BodyHash)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // `chargelog prune` removes dead letters by their latest arrival, and their log
        // rows by their id.
        manager
            .create_index(
                Index::create()
                    .name("idx_dead_letters_last")
                    .table(DeadLetters::Table)
                    .col(DeadLetters::LastReceivedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_log_dead_letter")
                    .table(WebhookLog::Table)
                    .col(WebhookLog::DeadLetterId)
                    .to_owned(),
            )
            .await?;

        loop {
            let ids = db
                .query_all(
                    Query::select()
                        .column(DeadLetters::Id)
                        .from(DeadLetters::Table)
                        .and_where(Expr::col(DeadLetters::BodyHash).is_null())
                        .order_by(DeadLetters::Id, Order::Asc)
                        .limit(CHUNK),
                )
                .await?;
            if ids.is_empty() {
                break;
            }
            for row in ids {
                let id: i64 = get(&row, "id")?;
                merge_or_hash(db, id).await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (index, table) in [
            ("idx_webhook_log_dead_letter", "webhook_log"),
            ("idx_dead_letters_last", "dead_letters"),
            ("idx_dead_letters_body", "dead_letters"),
        ] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(Alias::new(table))
                        .to_owned(),
                )
                .await?;
        }
        let db = manager.get_connection();
        for column in ["last_received_at", "times_received", "body_hash"] {
            db.execute_unprepared(&format!("ALTER TABLE dead_letters DROP COLUMN {column}"))
                .await?;
        }
        Ok(())
    }
}

/// Hashes one dead letter's body; if an earlier row holds the same body, counts this one
/// there, points its log rows at it and removes it.
async fn merge_or_hash(db: &SchemaManagerConnection<'_>, id: i64) -> Result<(), DbErr> {
    let Some(row) = db
        .query_one(
            Query::select()
                .columns([DeadLetters::ReceivedAt, DeadLetters::RawBody])
                .from(DeadLetters::Table)
                .and_where(Expr::col(DeadLetters::Id).eq(id)),
        )
        .await?
    else {
        return Ok(());
    };
    let received_at: i64 = get(&row, "received_at")?;
    let body: Vec<u8> = get(&row, "raw_body")?;
    let hash = hex::encode(Sha256::digest(&body));
    let keeper = db
        .query_one(
            Query::select()
                .column(DeadLetters::Id)
                .from(DeadLetters::Table)
                .and_where(Expr::col(DeadLetters::BodyHash).eq(hash.as_str())),
        )
        .await?
        .map(|row| get::<i64>(&row, "id"))
        .transpose()?;
    let Some(keeper) = keeper else {
        db.execute(
            Query::update()
                .table(DeadLetters::Table)
                .value(DeadLetters::BodyHash, hash)
                .and_where(Expr::col(DeadLetters::Id).eq(id)),
        )
        .await?;
        return Ok(());
    };
    db.execute(
        Query::update()
            .table(DeadLetters::Table)
            .value(
                DeadLetters::TimesReceived,
                Expr::col(DeadLetters::TimesReceived).add(1),
            )
            .value(
                DeadLetters::LastReceivedAt,
                Expr::case(
                    Expr::col(DeadLetters::LastReceivedAt).lt(received_at),
                    received_at,
                )
                .finally(Expr::col(DeadLetters::LastReceivedAt)),
            )
            .and_where(Expr::col(DeadLetters::Id).eq(keeper)),
    )
    .await?;
    db.execute(
        Query::update()
            .table(WebhookLog::Table)
            .value(WebhookLog::DeadLetterId, keeper)
            .and_where(Expr::col(WebhookLog::DeadLetterId).eq(id)),
    )
    .await?;
    db.execute(
        Query::delete()
            .from_table(DeadLetters::Table)
            .and_where(Expr::col(DeadLetters::Id).eq(id)),
    )
    .await?;
    Ok(())
}
