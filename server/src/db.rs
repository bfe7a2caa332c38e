//! Opening the database (SQLite in WAL mode with full fsync, or a PostgreSQL pool) and
//! applying migrations.

use crate::config::{Backend, DatabaseSettings};
use migrations::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, Database, DatabaseConnection, DbErr, SqlxSqliteConnector};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
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
    let options = sqlite_options(settings, SqliteSynchronous::Full)?;
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(DbSetupError::Sqlite)?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

fn sqlite_options(
    settings: &DatabaseSettings,
    synchronous: SqliteSynchronous,
) -> Result<SqliteConnectOptions, DbSetupError> {
    Ok(SqliteConnectOptions::from_str(settings.url())
        .map_err(DbSetupError::Sqlite)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10)))
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
                .connect_with(sqlite_options(settings, SqliteSynchronous::Normal)?)
                .await
                .map_err(DbSetupError::Sqlite)?;
            Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
        }
    }
}

/// The webhook's own connection for appending deliveries (SQLite; see
/// `webhook::append`). Opened after the migrations, so the file and its tables exist.
pub fn open_appender(
    settings: &DatabaseSettings,
) -> Result<Option<crate::webhook::sqlite_append::Appender>, DbSetupError> {
    match (&settings.backend, &settings.sqlite_path) {
        (Backend::Sqlite, Some(path)) => crate::webhook::sqlite_append::Appender::open(path)
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
