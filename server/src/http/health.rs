//! `GET /healthz` (the process answers) and `GET /readyz` (it can serve: the database
//! answers and no migration is pending), open to anyone, for orchestrators and proxies.

use axum::extract::FromRef;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use sea_orm::DatabaseConnection;
use serde_json::json;

pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    DatabaseConnection: FromRef<S>,
{
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready to serve: the database answers and no migration is pending.
async fn readyz(State(db): State<DatabaseConnection>) -> Response {
    use migrations::MigratorTrait;
    let unreachable = |err: &dyn std::fmt::Display| {
        tracing::warn!(error = %err, "readiness check: the database did not answer");
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "status": "database unreachable" }),
        )
    };
    let (status, body) = match migrations::Migrator::get_pending_migrations(&db).await {
        Ok(pending) if pending.is_empty() => match crate::webhook::queue::backlog(&db).await {
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
            Err(err) => unreachable(&err),
        },
        Ok(pending) => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({
                "status": "migrations pending",
                "pending": pending.iter().map(|m| m.name().to_owned()).collect::<Vec<_>>(),
            }),
        ),
        Err(err) => unreachable(&err),
    };
    (status, Json(body)).into_response()
}
