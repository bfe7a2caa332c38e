//! Alert notifications against receivers these tests start on 127.0.0.1: a webhook gets
//! each event signed (and a failed attempt again, with the same delivery id); a receiver
//! that answers 410 is removed; one that is down or never answers is retried and logged;
//! e-mail reaches an SMTP sink; two processes on one PostgreSQL send each notification
//! once; a restart sends what was queued. Webhooks to private addresses are refused
//! unless allowed.

use crate::helpers::{
    charging, database_url, limit, plugged, report, report_aged, sign, soc, spawn_app,
    spawn_configured, state_body, test_settings, Backend,
};
use crate::process::ServerProcess;
use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, KeyInit, Mac};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::Value;
use sha2::Sha256;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

crate::on_both_backends!(
    a_webhook_gets_each_event_signed_and_a_failure_again,
    a_receiver_that_is_gone_is_removed_and_one_that_is_down_is_retried,
    alerts_are_emailed_through_smtp,
    private_addresses_are_refused_unless_allowed,
    a_restart_sends_what_was_queued,
);

const IDLE: &str = "5a1e7c0d-2b3f-4a5e-8c6d-7e8f9a0b1c2d";
const SECRET: &str = "whsec_test_secret";
const MINUTE: i64 = 60_000;

/// One request a receiver got.
#[derive(Debug, Clone)]
struct Received {
    headers: HeaderMap,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("JSON")
    }
}

/// A webhook receiver on 127.0.0.1 that answers with the statuses it is given, in turn
/// (then 200), or never answers when `hang` is set.
#[derive(Clone)]
struct Receiver {
    addr: SocketAddr,
    got: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(answers: &[u16], hang: bool) -> Receiver {
        let got = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(
            answers.iter().copied().collect::<VecDeque<u16>>(),
        ));
        let (g, s) = (got.clone(), script.clone());
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let (got, script) = (g.clone(), s.clone());
                async move {
                    got.lock().unwrap().push(Received { headers, body });
                    if hang {
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    let status = script.lock().unwrap().pop_front().unwrap_or(200);
                    StatusCode::from_u16(status).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, got }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// What it got about `vehicle`.
    fn about(&self, vehicle: &str) -> Vec<Received> {
        self.got
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.json()["alert"]["vehicle_id"] == vehicle)
            .cloned()
            .collect()
    }

    /// Waits until `until` holds of what it got about `vehicle`.
    async fn wait(&self, vehicle: &str, until: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let deadline = Instant::now() + Duration::from_secs(40);
        loop {
            let got = self.about(vehicle);
            if until(&got) {
                return got;
            }
            assert!(Instant::now() < deadline, "never as expected: {got:#?}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

async fn add_endpoint(db: &DatabaseConnection, url: &str) -> i64 {
    app::server::notifications::add_webhook(db, "test", url, SECRET)
        .await
        .expect("endpoint")
        .id
}

/// Checks the signature as a receiver would: `t=…,v1=HMAC(secret, "t.body")`, fresh.
fn assert_signed(r: &Received) {
    let header = r.header("chargelog-signature");
    let (t, v1) = header
        .strip_prefix("t=")
        .and_then(|rest| rest.split_once(",v1="))
        .unwrap_or_else(|| panic!("a signature header: {header:?}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{}", r.body).as_bytes());
    assert_eq!(v1, hex::encode(mac.finalize().into_bytes()), "signature");
    let age = server::clock::now_ms() / 1000 - t.parse::<i64>().unwrap();
    assert!((0..60).contains(&age), "fresh: {age} s");
}

async fn count(db: &DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

/// Plugged in, not charging, well below its limit.
fn idle_state() -> [(&'static str, Value); 4] {
    [plugged(true), charging(false), soc(50.0), limit(90.0)]
}

async fn a_webhook_gets_each_event_signed_and_a_failure_again(backend: Backend) {
    let app = spawn_app(backend).await;
    let receiver = Receiver::start(&[500], false).await;
    add_endpoint(&app.db, &receiver.url()).await;

    // Plugged in and idle for 20 minutes: an alert opens; the first attempt gets a 500.
    report_aged(&app, IDLE, 20 * MINUTE, &idle_state()).await;
    let got = receiver.wait(IDLE, |g| g.len() >= 2).await;
    for r in &got {
        assert_signed(r);
        assert_eq!(r.header("chargelog-event"), "alert.opened");
        assert_eq!(r.header("content-type"), "application/json");
    }
    assert_eq!(
        got[0].header("chargelog-delivery"),
        got[1].header("chargelog-delivery"),
        "a retry is the same delivery"
    );
    assert_eq!(got[0].body, got[1].body, "byte for byte");
    let event = got[0].json();
    assert_eq!(event["type"], "alert.opened");
    assert_eq!(event["alert"]["kind"], "plugged_not_charging");
    assert_eq!(event["alert"]["resolved_at"], Value::Null);

    // Charging: resolved, and said so.
    report(&app, IDLE, &[plugged(true), charging(true), soc(51.0)]).await;
    let got = receiver.wait(IDLE, |g| g.len() >= 3).await;
    assert_eq!(got[2].header("chargelog-event"), "alert.resolved");
    assert_signed(&got[2]);
    assert!(got[2].json()["alert"]["resolved_at"].is_string());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        receiver.about(IDLE).len(),
        3,
        "nothing sent twice once delivered"
    );

    // The log has every attempt; the page shows it.
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM notification_attempts").await,
        3
    );
    assert_eq!(
        count(
            &app.db,
            "SELECT COUNT(*) FROM notifications WHERE state = 'delivered'"
        )
        .await,
        2
    );
    let page = app.get("/notifications").await.text().await.unwrap();
    assert!(
        page.contains("500: answered 500 Internal Server Error"),
        "{page}"
    );
    assert!(page.contains("alert.resolved"), "{page}");
}

async fn a_receiver_that_is_gone_is_removed_and_one_that_is_down_is_retried(backend: Backend) {
    let app = spawn_app(backend).await;
    let gone = Receiver::start(&[410], false).await;
    let gone_id = add_endpoint(&app.db, &gone.url()).await;
    // A port nobody listens on.
    let down = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let down_id = add_endpoint(&app.db, &format!("http://{down}/hook")).await;
    let slow = Receiver::start(&[], true).await;
    let slow_id = add_endpoint(&app.db, &slow.url()).await;

    report_aged(&app, IDLE, 20 * MINUTE, &idle_state()).await;
    gone.wait(IDLE, |g| !g.is_empty()).await;
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        let removed = count(
            &app.db,
            &format!("SELECT COUNT(*) FROM notify_endpoints WHERE id = {gone_id} AND removed_reason = 'gone'"),
        )
        .await;
        let down_tries = count(
            &app.db,
            &format!("SELECT COUNT(*) FROM notification_attempts WHERE endpoint_id = {down_id}"),
        )
        .await;
        let slow_timeouts = count(
            &app.db,
            &format!("SELECT COUNT(*) FROM notification_attempts WHERE endpoint_id = {slow_id} AND error LIKE 'no answer within 10 s%'"),
        )
        .await;
        if removed == 1 && down_tries >= 2 && slow_timeouts >= 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "gone removed {removed}, down tried {down_tries}, slow timed out {slow_timeouts}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        count(&app.db, &format!("SELECT COUNT(*) FROM notifications WHERE endpoint_id = {down_id} AND state = 'pending'")).await,
        1,
        "still waiting to be sent"
    );
    let page = app.get(&format!("/notifications?endpoint={down_id}")).await;
    let page = page.text().await.unwrap();
    assert!(page.contains("could not connect"), "{page}");
    assert!(page.contains("the receiver answered 410 Gone"), "{page}");
}

/// A minimal SMTP server that takes every message and keeps its text.
async fn smtp_sink() -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let kept = mails.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let kept = kept.clone();
            tokio::spawn(async move {
                let (read, mut write) = socket.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 sink ESMTP\r\n").await;
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(text) = data.as_mut() {
                        if line == "." {
                            kept.lock().unwrap().push(data.take().unwrap_or_default());
                            let _ = write.write_all(b"250 OK queued\r\n").await;
                        } else {
                            text.push_str(&line);
                            text.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or_default().to_ascii_uppercase();
                    let answer: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-sink\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go on\r\n"
                        }
                        "QUIT" => {
                            let _ = write.write_all(b"221 bye\r\n").await;
                            break;
                        }
                        _ => b"250 OK\r\n",
                    };
                    let _ = write.write_all(answer).await;
                }
            });
        }
    });
    (addr, mails)
}

async fn alerts_are_emailed_through_smtp(backend: Backend) {
    let (sink, mails) = smtp_sink().await;
    let (mut settings, dir) = test_settings(backend).await;
    settings.notify.smtp = Some(server::config::SmtpSettings {
        host: "127.0.0.1".into(),
        port: sink.port(),
        tls: server::config::SmtpTls::None,
        credentials: None,
        from: "chargelog <alerts@depot.example>".into(),
        to: vec!["yard@depot.example".into(), "night@depot.example".into()],
    });
    let app = spawn_configured(backend, settings, dir).await;
    report_aged(&app, IDLE, 20 * MINUTE, &idle_state()).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mail = loop {
        if let Some(mail) = mails.lock().unwrap().first().cloned() {
            break mail;
        }
        assert!(Instant::now() < deadline, "no e-mail arrived");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    // Unfolded: long header lines continue on indented lines, long text lines end in `=`.
    let mail = mail.replace("\n ", " ").replace("=\n", "");
    assert!(
        mail.contains("Subject: [chargelog] Plugged, not charging opened: KIA EV6 2024"),
        "{mail}"
    );
    assert!(mail.contains("yard@depot.example"), "{mail}");
    assert!(mail.contains("night@depot.example"), "{mail}");
    assert!(mail.contains("plugged in and not charging since"), "{mail}");
    let page = app.get("/notifications").await.text().await.unwrap();
    assert!(
        page.contains("mailto:yard@depot.example,night@depot.example"),
        "{page}"
    );
}

async fn private_addresses_are_refused_unless_allowed(backend: Backend) {
    let (mut settings, dir) = test_settings(backend).await;
    settings.notify.allow_private = false;
    let app = spawn_configured(backend, settings, dir).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://localhost:3000/",
        "ftp://example.com/",
    ] {
        let response = app
            .client
            .post(app.url("/forms/notify"))
            .form(&[("name", "inside"), ("url", url)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 303, "{url}");
        let location = response.headers()["location"].to_str().unwrap().to_owned();
        assert!(
            location.starts_with("/notifications?error=url"),
            "{url}: {location}"
        );
    }
    assert_eq!(
        count(&app.db, "SELECT COUNT(*) FROM notify_endpoints").await,
        0
    );
    let long = format!("https://example.com/{}", "a".repeat(3000));
    let response = app
        .client
        .post(app.url("/forms/notify"))
        .form(&[("url", long.as_str())])
        .send()
        .await
        .unwrap();
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.contains("error=url"), "{location}");
}

/// The environment of a server process in these tests.
const PROCESS_ENV: [(&str, &str); 2] = [
    ("CHARGELOG_NOTIFY_ALLOW_PRIVATE", "true"),
    ("CHARGELOG_NOTIFY_FIRST_RETRY_SECONDS", "0.2"),
];

async fn deliver(process: &ServerProcess, body: Vec<u8>) {
    let signature = sign(&body);
    let response = reqwest::Client::new()
        .post(process.url("/webhooks/smartcar"))
        .header("SC-Signature", signature)
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .expect("delivery");
    assert_eq!(response.status(), 200);
}

async fn a_restart_sends_what_was_queued(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(backend, &dir).await;
    let mut first = ServerProcess::start_with(&url, dir.path(), &PROCESS_ENV).await;
    let db = Database::connect(&url).await.unwrap();
    // The receiver is not there yet: its port is taken back for it later.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    add_endpoint(&db, &format!("http://127.0.0.1:{port}/hook")).await;
    deliver(&first, state_body(IDLE, 20 * MINUTE, &idle_state())).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(&db, "SELECT COUNT(*) FROM notification_attempts").await == 0 {
        assert!(Instant::now() < deadline, "never attempted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill().await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM notifications WHERE state = 'pending'"
        )
        .await,
        1
    );

    // The receiver comes up; a new process sends what the dead one left.
    let receiver = {
        let got = Arc::new(Mutex::new(Vec::new()));
        let g = got.clone();
        let app = axum::Router::new().route(
            "/hook",
            axum::routing::post(move |headers: HeaderMap, body: String| {
                let got = g.clone();
                async move {
                    got.lock().unwrap().push(Received { headers, body });
                    StatusCode::NO_CONTENT
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            got,
        }
    };
    let _second = ServerProcess::start_with(&url, dir.path(), &PROCESS_ENV).await;
    let got = receiver.wait(IDLE, |g| !g.is_empty()).await;
    assert_signed(&got[0]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while count(
        &db,
        "SELECT COUNT(*) FROM notifications WHERE state = 'delivered'",
    )
    .await
        != 1
    {
        assert!(Instant::now() < deadline, "never recorded as delivered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
#[cfg_attr(
    not(pg_tests),
    ignore = "PostgreSQL skipped: set CHARGELOG_TEST_POSTGRES_URL to run it"
)]
async fn two_processes_open_each_alert_once_and_send_each_notification_once() {
    let dir = tempfile::tempdir().unwrap();
    let url = database_url(Backend::Postgres, &dir).await;
    let (a, b) = tokio::join!(
        ServerProcess::start_with(&url, dir.path(), &PROCESS_ENV),
        ServerProcess::start_with(&url, dir.path(), &PROCESS_ENV),
    );
    let db = Database::connect(&url).await.unwrap();
    let receiver = Receiver::start(&[], false).await;
    add_endpoint(&db, &receiver.url()).await;
    // Five vehicles, each told idle to both processes at once, twice.
    let vehicles: Vec<String> = (0..5)
        .map(|i| format!("5a1e7c0d-2b3f-4a5e-8c6d-7e8f9a0b1c{i:02}"))
        .collect();
    for round in 0..2 {
        let sends = vehicles.iter().flat_map(|v| {
            let age = (20 + round) * MINUTE;
            [
                deliver(&a, state_body(v, age, &idle_state())),
                deliver(&b, state_body(v, age, &idle_state())),
            ]
        });
        futures::future::join_all(sends).await;
    }
    for v in &vehicles {
        receiver.wait(v, |g| !g.is_empty()).await;
    }
    // Time for any second sending to show.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.got.lock().unwrap().clone();
    let ids: std::collections::BTreeSet<&str> =
        got.iter().map(|r| r.header("chargelog-delivery")).collect();
    assert_eq!(
        got.len(),
        vehicles.len(),
        "one notification per vehicle: {got:#?}"
    );
    assert_eq!(ids.len(), vehicles.len());
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM alerts WHERE kind = 'plugged_not_charging'"
        )
        .await,
        vehicles.len() as i64,
        "each alert opened once"
    );
}
