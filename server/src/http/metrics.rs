//! `GET /metrics` in Prometheus text format: webhook requests by outcome, webhook
//! latency, charging sessions open, and database pool use.
//!
//! It is served only to a scraper that sends `Authorization: Bearer <CHARGELOG_METRICS_TOKEN>`
//! or on a separate listen address (`CHARGELOG_METRICS_ADDR`, typically localhost or a
//! private network); with neither configured, `/metrics` does not exist.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, PaginatorTrait, QueryFilter,
};
use secrecy::ExposeSecret;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabel {
    state: &'static str,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    webhooks: Family<OutcomeLabel, Counter>,
    latency: Histogram,
    sessions_charging: Gauge,
    pool: Family<PoolLabel, Gauge>,
    pool_max: Gauge,
    waiting: Gauge,
    waiting_age: Gauge,
    failed: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("chargelog");
        let webhooks = Family::<OutcomeLabel, Counter>::default();
        registry.register(
            "webhook_requests",
            "Requests to /webhooks/smartcar by what became of them",
            webhooks.clone(),
        );
        // 1 ms to about 16 s.
        let latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "webhook_duration_seconds",
            "Time to handle a webhook request, storage and commit included",
            latency.clone(),
        );
        let sessions_charging = Gauge::default();
        registry.register(
            "sessions_charging",
            "Charging sessions open (stored as charging)",
            sessions_charging.clone(),
        );
        let pool = Family::<PoolLabel, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database pool connections by state",
            pool.clone(),
        );
        let pool_max = Gauge::default();
        registry.register(
            "db_pool_max_connections",
            "The database pool's size limit",
            pool_max.clone(),
        );
        let waiting = Gauge::default();
        registry.register(
            "deliveries_waiting",
            "Stored deliveries whose readings and sessions are not applied yet",
            waiting.clone(),
        );
        let waiting_age = Gauge::default();
        registry.register(
            "deliveries_waiting_oldest_seconds",
            "How long the oldest waiting delivery has waited (0 when none waits)",
            waiting_age.clone(),
        );
        let failed = Gauge::default();
        registry.register(
            "deliveries_failed",
            "Stored deliveries that could not be processed (raw body kept, error recorded)",
            failed.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            waiting,
            waiting_age,
            failed,
            webhooks,
            latency,
            sessions_charging,
            pool,
            pool_max,
        }
    }
}

impl Metrics {
    /// One handled webhook request.
    pub fn webhook(&self, outcome: &str, took: Duration) {
        self.webhooks
            .get_or_create(&OutcomeLabel {
                outcome: outcome.to_owned(),
            })
            .inc();
        self.latency.observe(took.as_secs_f64());
    }

    async fn refresh(&self, db: &DatabaseConnection) -> Result<(), sea_orm::DbErr> {
        use app::server::entities::sessions;
        let charging = sessions::Entity::find()
            .filter(sessions::Column::Status.eq(app::domain::sessions::SessionStatus::Charging))
            .count(db)
            .await?;
        self.sessions_charging
            .set(i64::try_from(charging).unwrap_or(i64::MAX));
        let backlog = crate::webhook::queue::backlog(db).await?;
        self.waiting
            .set(i64::try_from(backlog.waiting).unwrap_or(i64::MAX));
        let now = crate::clock::now_ms();
        self.waiting_age.set(
            backlog
                .oldest_received_at
                .map_or(0, |at| (now - at).max(0) / 1000),
        );
        self.failed
            .set(i64::try_from(backlog.failed).unwrap_or(i64::MAX));
        let (size, idle, max) = match db.get_database_backend() {
            DbBackend::Sqlite => {
                let pool = db.get_sqlite_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            DbBackend::Postgres => {
                let pool = db.get_postgres_connection_pool();
                (
                    pool.size(),
                    pool.num_idle(),
                    pool.options().get_max_connections(),
                )
            }
            _ => (0, 0, 0),
        };
        let idle = u32::try_from(idle).unwrap_or(u32::MAX);
        self.pool
            .get_or_create(&PoolLabel { state: "idle" })
            .set(i64::from(idle));
        self.pool
            .get_or_create(&PoolLabel { state: "in_use" })
            .set(i64::from(size.saturating_sub(idle)));
        self.pool_max.set(i64::from(max));
        Ok(())
    }

    /// The text exposition, after reading the gauges that come from the database.
    pub async fn render(&self, db: &DatabaseConnection) -> String {
        if let Err(err) = self.refresh(db).await {
            tracing::warn!(error = %err, "metrics: could not read the database gauges");
        }
        let mut text = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if prometheus_client::encoding::text::encode(&mut text, &registry).is_err() {
            text.clear();
        }
        text
    }
}

fn exposition(text: String) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What `/metrics` works with (its part of the server's state).
#[derive(Clone)]
pub struct Scrape {
    pub metrics: Arc<Metrics>,
    pub db: DatabaseConnection,
    /// Lets a scraper read `/metrics` on the main address.
    pub token: Option<secrecy::SecretString>,
}

/// `/metrics` on the main address, for a scraper with the metrics token.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Scrape: axum::extract::FromRef<S>,
{
    axum::Router::new().route("/metrics", axum::routing::get(with_token))
}

/// `/metrics` on its own address (`CHARGELOG_METRICS_ADDR`), without a token.
pub fn open_routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Scrape: axum::extract::FromRef<S>,
{
    axum::Router::new().route("/metrics", axum::routing::get(open))
}

async fn with_token(State(state): State<Scrape>, headers: HeaderMap) -> Response {
    let Some(expected) = state.token.as_ref() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let matches = crate::secret::same_secret(given.as_bytes(), expected.expose_secret().as_bytes());
    if !matches {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the bearer token set in CHARGELOG_METRICS_TOKEN\n",
        )
            .into_response();
    }
    exposition(state.metrics.render(&state.db).await)
}

/// `/metrics` on the separate metrics address: no token (the address is the guard).
async fn open(State(state): State<Scrape>) -> Response {
    exposition(state.metrics.render(&state.db).await)
}
