//! A dead letter is kept once per body: `body_hash` (the SHA-256 of the raw body, hex)
//! is unique, `times_received` counts its arrivals and `last_received_at` is the latest,
//! so a sender that repeats an unprocessable body adds to a count, not another copy.
//! Rows kept before this migration are hashed here; copies of one body merge into the
//! oldest, with their log rows pointing at it.

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

/// Rows hashed per query.
const CHUNK: u64 = 500;

fn get<T: TryGetable>(
    row: &sea_orm_migration::sea_orm::QueryResult,
    column: &str,
) -> Result<T, DbErr> {
    row.try_get("", column)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
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

        loop {
            let rows = db
                .query_all(
                    Query::select()
                        .columns([
                            DeadLetters::Id,
                            DeadLetters::ReceivedAt,
                            DeadLetters::RawBody,
                        ])
                        .from(DeadLetters::Table)
                        .and_where(Expr::col(DeadLetters::BodyHash).is_null())
                        .order_by(DeadLetters::Id, Order::Asc)
                        .limit(CHUNK),
                )
                .await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let id: i64 = get(&row, "id")?;
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
                    continue;
                };
                // A copy of an earlier body: counted there, then gone.
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
            }
        }

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
        // `chargelog prune` removes dead letters by their latest arrival.
        manager
            .create_index(
                Index::create()
                    .name("idx_dead_letters_last")
                    .table(DeadLetters::Table)
                    .col(DeadLetters::LastReceivedAt)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for index in ["idx_dead_letters_last", "idx_dead_letters_body"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(index)
                        .table(DeadLetters::Table)
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
