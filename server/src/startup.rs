//! Building the application: database, state, router, listeners. `Application::build`
//! binds its own listener, so tests run the real server on port 0. This module only
//! composes: the state is `state`, each part of the router comes from its module's
//! `routes()`, the layers around it from `layers`, the serving loop from `serve`.

use crate::budget::PerSecond;
use crate::config::Settings;
use crate::db;
use crate::http::auth::login::LoginLimits;
use crate::http::auth::{AuthState, PasswordHashing};
use crate::http::live::LiveFeed;
use crate::http::metrics::Metrics;
use crate::http::{api, assets, auth, export, forms, health, layers, live, metrics, pages, serve};
use crate::state::{AppState, Network, Shared};
use crate::tasks;
use crate::webhook::endpoint::Webhooks;
use crate::webhook::{self, signature::Verifier};
use axum::middleware::from_fn_with_state;
use axum::Router;
use leptos::prelude::*;
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::net::TcpListener;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] db::DbSetupError),
    #[error("alert notifications: {0}")]
    Notify(String),
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    listener: TcpListener,
    /// The separate `/metrics` address, when configured.
    metrics_listener: Option<TcpListener>,
    router: Router,
    state: AppState,
    /// The alert notifications' sender, started with the server.
    notifier: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
}

fn leptos_options(settings: &Settings, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "chargelog".into()))
        .site_root(settings.site_root.display().to_string())
        .site_pkg_dir(std::env::var("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|_| "pkg".into()))
        .site_addr(addr)
        .hash_files(crate::http::assets::hashed_names())
        .hash_file(crate::http::assets::HASH_FILE.into())
        .build()
}

impl Application {
    /// Connects, migrates (a failed migration stops start-up), binds, and builds routes.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = db::connect(&settings.database).await?;
        db::migrate(&db).await?;
        Self::build_with_db(settings, db).await
    }

    pub async fn build_with_db(
        settings: Settings,
        db: DatabaseConnection,
    ) -> Result<Self, StartupError> {
        let listener =
            TcpListener::bind(settings.addr)
                .await
                .map_err(|source| StartupError::Bind {
                    addr: settings.addr,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| StartupError::Bind {
            addr: settings.addr,
            source,
        })?;
        // Rows a migration or a new rule left unfilled (none, after the first start).
        let filled =
            app::server::fleet::refresh_outdated(&db, &settings.engine, crate::clock::now())
                .await
                .map_err(db::DbSetupError::FleetRows)?;
        if filled > 0 {
            tracing::info!(vehicles = filled, "filled the fleet table's rows");
        }
        // The fleet's energy sums, when they were counted by an older rule.
        let counted = app::server::fleet_energy::rebuild_if_outdated(&db)
            .await
            .map_err(db::DbSetupError::FleetRows)?;
        if counted > 0 {
            tracing::info!(sessions = counted, "rebuilt the fleet's energy sums");
        }
        // The data health page's delivery counts, after the upgrade that brought them.
        let counted =
            app::server::health::rebuild_if_outdated(&db, crate::clock::now().as_millis())
                .await
                .map_err(db::DbSetupError::HealthCounts)?;
        if counted > 0 {
            tracing::info!(
                deliveries = counted,
                "counted the last days' deliveries for data health"
            );
        }
        let processor_db = db::connect_processor(&settings.database, &db)?;
        let appender = db::open_appender(&settings.database)?;
        let live = LiveFeed::new();
        let setup_code = match auth::user_count(&db).await {
            Ok(0) => Some(auth::new_secret()),
            _ => None,
        };
        let leptos_options = leptos_options(&settings, addr);
        let metrics = Arc::<Metrics>::default();
        let warn_budget = Arc::<PerSecond>::default();
        let trusted_proxies = Arc::new(settings.trusted_proxies.clone());
        let webhook = Webhooks {
            db: db.clone(),
            verifier: settings
                .management_token
                .clone()
                .map(|t| Arc::new(Verifier::new(t))),
            rejected_signatures: Arc::new(AtomicU64::new(0)),
            log_budget: PerSecond::default(),
            dead_letter_budget: PerSecond::default(),
            warn_budget: warn_budget.clone(),
            bodies: tokio::sync::Semaphore::new(webhook::endpoint::BODIES_IN_FLIGHT_KIB),
            ingestor: webhook::ingestor::Ingestor::start(
                &db,
                appender,
                processor_db,
                settings.engine,
                live.clone(),
            ),
            live: live.clone(),
            metrics: metrics.clone(),
        };
        let auth = AuthState {
            db: db.clone(),
            limits: LoginLimits::default(),
            setup: Arc::new(auth::setup::SetupCode::new(setup_code)),
            password_hashing: PasswordHashing::default(),
            trusted_proxies: trusted_proxies.clone(),
            public_url: settings.public_url.clone(),
            warn_budget,
            output_name: leptos_options.output_name.to_string(),
        };
        let state = AppState::new(Shared {
            leptos_options,
            db,
            engine: settings.engine,
            live,
            timezone: settings.timezone,
            metrics,
            metrics_token: settings.metrics_token.clone(),
            demo: settings.demo,
            webhook: Arc::new(webhook),
            auth: Arc::new(auth),
            network: Network {
                connections: settings.connections,
                trusted_proxies,
            },
            notify: settings.notify.clone(),
        });
        if let Some(verifier) = &state.webhook.verifier {
            tracing::info!(
                key_fingerprint = %verifier.fingerprint(),
                "webhook signatures are checked with the management token whose SHA-256 begins with key_fingerprint"
            );
        }
        if let Some(code) = state.auth.setup.peek() {
            tracing::warn!(
                "no operator account exists yet. Create the first one at \
                 http://{addr}/setup?code={code} (works once, until an account exists; a new \
                 link each start), or with `chargelog user add <name>`. There is no default password."
            );
        }
        if settings.demo {
            if let Some(token) = settings.management_token.clone() {
                tracing::warn!(
                    "demo mode: this server shows simulated vehicles. Do not point real webhooks at it"
                );
                tokio::spawn(tasks::demo::run(
                    state.db.clone(),
                    format!("http://{addr}/webhooks/smartcar"),
                    Verifier::new(token),
                    settings.timezone,
                ));
            }
        }
        let metrics_listener = match settings.metrics_addr {
            None => None,
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| StartupError::Bind { addr, source })?,
            ),
        };
        let router = router(state.clone());
        let sender = crate::notify::Sender::new(state.db.clone(), settings.notify.clone())
            .await
            .map_err(StartupError::Notify)?;
        Ok(Self {
            listener,
            metrics_listener,
            router,
            state,
            notifier: Box::pin(crate::notify::run(sender)),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // The options carry the address actually bound (port 0 resolved).
        self.state.leptos_options.site_addr
    }

    /// The bound metrics address, when one is configured.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = tokio::spawn(tasks::sweep::run(self.state.db.clone(), self.state.engine));
        let pricer = tokio::spawn(tasks::pricing::run(
            self.state.db.clone(),
            self.state.timezone,
        ));
        let readiness = tokio::spawn(tasks::readiness::run(self.state.db.clone()));
        let notifier = tokio::spawn(self.notifier);
        let live = tokio::spawn(live::run(self.state.live.clone(), self.state.db.clone()));
        let feed = self.state.live.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let limits = self.state.network.connections;
        let metrics = self.metrics_listener.map(|listener| {
            let router = metrics::open_routes().with_state(self.state.clone());
            let mut stopped = stopped.clone();
            let trusted = self.state.network.trusted_proxies.clone();
            tokio::spawn(serve::serve(
                listener,
                router,
                limits,
                trusted,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ))
        });
        let trusted = self.state.network.trusted_proxies.clone();
        let served = serve::serve(self.listener, self.router, limits, trusted, async move {
            shutdown_signal().await;
            feed.close();
            let _ = stop.send(true);
        })
        .await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        sweeper.abort();
        pricer.abort();
        readiness.abort();
        notifier.abort();
        live.abort();
        served
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The whole router: the open part (each route guards itself, or needs no guard) and
/// the operators' part behind its gates, then the layers every request passes through.
/// A path nothing serves falls to the operators' part: to a stranger it is the login
/// page or 401, never a hint of what exists.
pub fn router(state: AppState) -> Router {
    use auth::guard;
    let gate = state.auth.clone();
    let cross_site = || from_fn_with_state(gate.clone(), guard::refuse_cross_site);
    let open = Router::new()
        .merge(webhook::routes())
        .merge(health::routes())
        .merge(metrics::routes())
        .merge(auth::routes().route_layer(cross_site()))
        .merge(
            assets::routes(&state.leptos_options)
                .route_layer(from_fn_with_state(gate.clone(), guard::plain_paths_only)),
        );
    let api = api::routes()
        .merge(export::routes())
        .route_layer(from_fn_with_state(
            gate.clone(),
            guard::require_operator_or_token,
        ));
    let ui = pages::routes(&state, state.server_context())
        .merge(live::routes())
        .merge(forms::routes())
        .layer(from_fn_with_state(gate.clone(), guard::require_operator));
    let operators = api.merge(ui).layer(cross_site());
    let body_timeout = state.network.connections.body_timeout;
    layers::around(open.merge(operators).with_state(state), body_timeout)
}
