//! The first account without a terminal: when the server starts with no account, it
//! prints a one-time link (`/setup?code=…`) that creates the first one. The code lives in
//! memory only, works once, and stops working as soon as any account exists.

use super::AuthState;
use super::{add_user, start_session, user_count, AccountError};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;

/// The pending setup code, if the server started without accounts.
#[derive(Debug, Default)]
pub struct SetupCode(Mutex<Option<String>>);

impl SetupCode {
    pub fn new(code: Option<String>) -> Self {
        Self(Mutex::new(code))
    }

    /// The code, for the start-up message (and tests).
    pub fn peek(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether `given` is the pending code, compared in constant time.
    fn matches(&self, given: &str) -> bool {
        self.peek()
            .is_some_and(|code| super::same_secret(code.as_bytes(), given.as_bytes()))
    }

    /// Takes the code if `given` is it, so that two requests racing with it cannot both
    /// create an account; [`SetupCode::put_back`] returns it when creating failed.
    fn take(&self, given: &str) -> Option<String> {
        if !self.matches(given) {
            return None;
        }
        self.0.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    fn forget(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    fn put_back(&self, code: String) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(code);
    }
}

fn page(state: &AuthState, status: StatusCode, body: &str) -> Response {
    super::login::standalone_page(state, status, "First account", body)
}

fn expired(state: &AuthState) -> Response {
    page(
        state,
        StatusCode::NOT_FOUND,
        "<h1>This setup link does not work</h1><p>It was used already, an account exists, \
         or the server restarted (each start prints a new one). \
         <a href=\"/login\">Log in</a>, or create accounts with <code>chargelog user add</code>.</p>",
    )
}

fn form(state: &AuthState, status: StatusCode, code: &str, message: Option<&str>) -> Response {
    let message = message
        .map(|m| format!(r#"<p class="notice notice-error" role="alert">{m}</p>"#))
        .unwrap_or_default();
    let code: String = code.chars().filter(char::is_ascii_hexdigit).collect();
    page(
        state,
        status,
        &format!(
            r#"<h1>Create the first account</h1>
{message}
<form method="post" action="/setup" class="login-form">
<input type="hidden" name="code" value="{code}">
<label>Name <input name="name" autocomplete="username" required autofocus></label>
<label>Password <input type="password" name="password" autocomplete="new-password" required minlength="{min}"></label>
<label>Password again <input type="password" name="again" autocomplete="new-password" required></label>
<button type="submit">Create the account</button>
</form>"#,
            min = super::MIN_PASSWORD_CHARS
        ),
    )
}

async fn still_open(state: &AuthState, code: &str) -> Result<bool, sea_orm::DbErr> {
    if !state.setup.matches(code) {
        return Ok(false);
    }
    if user_count(&state.db).await? > 0 {
        // An account was made another way (`chargelog user add`): the link is spent.
        state.setup.forget();
        return Ok(false);
    }
    Ok(true)
}

#[derive(Deserialize)]
pub struct CodeParam {
    code: Option<String>,
}

pub async fn show(State(state): State<Arc<AuthState>>, Query(q): Query<CodeParam>) -> Response {
    let code = q.code.unwrap_or_default();
    match still_open(&state, &code).await {
        Ok(true) => form(&state, StatusCode::OK, &code, None),
        Ok(false) => expired(&state),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
}

#[derive(Deserialize)]
pub struct NewAccount {
    code: String,
    name: String,
    password: String,
    again: String,
}

pub async fn create(
    State(state): State<Arc<AuthState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(new): Form<NewAccount>,
) -> Response {
    match still_open(&state, &new.code).await {
        Ok(true) => {}
        Ok(false) => return expired(&state),
        Err(_) => return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response(),
    }
    if new.password != new.again {
        return form(
            &state,
            StatusCode::BAD_REQUEST,
            &new.code,
            Some("The two passwords differ."),
        );
    }
    let name = new.name.trim();
    // Held from here: a second request with the same code finds none.
    let Some(code) = state.setup.take(&new.code) else {
        return expired(&state);
    };
    let user = match add_user(
        &state.db,
        &state.password_hashing,
        name,
        &new.password,
        crate::clock::now_ms(),
    )
    .await
    {
        Ok(id) => id,
        Err(AccountError::Database(_)) => {
            state.setup.put_back(code);
            return (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response();
        }
        Err(AccountError::Busy) => {
            state.setup.put_back(code);
            let mut response = form(
                &state,
                StatusCode::SERVICE_UNAVAILABLE,
                &new.code,
                Some("Too many passwords are being checked right now. Try again in a moment."),
            );
            response.headers_mut().insert(
                header::RETRY_AFTER,
                axum::http::HeaderValue::from_static("2"),
            );
            return response;
        }
        Err(err) => {
            state.setup.put_back(code);
            return form(
                &state,
                StatusCode::BAD_REQUEST,
                &new.code,
                Some(&super::login::escape(&err.to_string())),
            );
        }
    };
    tracing::info!(
        account = %super::name_for_log(name),
        "created the first account through the setup link"
    );
    let Ok(token) = start_session(&state.db, user, crate::clock::now_ms()).await else {
        return Redirect::to("/login").into_response();
    };
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        super::login::session_cookie(&state, &token, peer.ip(), &headers, None),
    );
    response
}
