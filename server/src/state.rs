//! What the HTTP handlers share, built once at start-up (`startup`) and handed to every
//! request as axum's `State`.
//!
//! [`AppState`] is one `Arc`: cloning it for a request is a reference count, not a copy
//! of every setting. No handler sees all of it: each module declares the part it works
//! with (the webhook's [`Webhooks`], the login forms' and gates' [`AuthState`], the API's
//! [`Reads`], `/metrics`' [`Scrape`], the live feed, the database) and takes it with
//! `State<…>`; the `FromRef` impls below hand each its part. So this module depends on
//! the handlers' modules, and none of them on it.

use crate::config::ConnectionLimits;
use crate::http::api::Reads;
use crate::http::auth::AuthState;
use crate::http::live::LiveFeed;
use crate::http::metrics::{Metrics, Scrape};
use crate::webhook::endpoint::Webhooks;
use app::domain::sessions::EngineConfig;
use app::server::ServerContext;
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use sea_orm::DatabaseConnection;
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
    /// The zone for readers that name none.
    pub timezone: chrono_tz::Tz,
    pub metrics: Arc<Metrics>,
    /// Lets a scraper read `/metrics` on the main address.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Demo mode: simulated data, and pages say so.
    pub demo: bool,
    pub webhook: Arc<Webhooks>,
    pub auth: Arc<AuthState>,
    pub network: Network,
    /// Alert notifications: this process's sender, until the server runs it.
    pub notify: crate::config::NotifySettings,
}

/// Who stands in front of the server, and what a connection may hold: for serving.
pub struct Network {
    /// Head and body deadlines, how many connections at once.
    pub connections: ConnectionLimits,
    /// Proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
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

impl FromRef<AppState> for Arc<Webhooks> {
    fn from_ref(state: &AppState) -> Self {
        state.webhook.clone()
    }
}

impl FromRef<AppState> for Arc<AuthState> {
    fn from_ref(state: &AppState) -> Self {
        state.auth.clone()
    }
}

impl FromRef<AppState> for Arc<LiveFeed> {
    fn from_ref(state: &AppState) -> Self {
        state.live.clone()
    }
}

impl FromRef<AppState> for Reads {
    fn from_ref(state: &AppState) -> Self {
        Reads {
            db: state.db.clone(),
            engine: state.engine,
            timezone: state.timezone,
            notify_allow_private: state.notify.allow_private,
        }
    }
}

impl FromRef<AppState> for Scrape {
    fn from_ref(state: &AppState) -> Self {
        Scrape {
            metrics: state.metrics.clone(),
            db: state.db.clone(),
            token: state.metrics_token.clone(),
        }
    }
}
