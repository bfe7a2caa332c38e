//! Server-only code: database entities, queries, and the context that page rendering
//! and server functions share.

pub mod alerts;
pub mod entities;
pub mod events;
pub mod fleet;
pub mod fleet_energy;
pub mod fleet_search;
pub mod health;
pub mod island_preload;
pub mod notifications;
pub mod places;
pub mod pricing;
pub mod readiness;
pub mod rebuilds;
pub mod reports;
pub mod schedules;
pub mod sessions;
pub mod signals;
pub mod site_load;

use crate::api::error::AppError;
use sea_orm::{ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, TransactionTrait};

/// Begins a transaction that will write. On SQLite it takes the write lock first (a write
/// that changes nothing): a transaction that reads and then writes fails at once, without
/// waiting, when another connection wrote in between.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let txn = db.begin().await?;
    if txn.get_database_backend() == sea_orm::DbBackend::Sqlite {
        txn.execute_unprepared("UPDATE rebuilds SET version = version WHERE name = ''")
            .await?;
    }
    Ok(txn)
}

/// What server functions and server rendering need, provided as a Leptos context.
#[derive(Clone, Debug)]
pub struct ServerContext {
    pub db: DatabaseConnection,
    /// A management token is configured, so the webhook endpoint accepts deliveries.
    pub webhooks_enabled: bool,
    pub engine: crate::domain::sessions::EngineConfig,
    /// The zone for viewers whose browser has not told us theirs.
    pub timezone: chrono_tz::Tz,
    /// Demo mode: the data is simulated, and every page says so.
    pub demo: bool,
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

/// The Content-Security-Policy of a rendered page: scripts only from this server and the
/// page's own inline hydration scripts (by their nonce), WASM allowed to compile, nothing
/// framed, nothing loaded from elsewhere. Style attributes stay allowed (the state-of-charge
/// bars set their width that way).
pub fn page_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
         frame-ancestors 'none'"
    )
}

/// Sets the page's Content-Security-Policy header, with this response's nonce.
pub fn set_page_security_policy() {
    let Some(nonce) = leptos::nonce::use_nonce() else {
        return;
    };
    let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() else {
        return;
    };
    if let Ok(value) = http::HeaderValue::from_str(&page_security_policy(&nonce.to_string())) {
        response.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The value of the cookie called `name`, among all the request's `Cookie` headers: the
/// one parser of cookies, for the server's login session as for the zone.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
}
