//! The gate in front of every route: deny unless the path is one of the few open ones, or
//! the request carries a live login session or (for the API and exports) an API token.

use super::login::session_cookie_name;
use super::{now_ms, session_user, token_valid};
use crate::client::is_trusted_proxy;
use crate::startup::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;
use std::net::SocketAddr;

/// Paths anyone may reach: the webhook (it has its signature), health checks, metrics
/// (their own token), the login form, and the static assets the login page needs.
pub fn is_open(path: &str) -> bool {
    matches!(
        path,
        WEBHOOK
            | "/healthz"
            | "/readyz"
            | "/metrics"
            | "/login"
            | "/logout"
            | "/setup"
            | "/favicon.svg"
    ) || (path.starts_with("/pkg/") && plain_path(path))
}

/// No `.` or `..` segment and no percent-escape: a path that means what it says, so an
/// open prefix cannot be walked out of (`/pkg/../vehicles/…`).
fn plain_path(path: &str) -> bool {
    !path.contains('%') && !path.split('/').any(|seg| seg == "." || seg == "..")
}

/// The webhook: signed by Smartcar's servers, which send no `Origin`.
const WEBHOOK: &str = "/webhooks/smartcar";

/// Where an API token is accepted as well as a login: the API and the two CSV exports.
fn takes_api_token(path: &str) -> bool {
    path.starts_with("/api/v1/") || path == "/sessions.csv" || is_vehicle_export(path)
}

/// `/vehicles/{id}/sessions.csv`.
fn is_vehicle_export(path: &str) -> bool {
    path.strip_prefix("/vehicles/")
        .and_then(|rest| rest.strip_suffix("/sessions.csv"))
        .is_some_and(|id| !id.is_empty() && !id.contains('/'))
}

/// A request a browser navigates to, which is sent to the login page rather than refused.
fn is_page(method: &Method, path: &str) -> bool {
    method == Method::GET
        && !path.starts_with("/api/")
        && path != "/live"
        && !path.ends_with(".csv")
}

pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
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
fn foreign_origin(request: &Request, state: &AppState) -> bool {
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
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "error": "the database is not reachable; try again shortly" })),
    )
        .into_response()
}

pub async fn require_operator(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path().to_owned();
    // Logging in, out or setting up from another site's page is refused too (login CSRF).
    if path != WEBHOOK && foreign_origin(&request, &state) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "cross-site request refused" })),
        )
            .into_response();
    }
    if is_open(&path) {
        return next.run(request).await;
    }
    let now = now_ms();
    if let Some(token) = cookie(request.headers(), session_cookie_name(&state)) {
        match session_user(&state.db, token, now).await {
            Ok(Some(_)) => return private(next.run(request).await),
            Ok(None) => {}
            Err(err) => {
                tracing::error!(error = %err, "could not check a login session");
                return unavailable();
            }
        }
    }
    if takes_api_token(&path) {
        if let Some(token) = bearer(request.headers()) {
            match token_valid(&state.db, token, now).await {
                Ok(true) => return private(next.run(request).await),
                Ok(false) => {}
                Err(err) => {
                    tracing::error!(error = %err, "could not check an API token");
                    return unavailable();
                }
            }
        }
    }
    if is_page(request.method(), &path) {
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
    fn only_the_listed_paths_are_open() {
        for open in [
            "/webhooks/smartcar",
            "/healthz",
            "/readyz",
            "/login",
            "/pkg/chargelog.wasm",
        ] {
            assert!(is_open(open), "{open}");
        }
        for closed in [
            "/",
            "/events",
            "/api/v1/vehicles",
            "/live",
            "/sessions.csv",
            "/loginx",
            "/pkgx",
        ] {
            assert!(!is_open(closed), "{closed}");
        }
    }

    #[test]
    fn tokens_open_the_api_and_the_two_exports_only() {
        for yes in [
            "/api/v1/vehicles",
            "/sessions.csv",
            "/vehicles/abc/sessions.csv",
        ] {
            assert!(takes_api_token(yes), "{yes}");
        }
        for no in [
            "/",
            "/api/fleet_overview",
            "/events.csv",
            "/vehicles//sessions.csv",
            "/vehicles/a/b/sessions.csv",
            "/pkg/x.csv",
        ] {
            assert!(!takes_api_token(no), "{no}");
        }
    }

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
