#![allow(
    dead_code,
    reason = "each test module uses its own share of the helpers"
)]

use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use secrecy::SecretString;
use serde_json::{json, Value};
use server::config::{DatabaseSettings, Settings};
use server::startup::Application;
use server::webhook::signature::Verifier;
use std::net::SocketAddr;
use std::path::PathBuf;

/// The fake management token the fixtures are signed with.
pub const TOKEN: &str = "a5f1c2d3-4b5e-4f60-8a7b-9c0d1e2f3a4b";
pub const PG_ENV: &str = "CHARGELOG_TEST_POSTGRES_URL";

pub const VEHICLE_A: &str = "3e1f9b7a-5c2d-4e8f-a061-7b2c9d4e5f60";
pub const VEHICLE_B: &str = "9b8a7c6d-1e2f-4a3b-8c5d-0e1f2a3b4c5d";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const OPERATOR: &str = "operator";
pub const OPERATOR_PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub addr: SocketAddr,
    /// Sends the operator's login session cookie; follows no redirects.
    pub client: reqwest::Client,
    /// The operator's login session cookie value.
    pub session: String,
    pub db: DatabaseConnection,
    pub backend: Backend,
    /// The server's count of deliveries refused for their signature.
    pub rejected: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The separate `/metrics` address, when the settings asked for one.
    pub metrics_addr: Option<SocketAddr>,
    _dir: Option<tempfile::TempDir>,
}

/// Runs each listed test (an `async fn(Backend)` in the same module) once on SQLite and
/// once on PostgreSQL.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Sqlite).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                #[cfg_attr(not(pg_tests), ignore = "PostgreSQL skipped: set CHARGELOG_TEST_POSTGRES_URL to run it")]
                async fn $name() {
                    super::$name($crate::helpers::Backend::Postgres).await
                }
            )*
        }
    };
}

pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A fixture's bytes exactly as stored (pretty-printed, no trailing newline).
pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixtures_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The fixture file names in their scenario order (01..12).
pub fn fixture_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().into_string().unwrap();
            name.ends_with(".json").then_some(name)
        })
        .collect();
    names.sort();
    names
}

pub fn sign(body: &[u8]) -> String {
    Verifier::new(SecretString::from(TOKEN.to_owned())).sign(body)
}

pub async fn database_url(backend: Backend, dir: &tempfile::TempDir) -> String {
    match backend {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("chargelog.db").display()),
        Backend::Postgres => {
            let admin_url = std::env::var(PG_ENV).expect("CHARGELOG_TEST_POSTGRES_URL");
            let name = format!("chargelog_test_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE {name}"),
                ))
                .await
                .expect("create test database");
            admin.close().await.ok();
            let (base, _) = admin_url
                .rsplit_once('/')
                .expect("URL with a database name");
            format!("{base}/{name}")
        }
    }
}

pub async fn spawn_app(backend: Backend) -> TestApp {
    spawn_app_with_token(backend, Some(TOKEN)).await
}

/// Sessions never go stale within the fixtures' past: they are judged as if it were
/// still 2026-03-14, the day the fixtures describe.
pub fn engine_for_fixtures() -> app::domain::sessions::EngineConfig {
    app::domain::sessions::EngineConfig {
        stale_after_ms: 10 * 365 * 24 * 3_600_000,
        ..Default::default()
    }
}

pub async fn spawn_app_with_token(backend: Backend, token: Option<&str>) -> TestApp {
    spawn_app_with(
        backend,
        token,
        app::domain::sessions::EngineConfig::default(),
    )
    .await
}

pub async fn spawn_app_with(
    backend: Backend,
    token: Option<&str>,
    engine: app::domain::sessions::EngineConfig,
) -> TestApp {
    // Logs go through the test harness, so they show only for a failing test.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new("warn"))
        .with_test_writer()
        .try_init();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(backend, &dir).await;
    let settings = Settings {
        database: DatabaseSettings::parse(&url).expect("valid test URL"),
        management_token: token.map(|t| SecretString::from(t.to_owned())),
        addr: "127.0.0.1:0".parse().unwrap(),
        site_root: dir.path().join("site"),
        engine,
        timezone: chrono_tz::Tz::UTC,
        metrics_token: None,
        metrics_addr: None,
        trusted_proxies: vec![],
        demo: false,
        public_url: None,
        connections: server::config::ConnectionLimits::default(),
        notify: test_notify(),
    };
    spawn_configured(backend, settings, dir).await
}

/// The integer in the first column of the one row `sql` returns (a 32-bit one, as
/// PostgreSQL's `length`, widened).
pub async fn scalar_i64(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .expect("query")
        .expect("one row");
    row.try_get_by_index::<i64>(0)
        .or_else(|_| row.try_get_by_index::<i32>(0).map(i64::from))
        .expect("an integer")
}

/// An app built from `settings` (whose database lives in `dir`).
pub async fn spawn_configured(
    backend: Backend,
    settings: Settings,
    dir: tempfile::TempDir,
) -> TestApp {
    let app = Application::build(settings).await.expect("build app");
    let metrics_addr = app.metrics_addr();
    let addr = app.local_addr();
    let db = app.state().db.clone();
    let rejected = app.state().webhook.rejected_signatures.clone();
    tokio::spawn(app.run_until_stopped());
    // Tests act as a logged-in operator unless they use `anonymous()`.
    let user = server::http::auth::add_user(
        &db,
        &Default::default(),
        OPERATOR,
        OPERATOR_PASSWORD,
        server::clock::now_ms(),
    )
    .await
    .expect("an operator account");
    let session = server::http::auth::start_session(&db, user, server::clock::now_ms())
        .await
        .expect("a login session");
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::COOKIE,
        format!("chargelog_session={session}").parse().unwrap(),
    );
    TestApp {
        addr,
        client: reqwest::Client::builder()
            .default_headers(headers)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        session,
        db,
        backend,
        rejected,
        metrics_addr,
        _dir: Some(dir),
    }
}

/// Notifications in tests: receivers on 127.0.0.1, retries within a fraction of a second.
pub fn test_notify() -> server::config::NotifySettings {
    server::config::NotifySettings {
        allow_private: true,
        first_retry: std::time::Duration::from_millis(100),
        smtp: None,
    }
}

/// Settings for a test app on a fresh database; the directory holds the database.
pub async fn test_settings(backend: Backend) -> (Settings, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = database_url(backend, &dir).await;
    let settings = Settings {
        database: DatabaseSettings::parse(&url).expect("valid test URL"),
        management_token: Some(SecretString::from(TOKEN.to_owned())),
        addr: "127.0.0.1:0".parse().unwrap(),
        site_root: dir.path().join("site"),
        engine: engine_for_fixtures(),
        timezone: chrono_tz::Tz::UTC,
        metrics_token: None,
        metrics_addr: None,
        trusted_proxies: vec![],
        demo: false,
        public_url: None,
        connections: server::config::ConnectionLimits::default(),
        notify: test_notify(),
    };
    (settings, dir)
}

impl TestApp {
    /// A client with no login and no token, that follows no redirects.
    pub fn anonymous() -> reqwest::Client {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// The folder the server serves static files from (it starts empty).
    pub fn site_root(&self) -> PathBuf {
        self._dir
            .as_ref()
            .map(|d| d.path().join("site"))
            .expect("a test app has its own folder")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// A page as a browser in `zone` (IANA name) gets it: `(status, HTML)`.
    pub async fn get_in_zone(&self, path: &str, zone: &str) -> (u16, String) {
        let response = self
            .client
            .get(self.url(path))
            .header(
                "cookie",
                format!("chargelog_tz={zone}; chargelog_session={}", self.session),
            )
            .send()
            .await
            .expect("request");
        (response.status().as_u16(), response.text().await.unwrap())
    }

    /// Calls a server function as the hydrated app does: `(status, JSON)`.
    pub async fn server_fn(
        &self,
        endpoint: &str,
        form: &[(&str, &str)],
    ) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url(&format!("/api/{endpoint}")))
            .form(form)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    /// The fleet page's data through its server function, as the hydrated page asks.
    pub async fn fleet_page(&self) -> serde_json::Value {
        let response = self
            .client
            .post(self.url("/api/fleet_page"))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200);
        response.json().await.expect("JSON")
    }

    pub async fn post_webhook(&self, body: Vec<u8>, signature: Option<&str>) -> reqwest::Response {
        let mut request = self
            .client
            .post(self.url("/webhooks/smartcar"))
            .header("content-type", "application/json")
            .header("user-agent", "Smartcar/4.0")
            .body(body);
        if let Some(sig) = signature {
            request = request.header("SC-Signature", sig);
        }
        let response = request.send().await.expect("request");
        if response.status().is_success() {
            self.settle().await;
        }
        response
    }

    /// Waits until the processor has applied every accepted delivery (the webhook
    /// answers once a delivery is stored raw; readings and sessions follow).
    pub async fn settle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            let waiting = server::webhook::queue::count_waiting(&self.db)
                .await
                .expect("counting waiting deliveries");
            if waiting == 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{waiting} deliveries still wait for the processor after 30 s"
            );
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    }

    /// Posts a body signed correctly.
    pub async fn post_signed(&self, body: Vec<u8>) -> reqwest::Response {
        let sig = sign(&body);
        self.post_webhook(body, Some(&sig)).await
    }

    pub async fn post_fixture(&self, name: &str) -> reqwest::Response {
        self.post_signed(fixture(name)).await
    }

    /// Posts a fixture and returns (status, JSON body).
    pub async fn deliver(&self, name: &str) -> (u16, serde_json::Value) {
        let response = self.post_fixture(name).await;
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }

    pub async fn count(&self, table: &str) -> i64 {
        self.scalar_i64(&format!("SELECT COUNT(*) AS n FROM {table}"))
            .await
    }

    pub async fn scalar_i64(&self, sql: &str) -> i64 {
        scalar_i64(&self.db, sql).await
    }

    /// The text in the first column of the one row `sql` returns.
    pub async fn scalar_text(&self, sql: &str) -> String {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.db.get_database_backend(),
                sql.to_owned(),
            ))
            .await
            .expect("query")
            .expect("one row");
        row.try_get_by_index::<String>(0).expect("text")
    }

    /// The latest numeric value of a signal, from the latest-state table.
    pub async fn latest_num(&self, vehicle: &str, code: &str) -> Option<f64> {
        use app::server::entities::vehicle_latest;
        use sea_orm::EntityTrait;
        vehicle_latest::Entity::find_by_id((vehicle.to_owned(), code.to_owned()))
            .one(&self.db)
            .await
            .expect("query")
            .and_then(|r| r.value_num)
    }

    /// Every stored session, in a stable order, for comparing end states.
    /// The stored sessions, without their pricing stamp (a time, which differs from
    /// one derivation to the next; whether a session is due is not what they compare).
    pub async fn sessions(&self) -> Vec<app::server::entities::sessions::Model> {
        use app::server::entities::sessions;
        use sea_orm::{EntityTrait, QueryOrder};
        let mut rows = sessions::Entity::find()
            .order_by_asc(sessions::Column::Id)
            .all(&self.db)
            .await
            .expect("query");
        for row in &mut rows {
            row.pricing_due = None;
        }
        rows
    }

    /// The whole latest-state table, in a stable order, for comparing end states.
    pub async fn latest_snapshot(&self) -> Vec<(String, String, Option<i64>, String)> {
        use app::server::entities::vehicle_latest;
        use sea_orm::{EntityTrait, QueryOrder};
        vehicle_latest::Entity::find()
            .order_by_asc(vehicle_latest::Column::VehicleId)
            .order_by_asc(vehicle_latest::Column::Code)
            .all(&self.db)
            .await
            .expect("query")
            .into_iter()
            .map(|r| {
                let value = format!(
                    "{:?}|{:?}|{:?}|{}",
                    r.value_num, r.value_bool, r.value_text, r.body
                );
                (r.vehicle_id, r.code, r.oem_updated_at, value)
            })
            .collect()
    }
}

/// An app whose sessions never go stale, with the fixtures' whole scenario delivered.
pub async fn spawn_scenario(backend: Backend) -> TestApp {
    let app = spawn_app_with(backend, Some(TOKEN), engine_for_fixtures()).await;
    for name in crate::ingest::SCENARIO {
        assert_eq!(app.deliver(name).await.0, 200, "{name}");
    }
    app
}

/// A request to the API with an optional JSON body: the status and the JSON answer (null
/// when the answer is not JSON).
pub async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut request = app.client.request(method.parse().unwrap(), app.url(path));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::Null),
    )
}

/// Waits until the background pricer has caught up with every change: every session
/// placed and priced (and its load kept).
pub async fn priced(app: &TestApp) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while app
        .scalar_i64("SELECT COUNT(*) FROM sessions WHERE pricing_due IS NOT NULL")
        .await
        > 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "pricing never caught up"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A vehicle's state as Smartcar delivers it, observed a minute ago.
pub async fn report(app: &TestApp, vehicle: &str, signals: &[(&str, Value)]) {
    report_aged(app, vehicle, 60_000, signals).await;
}

/// A vehicle's state as Smartcar delivers it, observed `age_ms` ago.
pub async fn report_aged(app: &TestApp, vehicle: &str, age_ms: i64, signals: &[(&str, Value)]) {
    let response = app.post_signed(state_body(vehicle, age_ms, signals)).await;
    assert_eq!(response.status(), 200, "{vehicle}");
}

/// The body of a VEHICLE_STATE delivery of `signals` observed `age_ms` ago (a new event
/// id each time).
pub fn state_body(vehicle: &str, age_ms: i64, signals: &[(&str, Value)]) -> Vec<u8> {
    static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let now = server::clock::now_ms();
    let meta = json!({"oemUpdatedAt": now - age_ms, "fetchedAt": now - age_ms + 30_000});
    let signals: Vec<Value> = signals
        .iter()
        .map(|(code, body)| json!({"code": code, "body": body, "meta": meta}))
        .collect();
    json!({
        "eventId": format!("{vehicle}-{now}-{age_ms}-{seq}"),
        "eventType": "VEHICLE_STATE",
        "vehicleId": vehicle,
        "data": {
            "user": {"id": "c0ffee00-1b2c-4d3e-8f40-5a6b7c8d9e0f"},
            "vehicle": {"id": vehicle, "make": "KIA", "model": "EV6", "year": 2024},
            "triggers": [{"code": "SCHEDULED"}],
            "signals": signals,
        },
        "meta": {"version": "4.0", "deliveryId": format!("d-{vehicle}-{now}-{age_ms}-{seq}"),
                 "deliveredAt": now, "webhookId": "w", "webhookName": "t", "mode": "LIVE"},
    })
    .to_string()
    .into_bytes()
}

pub fn soc(percent: f64) -> (&'static str, Value) {
    (
        "tractionbattery-stateofcharge",
        json!({"value": percent, "unit": "percent"}),
    )
}

pub fn flag(code: &'static str, value: bool) -> (&'static str, Value) {
    (code, json!({"value": value}))
}

pub fn charging(on: bool) -> (&'static str, Value) {
    flag("charge-ischarging", on)
}

pub fn plugged(on: bool) -> (&'static str, Value) {
    flag("charge-ischargingcableconnected", on)
}

pub fn watts(w: f64) -> (&'static str, Value) {
    ("charge-wattage", json!({"value": w, "unit": "watts"}))
}

pub fn capacity(kwh: f64) -> (&'static str, Value) {
    (
        "tractionbattery-nominalcapacity",
        json!({"capacity": kwh, "unit": "kWh", "availableCapacities": []}),
    )
}

pub fn limit(percent: f64) -> (&'static str, Value) {
    (
        "charge-chargelimits",
        json!({"values": [], "activeLimit": percent, "unit": "percent"}),
    )
}
