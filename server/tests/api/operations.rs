//! Health, readiness, metrics and request ids.

use crate::helpers::{spawn_app, spawn_configured, test_settings, Backend};
use secrecy::SecretString;

crate::on_both_backends!(
    healthz_and_readyz_answer_when_all_is_well,
    readyz_reports_pending_migrations_and_a_lost_database,
    metrics_need_the_token_on_the_main_address,
    metrics_are_open_on_their_own_address,
    every_response_carries_a_request_id,
    security_headers_allow_the_app_and_nothing_else,
);

async fn security_headers_allow_the_app_and_nothing_else(backend: Backend) {
    let app = spawn_app(backend).await;
    let page = app.get("/").await;
    let csp = page.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    for header in [
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
    ] {
        assert!(page.headers().contains_key(header), "{header}");
    }
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    let html = page.text().await.unwrap();
    // The page's CSP names the nonce its inline scripts carry, and lets WASM compile.
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("a nonce in the policy");
    assert!(html.contains(&format!("nonce=\"{nonce}\"")), "{html}");
    assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));
    // Every response has its own nonce.
    let again = app.get("/").await;
    assert!(!again.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains(nonce));
    // Anything that is not a page may load nothing at all.
    let json = app.get("/api/v1/vehicles").await;
    assert_eq!(
        json.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(json.headers()["x-frame-options"], "DENY");
}

const METRICS_TOKEN: &str = "m3tr1cs-t0ken-for-tests";

async fn healthz_and_readyz_answer_when_all_is_well(backend: Backend) {
    let app = spawn_app(backend).await;
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn readyz_reports_pending_migrations_and_a_lost_database(backend: Backend) {
    use migrations::MigratorTrait;
    let app = spawn_app(backend).await;
    migrations::Migrator::down(&app.db, Some(1)).await.unwrap();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "migrations pending");
    let newest = migrations::Migrator::migrations()
        .last()
        .map(|m| m.name().to_owned())
        .unwrap();
    assert_eq!(body["pending"][0], newest.as_str());
    migrations::Migrator::up(&app.db, None).await.unwrap();
    assert_eq!(app.get("/readyz").await.status(), 200);
    // The server's pool closed: the database is unreachable, and /healthz still answers.
    app.db.clone().close().await.unwrap();
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "database unreachable");
    assert_eq!(app.get("/healthz").await.status(), 200);
}

async fn metrics_need_the_token_on_the_main_address(backend: Backend) {
    // Without a token configured, there are no metrics on the main address.
    let plain = spawn_app(backend).await;
    assert_eq!(plain.get("/metrics").await.status(), 404);

    let (mut settings, dir) = test_settings(backend).await;
    settings.metrics_token = Some(SecretString::from(METRICS_TOKEN.to_owned()));
    let app = spawn_configured(backend, settings, dir).await;
    assert_eq!(app.get("/metrics").await.status(), 401);
    let wrong = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth("m3tr1cs-t0ken-for-testz")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);

    assert_eq!(app.deliver("03_charge_start.json").await.0, 200);
    assert_eq!(app.deliver("03_charge_start.json").await.0, 200);
    app.post_webhook(b"{}".to_vec(), None).await;
    let response = app
        .client
        .get(app.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let text = response.text().await.unwrap();
    for line in [
        "chargelog_webhook_requests_total{outcome=\"stored\"} 1",
        "chargelog_webhook_requests_total{outcome=\"duplicate\"} 1",
        "chargelog_webhook_requests_total{outcome=\"rejected_signature\"} 1",
        "chargelog_webhook_duration_seconds_count 3",
        "chargelog_sessions_charging 1",
        "chargelog_db_pool_connections{state=\"in_use\"}",
        "chargelog_db_pool_max_connections",
        "chargelog_deliveries_waiting 0",
        "chargelog_deliveries_waiting_oldest_seconds 0",
        "chargelog_deliveries_failed 0",
    ] {
        assert!(text.contains(line), "{line} in:\n{text}");
    }
    assert!(!text.contains(METRICS_TOKEN));
}

async fn metrics_are_open_on_their_own_address(backend: Backend) {
    let (mut settings, dir) = test_settings(backend).await;
    settings.metrics_addr = Some("127.0.0.1:0".parse().unwrap());
    let app = spawn_configured(backend, settings, dir).await;
    let addr = app.metrics_addr.expect("a metrics address");
    let response = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .text()
        .await
        .unwrap()
        .contains("chargelog_sessions_charging"));
    // Only metrics there: not the UI, not the webhook.
    let other = app
        .client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
    // And the main address still keeps them behind a token (none configured: 404).
    assert_eq!(app.get("/metrics").await.status(), 404);
}

async fn every_response_carries_a_request_id(backend: Backend) {
    let app = spawn_app(backend).await;
    let response = app.get("/healthz").await;
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    let again = app.get("/healthz").await;
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), id);
    // A proxy's id is kept.
    let kept = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "proxy-42")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "proxy-42");
}

/// SIGTERM while a webhook is half-sent: the server takes the rest, stores it, answers
/// 200, and only then exits.
#[tokio::test]
async fn sigterm_finishes_the_webhook_in_flight() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let db_path = dir.path().join("graceful.db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_chargelog"))
        .arg("serve")
        .env("DATABASE_URL", format!("sqlite://{}", db_path.display()))
        .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
        .env("LEPTOS_SITE_ROOT", dir.path())
        .env("SMARTCAR_MANAGEMENT_TOKEN", crate::helpers::TOKEN)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..100 {
        if client
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(up, "the server started");

    let body = crate::helpers::fixture("03_charge_start.json");
    let signature = crate::helpers::sign(&body);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "POST /webhooks/smartcar HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
         sc-signature: {signature}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    let (first, rest) = body.split_at(body.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let killed = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "still finishing the request"
    );

    stream.write_all(rest).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains(r#"{"status":"stored"}"#), "{answer}");

    let mut exited = None;
    for _ in 0..100 {
        if let Some(status) = child.try_wait().unwrap() {
            exited = Some(status);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let status = exited.expect("the server exits after the request");
    assert!(status.success(), "{status}");
    // The delivery is on disk: applied, or waiting in the inbox for the next start.
    let db = crate::process::connect(&format!("sqlite://{}", db_path.display())).await;
    use sea_orm::{EntityTrait, PaginatorTrait};
    let stored = app::server::entities::deliveries::Entity::find()
        .count(&db)
        .await
        .unwrap();
    let (in_inbox, _) = server::webhook::inbox::waiting(&db).await.unwrap();
    assert_eq!(stored + in_inbox, 1);
}

/// On/off settings take the spellings an environment file usually has: `./scripts/run
/// --demo` exports `CHARGELOG_DEMO=1`, which a bare `bool` refused, so the demo never
/// started. A value that is neither on nor off still stops the server, naming it.
#[tokio::test]
async fn on_off_settings_take_the_usual_spellings() {
    use crate::process::ServerProcess;
    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());

    let demo = ServerProcess::start_with(
        &url("demo.db"),
        dir.path(),
        &[("CHARGELOG_DEMO", "1"), ("CHARGELOG_H2C", "Off")],
    )
    .await;
    assert!(
        demo.log()
            .contains("demo mode: this server shows simulated vehicles"),
        "{}",
        demo.log_tail()
    );
    drop(demo);
    let plain = ServerProcess::start_with(
        &url("plain.db"),
        dir.path(),
        &[("CHARGELOG_DEMO", "no"), ("CHARGELOG_H2C", "YES")],
    )
    .await;
    assert!(!plain.log().contains("demo mode"), "{}", plain.log_tail());
    drop(plain);

    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_chargelog"))
        .arg("serve")
        .env("DATABASE_URL", url("refused.db"))
        .env("CHARGELOG_DEMO", "maybe")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(said.contains("invalid value 'maybe'"), "{said}");
}
