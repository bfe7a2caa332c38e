//! Server-only code: database entities, queries, and the context that page rendering
//! and server functions share.

pub mod entities;
pub mod fleet;
pub mod sessions;

use crate::api::error::AppError;
use sea_orm::DatabaseConnection;

/// What server functions and server rendering need, provided as a Leptos context.
#[derive(Clone, Debug)]
pub struct ServerContext {
    pub db: DatabaseConnection,
    /// A management token is configured, so the webhook endpoint accepts deliveries.
    pub webhooks_enabled: bool,
    pub engine: crate::domain::sessions::EngineConfig,
}

pub fn context() -> Result<ServerContext, AppError> {
    leptos::prelude::use_context::<ServerContext>().ok_or_else(|| {
        tracing::error!("ServerContext was not provided to the Leptos handler");
        AppError::Internal
    })
}

/// Now, as the engine measures time.
pub fn now() -> Result<crate::domain::time::EpochMs, AppError> {
    crate::domain::time::EpochMs::from_datetime(chrono::Utc::now()).map_err(|_| {
        tracing::error!("the system clock is before 1970");
        AppError::Internal
    })
}
