//! What every request and response passes through, outside the routes: the request id
//! (kept from a client only when it is a plain one), the log span, the security headers.
//! `startup` applies them in this order, outermost last.

use axum::extract::Request;
use axum::http::HeaderName;
use axum::Router;
use std::time::Duration;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

/// Each request's id: kept from the client (a proxy's) when sent, made up otherwise, and
/// returned in the response.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Wraps the whole router, innermost first: every request body's deadline
/// (`body_timeout`), the log span, the request id (a client's kept only when plain, else
/// made up, and returned), and the security headers of every response.
pub fn around(router: Router, body_timeout: Duration) -> Router {
    let router = router
        .layer(axum::middleware::from_fn(move |request, next| {
            crate::http::serve::body_deadline(body_timeout, request, next)
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
        .layer(axum::middleware::map_request(only_plain_request_ids));
    with_security_headers(router)
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
