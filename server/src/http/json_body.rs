//! The JSON bodies of `/api/v1` writes: at most [`MAX_BYTES`], sent as
//! `application/json`, and read so that a 400 names the field at fault
//! (`bands[0].from`), which axum's `Json` does only in its message.

use crate::http::error::HttpError;
use axum::extract::{FromRequest, Request};
use axum::http::header::CONTENT_TYPE;
use serde::de::DeserializeOwned;

/// The largest body a write takes (a tariff with many bands is a few kilobytes).
pub const MAX_BYTES: usize = 64 * 1024;

/// A body read as `T`.
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = HttpError;

    async fn from_request(request: Request, _: &S) -> Result<Self, HttpError> {
        let is_json = request
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !is_json {
            return Err(HttpError::NotJson);
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_BYTES)
            .await
            .map_err(|err| {
                let too_large = std::error::Error::source(&err)
                    .is_some_and(|e| e.is::<http_body_util::LengthLimitError>());
                if too_large {
                    HttpError::TooLarge(MAX_BYTES)
                } else {
                    HttpError::BadRequest {
                        param: "body".into(),
                        message: "the body could not be read".into(),
                    }
                }
            })?;
        read(&bytes).map(JsonBody)
    }
}

/// `bytes` as `T`, or a 400 naming where it went wrong (`body` for the whole of it).
pub fn read<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, HttpError> {
    let whole = |message: String| HttpError::BadRequest {
        param: "body".into(),
        message,
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|err| {
        let path = err.path().to_string();
        let message = err.into_inner().to_string();
        match path.as_str() {
            "." => whole(message),
            _ => HttpError::BadRequest {
                param: path.into(),
                message,
            },
        }
    })?;
    deserializer.end().map_err(|e| whole(e.to_string()))?;
    Ok(value)
}
