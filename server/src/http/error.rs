//! The one error type of the server's HTTP answers outside the webhook (whose answers
//! are Smartcar's contract, `docs/API.md`): the JSON API, the CSV exports and the gates.
//! The body is `{"error": "…"}`; a 5xx says only what the client can act on (try again,
//! or nothing), never the cause, which goes to the log.

use app::wire::ApiErrorBody;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sea_orm::DbErr;

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    NotFound(String),
    #[error("invalid `{param}`: {message}")]
    BadRequest {
        param: std::borrow::Cow<'static, str>,
        message: String,
    },
    #[error("{0}")]
    Conflict(String),
    #[error("the body is larger than {0} bytes")]
    TooLarge(usize),
    #[error("send the body as application/json")]
    NotJson,
    #[error("the database is not reachable; try again shortly")]
    Unavailable,
    #[error("internal error")]
    Internal,
}

impl From<DbErr> for HttpError {
    fn from(err: DbErr) -> Self {
        tracing::error!(error = %err, "a database query failed");
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => HttpError::Unavailable,
            _ => HttpError::Internal,
        }
    }
}

impl IntoResponse for HttpError {
    fn into_response(self) -> Response {
        let status = match &self {
            HttpError::NotFound(_) => StatusCode::NOT_FOUND,
            HttpError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            HttpError::Conflict(_) => StatusCode::CONFLICT,
            HttpError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            HttpError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            HttpError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            HttpError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        (
            status,
            Json(ApiErrorBody {
                error: self.to_string(),
            }),
        )
            .into_response()
    }
}
