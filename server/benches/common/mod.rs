//! What the benchmarks share: the settings of a server on a database of their own.

use app::domain::sessions::EngineConfig;
use secrecy::SecretString;
use server::config::{DatabaseSettings, Settings};

/// Settings for a server on `url`, listening on a free local port, signing with `token`.
pub fn settings(url: &str, dir: &std::path::Path, token: &str) -> Settings {
    Settings {
        database: DatabaseSettings::parse(url).unwrap_or_else(|e| panic!("{e}")),
        management_token: Some(SecretString::from(token.to_owned())),
        addr: "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
        site_root: dir.join("site"),
        engine: EngineConfig::default(),
        timezone: chrono_tz::Tz::UTC,
        metrics_token: None,
        metrics_addr: None,
        trusted_proxies: vec![],
        demo: false,
    }
}
