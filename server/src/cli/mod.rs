//! The commands of the `chargelog` binary: `serve` (the default), `migrate`, `user`,
//! `token`, `notify`, `rederive`, `reprice`, `prune` and `simulate`. Their arguments are in `config`.

pub mod prune;
pub mod rederive;
pub mod reprice;

use crate::config::{
    Cli, Command, ConfigError, DatabaseSettings, NotifyCommand, ServeArgs, Settings, TokenCommand,
    UserCommand,
};
use crate::db;
use crate::startup::Application;
use clap::Parser;
use migrations::{Migrator, MigratorTrait};
use secrecy::ExposeSecret;
use std::process::ExitCode;

#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error("invalid configuration")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Startup(#[from] crate::startup::StartupError),
    #[error(transparent)]
    Database(#[from] db::DbSetupError),
    #[error("could not read migration status")]
    Status(#[source] sea_orm::DbErr),
    #[error(transparent)]
    Rederive(#[from] crate::cli::rederive::RederiveError),
    #[error(transparent)]
    Reprice(#[from] crate::cli::reprice::RepriceError),
    #[error("the server stopped with an error")]
    Serve(#[source] std::io::Error),
    #[error("the system clock is before 1970")]
    Clock,
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Account(#[from] crate::http::auth::AccountError),
    #[error("could not read the password")]
    Password(#[source] std::io::Error),
    #[error("the two passwords differ")]
    PasswordMismatch,
    #[error("could not write the result")]
    Output(#[source] std::io::Error),
    #[error(transparent)]
    Query(#[from] sea_orm::DbErr),
    #[error("{0}")]
    Simulate(String),
    #[error("{0}")]
    Notify(String),
    #[error("could not write {path}")]
    Write {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// The password for `user add`: from standard input, or asked for twice on the terminal.
/// Writes one line of a command's result to standard output. A reader that has gone
/// away (`chargelog user list | head -1`) ends the output, not the command: Rust's
/// `println!` would panic on the broken pipe.
fn say(line: std::fmt::Arguments<'_>) -> Result<(), CliError> {
    use std::io::Write;
    match writeln!(std::io::stdout().lock(), "{line}") {
        Err(err) if err.kind() != std::io::ErrorKind::BrokenPipe => Err(CliError::Output(err)),
        _ => Ok(()),
    }
}

fn read_password(from_stdin: bool) -> Result<String, CliError> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .read_line(&mut line)
            .map_err(CliError::Password)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").map_err(CliError::Password)?;
    let second = rpassword::prompt_password("Password again: ").map_err(CliError::Password)?;
    if first != second {
        return Err(CliError::PasswordMismatch);
    }
    Ok(first)
}

fn time_text(ms: Option<i64>) -> String {
    ms.and_then(chrono::DateTime::from_timestamp_millis)
        .map_or("never".to_owned(), |t| {
            t.format("%Y-%m-%d %H:%M UTC").to_string()
        })
}

async fn accounts(
    database: &crate::config::DatabaseArgs,
    command: UserCommand,
) -> Result<(), CliError> {
    use crate::http::auth;
    let settings = DatabaseSettings::parse(database.database_url.expose_secret())?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    match command {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let hashing = auth::PasswordHashing::default();
            auth::add_user(&db, &hashing, &name, &password, crate::clock::now_ms()).await?;
            say(format_args!("created the account {name:?}"))?;
        }
        UserCommand::List => {
            for user in auth::list_users(&db).await? {
                say(format_args!(
                    "{:<32} created {}",
                    user.name,
                    time_text(Some(user.created_at))
                ))?;
            }
        }
        UserCommand::Remove { name } => {
            auth::remove_user(&db, &name).await?;
            say(format_args!(
                "removed the account {name:?} and ended its sessions"
            ))?;
        }
    }
    Ok(())
}

async fn tokens(
    database: &crate::config::DatabaseArgs,
    command: TokenCommand,
) -> Result<(), CliError> {
    use crate::http::auth;
    let settings = DatabaseSettings::parse(database.database_url.expose_secret())?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    match command {
        TokenCommand::Create { name } => {
            let token = auth::create_token(&db, &name, crate::clock::now_ms()).await?;
            eprintln!("created the token {name:?}; it is shown only now:");
            say(format_args!("{token}"))?;
        }
        TokenCommand::List => {
            for t in auth::list_tokens(&db).await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", time_text(Some(at))),
                    None => "active".to_owned(),
                };
                say(format_args!(
                    "{:<32} created {}, last used {}, {state}",
                    t.name,
                    time_text(Some(t.created_at)),
                    time_text(t.last_used_at)
                ))?;
            }
        }
        TokenCommand::Revoke { name } => {
            auth::revoke_token(&db, &name, crate::clock::now_ms()).await?;
            say(format_args!("revoked the token {name:?}"))?;
        }
    }
    Ok(())
}

/// A name or URL of at most this many characters.
const MAX_NAME_CHARS: usize = 100;

async fn notify(
    database: &crate::config::DatabaseArgs,
    command: NotifyCommand,
) -> Result<(), CliError> {
    use app::server::notifications;
    let settings = DatabaseSettings::parse(database.database_url.expose_secret())?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    match command {
        NotifyCommand::Add {
            url,
            name,
            allow_private,
        } => {
            let checked = crate::notify::address::check(&url, allow_private)
                .await
                .map_err(|e| CliError::Notify(format!("{url:?}: {e}")))?;
            let name = name
                .map(|n| n.trim().to_owned())
                .filter(|n| !n.is_empty())
                .unwrap_or_else(|| checked.host_str().unwrap_or_default().to_owned());
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(CliError::Notify(format!(
                    "--name: longer than {MAX_NAME_CHARS} characters"
                )));
            }
            let secret = format!("whsec_{}", crate::secret::new_secret());
            let added = notifications::add_webhook(&db, &name, checked.as_str(), &secret).await?;
            eprintln!(
                "added endpoint {} ({name:?}) for {checked}; its signing secret, shown only here and on the notifications page:",
                added.id
            );
            say(format_args!("{secret}"))?;
        }
        NotifyCommand::List => {
            for e in notifications::endpoints(&db).await? {
                let state = match (&e.removed_at, &e.removed_reason) {
                    (Some(at), reason) => format!(
                        "removed {} ({})",
                        at.format("%Y-%m-%d %H:%M"),
                        reason.as_deref().unwrap_or("?")
                    ),
                    (None, _) => "in use".to_owned(),
                };
                say(format_args!(
                    "{:>4}  {:<8} {:<24} {}  {state}; {} delivered, {} pending, {} failed",
                    e.id, e.kind, e.name, e.url, e.delivered, e.pending, e.failed
                ))?;
            }
        }
        NotifyCommand::Remove { id } => {
            if notifications::remove(&db, id, "operator").await? {
                say(format_args!("removed endpoint {id}"))?;
            } else {
                return Err(CliError::Notify(format!("no endpoint {id} in use")));
            }
        }
    }
    Ok(())
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::telemetry::init(cli.log_format);
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(CliError::Runtime)
        .and_then(|rt| rt.block_on(run(cli)));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // Print the whole cause chain: it is what an operator needs to fix things.
            let mut message = format!("chargelog: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        None => serve(&cli.database, &ServeArgs::parse_defaults()).await,
        Some(Command::Serve(args)) => serve(&cli.database, &args).await,
        Some(Command::Migrate(args)) => {
            let settings = DatabaseSettings::parse(cli.database.database_url.expose_secret())?;
            let db = db::connect(&settings).await?;
            if args.status {
                for m in Migrator::get_migration_with_status(&db)
                    .await
                    .map_err(CliError::Status)?
                {
                    say(format_args!("{:<40} {:?}", m.name(), m.status()))?;
                }
            } else {
                db::migrate(&db).await?;
                tracing::info!("database is up to date");
            }
            Ok(())
        }
        Some(Command::Simulate(args)) => simulate(&args).await,
        Some(Command::Notify(command)) => notify(&cli.database, command).await,
        Some(Command::Prune(args)) => {
            let settings = DatabaseSettings::parse(cli.database.database_url.expose_secret())?;
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let now = crate::clock::now_ms();
            let age = i64::try_from(args.raw_older_than.as_millis()).unwrap_or(i64::MAX);
            let before = now.saturating_sub(age);
            let pruned = crate::cli::prune::prune_raw(&db, before, now, args.dry_run).await?;
            let cutoff = chrono::DateTime::from_timestamp_millis(before).map_or_else(
                || before.to_string(),
                |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            );
            say(format_args!(
                "{} the raw bodies of {} deliveries received before {cutoff} ({:.1} MiB); kept {} that are not applied yet or could not be",
                if args.dry_run { "would remove" } else { "removed" },
                pruned.deliveries,
                pruned.bytes as f64 / (1024.0 * 1024.0),
                pruned.kept_unapplied,
            ))?;
            say(format_args!(
                "{} {} dead letters last received before {cutoff} ({:.1} MiB), with their log lines",
                if args.dry_run { "would remove" } else { "removed" },
                pruned.dead_letters,
                pruned.dead_letter_bytes as f64 / (1024.0 * 1024.0),
            ))?;
            if args.vacuum && !args.dry_run {
                crate::cli::prune::vacuum(&db).await?;
                say(format_args!("vacuumed"))?;
            }
            Ok(())
        }
        Some(Command::User(command)) => accounts(&cli.database, command).await,
        Some(Command::Token(command)) => tokens(&cli.database, command).await,
        Some(Command::Rederive(args)) => {
            let engine = args.sessions.engine()?;
            let settings = DatabaseSettings::parse(cli.database.database_url.expose_secret())?;
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let as_of = crate::clock::checked_now().ok_or(CliError::Clock)?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let summary =
                crate::cli::rederive::run(&db, args.vehicle.as_deref(), &engine, as_of, progress)
                    .await?;
            say(format_args!(
                "re-derived {} session(s) for {} vehicle(s)",
                summary.sessions, summary.vehicles
            ))?;
            Ok(())
        }
        Some(Command::Reprice(args)) => {
            let zone: chrono_tz::Tz = args
                .timezone
                .parse()
                .map_err(|_| ConfigError::Timezone(args.timezone.clone()))?;
            let settings = DatabaseSettings::parse(cli.database.database_url.expose_secret())?;
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let priced =
                crate::cli::reprice::run(&db, args.vehicle.as_deref(), zone, progress).await?;
            say(format_args!("priced {priced} session(s)"))?;
            Ok(())
        }
    }
}

async fn serve(database: &crate::config::DatabaseArgs, args: &ServeArgs) -> Result<(), CliError> {
    let settings = Settings::from_args(database, args)?;
    if settings.management_token.is_none() {
        tracing::warn!(
            "SMARTCAR_MANAGEMENT_TOKEN is not set: the UI works, but /webhooks/smartcar answers 503 until it is"
        );
    }
    let listeners = 1 + usize::from(settings.metrics_addr.is_some());
    crate::http::serve::open_files_for(&settings.connections, listeners);
    let app = Application::build(settings).await?;
    tracing::info!(addr = %app.local_addr(), "chargelog is listening");
    app.run_until_stopped().await.map_err(CliError::Serve)
}

/// Writes `contents` to `path`, or to standard output for `-`.
fn write_out(
    path: &std::path::Path,
    write: impl FnOnce(&mut dyn std::io::Write) -> std::io::Result<()>,
) -> Result<(), CliError> {
    let failed = |source| CliError::Write {
        path: path.to_owned(),
        source,
    };
    if path.as_os_str() == "-" {
        let stdout = std::io::stdout();
        let mut lock = stdout.lock();
        return write(&mut lock).map_err(failed);
    }
    let file = std::fs::File::create(path).map_err(failed)?;
    let mut out = std::io::BufWriter::new(file);
    write(&mut out).map_err(failed)
}

async fn simulate(args: &crate::config::SimulateArgs) -> Result<(), CliError> {
    use simulator::{self, send, SimConfig};
    if !(args.days.is_finite() && args.days > 0.0 && args.days <= 3660.0) {
        return Err(CliError::Simulate(format!(
            "--days must be more than 0 and at most 3660, got {}",
            args.days
        )));
    }
    let token = args.management_token.as_ref().map(|t| t.expose_secret());
    let verifier = match (&args.url, token) {
        (Some(_), None | Some("")) => {
            return Err(CliError::Simulate(
                "sending needs SMARTCAR_MANAGEMENT_TOKEN (the server's) to sign the deliveries"
                    .to_owned(),
            ))
        }
        (Some(url), Some(token)) => {
            if !url.starts_with("http://") {
                return Err(CliError::Simulate(format!(
                    "--url must be an http:// address (the simulator speaks plain HTTP), got {url:?}"
                )));
            }
            Some(crate::webhook::signature::Verifier::new(
                secrecy::SecretString::from(token),
            ))
        }
        (None, _) => None,
    };
    let now = crate::clock::now_ms();
    let config = SimConfig {
        vehicles: args.vehicles as usize,
        days: args.days,
        seed: args.seed,
        start_ms: now - (args.days * 86_400_000.0) as i64,
        noise: args.noise.noise(),
        misbehave: args.misbehave,
    };
    let sim = simulator::generate(&config);
    let deliveries = &sim.deliveries;
    eprintln!(
        "simulated {} vehicle(s) over {} day(s): {} charging session(s), {} deliveries ({} retries, {} TEST)",
        sim.truth.vehicles.len(),
        args.days,
        sim.truth.sessions.len(),
        deliveries.len(),
        deliveries.iter().filter(|d| d.attempt > 0).count(),
        deliveries.iter().filter(|d| d.test_mode).count(),
    );
    if let Some(path) = &args.truth {
        write_out(path, |out| {
            serde_json::to_writer_pretty(&mut *out, &sim.truth)?;
            out.write_all(b"\n")?;
            out.flush()
        })?;
    }
    if let Some(path) = &args.out {
        write_out(path, |out| send::write_lines(deliveries, out))?;
    }
    let plan = simulator::arrangement::arrangement(&sim.truth.vehicles, &args.timezone);
    let api = match (&args.url, &args.api_token) {
        (Some(url), Some(token)) => {
            if args.timezone.parse::<chrono_tz::Tz>().is_err() {
                return Err(CliError::Simulate(format!(
                    "--timezone {:?} is not an IANA zone name",
                    args.timezone
                )));
            }
            let api = Api::new(url, token.expose_secret())?;
            api.arrange(&plan).await?;
            Some(api)
        }
        _ => None,
    };
    if let (Some(url), Some(verifier)) = (&args.url, verifier) {
        let options = send::SendOptions {
            url: url.clone(),
            rate: (args.rate > 0).then_some(args.rate),
            concurrency: args.concurrency as usize,
            progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
            attempts: 4,
        };
        let report = send::send(deliveries, |body| verifier.sign(body), &options)
            .await
            .map_err(|e| CliError::Simulate(format!("could not send: {e}")))?;
        eprintln!(
            "sent {} in {:.1} s: {} accepted ({:.0}/s), {} failed, {} retried; latency p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            report.sent,
            report.elapsed.as_secs_f64(),
            report.accepted,
            report.per_second(),
            report.failed.len(),
            report.retried,
            report.percentile(50.0),
            report.percentile(99.0),
            report.percentile(100.0),
        );
        if let Some((event, why)) = report.failed.first() {
            return Err(CliError::Simulate(format!(
                "{} deliveries were not accepted; the first, event {event}: {why}",
                report.failed.len()
            )));
        }
    }
    if let Some(api) = api {
        api.after(&plan).await?;
    }
    Ok(())
}

/// The server's API, for `simulate --api-token`: what an operator sets up around a fleet.
struct Api {
    client: reqwest::Client,
    /// `http://host:port`.
    base: String,
    token: String,
}

impl Api {
    fn new(webhook_url: &str, token: &str) -> Result<Api, CliError> {
        let url = reqwest::Url::parse(webhook_url)
            .map_err(|e| CliError::Simulate(format!("--url: {e}")))?;
        let base = url.origin().ascii_serialization();
        let client = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| CliError::Simulate(format!("no HTTP client: {e}")))?;
        Ok(Api {
            client,
            base,
            token: token.to_owned(),
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<u16, CliError> {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .json(body)
            .send()
            .await
            .map_err(|e| CliError::Simulate(format!("{path}: {e}")))?;
        let status = response.status().as_u16();
        // A place that exists already (a second run) is fine.
        if response.status().is_success() || status == 409 {
            Ok(status)
        } else {
            let text = response.text().await.unwrap_or_default();
            Err(CliError::Simulate(format!(
                "{path} answered {status}: {text}"
            )))
        }
    }

    /// Places and the fleet schedule, before the deliveries.
    async fn arrange(&self, plan: &simulator::arrangement::Arrangement) -> Result<(), CliError> {
        for place in &plan.places {
            self.call(reqwest::Method::POST, "/api/v1/places", place)
                .await?;
        }
        self.call(
            reqwest::Method::PUT,
            "/api/v1/schedules/default",
            &plan.fleet_schedule,
        )
        .await?;
        eprintln!(
            "set up {} places and the fleet's departure schedule",
            plan.places.len()
        );
        Ok(())
    }

    /// The vehicle with no departures, once it exists.
    async fn after(&self, plan: &simulator::arrangement::Arrangement) -> Result<(), CliError> {
        if let Some((id, body)) = &plan.no_departures {
            let path = format!("/api/v1/vehicles/{id}/schedule");
            self.call(reqwest::Method::PUT, &path, body).await?;
        }
        Ok(())
    }
}
