//! Opening the database (SQLite in WAL mode with full fsync, or a PostgreSQL pool) and
//! applying migrations.

use crate::config::{Backend, DatabaseSettings};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, SqlxSqliteConnector};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::str::FromStr;
use std::time::Duration;

/// How long a request waits for a connection before the database counts as down. Well
/// under Smartcar's 15 s, so a 503 goes back in time for it to retry.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum DbSetupError {
    #[error("could not create the folder {path} for the SQLite database")]
    CreateDir {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("could not open the SQLite database")]
    Sqlite(#[source] sqlx::Error),
    #[error("could not connect to the database")]
    Connect(#[source] DbErr),
    #[error("could not open the SQLite database for the webhook's writer")]
    Appender(#[source] rusqlite::Error),
    #[error("a database migration failed")]
    Migrate(#[source] DbErr),
    #[error("could not take the migration lock on PostgreSQL")]
    MigrationLock(#[source] sqlx::Error),
    #[error("could not fill the fleet table's rows")]
    FleetRows(#[source] DbErr),
    #[error("could not count the last days' deliveries for the data health page")]
    HealthCounts(#[source] DbErr),
}

pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbSetupError> {
    match settings.backend {
        Backend::Sqlite => connect_sqlite(settings).await,
        Backend::Postgres => {
            let mut options = ConnectOptions::new(settings.url().to_owned());
            options
                .max_connections(16)
                .min_connections(1)
                .connect_timeout(ACQUIRE_TIMEOUT)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .sqlx_logging(false);
            Database::connect(options)
                .await
                .map_err(DbSetupError::Connect)
        }
    }
}

async fn connect_sqlite(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbSetupError> {
    if let Some(dir) = settings
        .sqlite_path
        .as_deref()
        .and_then(std::path::Path::parent)
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir).map_err(|source| DbSetupError::CreateDir {
            path: dir.display().to_string(),
            source,
        })?;
    }
    // WAL lets pages read while a webhook writes; FULL sync makes a commit survive power
    // loss, not only a crash, which is what "acknowledged means stored" needs.
    let options = sqlite_options(settings, Sync::Full)?;
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(DbSetupError::Sqlite)?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// How every connection to the SQLite file is set up, the pool's (sqlx) and the
/// webhook's own (`rusqlite`, see [`open_appender`]) alike: WAL, so pages read while a
/// delivery is written; the given sync level (`FULL` wherever a commit acknowledges a
/// delivery: it then survives power loss, not only a crash); foreign keys enforced.
fn sqlite_pragmas(synchronous: Sync) -> [(&'static str, &'static str); 3] {
    [
        ("journal_mode", "WAL"),
        (
            "synchronous",
            match synchronous {
                Sync::Full => "FULL",
                Sync::Normal => "NORMAL",
            },
        ),
        ("foreign_keys", "ON"),
    ]
}

/// How long a connection waits for SQLite's write lock before it gives up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether a commit waits for the disk (see [`sqlite_pragmas`]).
#[derive(Debug, Clone, Copy)]
enum Sync {
    Full,
    Normal,
}

fn sqlite_options(
    settings: &DatabaseSettings,
    synchronous: Sync,
) -> Result<SqliteConnectOptions, DbSetupError> {
    let options = SqliteConnectOptions::from_str(settings.url())
        .map_err(DbSetupError::Sqlite)?
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    Ok(sqlite_pragmas(synchronous)
        .into_iter()
        .fold(options, |options, (name, value)| {
            options.pragma(name, value)
        }))
}

/// The webhook's own connection to the SQLite file, set up as the pool's.
fn open_sqlite_writer(path: &std::path::Path) -> Result<rusqlite::Connection, rusqlite::Error> {
    use rusqlite::OpenFlags;
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    for (name, value) in sqlite_pragmas(Sync::Full) {
        conn.pragma_update(None, name, value)?;
    }
    Ok(conn)
}

/// The connection the delivery processor writes with. On SQLite, one connection whose
/// commits do not wait for the disk (`synchronous=NORMAL`): what it writes is derived
/// from deliveries already made durable, and the next durable commit of the webhook
/// writes it out too (WAL frames reach the disk in order). On PostgreSQL, the shared
/// pool (the processor turns `synchronous_commit` off per transaction).
pub async fn connect_processor(
    settings: &DatabaseSettings,
    db: &DatabaseConnection,
) -> Result<DatabaseConnection, DbSetupError> {
    match settings.backend {
        Backend::Postgres => Ok(db.clone()),
        Backend::Sqlite => {
            let pool = SqlitePoolOptions::new()
                .max_connections(1)
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_with(sqlite_options(settings, Sync::Normal)?)
                .await
                .map_err(DbSetupError::Sqlite)?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
    }
}

/// The webhook's own connection for appending deliveries (SQLite; see
/// `webhook::sqlite_append`). Opened after the migrations, so the file and its tables exist.
pub fn open_appender(
    settings: &DatabaseSettings,
) -> Result<Option<crate::webhook::sqlite_append::Appender>, DbSetupError> {
    match (&settings.backend, &settings.sqlite_path) {
        (Backend::Sqlite, Some(path)) => open_sqlite_writer(path)
            .and_then(crate::webhook::sqlite_append::Appender::start)
            .map(Some)
            .map_err(DbSetupError::Appender),
        _ => Ok(None),
    }
}

/// The PostgreSQL advisory lock that lets one process at a time migrate.
const MIGRATION_LOCK: i64 = 0x6368_6172_6765_6c67; // "chargelg"

/// Applies every pending migration. On PostgreSQL several processes may start at once
/// on one database: each holds an advisory lock while it migrates, so one applies the
/// migrations and the others then find none pending.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbSetupError> {
    if db.get_database_backend() != sea_orm::DbBackend::Postgres {
        return Migrator::up(db, None).await.map_err(DbSetupError::Migrate);
    }
    // A connection of its own, closed afterwards, which releases the lock even if a
    // migration fails.
    let mut lock = db
        .get_postgres_connection_pool()
        .acquire()
        .await
        .map_err(DbSetupError::MigrationLock)?
        .detach();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut lock)
        .await
        .map_err(DbSetupError::MigrationLock)?;
    let migrated = Migrator::up(db, None).await.map_err(DbSetupError::Migrate);
    use sqlx::Connection;
    if let Err(err) = lock.close().await {
        tracing::warn!(error = %err, "could not close the migration lock's connection");
    }
    migrated
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The webhook's own connection is set up as the pool is (whose settings
    /// `ingest::sqlite_runs_in_wal_mode_with_full_sync` checks): WAL, and a commit that
    /// acknowledges a delivery waits for the disk (`synchronous=FULL`, 2).
    #[test]
    fn the_webhooks_own_connection_runs_wal_with_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pragmas.db");
        // The writer opens an existing file only (the server's migrations make it).
        rusqlite::Connection::open(&path).unwrap();
        let writer = open_sqlite_writer(&path).unwrap();
        let pragma = |name: &str| -> String {
            writer
                .query_row(&format!("PRAGMA {name}"), [], |row| {
                    row.get::<_, rusqlite::types::Value>(0)
                })
                .map(|value| match value {
                    rusqlite::types::Value::Text(t) => t,
                    rusqlite::types::Value::Integer(n) => n.to_string(),
                    other => format!("{other:?}"),
                })
                .unwrap()
        };
        assert_eq!(pragma("journal_mode"), "wal");
        assert_eq!(pragma("synchronous"), "2");
        assert_eq!(pragma("foreign_keys"), "1");
        assert_eq!(pragma("busy_timeout"), "10000");
    }
}
