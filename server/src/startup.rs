//! Building the application: database, router, listener. `Application::build` binds its
//! own listener, so tests run the real server on port 0.

use crate::config::Settings;
use crate::db;
use crate::live::LiveFeed;
use crate::webhook::{self, signature::Verifier, MAX_BODY_BYTES};
use app::domain::sessions::EngineConfig;
use app::server::ServerContext;
use app::{shell, App};
use axum::extract::{DefaultBodyLimit, FromRef, Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use sea_orm::DatabaseConnection;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: DatabaseConnection,
    /// `None` when no management token is configured: webhooks are then refused.
    pub verifier: Option<Arc<Verifier>>,
    /// Deliveries refused for a missing or wrong `SC-Signature` since start.
    pub rejected_signatures: Arc<AtomicU64>,
    /// Limits log rows for refused requests.
    pub log_budget: Arc<webhook::LogBudget>,
    pub engine: EngineConfig,
    pub live: Arc<LiveFeed>,
    pub timezone: chrono_tz::Tz,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl AppState {
    fn server_context(&self) -> ServerContext {
        ServerContext {
            db: self.db.clone(),
            webhooks_enabled: self.verifier.is_some(),
            engine: self.engine,
            timezone: self.timezone,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] db::DbSetupError),
    #[error("could not listen on {addr}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
}

fn leptos_options(settings: &Settings, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(std::env::var("LEPTOS_OUTPUT_NAME").unwrap_or_else(|_| "chargelog".into()))
        .site_root(settings.site_root.display().to_string())
        .site_pkg_dir(std::env::var("LEPTOS_SITE_PKG_DIR").unwrap_or_else(|_| "pkg".into()))
        .site_addr(addr)
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
        let state = AppState {
            leptos_options: leptos_options(&settings, addr),
            db,
            verifier: settings
                .management_token
                .clone()
                .map(|t| Arc::new(Verifier::new(t))),
            rejected_signatures: Arc::new(AtomicU64::new(0)),
            log_budget: Arc::default(),
            engine: settings.engine,
            live: LiveFeed::new(),
            timezone: settings.timezone,
        };
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        // The options carry the address actually bound (port 0 resolved).
        self.state.leptos_options.site_addr
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let sweeper = tokio::spawn(crate::sweep::run(self.state.db.clone(), self.state.engine));
        let live = tokio::spawn(crate::live::run(
            self.state.live.clone(),
            self.state.db.clone(),
        ));
        let feed = self.state.live.clone();
        let served = axum::serve(self.listener, self.router)
            .with_graceful_shutdown(async move {
                shutdown_signal().await;
                feed.close();
            })
            .await;
        sweeper.abort();
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

async fn server_fn_handler(State(state): State<AppState>, request: Request) -> Response {
    let context = state.server_context();
    handle_server_fns_with_context(move || provide_context(context.clone()), request)
        .await
        .into_response()
}

async fn healthz() -> &'static str {
    "ok"
}

pub fn router(state: AppState) -> Router {
    let routes = generate_route_list(App);
    let context = state.server_context();
    let options = state.leptos_options.clone();
    Router::new()
        .route(
            "/webhooks/smartcar",
            post(webhook::receive).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/healthz", get(healthz))
        .route("/live", get(crate::live::stream))
        .merge(crate::api::routes())
        .route(
            "/api/{*fn_name}",
            get(server_fn_handler).post(server_fn_handler),
        )
        .leptos_routes_with_context(
            &state,
            routes,
            move || provide_context(context.clone()),
            move || shell(options.clone()),
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
