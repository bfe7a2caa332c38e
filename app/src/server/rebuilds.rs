//! Rebuilding a derived table once after an upgrade: each table's row in `rebuilds` says
//! which version of its rule built it; the first start that finds an older one rebuilds
//! it, in one transaction that holds the table, so other processes neither rebuild it too
//! nor write to it meanwhile.

use super::entities::rebuilds;
use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait};

async fn current(db: &impl ConnectionTrait, name: &str, version: i32) -> Result<bool, DbErr> {
    let row = rebuilds::Entity::find_by_id(name).one(db).await?;
    Ok(row.is_some_and(|r| r.version >= version))
}

/// A write transaction that holds `table` (PostgreSQL: an exclusive lock; SQLite: the
/// write lock), if `name`'s rows were built by a version older than `version`; `None`
/// when they are current (checked again under the lock). Rebuild in it, then [`finish`].
pub async fn begin(
    db: &DatabaseConnection,
    name: &str,
    table: &str,
    version: i32,
) -> Result<Option<DatabaseTransaction>, DbErr> {
    if current(db, name, version).await? {
        return Ok(None);
    }
    let txn = super::begin_write(db).await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Postgres {
        txn.execute_unprepared(&format!("LOCK TABLE {table} IN EXCLUSIVE MODE"))
            .await?;
    }
    if current(&txn, name, version).await? {
        return Ok(None);
    }
    Ok(Some(txn))
}

/// Records that `name`'s rows are now built by `version`, and commits the rebuild.
pub async fn finish(txn: DatabaseTransaction, name: &str, version: i32) -> Result<(), DbErr> {
    rebuilds::Entity::delete_by_id(name).exec(&txn).await?;
    rebuilds::Entity::insert(rebuilds::ActiveModel {
        name: Set(name.to_owned()),
        version: Set(version),
    })
    .exec_without_returning(&txn)
    .await?;
    txn.commit().await
}
