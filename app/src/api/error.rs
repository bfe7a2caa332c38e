//! The one error type server functions return. Its messages are safe to show: causes
//! stay in the server log.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    /// A parameter the page cannot use; the message names it.
    #[error("{0}")]
    BadRequest(String),
    #[error("The database is not reachable right now. Try again in a moment.")]
    Unavailable,
    #[error("Something went wrong on the server. The details are in its log.")]
    Internal,
    #[error("The request to the server failed: {0}")]
    Transport(String),
}

impl FromServerFnError for AppError {
    type Encoder = crate::api::codec::JsonText;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        AppError::Transport(value.to_string())
    }
}

#[cfg(feature = "ssr")]
impl From<sea_orm::DbErr> for AppError {
    fn from(err: sea_orm::DbErr) -> Self {
        use sea_orm::DbErr;
        tracing::error!(error = %err, "database query failed");
        match err {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => AppError::Unavailable,
            _ => AppError::Internal,
        }
    }
}

impl AppError {
    /// The HTTP status a server function answers this error with.
    pub fn status(&self) -> u16 {
        match self {
            AppError::NotFound(_) => 404,
            AppError::BadRequest(_) => 400,
            AppError::Unavailable => 503,
            AppError::Internal | AppError::Transport(_) => 500,
        }
    }
}

/// Gives a server function's error its HTTP status (a missing vehicle is a 404, not a
/// server failure), then passes the result on.
#[cfg(feature = "ssr")]
pub fn with_status<T>(result: Result<T, AppError>) -> Result<T, AppError> {
    if let Err(err) = &result {
        if let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>() {
            if let Ok(status) = http::StatusCode::from_u16(err.status()) {
                response.set_status(status);
            }
        }
    }
    result
}
