//! Who may read: operator accounts (argon2id passwords), login sessions (an HttpOnly
//! cookie), and API tokens (`Authorization: Bearer`). Secrets are random 256-bit values;
//! only their SHA-256 is stored, so a copy of the database logs nobody in.

pub mod guard;
pub mod login;
pub mod setup;

/// Bodies `/login` and `/setup` accept at most: a name and one or two passwords.
pub const FORM_BODY_BYTES: usize = 8 * 1024;

/// What logging in, setting up and the gates work with (their part of the server's
/// state).
pub struct AuthState {
    pub db: sea_orm::DatabaseConnection,
    pub limits: login::LoginLimits,
    /// The one-time code that creates the first account, while none exists.
    pub setup: Arc<setup::SetupCode>,
    /// Where passwords are checked, one at a time with a bounded queue.
    pub password_hashing: PasswordHashing,
    /// Proxies whose `X-Forwarded-For`, `-Proto` and `-Host` are believed.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// The https address browsers use, when configured: login cookies are then `Secure`.
    pub public_url: Option<crate::config::PublicUrl>,
    /// WARN lines about what strangers cause, a second (shared with the webhook).
    pub warn_budget: Arc<crate::budget::PerSecond>,
    /// The name of the built stylesheet (`/pkg/<name>.css`) the standalone pages link.
    pub output_name: String,
}

/// The forms anyone may reach: logging in and out, and creating the first account.
pub fn routes<S>() -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
    Arc<AuthState>: axum::extract::FromRef<S>,
{
    use axum::extract::DefaultBodyLimit;
    use axum::routing::{get, post};
    axum::Router::new()
        .route(
            "/login",
            get(login::form)
                .post(login::submit)
                .layer(DefaultBodyLimit::max(FORM_BODY_BYTES)),
        )
        .route("/logout", post(login::logout))
        .route(
            "/setup",
            get(setup::show)
                .post(setup::create)
                .layer(DefaultBodyLimit::max(FORM_BODY_BYTES)),
        )
}

use app::server::entities::{api_tokens, login_sessions, users};
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use sha2::{Digest, Sha256};
use std::sync::{Arc, LazyLock};

/// The login session cookie.
pub const SESSION_COOKIE: &str = "chargelog_session";
/// Its name when `CHARGELOG_PUBLIC_URL` says browsers use https.
pub const HOST_SESSION_COOKIE: &str = "__Host-chargelog_session";
/// A login session unused for this long is over.
pub const IDLE_MS: i64 = 12 * 3_600_000;
/// A login session is over this long after it began, however busy: a stolen cookie does
/// not work forever.
pub const LIFETIME_MS: i64 = 7 * 24 * 3_600_000;
/// `last_seen_at` is written at most this often per session.
const TOUCH_MS: i64 = 60_000;
pub const MIN_PASSWORD_CHARS: usize = 10;
const TOKEN_PREFIX: &str = "clg_";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("there is already an account called {0:?}")]
    NameTaken(String),
    #[error("there is no account called {0:?}")]
    NoSuchUser(String),
    #[error("there is already a token called {0:?}")]
    TokenNameTaken(String),
    #[error("there is no active token called {0:?}")]
    NoSuchToken(String),
    #[error("a name is 1 to 64 letters, digits, `.`, `_`, `-` or `@`; got {0:?}")]
    BadName(String),
    #[error("a password needs at least {MIN_PASSWORD_CHARS} characters")]
    WeakPassword,
    #[error("could not hash the password")]
    Hash,
    #[error("too many passwords are being checked right now; try again in a moment")]
    Busy,
    #[error(transparent)]
    Database(#[from] DbErr),
}

pub use crate::secret::{new_secret, same_secret};

/// What is stored for a secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Where passwords are hashed: one thread of its own, so at most one core's worth at a
/// time (argon2id takes about 19 MiB and tens of milliseconds), with at most
/// [`HASHING_QUEUE`] more waiting. Past that, [`AccountError::Busy`] at once: a flood
/// of logins is answered 503 instead of queueing without end or starving the webhook of
/// CPU. Operators the server knows (a login from the same address before, or creating
/// an account) wait in a lane of their own, [`KNOWN_QUEUE`] long and served first, so a
/// flood from strangers cannot keep them out. One thread also keeps one allocator arena:
/// hashes spread over the blocking pool left about 19 MiB behind in each thread's arena
/// (330 MiB after 1 200 logins).
#[derive(Debug)]
pub struct PasswordHashing {
    lanes: Arc<Lanes>,
}

/// Hashes from strangers that may wait behind the one running.
pub const HASHING_QUEUE: usize = 8;
/// Hashes from known operators that may wait, served before the strangers'.
pub const KNOWN_QUEUE: usize = 4;

/// Whose password is checked: see [`PasswordHashing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    Known,
    Stranger,
}

type HashJob = Box<dyn FnOnce() + Send>;

#[derive(Default)]
struct Lanes {
    queues: std::sync::Mutex<Queues>,
    ready: std::sync::Condvar,
}

impl std::fmt::Debug for Lanes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Lanes")
    }
}

#[derive(Default)]
struct Queues {
    known: std::collections::VecDeque<HashJob>,
    strangers: std::collections::VecDeque<HashJob>,
    closed: bool,
}

impl Lanes {
    fn queues(&self) -> std::sync::MutexGuard<'_, Queues> {
        self.queues.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The hashing thread: the known lane first, until the queues are closed.
    fn work(&self) {
        loop {
            let job = {
                let mut queues = self.queues();
                loop {
                    if let Some(job) = queues.known.pop_front() {
                        break job;
                    }
                    if let Some(job) = queues.strangers.pop_front() {
                        break job;
                    }
                    if queues.closed {
                        return;
                    }
                    queues = self.ready.wait(queues).unwrap_or_else(|p| p.into_inner());
                }
            };
            // A job that panics loses its answer (the caller sees `Hash`), not the thread.
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
        }
    }
}

impl Default for PasswordHashing {
    fn default() -> Self {
        let lanes = Arc::new(Lanes::default());
        let worker = lanes.clone();
        // If the thread cannot start, the queues are closed and hashing fails cleanly.
        if std::thread::Builder::new()
            .name("password-hashing".into())
            .spawn(move || worker.work())
            .is_err()
        {
            lanes.queues().closed = true;
        }
        Self { lanes }
    }
}

impl Drop for PasswordHashing {
    fn drop(&mut self) {
        self.lanes.queues().closed = true;
        self.lanes.ready.notify_all();
    }
}

impl PasswordHashing {
    async fn run<T: Send + 'static>(
        &self,
        lane: Lane,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, AccountError> {
        let (done, result) = tokio::sync::oneshot::channel();
        {
            let mut queues = self.lanes.queues();
            if queues.closed {
                return Err(AccountError::Hash);
            }
            let (queue, room) = match lane {
                Lane::Known => (&mut queues.known, KNOWN_QUEUE),
                Lane::Stranger => (&mut queues.strangers, HASHING_QUEUE),
            };
            if queue.len() >= room {
                return Err(AccountError::Busy);
            }
            queue.push_back(Box::new(move || {
                let _ = done.send(work());
            }));
        }
        self.lanes.ready.notify_one();
        result.await.map_err(|_| AccountError::Hash)
    }
}

fn hash_now(password: &str) -> Result<String, AccountError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(|_| AccountError::Hash)
}

pub async fn hash_password(
    hashing: &PasswordHashing,
    password: &str,
) -> Result<String, AccountError> {
    let password = password.to_owned();
    hashing
        .run(Lane::Known, move || hash_now(&password))
        .await?
}

fn verify_now(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

async fn verify_password(
    hashing: &PasswordHashing,
    lane: Lane,
    password: &str,
    phc: Option<String>,
) -> Result<bool, AccountError> {
    let password = password.to_owned();
    hashing
        .run(lane, move || match phc {
            Some(phc) => verify_now(&password, &phc),
            None => {
                // No such account: check the decoy, so the answer takes as long either way.
                let _ = verify_now(&password, &DECOY);
                false
            }
        })
        .await
}

/// Checked against when the account does not exist, so that answering takes as long
/// either way and does not reveal which names exist.
static DECOY: LazyLock<String> =
    LazyLock::new(|| hash_now("chargelog decoy password").unwrap_or_default());

/// Whether `name` can be an account (or token) name: 1 to 64 letters, digits, `.`,
/// `_`, `-` or `@`. Anything else is refused before it is looked up, counted or hashed.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'))
}

fn check_name(name: &str) -> Result<(), AccountError> {
    if valid_name(name) {
        Ok(())
    } else {
        Err(AccountError::BadName(name.to_owned()))
    }
}

/// A typed account name as it may appear in a log line: a valid name as it is, anything
/// else quoted with its control characters escaped and cut to 64 characters, so nobody
/// can forge log lines through the login form.
pub fn name_for_log(name: &str) -> String {
    if check_name(name).is_ok() {
        name.to_owned()
    } else {
        format!(
            "{:?} (not a valid name)",
            name.chars().take(64).collect::<String>()
        )
    }
}

pub async fn add_user(
    db: &impl ConnectionTrait,
    hashing: &PasswordHashing,
    name: &str,
    password: &str,
    now: i64,
) -> Result<i64, AccountError> {
    check_name(name)?;
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AccountError::WeakPassword);
    }
    if users::Entity::find()
        .filter(users::Column::Name.eq(name))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AccountError::NameTaken(name.to_owned()));
    }
    let row = users::ActiveModel {
        name: Set(name.to_owned()),
        password_hash: Set(hash_password(hashing, password).await?),
        created_at: Set(now),
        ..Default::default()
    };
    Ok(users::Entity::insert(row).exec(db).await?.last_insert_id)
}

pub async fn list_users(db: &impl ConnectionTrait) -> Result<Vec<users::Model>, DbErr> {
    users::Entity::find()
        .order_by_asc(users::Column::Name)
        .all(db)
        .await
}

pub async fn user_count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    users::Entity::find().count(db).await
}

/// Removes an account and ends its login sessions.
pub async fn remove_user(db: &impl ConnectionTrait, name: &str) -> Result<(), AccountError> {
    let user = users::Entity::find()
        .filter(users::Column::Name.eq(name))
        .one(db)
        .await?
        .ok_or_else(|| AccountError::NoSuchUser(name.to_owned()))?;
    login_sessions::Entity::delete_many()
        .filter(login_sessions::Column::UserId.eq(user.id))
        .exec(db)
        .await?;
    users::Entity::delete_by_id(user.id).exec(db).await?;
    Ok(())
}

/// Checks a name and password; on success starts a login session and returns its token.
/// [`AccountError::Busy`] when too many passwords wait to be checked.
pub async fn log_in(
    db: &impl ConnectionTrait,
    hashing: &PasswordHashing,
    lane: Lane,
    name: &str,
    password: &str,
    now: i64,
) -> Result<Option<String>, AccountError> {
    let user = users::Entity::find()
        .filter(users::Column::Name.eq(name))
        .one(db)
        .await?;
    // Verified even when the account does not exist (against a decoy), so the answer
    // takes as long either way.
    let matches = verify_password(
        hashing,
        lane,
        password,
        user.as_ref().map(|u| u.password_hash.clone()),
    )
    .await?;
    match user {
        Some(user) if matches => Ok(Some(start_session(db, user.id, now).await?)),
        _ => Ok(None),
    }
}

/// A new login session for an account; returns the cookie's value.
pub async fn start_session(
    db: &impl ConnectionTrait,
    user_id: i64,
    now: i64,
) -> Result<String, DbErr> {
    let token = new_secret();
    let row = login_sessions::ActiveModel {
        token_hash: Set(secret_hash(&token)),
        user_id: Set(user_id),
        created_at: Set(now),
        last_seen_at: Set(now),
    };
    login_sessions::Entity::insert(row)
        .exec_without_returning(db)
        .await?;
    Ok(token)
}

/// The account a session cookie belongs to, if the session is live; moves its idle clock.
pub async fn session_user(
    db: &impl ConnectionTrait,
    token: &str,
    now: i64,
) -> Result<Option<i64>, DbErr> {
    let hash = secret_hash(token);
    let Some(session) = login_sessions::Entity::find_by_id(hash.clone())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if now - session.last_seen_at > IDLE_MS || now - session.created_at > LIFETIME_MS {
        login_sessions::Entity::delete_by_id(hash).exec(db).await?;
        return Ok(None);
    }
    if now - session.last_seen_at > TOUCH_MS {
        login_sessions::Entity::update_many()
            .col_expr(login_sessions::Column::LastSeenAt, Expr::value(now))
            .filter(login_sessions::Column::TokenHash.eq(hash))
            .exec(db)
            .await?;
    }
    Ok(Some(session.user_id))
}

/// Deletes login sessions that are over (idle or too old); returns how many.
pub async fn sweep_sessions(db: &impl ConnectionTrait, now: i64) -> Result<u64, DbErr> {
    use sea_orm::Condition;
    let result = login_sessions::Entity::delete_many()
        .filter(
            Condition::any()
                .add(login_sessions::Column::LastSeenAt.lt(now - IDLE_MS))
                .add(login_sessions::Column::CreatedAt.lt(now - LIFETIME_MS)),
        )
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

pub async fn end_session(db: &impl ConnectionTrait, token: &str) -> Result<(), DbErr> {
    login_sessions::Entity::delete_by_id(secret_hash(token))
        .exec(db)
        .await?;
    Ok(())
}

/// Creates an API token; the token itself is returned once and never stored.
pub async fn create_token(
    db: &impl ConnectionTrait,
    name: &str,
    now: i64,
) -> Result<String, AccountError> {
    check_name(name)?;
    if api_tokens::Entity::find()
        .filter(api_tokens::Column::Name.eq(name))
        .one(db)
        .await?
        .is_some()
    {
        return Err(AccountError::TokenNameTaken(name.to_owned()));
    }
    let token = format!("{TOKEN_PREFIX}{}", new_secret());
    let row = api_tokens::ActiveModel {
        name: Set(name.to_owned()),
        token_hash: Set(secret_hash(&token)),
        created_at: Set(now),
        ..Default::default()
    };
    api_tokens::Entity::insert(row).exec(db).await?;
    Ok(token)
}

pub async fn list_tokens(db: &impl ConnectionTrait) -> Result<Vec<api_tokens::Model>, DbErr> {
    api_tokens::Entity::find()
        .order_by_asc(api_tokens::Column::Name)
        .all(db)
        .await
}

pub async fn revoke_token(
    db: &impl ConnectionTrait,
    name: &str,
    now: i64,
) -> Result<(), AccountError> {
    let result = api_tokens::Entity::update_many()
        .col_expr(api_tokens::Column::RevokedAt, Expr::value(now))
        .filter(api_tokens::Column::Name.eq(name))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    if result.rows_affected == 0 {
        return Err(AccountError::NoSuchToken(name.to_owned()));
    }
    Ok(())
}

/// Whether a bearer token is a live API token; notes its use (at most once a minute).
pub async fn token_valid(
    db: &impl ConnectionTrait,
    token: &str,
    now: i64,
) -> Result<Option<String>, DbErr> {
    if !token.starts_with(TOKEN_PREFIX) {
        return Ok(None);
    }
    let Some(row) = api_tokens::Entity::find()
        .filter(api_tokens::Column::TokenHash.eq(secret_hash(token)))
        .filter(api_tokens::Column::RevokedAt.is_null())
        .one(db)
        .await?
    else {
        return Ok(None);
    };
    if row.last_used_at.is_none_or(|at| now - at > TOUCH_MS) {
        api_tokens::Entity::update_many()
            .col_expr(api_tokens::Column::LastUsedAt, Expr::value(now))
            .filter(api_tokens::Column::Id.eq(row.id))
            .exec(db)
            .await?;
    }
    Ok(Some(row.name))
}

/// Who made a request that passed the operator gate (a request extension): an operator's
/// user id, or an API token's name. Actions that record who did them read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    User(i64),
    Token(String),
}

impl Actor {
    /// How a record names it: the operator's user name, or `token <name>`.
    pub async fn name(&self, db: &impl ConnectionTrait) -> Result<String, DbErr> {
        match self {
            Actor::User(id) => Ok(users::Entity::find_by_id(*id)
                .one(db)
                .await?
                .map_or_else(|| format!("user {id}"), |u| u.name)),
            Actor::Token(name) => Ok(format!("token {name}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn until(mut done: impl FnMut() -> bool) {
        for _ in 0..500 {
            if done() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("waited 5 s");
    }

    #[tokio::test]
    async fn known_operators_get_past_a_full_queue_of_strangers_and_go_first() {
        let hashing = Arc::new(PasswordHashing::default());
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        // Hold the thread with one job.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let running = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let held = {
            let (hashing, running) = (hashing.clone(), running.clone());
            tokio::spawn(async move {
                hashing
                    .run(Lane::Stranger, move || {
                        running.store(true, std::sync::atomic::Ordering::SeqCst);
                        let _ = gate.recv();
                    })
                    .await
            })
        };
        until(|| running.load(std::sync::atomic::Ordering::SeqCst)).await;
        let mut waiting = Vec::new();
        for (lane, count, label) in [
            (Lane::Stranger, HASHING_QUEUE, "stranger"),
            (Lane::Known, 1, "known"),
        ] {
            for _ in 0..count {
                let (hashing, order) = (hashing.clone(), order.clone());
                waiting.push(tokio::spawn(async move {
                    hashing
                        .run(lane, move || order.lock().unwrap().push(label))
                        .await
                }));
            }
            let queued = || {
                let queues = hashing.lanes.queues();
                queues.strangers.len() + queues.known.len()
            };
            let expected = waiting.len();
            until(|| queued() == expected).await;
        }
        assert!(matches!(
            hashing.run(Lane::Stranger, || ()).await,
            Err(AccountError::Busy)
        ));
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        for job in waiting {
            job.await.unwrap().unwrap();
        }
        let order = order.lock().unwrap();
        assert_eq!(order.len(), HASHING_QUEUE + 1);
        assert_eq!(order[0], "known");
    }
}
