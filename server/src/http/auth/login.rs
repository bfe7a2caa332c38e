//! `GET /login` (the form), `POST /login` and `POST /logout`.
//!
//! Attempts are limited per account name and per client address, so guessing a password
//! takes years, and a flood against one account cannot lock out the others.

use super::AuthState;
use super::{end_session, log_in, AccountError, Lane, HOST_SESSION_COOKIE, SESSION_COOKIE};
use crate::budgeted_warn;
use crate::http::client::{client_address, limit_key};
use app::server::cookie;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::Deserialize;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts allowed per minute for one account name, and from one client (an IPv4
/// address or an IPv6 /64).
pub const PER_NAME_PER_MINUTE: u32 = 5;
pub const PER_ADDRESS_PER_MINUTE: u32 = 20;
/// A client that logged in to an account within this long is not held back by the
/// account's own limit, so a stranger's guessing cannot lock its operator out.
const KNOWN_FOR: Duration = Duration::from_secs(30 * 24 * 3600);
/// Known (account, client) pairs kept at most; the oldest go first.
const KNOWN_MAX: usize = 10_000;
/// Keys each limiter holds at most. Quiet keys (a full allowance again) are forgotten
/// once a second while a limiter holds more than [`FORGET_ABOVE`]; if one is still full
/// after that, attempts from clients it does not know are refused as over the limit
/// until keys age out, and known operators still get in. With fixed-size keys this
/// bounds the limiters' memory to a few MiB, however many addresses a flood comes from.
pub const MAX_KEYS: usize = 65_536;
const FORGET_ABOVE: usize = 10_000;

/// An account name as the limiter counts it: the SHA-256 of its lower-case form, so
/// every key has the same size and case does not make a new name to guess under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct NameKey([u8; 32]);

impl NameKey {
    fn of(name: &str) -> Self {
        use sha2::Digest;
        Self(sha2::Sha256::digest(name.to_ascii_lowercase().as_bytes()).into())
    }
}

pub struct LoginLimits {
    by_name: DefaultKeyedRateLimiter<NameKey>,
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    known: Mutex<HashMap<(NameKey, IpAddr), Instant>>,
    /// When quiet keys were last forgotten.
    forgotten_at: Mutex<Instant>,
}

impl Default for LoginLimits {
    fn default() -> Self {
        let per_minute = |n: u32| Quota::per_minute(NonZeroU32::new(n).unwrap_or(NonZeroU32::MIN));
        Self {
            by_name: RateLimiter::keyed(per_minute(PER_NAME_PER_MINUTE)),
            by_address: RateLimiter::keyed(per_minute(PER_ADDRESS_PER_MINUTE)),
            known: Mutex::default(),
            forgotten_at: Mutex::new(Instant::now()),
        }
    }
}

impl std::fmt::Debug for LoginLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LoginLimits")
    }
}

impl LoginLimits {
    /// Whether an attempt to log in as `name` (a valid account name: see
    /// [`crate::http::auth::valid_name`]) from `client` may go ahead.
    pub fn allow(&self, name: &str, client: IpAddr) -> bool {
        self.forget_quiet_keys();
        let client = limit_key(client);
        let name = NameKey::of(name.trim());
        let known = self.is_known(name, client);
        let full = self.by_address.len() >= MAX_KEYS || self.by_name.len() >= MAX_KEYS;
        if full && !known {
            return false;
        }
        if self.by_address.check_key(&client).is_err() {
            return false;
        }
        known || self.by_name.check_key(&name).is_ok()
    }

    /// Whether `client` logged in to `name` lately (see [`KNOWN_FOR`]).
    pub fn knows(&self, name: &str, client: IpAddr) -> bool {
        self.is_known(NameKey::of(name.trim()), limit_key(client))
    }

    /// Keys held by the two limiters, for tests.
    pub fn keys(&self) -> usize {
        self.by_address.len() + self.by_name.len()
    }

    /// Forgets keys whose allowance is full again, at most once a second (it walks
    /// every key) and only when there are many.
    fn forget_quiet_keys(&self) {
        if self.by_name.len() <= FORGET_ABOVE && self.by_address.len() <= FORGET_ABOVE {
            return;
        }
        {
            let mut at = self.forgotten_at.lock().unwrap_or_else(|p| p.into_inner());
            if at.elapsed() < Duration::from_secs(1) {
                return;
            }
            *at = Instant::now();
        }
        self.by_name.retain_recent();
        self.by_address.retain_recent();
    }

    fn is_known(&self, name: NameKey, client: IpAddr) -> bool {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known
            .get(&(name, client))
            .is_some_and(|at| at.elapsed() < KNOWN_FOR)
    }

    /// Notes a successful login of `name` from `client`.
    pub fn remember(&self, name: &str, client: IpAddr) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if known.len() >= KNOWN_MAX {
            known.retain(|_, at| at.elapsed() < KNOWN_FOR);
            if known.len() >= KNOWN_MAX {
                if let Some(oldest) = known.iter().min_by_key(|(_, at)| **at).map(|(k, _)| *k) {
                    known.remove(&oldest);
                }
            }
        }
        known.insert(
            (NameKey::of(name.trim()), limit_key(client)),
            Instant::now(),
        );
    }
}

pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Only a path on this site: no other host, no scheme, no protocol-relative URL. Browsers
/// drop tabs and line breaks from URLs and read a backslash as `/`, so `/\t/evil.example`
/// would be `//evil.example`: any control character, space or backslash is refused.
fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.bytes().any(|b| b <= 0x20 || b == 0x7f || b == b'\\') =>
        {
            n.to_owned()
        }
        _ => "/".to_owned(),
    }
}

const PAGE_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; \
                           form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// A page outside the app (login, first account): the app's stylesheet, no scripts, and a
/// policy that allows nothing else.
pub fn standalone_page(state: &AuthState, status: StatusCode, title: &str, body: &str) -> Response {
    let css = format!("/pkg/{}.css", state.output_name);
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

fn page(state: &AuthState, status: StatusCode, next: &str, message: Option<&str>) -> Response {
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

pub async fn form(State(state): State<Arc<AuthState>>, Query(q): Query<NextParam>) -> Response {
    page(&state, StatusCode::OK, &safe_next(q.next.as_deref()), None)
}

#[derive(Deserialize)]
pub struct Credentials {
    name: String,
    password: String,
    next: Option<String>,
}

/// The login session cookie's name: `__Host-` prefixed when the public URL is known to
/// be https, so that no other site or plain-http page on the host can set or shadow it.
pub fn session_cookie_name(state: &AuthState) -> &'static str {
    if state.public_url.is_some() {
        HOST_SESSION_COOKIE
    } else {
        SESSION_COOKIE
    }
}

/// The `Set-Cookie` value for a login session. `Secure` always when a public https URL
/// is configured; otherwise only when a trusted proxy (never the client itself) says
/// the browser came over https.
pub fn session_cookie(
    state: &AuthState,
    value: &str,
    peer: IpAddr,
    headers: &HeaderMap,
    max_age: Option<u32>,
) -> HeaderValue {
    let forwarded_https = || {
        crate::http::client::is_trusted_proxy(peer, &state.trusted_proxies)
            && headers
                .get("x-forwarded-proto")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
    };
    let name = session_cookie_name(state);
    let mut cookie = format!("{name}={value}; Path=/; HttpOnly; SameSite=Lax");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    if state.public_url.is_some() || forwarded_https() {
        cookie.push_str("; Secure");
    }
    HeaderValue::from_str(&cookie).unwrap_or_else(|_| HeaderValue::from_static(""))
}

pub async fn submit(
    State(state): State<Arc<AuthState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(credentials): Form<Credentials>,
) -> Response {
    let next = safe_next(credentials.next.as_deref());
    let name = credentials.name.trim();
    if !super::valid_name(name) {
        // No account has such a name: nothing to count, look up or hash.
        return page(
            &state,
            StatusCode::BAD_REQUEST,
            &next,
            Some("That is not an account name: names are 1 to 64 letters, digits, ., _, - or @."),
        );
    }
    let client = client_address(peer.ip(), &headers, &state.trusted_proxies);
    if !state.limits.allow(name, client) {
        budgeted_warn!(state.warn_budget, account = %name, address = %client, "login attempts over the limit");
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
    let lane = if state.limits.knows(name, client) {
        Lane::Known
    } else {
        Lane::Stranger
    };
    match log_in(
        &state.db,
        &state.password_hashing,
        lane,
        name,
        &credentials.password,
        crate::clock::now_ms(),
    )
    .await
    {
        Ok(Some(token)) => {
            state.limits.remember(name, client);
            tracing::info!(account = %name, address = %client, "logged in");
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(
                header::SET_COOKIE,
                session_cookie(&state, &token, peer.ip(), &headers, None),
            );
            response
        }
        Ok(None) => {
            budgeted_warn!(state.warn_budget, account = %name, address = %client, "login refused");
            page(
                &state,
                StatusCode::UNAUTHORIZED,
                &next,
                Some("That name and password do not match an account."),
            )
        }
        Err(AccountError::Busy) => {
            budgeted_warn!(state.warn_budget, address = %client, "login answered 503: too many passwords waiting to be checked");
            let mut response = page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                Some("Too many logins at once. Try again in a moment."),
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
            response
        }
        Err(err) => {
            tracing::error!(error = %err, "login failed");
            page(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                &next,
                Some("The database is not reachable right now. Try again in a moment."),
            )
        }
    }
}

pub async fn logout(
    State(state): State<Arc<AuthState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    if let Some(token) = cookie(&headers, session_cookie_name(&state)) {
        if let Err(err) = end_session(&state.db, token).await {
            tracing::error!(error = %err, "logout: could not end the session");
        }
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        session_cookie(&state, "", peer.ip(), &headers, Some(0)),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(safe_next(Some("/vehicles/x?from=1")), "/vehicles/x?from=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/ /evil.example",
            "/\x7f/evil.example",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn a_known_client_is_not_locked_out_of_its_account() {
        let limits = LoginLimits::default();
        let operator: IpAddr = "192.0.2.1".parse().unwrap();
        let stranger: IpAddr = "198.51.100.9".parse().unwrap();
        limits.remember("Alice", operator);
        for _ in 0..PER_NAME_PER_MINUTE {
            assert!(limits.allow("alice", stranger));
        }
        assert!(
            !limits.allow(" ALICE ", stranger),
            "case and spaces are one name"
        );
        assert!(
            limits.allow("alice", operator),
            "the operator still gets in"
        );
        // The per-address limit holds for everyone.
        let mut allowed = 1;
        while limits.allow("alice", operator) {
            allowed += 1;
        }
        assert_eq!(allowed, PER_ADDRESS_PER_MINUTE);
        // IPv6 neighbours in one /64 share a budget.
        let a: IpAddr = "2001:db8::1".parse().unwrap();
        let b: IpAddr = "2001:db8::2".parse().unwrap();
        for i in 0..PER_ADDRESS_PER_MINUTE {
            assert!(limits.allow(&format!("user{i}"), if i % 2 == 0 { a } else { b }));
        }
        assert!(!limits.allow("someone", b));
    }

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape(r#"<a href="x">'"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;"
        );
    }
}
