//! What the benchmarks share: a server on a database of their own.

use app::domain::sessions::EngineConfig;
use secrecy::SecretString;
use server::config::{DatabaseSettings, Settings};

/// Settings for a server on `url`, listening on a free local port, signing with `token`.
pub fn settings(url: &str, dir: &std::path::Path, token: &str) -> Settings {
    Settings {
        database: DatabaseSettings::parse(url).unwrap_or_else(|e| panic!("{e}")),
        management_token: Some(SecretString::from(token.to_owned())),
        addr: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        site_root: dir.join("site"),
        engine: EngineConfig::default(),
        timezone: chrono_tz::Tz::UTC,
        metrics_token: None,
        metrics_addr: None,
        trusted_proxies: vec![],
        demo: false,
        public_url: None,
        connections: server::config::ConnectionLimits::default(),
        notify: server::config::NotifySettings::default(),
    }
}

/// Builds and starts a server on `url`; returns its base address (`http://…`) and its
/// database.
pub async fn start(
    url: &str,
    dir: &std::path::Path,
    token: &str,
) -> (String, sea_orm::DatabaseConnection) {
    let app = server::startup::Application::build(settings(url, dir, token))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let db = app.state().db.clone();
    let base = format!("http://{}", app.local_addr());
    tokio::spawn(app.run_until_stopped());
    (base, db)
}

#[allow(
    dead_code,
    reason = "each benchmark includes the shared code and uses a part of it"
)]
pub mod pages;
