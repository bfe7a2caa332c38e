//! `GET /login` (the form), `POST /login` and `POST /logout`.
//!
//! Attempts are limited per account name and per client address, so guessing a password
//! takes years, and a flood against one account cannot lock out the others.

use super::{end_session, log_in, now_ms, SESSION_COOKIE};
use crate::auth::guard::cookie;
use crate::startup::AppState;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;

/// Attempts allowed per minute for one account name, and from one address.
pub const PER_NAME_PER_MINUTE: u32 = 5;
pub const PER_ADDRESS_PER_MINUTE: u32 = 20;

pub struct LoginLimits {
    by_name: DefaultKeyedRateLimiter<String>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            by_name: RateLimiter::keyed(per_minute(PER_NAME_PER_MINUTE)),
            by_address: RateLimiter::keyed(per_minute(PER_ADDRESS_PER_MINUTE)),
        }
    }
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimits")
    }
}

impl LoginLimits {
    fn allow(&self, name: &str, address: IpAddr) -> bool {
        // Forget quiet keys now and then so the maps stay small.
        if self.by_name.len() > 10_000 {
            self.by_name.retain_recent();
        }
        if self.by_address.len() > 10_000 {
            self.by_address.retain_recent();
        }
        self.by_address.check_key(&address).is_ok()
            && self.by_name.check_key(&name.to_lowercase()).is_ok()
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Only a path on this site: no other host, no scheme, no protocol-relative URL.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_owned(),
        _ => "/".to_owned(),
    }
}

const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                           form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A page outside the app (login, first account): the app's stylesheet, no scripts, and a
/// policy that allows nothing else.
pub fn standalone_page(state: &AppState, status: StatusCode, title: &str, body: &str) -> Response {
    let css = format!("/pkg/{}.css", state.leptos_options.output_name);
    let html = format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>{title} · chargelog</title>
<link rel="stylesheet" href="{css}">
<link rel="icon" type="image/svg+xml" href="/favicon.svg">
</head>
<body>
<header class="topbar"><span class="brand">chargelog</span></header>
<main id="main"><section class="notice login">{body}</section></main>
</body>
</html>
"#
    );
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::CACHE_CONTROL, "no-store"),
        ],
        html,
    )
        .into_response()
}

fn page(state: &AppState, status: StatusCode, next: &str, message: Option<&str>) -> Response {
    let message = message
        .map(|m| {
            format!(
                r#"<p class="notice notice-error" role="alert">{}</p>"#,
                escape(m)
            )
        })
        .unwrap_or_default();
    let body = format!(
        r#"<h1>Log in</h1>
{message}
<form method="post" action="/login" class="login-form">
<input type="hidden" name="next" value="{next}">
<label>Name <input name="name" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="current-password" required></label>
<button type="submit">Log in</button>
</form>"#,
        next = escape(next),
    );
    standalone_page(state, status, "Log in", &body)
}

#[derive(Debug, Deserialize)]
pub struct NextParam {
    next: Option<String>,
}

pub async fn form(State(state): State<AppState>, Query(q): Query<NextParam>) -> Response {
    page(&state, StatusCode::OK, &safe_next(q.next.as_deref()), None)
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
    next: Option<String>,
}

fn session_cookie(value: &str, headers: &HeaderMap, max_age: Option<u32>) -> HeaderValue {
    // Secure when the browser reached us over https (a TLS proxy says so).
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    let mut cookie = format!("{SESSION_COOKIE}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if https {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Response {
    let next = safe_next(credentials.next.as_deref());
    let name = credentials.name.trim();
    if !state.login_limits.allow(name, peer.ip()) {
        tracing::warn!(account = %name, address = %peer.ip(), "login attempts over the limit");
        let mut response = page(
            &state,
            StatusCode::TOO_MANY_REQUESTS,
            &next,
            Some("Too many attempts. Wait a minute and try again."),
        );
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
        return response;
    }
    match log_in(&state.db, name, &credentials.password, now_ms()).await {
        Ok(Some(token)) => {
            tracing::info!(account = %name, "logged in");
            let mut response = Redirect::to(&next).into_response();
            response
                .headers_mut()
                .insert(header::SET_COOKIE, session_cookie(&token, &headers, None));
            response
        }
        Ok(None) => {
            tracing::warn!(account = %name, address = %peer.ip(), "login refused");
            page(
                &state,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("That name and password do not match an account."),
            )
        }
        Err(err) => {
            tracing::error!(error = %err, "login failed: database");
            page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                Some("The database is not reachable right now. Try again in a moment."),
            )
        }
    }
}

pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        if let Err(err) = end_session(&state.db, token).await {
            tracing::error!(error = %err, "logout: could not end the session");
        }
    }
    let mut response = Redirect::to("/login").into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, session_cookie("", &headers, Some(0)));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/vehicles/x?from=1")), "/vehicles/x?from=1");
        for bad in ["//evil.example", "https://evil.example", "/\\evil", "evil"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;"
        );
    }
}
