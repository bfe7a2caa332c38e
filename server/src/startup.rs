//! Building the application: database, router, listener. `Application::build` binds its
//! own listener, so tests run the real server on port 0.

use crate::config::Settings;
use crate::db;
use crate::live::LiveFeed;
use crate::webhook::{self, signature::Verifier};
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
use tower_http::services::ServeDir;
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
    /// Log rows for requests that stored nothing, a second.
    pub log_budget: Arc<crate::budget::PerSecond>,
    /// Dead letters kept, a second.
    pub dead_letter_budget: Arc<crate::budget::PerSecond>,
    /// WARN lines about refused requests and logins, a second.
    pub warn_budget: Arc<crate::budget::PerSecond>,
    /// Webhook bodies arriving at once, in KiB (see `webhook::BODIES_IN_FLIGHT_KIB`).
    pub webhook_bodies: Arc<tokio::sync::Semaphore>,
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
    /// What a connection may hold: head and body deadlines, how many at once.
    pub connections: crate::config::ConnectionLimits,
    /// Proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The https address browsers use, when configured: login cookies are then `Secure`.
    pub public_url: Option<crate::config::PublicUrl>,
    /// Where login passwords are checked, one at a time with a bounded queue.
    pub password_hashing: Arc<crate::auth::PasswordHashing>,
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
            dead_letter_budget: Arc::default(),
            warn_budget: Arc::default(),
            webhook_bodies: Arc::new(tokio::sync::Semaphore::new(webhook::BODIES_IN_FLIGHT_KIB)),
            engine: settings.engine,
            live: live.clone(),
            timezone: settings.timezone,
            metrics: Arc::default(),
            metrics_token: settings.metrics_token.clone(),
            login_limits: Arc::default(),
            demo: settings.demo,
            connections: settings.connections,
            public_url: settings.public_url.clone(),
            password_hashing: Arc::default(),
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
        if let Some(verifier) = &state.verifier {
            tracing::info!(
                key_fingerprint = %verifier.fingerprint(),
                "webhook signatures are checked with the management token whose SHA-256 begins with key_fingerprint"
            );
        }
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
        let limits = self.state.connections;
        let metrics = self.metrics_listener.map(|listener| {
            let router = Router::new()
                .route("/metrics", get(crate::metrics::open))
                .with_state(self.state.clone());
            let mut stopped = stopped.clone();
            let trusted = self.state.trusted_proxies.clone();
            tokio::spawn(crate::serve::serve(
                listener,
                router,
                limits,
                trusted,
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            ))
        });
        let trusted = self.state.trusted_proxies.clone();
        let served = crate::serve::serve(self.listener, self.router, limits, trusted, async move {
            shutdown_signal().await;
            feed.close();
            let _ = stop.send(true);
        })
        .await;
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
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

/// The request id (set by `SetRequestIdLayer`) in every request's log span, with the
/// method and the path cut to [`LOGGED_PATH_CHARS`]: a log line is not a place for a
/// stranger's 60 KB URL.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let method = request.method().as_str();
    let path = request.uri().path();
    tracing::info_span!(
        "request",
        method = %&method[..method.floor_char_boundary(16)],
        path = %&path[..path.floor_char_boundary(LOGGED_PATH_CHARS)],
        request_id = %id,
    )
}

/// Bytes of a request's path that its log span shows.
const LOGGED_PATH_CHARS: usize = 256;

/// A request id a client may choose: at most 64 letters, digits, `.`, `_` or `-`.
fn plain_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Keeps a client's (or proxy's) `X-Request-Id` only when it is one plain id; anything
/// else is dropped, and `SetRequestIdLayer` then makes one up, so an id cannot carry a
/// payload into the logs or the response.
async fn only_plain_request_ids(mut request: Request) -> Request {
    let ids = request.headers().get_all(REQUEST_ID);
    let mut ids = ids.iter();
    let keep =
        matches!((ids.next(), ids.next()), (Some(id), None) if plain_request_id(id.as_bytes()));
    if !keep {
        request.headers_mut().remove(REQUEST_ID);
    }
    request
}

/// Bodies `/login` and `/setup` accept at most: a name and one or two passwords.
pub const FORM_BODY_BYTES: usize = 8 * 1024;

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
    let pkg_dir =
        std::path::Path::new(options.site_root.as_ref()).join(options.site_pkg_dir.as_ref());
    let body_timeout = state.connections.body_timeout;
    let fallback_context = state.server_context();
    let pkg_route = format!("/{}", options.site_pkg_dir);
    let router = Router::new()
        .route(
            "/webhooks/smartcar",
            // The handler reads its body itself, under its own limits.
            post(webhook::receive),
        )
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::metrics::with_token))
        .route("/live", get(crate::live::stream))
        .route(
            "/login",
            get(crate::auth::login::form)
                .post(crate::auth::login::submit)
                .layer(DefaultBodyLimit::max(FORM_BODY_BYTES)),
        )
        .route("/logout", post(crate::auth::login::logout))
        .route(
            "/setup",
            get(crate::auth::setup::show)
                .post(crate::auth::setup::create)
                .layer(DefaultBodyLimit::max(FORM_BODY_BYTES)),
        )
        // The browser code and stylesheet, straight from disk: a missing file is a plain
        // 404, not a page rendered for whoever asks.
        .nest_service(&pkg_route, ServeDir::new(pkg_dir))
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
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(
            move || provide_context(fallback_context.clone()), shell
        ))
        // Deny by default: only the open paths pass without a login or an API token.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::auth::guard::require_operator,
        ))
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::serve::body_deadline(body_timeout, request, next)
        }))
        // No line per 5xx answer: a stranger can cause those at will (a full hashing
        // queue, say); each cause logs its own, within a budget where a stranger causes it.
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(request_span)
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(axum::middleware::map_request(only_plain_request_ids))
        .with_state(state);
    with_security_headers(router)
}
