//! The command line: `serve` (default) and `migrate`.

use crate::config::{
    Cli, Command, ConfigError, DatabaseSettings, ServeArgs, Settings, TokenCommand, UserCommand,
};
use crate::db;
use crate::startup::Application;
use clap::Parser;
use migrations::{Migrator, MigratorTrait};
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
    Rederive(#[from] crate::rederive::RederiveError),
    #[error("the server stopped with an error")]
    Serve(#[source] std::io::Error),
    #[error("the system clock is before 1970")]
    Clock,
    #[error("could not start the async runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Account(#[from] crate::auth::AccountError),
    #[error("could not read the password")]
    Password(#[source] std::io::Error),
    #[error("the two passwords differ")]
    PasswordMismatch,
    #[error(transparent)]
    Query(#[from] sea_orm::DbErr),
}

/// The password for `user add`: from standard input, or asked for twice on the terminal.
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
    use crate::auth;
    let settings = DatabaseSettings::parse(&database.database_url)?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    match command {
        UserCommand::Add {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            auth::add_user(&db, &name, &password, auth::now_ms()).await?;
            println!("created the account {name:?}");
        }
        UserCommand::List => {
            for user in auth::list_users(&db).await? {
                println!(
                    "{:<32} created {}",
                    user.name,
                    time_text(Some(user.created_at))
                );
            }
        }
        UserCommand::Remove { name } => {
            auth::remove_user(&db, &name).await?;
            println!("removed the account {name:?} and ended its sessions");
        }
    }
    Ok(())
}

async fn tokens(
    database: &crate::config::DatabaseArgs,
    command: TokenCommand,
) -> Result<(), CliError> {
    use crate::auth;
    let settings = DatabaseSettings::parse(&database.database_url)?;
    let db = db::connect(&settings).await?;
    db::migrate(&db).await?;
    match command {
        TokenCommand::Create { name } => {
            let token = auth::create_token(&db, &name, auth::now_ms()).await?;
            eprintln!("created the token {name:?}; it is shown only now:");
            println!("{token}");
        }
        TokenCommand::List => {
            for t in auth::list_tokens(&db).await? {
                let state = match t.revoked_at {
                    Some(at) => format!("revoked {}", time_text(Some(at))),
                    None => "active".to_owned(),
                };
                println!(
                    "{:<32} created {}, last used {}, {state}",
                    t.name,
                    time_text(Some(t.created_at)),
                    time_text(t.last_used_at)
                );
            }
        }
        TokenCommand::Revoke { name } => {
            auth::revoke_token(&db, &name, auth::now_ms()).await?;
            println!("revoked the token {name:?}");
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
            let settings = DatabaseSettings::parse(&cli.database.database_url)?;
            let db = db::connect(&settings).await?;
            if args.status {
                for m in Migrator::get_migration_with_status(&db)
                    .await
                    .map_err(CliError::Status)?
                {
                    println!("{:<40} {:?}", m.name(), m.status());
                }
            } else {
                db::migrate(&db).await?;
                tracing::info!("database is up to date");
            }
            Ok(())
        }
        Some(Command::User(command)) => accounts(&cli.database, command).await,
        Some(Command::Token(command)) => tokens(&cli.database, command).await,
        Some(Command::Rederive(args)) => {
            let engine = args.sessions.engine()?;
            let settings = DatabaseSettings::parse(&cli.database.database_url)?;
            let db = db::connect(&settings).await?;
            db::migrate(&db).await?;
            let as_of = app::domain::time::EpochMs::from_datetime(chrono::Utc::now())
                .map_err(|_| CliError::Clock)?;
            let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
            let summary =
                crate::rederive::run(&db, args.vehicle.as_deref(), &engine, as_of, progress)
                    .await?;
            println!(
                "re-derived {} session(s) for {} vehicle(s)",
                summary.sessions, summary.vehicles
            );
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
    let app = Application::build(settings).await?;
    tracing::info!(addr = %app.local_addr(), "chargelog is listening");
    app.run_until_stopped().await.map_err(CliError::Serve)
}
