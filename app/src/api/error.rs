//! The one error type server functions return. Its messages are safe to show: causes
//! stay in the server log.

use leptos::prelude::{FromServerFnError, ServerFnErrorErr};
use leptos::server_fn::codec::JsonEncoding;
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
    type Encoder = JsonEncoding;

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
