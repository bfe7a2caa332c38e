//! The inbox (SQLite): where the webhook's fast path appends deliveries, in a file of
//! its own beside the database (`chargelog.db` → `chargelog.db.inbox`).
//!
//! SQLite has one write lock per file. With the deliveries appended to the main file,
//! every acknowledgement waited for the processor's turn at that lock (readings, latest
//! state, sessions: milliseconds), and the processor's turns were cut short to let
//! them through. In a file of its own, the appender (`sqlite_append`) takes a lock that
//! no other writer takes (it deletes, too, what the processor has moved out), and commits
//! with a full sync as before: an acknowledged delivery is on disk. The processor applies
//! at its own pace.
//!
//! Every SQLite connection of the server attaches the inbox as `inbox` ([`attach`]).
//! The processor, at the start of its turn and in its own transaction, copies the oldest
//! rows of `inbox.pending` into `deliveries` ([`take`]), where they wait as every other
//! delivery did (`processed_at` NULL), claims and applies, commits (with a full sync),
//! and only then has the copied rows deleted from the inbox (by the appender's thread,
//! `Appender::forget`, or [`forget`] where no server runs). A crash in between
//! leaves rows both in the inbox and in `deliveries`: the next copy skips them (`ON
//! CONFLICT (event_id) DO NOTHING`) and deletes them. Nothing is lost, nothing applied
//! twice; the pages, the readings' keys and the log refer to `deliveries` rows as before.
//!
//! Rows have the columns of `deliveries` that accepting sets (the fast path runs the
//! general path's insert into this table, see `sqlite_append`); an eventId is unique
//! here as there.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Statement};
use std::path::{Path, PathBuf};

/// The name every connection attaches the inbox under.
pub const SCHEMA: &str = "inbox";

/// The columns copied into `deliveries`: those the accept phase writes.
const COLUMNS: &str = "event_id, delivery_id, webhook_id, event_type, mode, vehicle_id, \
    triggers, delivered_at, received_at, signature, user_agent, outcome, signal_count, \
    raw_body, processed_at, process_error";

/// The inbox's one table, in the schema `{schema}` (`main` for the appender, which opens
/// the inbox as its database; `inbox` where it is attached). The ids only grow
/// (`AUTOINCREMENT`), so a log line's inbox id names one delivery.
pub fn create_table(schema: &str) -> String {
    format!(
        "CREATE TABLE IF NOT EXISTS {schema}.pending (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id TEXT NOT NULL UNIQUE,
            delivery_id TEXT,
            webhook_id TEXT,
            event_type TEXT NOT NULL,
            mode TEXT,
            vehicle_id TEXT,
            triggers TEXT NOT NULL,
            delivered_at INTEGER,
            received_at INTEGER NOT NULL,
            signature TEXT,
            user_agent TEXT,
            outcome TEXT NOT NULL,
            signal_count INTEGER NOT NULL,
            raw_body BLOB NOT NULL,
            processed_at INTEGER,
            process_error TEXT
        )"
    )
}

/// The inbox file of the SQLite database at `database`.
pub fn path_for(database: &Path) -> PathBuf {
    let mut name = database.file_name().unwrap_or_default().to_owned();
    name.push(".inbox");
    database.with_file_name(name)
}

/// Attaches the inbox on a new connection of the server's pools: WAL, like the main
/// file; the deletes made here need no full sync (a lost one is redone, see the module's
/// comment). Creates the inbox and its table if missing.
pub async fn attach(conn: &mut sqlx::SqliteConnection, file: &Path) -> Result<(), sqlx::Error> {
    use sqlx::Executor;
    sqlx::query("ATTACH DATABASE ?1 AS inbox")
        .bind(file.display().to_string())
        .execute(&mut *conn)
        .await?;
    conn.execute("PRAGMA inbox.journal_mode = WAL").await?;
    conn.execute("PRAGMA inbox.synchronous = NORMAL").await?;
    // Built from constants only: nothing in it comes from outside.
    conn.execute(sqlx::AssertSqlSafe(create_table(SCHEMA)))
        .await?;
    Ok(())
}

/// Copies up to `limit` of the inbox's oldest rows into `deliveries`, inside the
/// processor's transaction (which already holds the main file's write lock); returns
/// the last inbox id copied, for [`forget`] after the commit. Rows whose eventId is
/// already in `deliveries` (copied before a crash) are skipped.
pub async fn take(txn: &impl ConnectionTrait, limit: u64) -> Result<Option<i64>, DbErr> {
    let last = txn
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            "SELECT max(id) FROM (SELECT id FROM inbox.pending ORDER BY id LIMIT ?1)",
            [limit.into()],
        ))
        .await?
        .and_then(|row| row.try_get_by_index::<Option<i64>>(0).ok().flatten());
    if let Some(last) = last {
        txn.execute_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            format!(
                "INSERT INTO deliveries ({COLUMNS}) SELECT {COLUMNS} FROM inbox.pending \
                 WHERE id <= ?1 ORDER BY id ON CONFLICT (event_id) DO NOTHING"
            ),
            [last.into()],
        ))
        .await?;
    }
    Ok(last)
}

/// Deletes the inbox rows up to `last`, once their copies are committed.
pub async fn forget(db: &impl ConnectionTrait, last: i64) -> Result<(), DbErr> {
    db.execute_raw(Statement::from_sql_and_values(
        DbBackend::Sqlite,
        "DELETE FROM inbox.pending WHERE id <= ?1",
        [last.into()],
    ))
    .await
    .map(drop)
}

/// How many deliveries wait in the inbox, and when the oldest was received.
pub async fn waiting(db: &impl ConnectionTrait) -> Result<(u64, Option<i64>), DbErr> {
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Sqlite,
            "SELECT count(*), (SELECT received_at FROM inbox.pending ORDER BY id LIMIT 1) \
             FROM inbox.pending",
        ))
        .await?;
    let Some(row) = row else {
        return Ok((0, None));
    };
    let count: i64 = row.try_get_by_index(0)?;
    let oldest: Option<i64> = row.try_get_by_index(1)?;
    Ok((u64::try_from(count).unwrap_or(0), oldest))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhook::plan::{DeliveryRecord, Disposition};
    use app::domain::ids::{EventId, VehicleId};
    use app::domain::time::EpochMs;
    use sea_orm::TransactionTrait;

    fn record(event_id: &str) -> DeliveryRecord {
        DeliveryRecord {
            event_id: Some(EventId::parse(event_id).unwrap()),
            delivery_id: None,
            webhook_id: None,
            event_type: "VEHICLE_STATE".to_owned(),
            mode: Some("LIVE".to_owned()),
            vehicle_id: Some(VehicleId::parse("vehicle-1").unwrap()),
            triggers: vec![],
            delivered_at: None,
            received_at: EpochMs::new(1_700_000_000_000).unwrap(),
            signature: None,
            user_agent: None,
            raw_body: b"{}".to_vec(),
        }
    }

    /// A crash after the processor committed what it moved, before it deleted it from
    /// the inbox: the next turn moves nothing twice, and deletes the leftovers.
    #[tokio::test]
    async fn rows_moved_before_a_crash_are_moved_once() {
        use app::server::entities::deliveries;
        use sea_orm::{EntityTrait, PaginatorTrait};
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("inbox.db").display());
        let settings = crate::config::DatabaseSettings::parse(&url).unwrap();
        let db = crate::db::connect(&settings).await.unwrap();
        crate::db::migrate(&db).await.unwrap();
        let appender = crate::db::open_appender(&settings).unwrap().unwrap();
        let waiting = Disposition::Waiting { signal_count: 0 };
        let first = vec![(record("a"), waiting), (record("b"), waiting)];
        appender.append(first).await;

        let txn = db.begin().await.unwrap();
        let moved = take(&txn, 10).await.unwrap().unwrap();
        txn.commit().await.unwrap();
        // Crashed here: not forgotten. Another delivery arrives after the restart.
        appender.append(vec![(record("c"), waiting)]).await;
        assert_eq!(waiting_in(&db).await, 3);

        let txn = db.begin().await.unwrap();
        let last = take(&txn, 10).await.unwrap().unwrap();
        txn.commit().await.unwrap();
        assert!(last > moved);
        forget(&db, last).await.unwrap();
        assert_eq!(waiting_in(&db).await, 0);
        assert_eq!(deliveries::Entity::find().count(&db).await.unwrap(), 3);
    }

    async fn waiting_in(db: &sea_orm::DatabaseConnection) -> u64 {
        waiting(db).await.unwrap().0
    }

    #[test]
    fn the_inbox_sits_beside_the_database() {
        assert_eq!(
            path_for(Path::new("data/chargelog.db")),
            PathBuf::from("data/chargelog.db.inbox")
        );
        assert_eq!(path_for(Path::new("/x/y")), PathBuf::from("/x/y.inbox"));
    }
}
