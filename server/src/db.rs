//! Opening the database (SQLite in WAL mode with full fsync, or a PostgreSQL pool) and
//! applying migrations.

use crate::config::{Backend, DatabaseSettings};
use crate::webhook::inbox;
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
    sqlite_pool(settings, 8).await
}

/// A pool of connections to the SQLite file (see [`sqlite_pragmas`]), each with the
/// webhook's inbox attached (`webhook::inbox`).
async fn sqlite_pool(
    settings: &DatabaseSettings,
    max_connections: u32,
) -> Result<DatabaseConnection, DbSetupError> {
    let (options, pool) = sqlite_pool_options(settings, max_connections)?;
    let pool = pool
        .connect_with(options)
        .await
        .map_err(DbSetupError::Sqlite)?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// How [`sqlite_pool`] connects: the options of each connection, and the pool's.
fn sqlite_pool_options(
    settings: &DatabaseSettings,
    max_connections: u32,
) -> Result<(SqliteConnectOptions, SqlitePoolOptions), DbSetupError> {
    let options = SqliteConnectOptions::from_str(settings.url())
        .map_err(DbSetupError::Sqlite)?
        .create_if_missing(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let options = sqlite_pragmas()
        .into_iter()
        .fold(options, |options, (name, value)| {
            options.pragma(name, value)
        });
    let inbox = settings.sqlite_path.as_deref().map(inbox::path_for);
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _| {
            let inbox = inbox.clone();
            Box::pin(async move {
                match inbox {
                    Some(inbox) => inbox::attach(conn, &inbox).await,
                    None => Ok(()),
                }
            })
        });
    Ok((options, pool))
}

/// How every connection to the SQLite file is set up, the pools' (sqlx) and the
/// webhook's own (`rusqlite`, see [`open_appender`]) alike: WAL, so pages read while a
/// delivery is written; `FULL` sync, so a commit survives power loss, not only a crash
/// (what "acknowledged means stored" needs, and what lets the processor delete from
/// the inbox what it has committed); foreign keys enforced.
fn sqlite_pragmas() -> [(&'static str, &'static str); 3] {
    [
        ("journal_mode", "WAL"),
        ("synchronous", "FULL"),
        ("foreign_keys", "ON"),
    ]
}

/// How long a connection waits for SQLite's write lock before it gives up.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// One of the webhook's own connections to an SQLite file (the inbox, or the main file
/// for reading), set up as the pool's.
fn open_sqlite(
    path: &std::path::Path,
    flags: rusqlite::OpenFlags,
) -> Result<rusqlite::Connection, rusqlite::Error> {
    let conn = rusqlite::Connection::open_with_flags(
        path,
        flags | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(SQLITE_BUSY_TIMEOUT)?;
    for (name, value) in sqlite_pragmas() {
        conn.pragma_update(None, name, value)?;
    }
    Ok(conn)
}

/// The connection the delivery processor writes with: on SQLite, one connection of its
/// own (the pool's turns at the write lock are the webhook writer's), opened at its
/// first use, so that SQLite's thread for it is started by the processor's thread and
/// shares its lower priority (`webhook::processor`); on PostgreSQL, the shared pool
/// (the processor turns `synchronous_commit` off per transaction).
pub fn connect_processor(
    settings: &DatabaseSettings,
    db: &DatabaseConnection,
) -> Result<DatabaseConnection, DbSetupError> {
    match settings.backend {
        Backend::Postgres => Ok(db.clone()),
        Backend::Sqlite => {
            let (options, pool) = sqlite_pool_options(settings, 1)?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(
                pool.connect_lazy_with(options),
            ))
        }
    }
}

/// The webhook's own connections for appending deliveries (SQLite; see
/// `webhook::sqlite_append`): the inbox, to write, and the main file, to look up
/// eventIds already stored. Opened after the migrations, so the files and their tables
/// exist.
pub fn open_appender(
    settings: &DatabaseSettings,
) -> Result<Option<crate::webhook::sqlite_append::Appender>, DbSetupError> {
    use rusqlite::OpenFlags;
    let (Backend::Sqlite, Some(path)) = (&settings.backend, &settings.sqlite_path) else {
        return Ok(None);
    };
    let inbox = open_sqlite(&inbox::path_for(path), OpenFlags::SQLITE_OPEN_READ_WRITE)
        .map_err(DbSetupError::Appender)?;
    let main =
        open_sqlite(path, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(DbSetupError::Appender)?;
    crate::webhook::sqlite_append::Appender::start(inbox, main)
        .map(Some)
        .map_err(DbSetupError::Appender)
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
        // The writer opens an existing file only (the server's pool makes it).
        rusqlite::Connection::open(&path).unwrap();
        let writer = open_sqlite(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE).unwrap();
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
