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
use axum::http::{HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Json;
use axum::Router;
use leptos::prelude::*;
use leptos_axum::{generate_route_list, handle_server_fns_with_context, LeptosRoutes};
use sea_orm::DatabaseConnection;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use tokio::net::TcpListener;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::RequestBodyTimeoutLayer;
use tower_http::trace::TraceLayer;

/// Each request's id: kept from the client (a proxy's) when sent, made up otherwise, and
/// returned in the response.
const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// What every handler shares. Cloned for each request (axum's `State`), so it is one
/// `Arc`: a clone is a reference count, not a copy of every setting.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
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
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Lets a scraper read `/metrics` on the main address.
    pub metrics_token: Option<secrecy::SecretString>,
    pub login_limits: Arc<crate::auth::login::LoginLimits>,
    /// The one-time code that creates the first account, while none exists.
    pub setup: Arc<crate::auth::setup::SetupCode>,
    /// Demo mode: simulated data, and pages say so.
    pub demo: bool,
    /// How deliveries are committed (batched on SQLite).
    pub ingestor: crate::webhook::writer::Ingestor,
    /// How long a request's body may take to arrive.
    pub client_timeout: std::time::Duration,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
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
            demo: self.demo,
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
    /// The separate `/metrics` address, when configured.
    metrics_listener: Option<TcpListener>,
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
        let db_for_setup = db.clone();
        let processor_db = db::connect_processor(&settings.database, &db).await?;
        let appender = db::open_appender(&settings.database)?;
        let live = LiveFeed::new();
        let state = AppState(Arc::new(Shared {
            leptos_options: leptos_options(&settings, addr),
            db,
            verifier: settings
                .management_token
                .clone()
                .map(|t| Arc::new(Verifier::new(t))),
            rejected_signatures: Arc::new(AtomicU64::new(0)),
            log_budget: Arc::default(),
            engine: settings.engine,
            live: live.clone(),
            timezone: settings.timezone,
            metrics: Arc::default(),
            metrics_token: settings.metrics_token.clone(),
            login_limits: Arc::default(),
            demo: settings.demo,
            client_timeout: settings.client_timeout,
            ingestor: crate::webhook::writer::Ingestor::start(
                &db_for_setup,
                appender,
                processor_db,
                settings.engine,
                live,
            ),
            trusted_proxies: Arc::new(settings.trusted_proxies.clone()),
            setup: Arc::new(crate::auth::setup::SetupCode::new(
                match crate::auth::user_count(&db_for_setup).await {
                    Ok(0) => Some(crate::auth::new_secret()),
                    _ => None,
                },
            )),
        }));
        if let Some(code) = state.setup.peek() {
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
                tokio::spawn(crate::demo::run(
                    state.db.clone(),
                    format!("http://{addr}/webhooks/smartcar"),
                    Verifier::new(token),
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
        Ok(Self {
            listener,
            metrics_listener,
            router,
            state,
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
        let sweeper = tokio::spawn(crate::sweep::run(self.state.db.clone(), self.state.engine));
        let live = tokio::spawn(crate::live::run(
            self.state.live.clone(),
            self.state.db.clone(),
        ));
        let feed = self.state.live.clone();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let metrics = self.metrics_listener.map(|listener| {
            let router = Router::new()
                .route("/metrics", get(crate::metrics::open))
                .with_state(self.state.clone());
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    })
                    .await
            })
        });
        let served = serve(
            self.listener,
            self.router,
            self.state.client_timeout,
            async move {
                shutdown_signal().await;
                feed.close();
                let _ = stop.send(true);
            },
        )
        .await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        sweeper.abort();
        live.abort();
        served
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets requests in flight
/// finish. What `axum::serve` does, plus a deadline for a request's head: a client that
/// has not sent it `head_timeout` after connecting or after its last response is
/// disconnected (hyper's header read timeout, which `axum::serve` leaves off), so slow
/// clients cannot hold connections open. The body has its own deadline (see `router`).
async fn serve(
    listener: TcpListener,
    router: Router,
    head_timeout: std::time::Duration,
    shutdown: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;
    use hyper_util::service::TowerToHyperService;
    use tower::Layer;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(head_timeout);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, for instance: wait, do not spin.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let service = axum::Extension(axum::extract::ConnectInfo(peer)).layer(router.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
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

/// Ready to serve: the database answers and no migration is pending.
async fn readyz(State(state): State<AppState>) -> Response {
    use migrations::MigratorTrait;
    let (status, body) = match migrations::Migrator::get_pending_migrations(&state.db).await {
        Ok(pending) if pending.is_empty() => {
            match crate::webhook::store::backlog(&state.db).await {
                Ok(backlog) => (
                    StatusCode::OK,
                    json!({
                        "status": "ready",
                        // Stored deliveries whose readings and sessions are not applied
                        // yet; a number that keeps growing means processing lags.
                        "waiting": backlog.waiting,
                        "failed": backlog.failed,
                    }),
                ),
                Err(err) => {
                    tracing::warn!(error = %err, "readiness check: the database did not answer");
                    (
                        StatusCode::SERVICE_UNAVAILABLE,
                        json!({ "status": "database unreachable" }),
                    )
                }
            }
        }
        Ok(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "migrations pending",
                "pending": pending.iter().map(|m| m.name().to_owned()).collect::<Vec<_>>(),
            }),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check: the database did not answer");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "status": "database unreachable" }),
            )
        }
    };
    (status, Json(body)).into_response()
}

/// Headers on every response. Pages set their own Content-Security-Policy (with the
/// nonce of their inline scripts); everything else gets one that allows nothing.
fn with_security_headers(router: Router) -> Router {
    use axum::http::header;
    use axum::http::HeaderValue;
    use tower_http::set_header::SetResponseHeaderLayer;
    let always = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::overriding(name, HeaderValue::from_static(value))
    };
    router
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        ))
        .layer(always(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(always(header::X_FRAME_OPTIONS, "DENY"))
        .layer(always(header::REFERRER_POLICY, "same-origin"))
        .layer(always(
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
}

/// The request id (set by `SetRequestIdLayer`) in every request's log span.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = %id,
    )
}

/// The UI's routes, generated once per process. Generating them runs the app with
/// resource loading suppressed process-wide (leptos#4773): a page rendering at that moment
/// would wait forever. Once, before any router exists, nothing renders meanwhile.
pub fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> =
        std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let context = state.server_context();
    let options = state.leptos_options.clone();
    let router = Router::new()
        .route(
            "/webhooks/smartcar",
            post(webhook::receive).layer(DefaultBodyLimit::max(MAX_BODY_BYTES)),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::with_token))
        .route("/live", get(crate::live::stream))
        .route(
            "/login",
            get(crate::auth::login::form).post(crate::auth::login::submit),
        )
        .route("/logout", post(crate::auth::login::logout))
        .route(
            "/setup",
            get(crate::auth::setup::show).post(crate::auth::setup::create),
        )
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
        // Deny by default: only the open paths pass without a login or an API token.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::guard::require_operator,
        ))
        .layer(RequestBodyTimeoutLayer::new(state.client_timeout))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state);
    with_security_headers(router)
}
