//! What the HTTP handlers share, built once at start-up (`startup`) and handed to every
//! request as axum's `State`.
//!
//! [`AppState`] is one `Arc`: cloning it for a request is a reference count, not a copy
//! of every setting. Its parts are grouped by who needs them: the webhook's
//! ([`Webhooks`]), the login and setup forms' ([`Logins`]), and what the network in
//! front of the server means ([`Network`]). A handler that needs only the database takes
//! `State<DatabaseConnection>` (see the `FromRef` impls below).

use crate::budget::PerSecond;
use crate::config::{ConnectionLimits, PublicUrl};
use crate::http::auth::login::LoginLimits;
use crate::http::auth::setup::SetupCode;
use crate::http::auth::PasswordHashing;
use crate::http::live::LiveFeed;
use crate::http::metrics::Metrics;
use crate::webhook::ingestor::Ingestor;
use crate::webhook::signature::Verifier;
use app::domain::sessions::EngineConfig;
use app::server::ServerContext;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sea_orm::DatabaseConnection;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> Self {
        Self(Arc::new(shared))
    }

    /// What the UI's server functions and pages are given (`app::server`).
    pub fn server_context(&self) -> ServerContext {
        ServerContext {
            db: self.db.clone(),
            webhooks_enabled: self.webhook.verifier.is_some(),
            engine: self.engine,
            timezone: self.timezone,
            demo: self.demo,
        }
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    pub engine: EngineConfig,
    pub live: Arc<LiveFeed>,
    pub timezone: chrono_tz::Tz,
    pub metrics: Arc<Metrics>,
    /// Lets a scraper read `/metrics` on the main address.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Demo mode: simulated data, and pages say so.
    pub demo: bool,
    /// WARN lines about what strangers cause (refused requests, logins), a second.
    pub warn_budget: Arc<PerSecond>,
    pub webhook: Webhooks,
    pub logins: Logins,
    pub network: Network,
}

/// What `POST /webhooks/smartcar` needs beyond the database.
pub struct Webhooks {
    /// `None` when no management token is configured: webhooks are then refused.
    pub verifier: Option<Arc<Verifier>>,
    /// Deliveries refused for a missing or wrong `SC-Signature` since start.
    pub rejected_signatures: Arc<AtomicU64>,
    /// Log rows for requests that stored nothing, a second.
    pub log_budget: PerSecond,
    /// Dead letters kept, a second.
    pub dead_letter_budget: PerSecond,
    /// Webhook bodies arriving at once, in KiB (see `webhook::endpoint::BODIES_IN_FLIGHT_KIB`).
    pub bodies: tokio::sync::Semaphore,
    /// How deliveries are committed (batched on SQLite).
    pub ingestor: Ingestor,
}

/// What the login and setup forms need beyond the database.
pub struct Logins {
    pub limits: LoginLimits,
    /// The one-time code that creates the first account, while none exists.
    pub setup: Arc<SetupCode>,
    /// Where passwords are checked, one at a time with a bounded queue.
    pub password_hashing: PasswordHashing,
}

/// What the network in front of the server means, and what a connection may hold.
pub struct Network {
    /// Head and body deadlines, how many connections at once.
    pub connections: ConnectionLimits,
    /// Proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The https address browsers use, when configured: login cookies are then `Secure`.
    pub public_url: Option<PublicUrl>,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}
