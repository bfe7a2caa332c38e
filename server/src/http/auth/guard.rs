//! The gates in front of the operators' routes (`startup` puts each part of the router
//! behind its own): a live login session for pages, server functions and the live stream
//! ([`require_operator`]); a login session or an API token for the JSON API and the CSV
//! exports ([`require_operator_or_token`]). And the cross-site check in front of every
//! form and state-changing route ([`refuse_cross_site`]). Routes outside them (the
//! webhook, health, metrics, login, setup, assets) are open by being outside.

use super::login::session_cookie_name;
use super::AuthState;
use super::{session_user, token_valid, Actor};
use crate::http::client::is_trusted_proxy;
use app::server::cookie;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;

/// A request a browser navigates to, which is sent to the login page rather than refused.
fn is_page(method: &Method, path: &str) -> bool {
    method == Method::GET
        && !path.starts_with("/api/")
        && path != "/live"
        && !path.ends_with(".csv")
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// A state-changing request from a page on another site: its `Origin` names another
/// host (or is `null`, as from a sandboxed frame), or the browser says it is cross-site
/// (`Sec-Fetch-Site`). Browsers send `Origin` on every cross-site POST; tools that send
/// none are not browsers and carry no ambient cookies worth forging.
fn foreign_origin(request: &Request, state: &AuthState) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return false;
    }
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    if header("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    let Some(origin) = header(header::ORIGIN.as_str()) else {
        return false;
    };
    if state
        .public_url
        .as_ref()
        .is_some_and(|url| url.origin.eq_ignore_ascii_case(origin))
    {
        return false;
    }
    let origin_host = origin.split("://").nth(1).unwrap_or(origin);
    // The host the browser used: `Host`, or what a trusted proxy that rewrites it
    // forwards (anyone else's `X-Forwarded-Host` means nothing).
    let named = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(',').next().unwrap_or_default().trim().to_owned())
    };
    let proxied = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|peer| is_trusted_proxy(peer.0.ip(), &state.trusted_proxies));
    let forwarded = proxied.then(|| named("x-forwarded-host")).flatten();
    ![named("host"), forwarded]
        .iter()
        .flatten()
        .any(|h| h.eq_ignore_ascii_case(origin_host))
}

/// What a logged-in reader was shown is nobody else's: no browser, proxy or shared
/// cache keeps a copy.
fn private(mut response: Response) -> Response {
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn unavailable() -> Response {
    crate::http::error::HttpError::Unavailable.into_response()
}

/// Middleware: refuses a state-changing request from another site's page (403), logging
/// in, out and setting up included (login CSRF). The webhook is judged by its signature
/// alone and does not pass here.
pub async fn refuse_cross_site(
    State(state): State<Arc<AuthState>>,
    request: Request,
    next: Next,
) -> Response {
    if foreign_origin(&request, &state) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "cross-site request refused" })),
        )
            .into_response();
    }
    next.run(request).await
}

/// Middleware: only a logged-in operator passes. Anyone else is sent to the login page
/// (a page a browser navigates to) or refused (401).
pub async fn require_operator(
    State(state): State<Arc<AuthState>>,
    request: Request,
    next: Next,
) -> Response {
    match logged_in(&state, request.headers()).await {
        Ok(Some(user)) => private(next.run(with_actor(request, Actor::User(user))).await),
        Ok(None) => refuse(&request),
        Err(unavailable) => unavailable,
    }
}

fn with_actor(mut request: Request, actor: Actor) -> Request {
    request.extensions_mut().insert(actor);
    request
}

/// Middleware: a logged-in operator or a script with an API token passes (the JSON API
/// and the CSV exports); anyone else is refused (401).
pub async fn require_operator_or_token(
    State(state): State<Arc<AuthState>>,
    request: Request,
    next: Next,
) -> Response {
    match logged_in(&state, request.headers()).await {
        Ok(Some(user)) => return private(next.run(with_actor(request, Actor::User(user))).await),
        Ok(None) => {}
        Err(unavailable) => return unavailable,
    }
    if let Some(token) = bearer(request.headers()) {
        match token_valid(&state.db, token, crate::clock::now_ms()).await {
            Ok(Some(name)) => {
                return private(next.run(with_actor(request, Actor::Token(name))).await)
            }
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, "could not check an API token");
                return unavailable();
            }
        }
    }
    refuse(&request)
}

/// Middleware for the open files: a path with a `.` or `..` segment or a percent-escape
/// does not name a file (it may try to walk out of the open folder,
/// `/pkg/../vehicles/…`), so it meets the operator gate like any other path.
pub async fn plain_paths_only(
    state: State<Arc<AuthState>>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if !path.contains('%') && !path.split('/').any(|seg| seg == "." || seg == "..") {
        next.run(request).await
    } else {
        require_operator(state, request, next).await
    }
}

/// The user whose live login session the request carries; `Err` with the answer to give
/// when the database cannot tell.
async fn logged_in(state: &AuthState, headers: &HeaderMap) -> Result<Option<i64>, Response> {
    let Some(token) = cookie(headers, session_cookie_name(state)) else {
        return Ok(None);
    };
    match session_user(&state.db, token, crate::clock::now_ms()).await {
        Ok(user) => Ok(user),
        Err(err) => {
            tracing::error!(error = %err, "could not check a login session");
            Err(unavailable())
        }
    }
}

/// The answer to a stranger: the login page, coming back here afterwards, for a page a
/// browser navigates to; 401 for anything else.
fn refuse(request: &Request) -> Response {
    if is_page(request.method(), request.uri().path()) {
        let target = request
            .uri()
            .path_and_query()
            .map_or("/".to_owned(), |pq| pq.as_str().to_owned());
        let next = app::domain::fleet::url_escape(&target);
        return Redirect::to(&format!("/login?next={next}")).into_response();
    }
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, "Bearer")],
        Json(json!({ "error": "log in, or send an API token as `Authorization: Bearer …`" })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; chargelog_session=abc ; b=2".parse().unwrap(),
        );
        assert_eq!(cookie(&headers, super::super::SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&headers, "c"), None);
    }
}
