//! Turns at the main file's write lock, where the database has one writer (SQLite):
//! the webhook's general path (`ingestor`) and the processor take it in order of
//! arrival, instead of polling for SQLite's lock through its busy timeout. The common
//! deliveries do not come here: they go to the inbox, a file with a lock of its own
//! (`inbox`). On PostgreSQL there are no turns ([`Gate::open`]): it takes concurrent
//! writers.

use std::sync::Arc;
use tokio::sync::{Mutex, OwnedMutexGuard};

/// Turns at writing, where the database has one writer (SQLite): the webhook's writer
/// and the processor take it in order of arrival instead of polling for SQLite's lock.
#[derive(Debug, Clone)]
pub struct Gate(Option<Arc<Mutex<()>>>);

impl Gate {
    pub fn exclusive() -> Self {
        Gate(Some(Arc::new(Mutex::new(()))))
    }

    /// No turns: the database takes concurrent writers (PostgreSQL).
    pub fn open() -> Self {
        Gate(None)
    }

    pub async fn enter(&self) -> Option<OwnedMutexGuard<()>> {
        match &self.0 {
            Some(lock) => Some(lock.clone().lock_owned().await),
            None => None,
        }
    }
}
