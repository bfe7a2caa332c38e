//! One typed configuration, from flags and environment, validated before anything starts.

use app::domain::sessions::EngineConfig;
use clap::{Args, Parser, Subcommand};
use secrecy::{ExposeSecret, SecretString};
use std::net::SocketAddr;
use std::path::PathBuf;

pub const DEFAULT_SQLITE_URL: &str = "sqlite://data/chargelog.db";

#[derive(Debug, Parser)]
#[command(
    name = "chargelog",
    version,
    about = "Receives Smartcar vehicle webhooks, stores every delivery, and serves the charging history UI.",
    long_about = "Receives Smartcar vehicle webhooks, verifies and stores every delivery, and serves \
                  a browser UI of each vehicle's charging history.\n\nWith no subcommand, `serve` runs."
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Log lines as readable text or as one JSON object per line (for log collectors).
    #[arg(long, env = "CHARGELOG_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server: the webhook endpoint and the UI (the default). Applies pending
    /// database migrations first and refuses to start if one fails.
    Serve(ServeArgs),
    /// Apply pending database migrations and exit (or list them with --status).
    Migrate(MigrateArgs),
    /// Rebuild charging sessions from the stored readings (all vehicles, or one), for
    /// instance after changing the session settings. Safe to repeat: the result depends
    /// only on the readings and the settings.
    Rederive(RederiveArgs),
    /// Give sessions (all, or one vehicle's) their place and cost again from the places
    /// and tariffs stored now. A running server does this by itself after every change;
    /// this is the same work by hand. Safe to repeat.
    Reprice(RepriceArgs),
    /// Remove the raw bodies of old deliveries that have been applied (their readings,
    /// sessions and delivery rows stay), and old dead letters with their log lines. Safe
    /// while the server runs, and to repeat.
    Prune(PruneArgs),
    /// Operator accounts: who may log in to the UI.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens for `/api/v1` and the CSV exports (`Authorization: Bearer <token>`).
    #[command(subcommand)]
    Token(TokenCommand),
    /// Where alert notifications go: webhook URLs, each with a signing secret.
    #[command(subcommand)]
    Notify(NotifyCommand),
    /// Simulate a fleet and deliver its webhooks as Smartcar would: to a running server
    /// (signed, at a rate, several at once), or to a file of JSON lines. Also writes what
    /// really happened (the charging sessions) to compare chargelog against.
    Simulate(SimulateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum NoiseLevel {
    /// Every delivery once, in order, every signal fine.
    None,
    /// A few retries, late deliveries, failing signals, VEHICLE_ERRORs and a TEST delivery.
    Realistic,
    /// Much more of all of that.
    Heavy,
}

impl NoiseLevel {
    pub fn noise(self) -> simulator::Noise {
        use simulator::Noise;
        match self {
            NoiseLevel::None => Noise::NONE,
            NoiseLevel::Realistic => Noise::REALISTIC,
            NoiseLevel::Heavy => Noise::HEAVY,
        }
    }
}

#[derive(Debug, Args, Clone)]
pub struct SimulateArgs {
    /// Vehicles in the fleet.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub vehicles: u32,
    /// Days of history, ending now.
    #[arg(long, default_value_t = 14.0)]
    pub days: f64,
    /// The same seed gives the same fleet, history and deliveries.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// How messy delivery is.
    #[arg(long, value_enum, default_value_t = NoiseLevel::Realistic)]
    pub noise: NoiseLevel,
    /// Send the deliveries to this webhook URL (http), for example
    /// http://127.0.0.1:3000/webhooks/smartcar. Signed with SMARTCAR_MANAGEMENT_TOKEN.
    #[arg(long)]
    pub url: Option<String>,
    /// Deliveries a second at most (0: as fast as the server answers).
    #[arg(long, default_value_t = 0)]
    pub rate: u32,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub concurrency: u32,
    /// Write the deliveries as JSON lines (one body per line, in arrival order); `-` for
    /// standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Write the true charging sessions (and the fleet) as JSON.
    #[arg(long)]
    pub truth: Option<PathBuf>,
    /// The key that signs deliveries, as the server's.
    #[arg(long, env = "SMARTCAR_MANAGEMENT_TOKEN", hide_env_values = true, value_parser = secret)]
    pub management_token: Option<SecretString>,
    /// Three vehicles misbehave in the last day: one is left unplugged, one plugs in and
    /// never charges, one goes silent.
    #[arg(long)]
    pub misbehave: bool,
    /// With --url: an API token of that server (`chargelog token create`), to set up what
    /// an operator would around the fleet first: each vehicle's home or depot as a place,
    /// a fleet departure schedule (weekdays 07:00, weekends 09:30, 85 %), and one
    /// vehicle with no departures.
    #[arg(long, env = "CHARGELOG_API_TOKEN", hide_env_values = true, value_parser = secret)]
    pub api_token: Option<SecretString>,
    /// The zone of that schedule (IANA name).
    #[arg(long, env = "CHARGELOG_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is asked for twice, or read from standard input.
    Add {
        name: String,
        /// Read the password from the first line of standard input (for scripts).
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the accounts.
    List,
    /// Delete an account and end its login sessions.
    Remove { name: String },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is kept.
    Create { name: String },
    /// List the tokens (names, when created and last used, whether revoked).
    List,
    /// Revoke a token: requests with it are refused from now on.
    Revoke { name: String },
}

#[derive(Debug, Subcommand)]
pub enum NotifyCommand {
    /// Add a webhook URL: every alert opened and resolved is POSTed to it, signed with a
    /// secret printed once here (`Chargelog-Signature`, see docs/API.md).
    Add {
        url: String,
        /// A name to know it by (default: its host).
        #[arg(long)]
        name: Option<String>,
        /// Let the URL resolve to a loopback, private or link-local address.
        #[arg(long, env = "CHARGELOG_NOTIFY_ALLOW_PRIVATE", value_parser = boolish())]
        allow_private: bool,
    },
    /// List the endpoints (the e-mail one too), with how their notifications stand.
    List,
    /// Remove an endpoint by its id: nothing more is sent to it; its log stays.
    Remove { id: i64 },
}

#[derive(Debug, Args, Clone)]
pub struct RederiveArgs {
    /// Only this vehicle (its Smartcar id).
    #[arg(long)]
    pub vehicle: Option<String>,
    #[command(flatten)]
    pub sessions: SessionArgs,
}

#[derive(Debug, Args, Clone)]
pub struct RepriceArgs {
    /// Only this vehicle (its Smartcar id).
    #[arg(long)]
    pub vehicle: Option<String>,
    /// The zone (IANA name) tariffs of sessions at no place are read in: the server's.
    #[arg(long, env = "CHARGELOG_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
}

#[derive(Debug, Args, Clone)]
pub struct PruneArgs {
    /// Remove raw bodies of deliveries received longer ago than this, and dead letters
    /// last received longer ago: `90d`, `12w`, `36h` (at least one day).
    #[arg(long, value_parser = parse_retention)]
    pub raw_older_than: std::time::Duration,
    /// Only count what would be removed.
    #[arg(long)]
    pub dry_run: bool,
    /// Afterwards give the space back to the file system (SQLite `VACUUM`: rewrites the
    /// file and blocks writes while it runs) or mark it reusable (PostgreSQL).
    #[arg(long)]
    pub vacuum: bool,
}

fn parse_retention(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("{e} (write it as, for example, 90d, 12w or 36h)"))?;
    if duration < std::time::Duration::from_secs(86_400) {
        return Err(format!(
            "{text} is less than a day; raw bodies are kept at least a day"
        ));
    }
    Ok(duration)
}

#[derive(Debug, Args, Clone)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://path/to/file.db` (the default, created if missing) or
    /// `postgres://user:password@host:port/database`.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_SQLITE_URL, global = true, hide_env_values = true, value_parser = secret)]
    pub database_url: SecretString,
}

/// A secret from the command line or the environment: held so that `Debug` (and so any
/// log of the parsed arguments) shows `[REDACTED]`, never the value.
fn secret(text: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(text))
}

/// An on/off setting, as the environment usually spells it: `1`, `true`, `yes`, `on`,
/// `y`, `t` and `0`, `false`, `no`, `off`, `n`, `f`, in any case. (A bare `bool` flag
/// takes only `true` and `false`, so `CHARGELOG_DEMO=1` stopped the server.)
fn boolish() -> clap::builder::BoolishValueParser {
    clap::builder::BoolishValueParser::new()
}

#[derive(Debug, Args, Clone, Default)]
pub struct ServeArgs {
    /// Smartcar Application Management Token (Dashboard → Configuration → API Keys). It
    /// keys the webhook signatures; without it the webhook endpoint answers 503. Never
    /// logged.
    #[arg(long, env = "SMARTCAR_MANAGEMENT_TOKEN", hide_env_values = true, value_parser = secret)]
    pub management_token: Option<SecretString>,
    /// Address to listen on.
    #[arg(
        long = "addr",
        env = "LEPTOS_SITE_ADDR",
        default_value = "127.0.0.1:3000"
    )]
    pub addr: String,
    /// Folder with the built browser assets (`pkg/`, favicon), as cargo-leptos writes it.
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Time zone (IANA name) for pages until the browser says where the viewer is, and
    /// for readers without JavaScript. Browsers send theirs and get their own.
    #[arg(long, env = "CHARGELOG_TIMEZONE", default_value = "UTC")]
    pub timezone: String,
    /// Bearer token that lets a scraper read `/metrics` on the main address. Never logged.
    #[arg(long, env = "CHARGELOG_METRICS_TOKEN", hide_env_values = true, value_parser = secret)]
    pub metrics_token: Option<SecretString>,
    /// A second listen address that serves only `/metrics`, without a token (bind it to
    /// localhost or a private network).
    #[arg(long, env = "CHARGELOG_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` is believed, as addresses or networks
    /// separated by commas (for example `127.0.0.1,::1`). Login limits then count the real
    /// client rather than the proxy. Leave empty when nothing sits in front.
    #[arg(long, env = "CHARGELOG_TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,
    /// The address browsers use, `https://host[:port]`, when chargelog sits behind a TLS
    /// proxy. The login cookie is then always `Secure` and `__Host-` prefixed, whatever
    /// the forwarded headers say. Without it the cookie is `Secure` only when a trusted
    /// proxy forwards `X-Forwarded-Proto: https`.
    #[arg(long, env = "CHARGELOG_PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Open connections at most, on the main address and on the metrics address each;
    /// one client (other than a trusted proxy) may hold a quarter of them. Past either,
    /// a new connection is answered 503 and closed at once.
    #[arg(long, env = "CHARGELOG_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(8..=1_000_000))]
    pub max_connections: u32,
    /// Also accept plain-text HTTP/2 (h2c, by prior knowledge). Off by default: browsers
    /// and Smartcar speak HTTP/1.1 to a proxy-less chargelog, and HTTP/2 from a TLS proxy
    /// arrives as HTTP/1.1.
    #[arg(long, env = "CHARGELOG_H2C", value_parser = boolish())]
    pub h2c: bool,
    /// Demo mode: an empty database gets a simulated fleet with three weeks of history,
    /// and one vehicle keeps charging live. Every page says the data is simulated. Use a
    /// database of its own (for example DATABASE_URL=sqlite://data/demo.db).
    #[arg(long, env = "CHARGELOG_DEMO", value_parser = boolish())]
    pub demo: bool,
    #[command(flatten)]
    pub sessions: SessionArgs,
    #[command(flatten)]
    pub notify: Box<NotifyArgs>,
}

/// How SMTP is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587), required.
    #[default]
    Starttls,
    /// TLS from the start (port 465).
    Tls,
    /// No encryption: only for a relay on the same machine or a test sink.
    None,
}

/// Where alert notifications may go and how they are sent.
#[derive(Debug, Args, Clone)]
pub struct NotifyArgs {
    /// Let webhook endpoints resolve to loopback, private or link-local addresses
    /// (refused by default, so that chargelog cannot be made to call inside its network).
    #[arg(long, env = "CHARGELOG_NOTIFY_ALLOW_PRIVATE", value_parser = boolish())]
    pub notify_allow_private: bool,
    /// The wait before a failed notification's first retry, seconds; each next wait
    /// doubles (up to an hour), with jitter, for 24 hours.
    #[arg(
        long,
        env = "CHARGELOG_NOTIFY_FIRST_RETRY_SECONDS",
        default_value_t = 30.0
    )]
    pub notify_first_retry_seconds: f64,
    /// SMTP server for alert e-mail (none: no e-mail).
    #[arg(long, env = "CHARGELOG_SMTP_HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port (default: 587 with STARTTLS, 465 with TLS, 25 without).
    #[arg(long, env = "CHARGELOG_SMTP_PORT")]
    pub smtp_port: Option<u16>,
    #[arg(long, env = "CHARGELOG_SMTP_TLS", value_enum, default_value_t = SmtpTls::Starttls)]
    pub smtp_tls: SmtpTls,
    #[arg(long, env = "CHARGELOG_SMTP_USER")]
    pub smtp_user: Option<String>,
    #[arg(long, env = "CHARGELOG_SMTP_PASSWORD", hide_env_values = true, value_parser = secret)]
    pub smtp_password: Option<SecretString>,
    /// The sender, `chargelog <alerts@example.com>`.
    #[arg(long, env = "CHARGELOG_SMTP_FROM")]
    pub smtp_from: Option<String>,
    /// Recipients, separated by commas.
    #[arg(long, env = "CHARGELOG_SMTP_TO")]
    pub smtp_to: Option<String>,
}

impl Default for NotifyArgs {
    fn default() -> Self {
        NotifyArgs {
            notify_allow_private: false,
            notify_first_retry_seconds: 30.0,
            smtp_host: None,
            smtp_port: None,
            smtp_tls: SmtpTls::Starttls,
            smtp_user: None,
            smtp_password: None,
            smtp_from: None,
            smtp_to: None,
        }
    }
}

/// Alert e-mail, checked.
#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub credentials: Option<(String, SecretString)>,
    pub from: String,
    pub to: Vec<String>,
}

impl SmtpSettings {
    /// The recipients as the e-mail endpoint's address: `mailto:a@x,b@y`.
    pub fn mailto(&self) -> String {
        format!("mailto:{}", self.to.join(","))
    }
}

/// Notifications, checked.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub allow_private: bool,
    pub first_retry: std::time::Duration,
    pub smtp: Option<SmtpSettings>,
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            allow_private: false,
            first_retry: std::time::Duration::from_secs(30),
            smtp: None,
        }
    }
}

impl NotifyArgs {
    pub fn settings(&self) -> Result<NotifySettings, ConfigError> {
        let first = self.notify_first_retry_seconds;
        if !(first.is_finite() && (0.05..=3600.0).contains(&first)) {
            return Err(ConfigError::Notify(format!(
                "CHARGELOG_NOTIFY_FIRST_RETRY_SECONDS must be between 0.05 and 3600, got {first}"
            )));
        }
        let smtp = match self
            .smtp_host
            .as_deref()
            .map(str::trim)
            .filter(|h| !h.is_empty())
        {
            None => None,
            Some(host) => {
                let missing = |name: &str| {
                    ConfigError::Notify(format!("CHARGELOG_SMTP_HOST is set but {name} is not"))
                };
                let from = self
                    .smtp_from
                    .clone()
                    .filter(|f| !f.trim().is_empty())
                    .ok_or_else(|| missing("CHARGELOG_SMTP_FROM"))?;
                let to: Vec<String> = self
                    .smtp_to
                    .as_deref()
                    .unwrap_or_default()
                    .split(',')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                if to.is_empty() {
                    return Err(missing("CHARGELOG_SMTP_TO"));
                }
                for address in std::iter::once(&from).chain(&to) {
                    address.parse::<lettre::message::Mailbox>().map_err(|e| {
                        ConfigError::Notify(format!("{address:?} is not an e-mail address: {e}"))
                    })?;
                }
                let credentials = match (&self.smtp_user, &self.smtp_password) {
                    (Some(user), Some(password)) => Some((user.clone(), password.clone())),
                    (None, None) => None,
                    _ => {
                        return Err(ConfigError::Notify(
                            "CHARGELOG_SMTP_USER and CHARGELOG_SMTP_PASSWORD go together".into(),
                        ))
                    }
                };
                Some(SmtpSettings {
                    host: host.to_owned(),
                    port: self.smtp_port.unwrap_or(match self.smtp_tls {
                        SmtpTls::Starttls => 587,
                        SmtpTls::Tls => 465,
                        SmtpTls::None => 25,
                    }),
                    tls: self.smtp_tls,
                    credentials,
                    from,
                    to,
                })
            }
        };
        Ok(NotifySettings {
            allow_private: self.notify_allow_private,
            first_retry: std::time::Duration::from_secs_f64(first),
            smtp,
        })
    }
}

/// How charging sessions are cut from the readings.
#[derive(Debug, Args, Clone)]
pub struct SessionArgs {
    /// A charging pause shorter than this (minutes), cable connected throughout, stays in
    /// one session. 0 turns merging off.
    #[arg(long, env = "CHARGELOG_MERGE_GAP_MINUTES", default_value_t = 10.0)]
    pub merge_gap_minutes: f64,
    /// A session that hears nothing for this long (hours) while charging is closed as
    /// stale at its last reading.
    #[arg(long, env = "CHARGELOG_STALE_AFTER_HOURS", default_value_t = 12.0)]
    pub stale_after_hours: f64,
}

impl Default for SessionArgs {
    fn default() -> Self {
        Self {
            merge_gap_minutes: 10.0,
            stale_after_hours: 12.0,
        }
    }
}

impl SessionArgs {
    pub fn engine(&self) -> Result<EngineConfig, ConfigError> {
        let minutes = self.merge_gap_minutes;
        if !(minutes.is_finite() && (0.0..=24.0 * 60.0).contains(&minutes)) {
            return Err(ConfigError::MergeGap(minutes));
        }
        let hours = self.stale_after_hours;
        if !(hours.is_finite() && hours > 0.0 && hours <= 24.0 * 30.0) {
            return Err(ConfigError::StaleAfter(hours));
        }
        Ok(EngineConfig {
            merge_gap_ms: (minutes * 60_000.0).round() as i64,
            stale_after_ms: (hours * 3_600_000.0).round() as i64,
            ..EngineConfig::default()
        })
    }
}

impl ServeArgs {
    /// `serve`'s settings from the environment and defaults, for a bare `chargelog`.
    pub fn parse_defaults() -> ServeArgs {
        #[derive(Parser)]
        struct ServeOnly {
            #[command(flatten)]
            args: ServeArgs,
        }
        ServeOnly::parse_from(["chargelog"]).args
    }
}

#[derive(Debug, Args, Clone)]
pub struct MigrateArgs {
    /// Only list applied and pending migrations.
    #[arg(long)]
    pub status: bool,
}

/// Which database engine a URL selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A database URL that has been checked.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub backend: Backend,
    url: SecretString,
    /// For SQLite: the file, whose folder is created if missing.
    pub sqlite_path: Option<PathBuf>,
}

impl DatabaseSettings {
    pub fn url(&self) -> &str {
        self.url.expose_secret()
    }
}

/// Everything `serve` needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub management_token: Option<SecretString>,
    pub addr: SocketAddr,
    pub site_root: PathBuf,
    pub engine: EngineConfig,
    pub timezone: chrono_tz::Tz,
    pub metrics_token: Option<SecretString>,
    pub metrics_addr: Option<SocketAddr>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub demo: bool,
    /// See [`ServeArgs::public_url`].
    pub public_url: Option<PublicUrl>,
    /// The limits every connection lives under.
    pub connections: ConnectionLimits,
    /// Alert notifications: where they may go, e-mail.
    pub notify: NotifySettings,
}

/// What a client's connection may hold, so that slow or idle clients cannot tie the
/// server up (slow-loris). The same on the main and the metrics address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// A connection that has not sent a whole request head this long after it was
    /// accepted (or after its last response) is closed.
    pub head_timeout: std::time::Duration,
    /// A request's whole body must arrive within this long of its head.
    pub body_timeout: std::time::Duration,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// Whether plain-text HTTP/2 is served too.
    pub h2c: bool,
    /// A write to a client that makes no progress this long closes the connection.
    pub write_stall: std::time::Duration,
}

impl ConnectionLimits {
    /// Connections one client (not a trusted proxy) may hold: a quarter of the cap.
    pub fn per_client(&self) -> usize {
        (self.max_connections / 4).max(1)
    }
}

pub const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Smartcar sends a whole delivery at once; a body still arriving after this is not one.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
pub const DEFAULT_MAX_CONNECTIONS: u32 = 1_024;
pub const WRITE_STALL: std::time::Duration = std::time::Duration::from_secs(30);

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self {
            head_timeout: HEAD_TIMEOUT,
            body_timeout: BODY_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS as usize,
            h2c: false,
            write_stall: WRITE_STALL,
        }
    }
}

/// `CHARGELOG_PUBLIC_URL`, checked: an https origin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl {
    /// `https://host[:port]`, as a browser sends it in `Origin`.
    pub origin: String,
}

impl PublicUrl {
    pub fn parse(text: &str) -> Result<Self, ConfigError> {
        let bad = || ConfigError::PublicUrl(text.to_owned());
        let uri: axum::http::Uri = text.trim().parse().map_err(|_| bad())?;
        let authority = uri.authority().ok_or_else(bad)?;
        let path_is_root = matches!(uri.path(), "" | "/") && uri.query().is_none();
        if uri.scheme_str() != Some("https") || authority.as_str().contains('@') || !path_is_root {
            return Err(bad());
        }
        Ok(Self {
            origin: format!("https://{}", authority.as_str().to_ascii_lowercase()),
        })
    }
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("DATABASE_URL must start with sqlite:// or postgres:// (got a URL starting {0:?})")]
    UnknownScheme(String),
    #[error("DATABASE_URL names no SQLite file")]
    NoSqlitePath,
    #[error("an in-memory SQLite database would lose every delivery on restart; name a file")]
    InMemorySqlite,
    #[error("SMARTCAR_MANAGEMENT_TOKEN is set but empty")]
    EmptyToken,
    #[error(
        "SMARTCAR_MANAGEMENT_TOKEN has spaces or line breaks around it; check how it was pasted"
    )]
    TokenWhitespace,
    #[error("listen address {0:?} is not host:port (for example 127.0.0.1:3000)")]
    BadAddr(String),
    #[error("the merge gap must be between 0 and 1440 minutes, got {0}")]
    MergeGap(f64),
    #[error("the stale time must be more than 0 and at most 720 hours, got {0}")]
    StaleAfter(f64),
    #[error("CHARGELOG_TIMEZONE {0:?} is not an IANA time zone name (for example Europe/Berlin)")]
    Timezone(String),
    #[error("CHARGELOG_METRICS_TOKEN must be at least 16 characters, without spaces around it")]
    WeakMetricsToken,
    #[error("CHARGELOG_TRUSTED_PROXIES: {0:?} is not an address or network (for example 127.0.0.1 or 10.0.0.0/8)")]
    TrustedProxy(String),
    #[error("CHARGELOG_PUBLIC_URL {0:?} is not an https address without a path (for example https://chargelog.example.com)")]
    PublicUrl(String),
    #[error("{0}")]
    Notify(String),
}

impl DatabaseSettings {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let url = url.trim();
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                url: SecretString::from(url.to_owned()),
                sqlite_path: None,
            });
        }
        let Some(rest) = lower
            .starts_with("sqlite:")
            .then(|| url["sqlite:".len()..].trim_start_matches("//"))
        else {
            let scheme: String = url.chars().take_while(|c| *c != ':').take(20).collect();
            return Err(ConfigError::UnknownScheme(scheme));
        };
        let path = rest.split('?').next().unwrap_or_default();
        if path == ":memory:" || rest.contains("mode=memory") {
            return Err(ConfigError::InMemorySqlite);
        }
        if path.is_empty() {
            return Err(ConfigError::NoSqlitePath);
        }
        Ok(Self {
            backend: Backend::Sqlite,
            url: SecretString::from(url.to_owned()),
            sqlite_path: Some(PathBuf::from(path)),
        })
    }
}

impl Settings {
    pub fn from_args(database: &DatabaseArgs, serve: &ServeArgs) -> Result<Self, ConfigError> {
        let management_token = match serve.management_token.as_ref().map(|t| t.expose_secret()) {
            // The demo signs its own deliveries; without a configured key it makes one.
            None if serve.demo => Some(SecretString::from(crate::secret::new_secret())),
            None => None,
            Some("") => return Err(ConfigError::EmptyToken),
            Some(t) if t.trim() != t => return Err(ConfigError::TokenWhitespace),
            Some(t) => Some(SecretString::from(t)),
        };
        let addr = serve
            .addr
            .parse()
            .map_err(|_| ConfigError::BadAddr(serve.addr.clone()))?;
        Ok(Self {
            database: DatabaseSettings::parse(database.database_url.expose_secret())?,
            management_token,
            addr,
            site_root: serve.site_root.clone(),
            engine: serve.sessions.engine()?,
            timezone: serve
                .timezone
                .trim()
                .parse()
                .map_err(|_| ConfigError::Timezone(serve.timezone.clone()))?,
            metrics_token: match serve.metrics_token.as_ref().map(|t| t.expose_secret()) {
                None => None,
                Some(t) if t.len() < 16 || t.trim() != t => {
                    return Err(ConfigError::WeakMetricsToken)
                }
                Some(t) => Some(SecretString::from(t)),
            },
            metrics_addr: serve
                .metrics_addr
                .as_deref()
                .map(|a| a.parse().map_err(|_| ConfigError::BadAddr(a.to_owned())))
                .transpose()?,
            trusted_proxies: crate::http::client::parse_trusted(&serve.trusted_proxies)
                .map_err(ConfigError::TrustedProxy)?,
            demo: serve.demo,
            public_url: serve
                .public_url
                .as_deref()
                .filter(|u| !u.trim().is_empty())
                .map(PublicUrl::parse)
                .transpose()?,
            connections: ConnectionLimits {
                max_connections: serve.max_connections as usize,
                h2c: serve.h2c,
                ..ConnectionLimits::default()
            },
            notify: serve.notify.settings()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_url_is_a_sqlite_file_under_data() {
        let db = DatabaseSettings::parse(DEFAULT_SQLITE_URL).unwrap();
        assert_eq!(db.backend, Backend::Sqlite);
        assert_eq!(db.sqlite_path, Some(PathBuf::from("data/chargelog.db")));
    }

    #[test]
    fn postgres_urls_select_postgres() {
        for url in ["postgres://u@h/db", "postgresql://u:p@h:5432/db"] {
            assert_eq!(
                DatabaseSettings::parse(url).unwrap().backend,
                Backend::Postgres
            );
        }
    }

    #[test]
    fn other_schemes_and_memory_are_refused() {
        assert_eq!(
            DatabaseSettings::parse("mysql://x").unwrap_err(),
            ConfigError::UnknownScheme("mysql".into())
        );
        assert_eq!(
            DatabaseSettings::parse("sqlite::memory:").unwrap_err(),
            ConfigError::InMemorySqlite
        );
        assert_eq!(
            DatabaseSettings::parse("sqlite://").unwrap_err(),
            ConfigError::NoSqlitePath
        );
    }

    #[test]
    fn absolute_sqlite_paths_keep_their_slash() {
        let db = DatabaseSettings::parse("sqlite:///tmp/x.db?mode=rwc").unwrap();
        assert_eq!(db.sqlite_path, Some(PathBuf::from("/tmp/x.db")));
    }

    fn serve(token: Option<&str>, addr: &str) -> ServeArgs {
        ServeArgs {
            management_token: token.map(SecretString::from),
            addr: addr.into(),
            site_root: "target/site".into(),
            timezone: "UTC".into(),
            metrics_token: None,
            metrics_addr: None,
            trusted_proxies: String::new(),
            public_url: None,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            h2c: false,
            demo: false,
            sessions: SessionArgs::default(),
            notify: Box::default(),
        }
    }

    #[test]
    fn metrics_settings_are_checked() {
        let mut args = serve(None, "127.0.0.1:3000");
        args.metrics_token = Some(SecretString::from("short"));
        assert_eq!(
            Settings::from_args(&db(), &args).unwrap_err(),
            ConfigError::WeakMetricsToken
        );
        args.metrics_token = Some(SecretString::from("a-long-enough-token"));
        args.metrics_addr = Some("localhost".into());
        assert_eq!(
            Settings::from_args(&db(), &args).unwrap_err(),
            ConfigError::BadAddr("localhost".into())
        );
        args.metrics_addr = Some("127.0.0.1:9464".into());
        let settings = Settings::from_args(&db(), &args).unwrap();
        assert_eq!(
            settings.metrics_addr,
            Some("127.0.0.1:9464".parse().unwrap())
        );
        assert!(settings.metrics_token.is_some());
    }

    #[test]
    fn logs_are_text_or_json() {
        let cli = Cli::try_parse_from(["chargelog", "--log-format", "json", "migrate"]).unwrap();
        assert_eq!(cli.log_format, LogFormat::Json);
        assert!(Cli::try_parse_from(["chargelog", "--log-format", "xml"]).is_err());
    }

    #[test]
    fn the_default_zone_must_be_an_iana_name() {
        let mut args = serve(None, "127.0.0.1:3000");
        args.timezone = "Europe/Berlin".into();
        assert_eq!(
            Settings::from_args(&db(), &args).unwrap().timezone,
            chrono_tz::Europe::Berlin
        );
        args.timezone = "CEST+2".into();
        assert_eq!(
            Settings::from_args(&db(), &args).unwrap_err(),
            ConfigError::Timezone("CEST+2".into())
        );
    }

    fn db() -> DatabaseArgs {
        DatabaseArgs {
            database_url: SecretString::from(DEFAULT_SQLITE_URL),
        }
    }

    #[test]
    fn token_must_not_be_empty_or_padded() {
        assert_eq!(
            Settings::from_args(&db(), &serve(Some(""), "127.0.0.1:3000")).unwrap_err(),
            ConfigError::EmptyToken
        );
        assert_eq!(
            Settings::from_args(&db(), &serve(Some("abc\n"), "127.0.0.1:3000")).unwrap_err(),
            ConfigError::TokenWhitespace
        );
        assert!(Settings::from_args(&db(), &serve(None, "127.0.0.1:3000"))
            .unwrap()
            .management_token
            .is_none());
    }

    #[test]
    fn bad_listen_address_is_named() {
        assert_eq!(
            Settings::from_args(&db(), &serve(None, "localhost")).unwrap_err(),
            ConfigError::BadAddr("localhost".into())
        );
    }

    #[test]
    fn session_tunables_are_checked() {
        let args = |gap, stale| SessionArgs {
            merge_gap_minutes: gap,
            stale_after_hours: stale,
        };
        let engine = args(10.0, 12.0).engine().unwrap();
        assert_eq!(
            (engine.merge_gap_ms, engine.stale_after_ms),
            (600_000, 43_200_000)
        );
        assert_eq!(args(0.0, 12.0).engine().unwrap().merge_gap_ms, 0);
        assert_eq!(args(-1.0, 12.0).engine(), Err(ConfigError::MergeGap(-1.0)));
        assert_eq!(args(10.0, 0.0).engine(), Err(ConfigError::StaleAfter(0.0)));
        assert!(args(f64::NAN, 12.0).engine().is_err());
    }

    #[test]
    fn the_public_url_is_an_https_origin() {
        assert_eq!(
            PublicUrl::parse("https://Chargelog.example.com/")
                .unwrap()
                .origin,
            "https://chargelog.example.com"
        );
        assert_eq!(
            PublicUrl::parse("https://c.example:8443").unwrap().origin,
            "https://c.example:8443"
        );
        for bad in [
            "http://c.example",
            "c.example",
            "https://c.example/app",
            "https://user@c.example",
            "https://c.example/?a=1",
        ] {
            assert_eq!(
                PublicUrl::parse(bad),
                Err(ConfigError::PublicUrl(bad.into())),
                "{bad}"
            );
        }
    }

    #[test]
    fn parsed_arguments_never_show_their_secrets() {
        let cli = Cli::try_parse_from([
            "chargelog",
            "--database-url",
            "postgres://u:db-password-1@h/db",
            "serve",
            "--management-token",
            "amt-secret-2",
            "--metrics-token",
            "metrics-secret-3-long-enough",
        ])
        .unwrap();
        let shown = format!("{cli:?}");
        for secret in ["db-password-1", "amt-secret-2", "metrics-secret-3"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        let cli = Cli::try_parse_from([
            "chargelog",
            "simulate",
            "--management-token",
            "amt-secret-4",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("amt-secret-4"));
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let s =
            Settings::from_args(&db(), &serve(Some("super-secret-amt"), "127.0.0.1:0")).unwrap();
        assert!(!format!("{s:?}").contains("super-secret-amt"));
    }
}
