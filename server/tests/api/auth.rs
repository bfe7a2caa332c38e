//! Nobody without an account reads anything: every route is walked without a login, then
//! with one and with API tokens; login, logout, idle expiry, rate limits and the CLI.

use crate::helpers::{
    spawn_app, spawn_scenario, Backend, TestApp, OPERATOR, OPERATOR_PASSWORD, VEHICLE_A,
};
use reqwest::StatusCode;

crate::on_both_backends!(
    every_route_but_the_open_ones_refuses_strangers,
    api_tokens_open_the_api_until_revoked,
    logging_in_and_out,
    idle_sessions_expire,
    login_attempts_are_rate_limited,
    login_limits_count_the_client_behind_a_trusted_proxy,
    cross_site_posts_are_refused,
    old_login_sessions_end_and_are_swept,
);

/// A GET sent byte for byte as written (HTTP clients tidy paths like `/pkg/../x` before
/// sending): the status line and the whole answer.
async fn raw_get(addr: std::net::SocketAddr, path: &str, cookie: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.lines().next().unwrap_or_default().to_owned();
    (status, answer)
}

/// Every path the router serves, with parameters filled in: the UI's routes (from the
/// app itself), every registered server function, and the other routes.
fn every_route() -> Vec<(reqwest::Method, String)> {
    let mut routes: Vec<(reqwest::Method, String)> = server::http::pages::route_list()
        .iter()
        .map(|r| {
            let path = r
                .path()
                .split('/')
                .map(|seg| {
                    if seg.starts_with(':') || seg.starts_with('{') {
                        "x"
                    } else {
                        seg
                    }
                })
                .collect::<Vec<_>>()
                .join("/");
            (
                reqwest::Method::GET,
                if path.is_empty() {
                    "/".to_owned()
                } else {
                    path
                },
            )
        })
        .collect();
    for (path, method) in leptos::server_fn::axum::server_fn_paths() {
        let method = reqwest::Method::from_bytes(method.as_str().as_bytes()).unwrap();
        routes.push((method, path.to_owned()));
    }
    for path in [
        "/api/v1/vehicles",
        "/api/v1/vehicles/x/sessions",
        "/api/v1/vehicles/x/energy",
        "/api/v1/sessions/x",
        "/api/v1/openapi.json",
        "/api/v1/anything",
        "/vehicles/x/sessions.csv",
        "/sessions.csv",
        "/live",
        "/no/such/page",
        "/loginx",
        "/pkgx",
        "/healthzx",
    ] {
        routes.push((reqwest::Method::GET, path.to_owned()));
    }
    routes
}

async fn every_route_but_the_open_ones_refuses_strangers(backend: Backend) {
    let app = spawn_scenario(backend).await;
    let stranger = TestApp::anonymous();
    let routes = every_route();
    assert!(routes.len() >= 18, "{routes:?}");
    assert!(
        routes.iter().any(|(_, p)| p == "/api/webhook_log"),
        "server functions listed"
    );
    for (method, path) in &routes {
        let response = stranger
            .request(method.clone(), app.url(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        let status = response.status();
        let is_page = method == reqwest::Method::GET
            && !path.starts_with("/api/")
            && path != "/live"
            && !path.ends_with(".csv");
        if is_page {
            assert_eq!(status, StatusCode::SEE_OTHER, "{method} {path}");
            let location = response.headers()["location"].to_str().unwrap();
            assert!(location.starts_with("/login?next="), "{path}: {location}");
        } else {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path}");
            let body = response.text().await.unwrap();
            assert!(!body.contains(VEHICLE_A), "{path} leaked data: {body}");
        }
    }
    // Paths that try to walk out of an open prefix get nothing. Sent raw: an HTTP client
    // would resolve the dot segments itself and never send them.
    for path in [
        "/pkg/../events",
        "/pkg/./../events",
        "/pkg/%2e%2e/events",
        "/pkg/%2E%2E/api/v1/vehicles",
        &format!("/pkg/../vehicles/{VEHICLE_A}"),
        "//events",
        "/events/",
    ] {
        let (status, answer) = raw_get(app.addr, path, "").await;
        let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        assert!(!body.contains(VEHICLE_A), "{path}: {answer}");
        // Refused by the gate itself (to the login page, or 401), not merely not found by
        // the router behind it.
        assert!(
            status.contains(" 303 ") || status.contains(" 401 "),
            "{path}: {status}"
        );
    }
    // The open ones stay open, and really answer.
    std::fs::create_dir_all(app.site_root()).unwrap();
    std::fs::write(
        app.site_root().join("favicon.svg"),
        r#"<svg xmlns="http://www.w3.org/2000/svg"/>"#,
    )
    .unwrap();
    for path in ["/healthz", "/readyz", "/login", "/favicon.svg"] {
        let status = stranger.get(app.url(path)).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{path}");
    }
    // A browser file that is not there is not found, and no more.
    let missing = stranger
        .get(app.url("/pkg/chargelog-missing.wasm"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(missing, StatusCode::NOT_FOUND);
    // `/setup` is open but, with accounts in place, has nothing to offer.
    let setup = stranger
        .get(app.url("/setup"))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(setup, StatusCode::NOT_FOUND);
    // The webhook keeps its own guard (the signature).
    let unsigned = stranger
        .post(app.url("/webhooks/smartcar"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert!(unsigned.text().await.unwrap().contains("invalid signature"));
    // A logged-in operator reads everything.
    for path in [
        "/",
        "/events",
        &format!("/vehicles/{VEHICLE_A}"),
        "/api/v1/vehicles",
        "/sessions.csv",
    ] {
        assert_eq!(app.get(path).await.status(), StatusCode::OK, "{path}");
    }
}

async fn api_tokens_open_the_api_until_revoked(backend: Backend) {
    let app = spawn_app(backend).await;
    let stranger = TestApp::anonymous();
    let now = server::clock::now_ms();
    let token = server::http::auth::create_token(&app.db, "grafana", now)
        .await
        .unwrap();
    let with = |path: &str, token: &str| stranger.get(app.url(path)).bearer_auth(token).send();
    assert_eq!(
        with("/api/v1/vehicles", &token).await.unwrap().status(),
        200
    );
    assert_eq!(with("/sessions.csv", &token).await.unwrap().status(), 200);
    // Past the gate: there is no such vehicle.
    assert_eq!(
        with("/vehicles/abc/sessions.csv", &token)
            .await
            .unwrap()
            .status(),
        404
    );
    // Tokens are for the API and the two exports, not for pages, server functions or
    // anything that merely looks like an export.
    assert_eq!(
        with("/", &token).await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    for path in [
        "/api/fleet_page",
        "/events.csv",
        "/vehicles//sessions.csv",
        "/vehicles/a/b/sessions.csv",
        "/pkg/x.csv",
        "/live",
    ] {
        let status = with(path, &token).await.unwrap().status();
        assert!(
            status == 401 || status == 404,
            "{path}: a token got {status}"
        );
    }
    assert_eq!(
        with("/api/v1/vehicles", "clg_0000").await.unwrap().status(),
        401
    );
    // Stored hashed: the token itself is nowhere in the database.
    let stored = app
        .scalar_i64(&format!(
            "SELECT COUNT(*) AS n FROM api_tokens WHERE token_hash = '{token}'"
        ))
        .await;
    assert_eq!(stored, 0);
    let listed = server::http::auth::list_tokens(&app.db).await.unwrap();
    assert!(listed[0].last_used_at.is_some());
    server::http::auth::revoke_token(&app.db, "grafana", now)
        .await
        .unwrap();
    assert_eq!(
        with("/api/v1/vehicles", &token).await.unwrap().status(),
        401
    );
    assert!(server::http::auth::revoke_token(&app.db, "grafana", now)
        .await
        .is_err());
}

async fn log_in(
    app: &TestApp,
    client: &reqwest::Client,
    password: &str,
    proto: &str,
) -> reqwest::Response {
    client
        .post(app.url("/login"))
        .header("x-forwarded-proto", proto)
        .form(&[
            ("name", OPERATOR),
            ("password", password),
            ("next", "/events?outcome=stored"),
        ])
        .send()
        .await
        .unwrap()
}

fn session_from(response: &reqwest::Response) -> String {
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    cookie
        .split(';')
        .next()
        .and_then(|kv| kv.strip_prefix("chargelog_session="))
        .unwrap()
        .to_owned()
}

async fn logging_in_and_out(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = TestApp::anonymous();
    let form = browser
        .get(app.url("/login?next=/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert!(form
        .text()
        .await
        .unwrap()
        .contains(r#"name="next" value="/events""#));

    let wrong = log_in(&app, &browser, "not the password", "http").await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());

    let ok = log_in(&app, &browser, OPERATOR_PASSWORD, "http").await;
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    assert_eq!(ok.headers()["location"], "/events?outcome=stored");
    let cookie = ok.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(!cookie.contains("Secure"), "plain http: {cookie}");
    let session = session_from(&ok);
    let page = browser
        .get(app.url("/events"))
        .header("cookie", format!("chargelog_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    // A client's own X-Forwarded-Proto does not make the cookie Secure: only a trusted
    // proxy's or the public URL's word does (hardening.rs).
    let forwarded = log_in(&app, &browser, OPERATOR_PASSWORD, "https").await;
    assert!(!forwarded.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Secure"));

    let out = browser
        .post(app.url("/logout"))
        .header("cookie", format!("chargelog_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let after = browser
        .get(app.url("/events"))
        .header("cookie", format!("chargelog_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(after.status(), StatusCode::SEE_OTHER, "the session ended");
    // A login page never forwards to another site.
    let form = browser
        .get(app.url("/login?next=//evil.example"))
        .send()
        .await
        .unwrap();
    assert!(form
        .text()
        .await
        .unwrap()
        .contains(r#"name="next" value="/""#));
}

async fn idle_sessions_expire(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/api/v1/vehicles").await.status(), 200);
    let long_ago = server::clock::now_ms() - server::http::auth::IDLE_MS - 1;
    app.scalar_i64(&format!(
        "UPDATE login_sessions SET last_seen_at = {long_ago} RETURNING user_id AS n"
    ))
    .await;
    assert_eq!(app.get("/api/v1/vehicles").await.status(), 401);
    assert_eq!(
        app.count("login_sessions").await,
        0,
        "the expired session is gone"
    );
}

async fn login_attempts_are_rate_limited(backend: Backend) {
    let app = spawn_app(backend).await;
    let browser = TestApp::anonymous();
    let limit = server::http::auth::login::PER_NAME_PER_MINUTE;
    for _ in 0..limit {
        let r = log_in(&app, &browser, "guess", "http").await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let blocked = log_in(&app, &browser, OPERATOR_PASSWORD, "http").await;
    assert_eq!(blocked.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(blocked.headers()["retry-after"], "60");
    // Capitals and spaces do not make a fresh name to guess under.
    let disguised = browser
        .post(app.url("/login"))
        .form(&[
            ("name", format!("  {}  ", OPERATOR.to_uppercase()).as_str()),
            ("password", "guess"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(disguised.status(), StatusCode::TOO_MANY_REQUESTS);
    // Another account is not locked out by attempts on this one.
    server::http::auth::add_user(
        &app.db,
        &Default::default(),
        "second",
        "another long password",
        0,
    )
    .await
    .unwrap();
    let other = browser
        .post(app.url("/login"))
        .form(&[("name", "second"), ("password", "another long password")])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::SEE_OTHER);
}

/// Behind a trusted proxy each client has its own budget; a client that logged in before
/// is not locked out of its account by a stranger's guessing.
async fn login_limits_count_the_client_behind_a_trusted_proxy(backend: Backend) {
    let (mut settings, dir) = crate::helpers::test_settings(backend).await;
    settings.trusted_proxies = server::http::client::parse_trusted("127.0.0.1").unwrap();
    let app = crate::helpers::spawn_configured(backend, settings, dir).await;
    let browser = TestApp::anonymous();
    let attempt = |client: &'static str, name: String, password: &'static str| {
        browser
            .post(app.url("/login"))
            .header("x-forwarded-for", client)
            .form(&[("name", name), ("password", password.to_owned())])
            .send()
    };
    // The operator logs in from the office.
    let office = "198.51.100.1";
    let ok = attempt(office, OPERATOR.to_owned(), OPERATOR_PASSWORD)
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
    // A stranger sprays names from one address until the address is held back.
    let stranger = "203.0.113.1";
    for i in 0..server::http::auth::login::PER_ADDRESS_PER_MINUTE {
        let r = attempt(stranger, format!("user{i}"), "guess")
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "attempt {i}");
    }
    let held = attempt(stranger, "another".to_owned(), "guess")
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    // A second stranger guesses the operator's password until the name is held back (the
    // office's first login, from a client not yet known, counted too)...
    let second = "203.0.113.2";
    for _ in 1..server::http::auth::login::PER_NAME_PER_MINUTE {
        let r = attempt(second, OPERATOR.to_owned(), "guess").await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let held = attempt(second, OPERATOR.to_owned(), OPERATOR_PASSWORD)
        .await
        .unwrap();
    assert_eq!(held.status(), StatusCode::TOO_MANY_REQUESTS);
    // ...yet the operator, known from the office, still gets in.
    let ok = attempt(office, OPERATOR.to_owned(), OPERATOR_PASSWORD)
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::SEE_OTHER);
}

async fn old_login_sessions_end_and_are_swept(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(app.get("/api/v1/vehicles").await.status(), 200);
    // Busy all along, but begun longer ago than a session may last.
    let now = server::clock::now_ms();
    let begun = now - server::http::auth::LIFETIME_MS - 1;
    app.scalar_i64(&format!(
        "UPDATE login_sessions SET created_at = {begun}, last_seen_at = {now} RETURNING user_id AS n"
    ))
    .await;
    assert_eq!(app.get("/api/v1/vehicles").await.status(), 401);
    // The sweep removes sessions that are over and keeps live ones.
    let live = server::http::auth::start_session(&app.db, 1, now)
        .await
        .unwrap();
    let idle = server::http::auth::start_session(&app.db, 1, now - server::http::auth::IDLE_MS - 1)
        .await
        .unwrap();
    let _ = idle;
    assert_eq!(
        server::http::auth::sweep_sessions(&app.db, now)
            .await
            .unwrap(),
        1
    );
    assert_eq!(app.count("login_sessions").await, 1);
    assert_eq!(
        server::http::auth::session_user(&app.db, &live, now)
            .await
            .unwrap(),
        Some(1)
    );
}

async fn cross_site_posts_are_refused(backend: Backend) {
    let app = spawn_app(backend).await;
    let post = |path: &str, headers: &[(&str, &str)]| {
        let mut request = app
            .client
            .post(app.url(path))
            .header("content-type", "application/x-www-form-urlencoded");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    for forged in [
        &[("origin", "https://evil.example")][..],
        &[("origin", "null")],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("origin", "https://evil.example"),
            ("x-forwarded-host", "elsewhere.example"),
        ],
    ] {
        let r = post("/api/fleet_page", forged).await.unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{forged:?}");
    }
    let own = format!("http://{}", app.addr);
    let same = post("/api/fleet_page", &[("origin", &own)]).await.unwrap();
    assert_eq!(same.status(), StatusCode::OK);
    // Scripts and tools send no Origin; they are not browsers, so no forged cookie rides along.
    let tool = post("/api/fleet_page", &[]).await.unwrap();
    assert_eq!(tool.status(), StatusCode::OK);
    // A forwarded host from anyone but a trusted proxy means nothing.
    let proxy_headers = [
        ("origin", "https://chargelog.example.com"),
        ("x-forwarded-host", "chargelog.example.com"),
    ];
    let unproxied = post("/api/fleet_page", &proxy_headers).await.unwrap();
    assert_eq!(unproxied.status(), StatusCode::FORBIDDEN);
    // Behind a trusted proxy that rewrites `Host`, the forwarded host counts.
    let (mut settings, dir) = crate::helpers::test_settings(backend).await;
    settings.trusted_proxies = server::http::client::parse_trusted("127.0.0.1").unwrap();
    let proxied_app = crate::helpers::spawn_configured(backend, settings, dir).await;
    let mut request = proxied_app
        .client
        .post(proxied_app.url("/api/fleet_page"))
        .header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in proxy_headers {
        request = request.header(name, value);
    }
    assert_eq!(request.send().await.unwrap().status(), StatusCode::OK);
    // Another site cannot log a browser in (to an account of its choosing), out, or set up.
    for path in ["/login", "/logout", "/setup"] {
        let r = post(path, &[("origin", "https://evil.example")])
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(
        app.get("/api/v1/vehicles").await.status(),
        200,
        "still logged in"
    );
    // The webhook is posted by Smartcar's servers and judged by its signature alone.
    let webhook = app
        .client
        .post(app.url("/webhooks/smartcar"))
        .header("origin", "https://evil.example")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(webhook.status(), StatusCode::UNAUTHORIZED);
}

/// `chargelog user …` and `chargelog token …`, as an operator runs them.
#[test]
fn accounts_and_tokens_from_the_command_line() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("cli.db").display());
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chargelog"))
            .args(args)
            .env("DATABASE_URL", &url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(input.as_bytes())
                .unwrap();
        }
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(
        &["user", "add", "alice", "--password-stdin"],
        Some("a long enough password\n"),
    );
    assert!(ok, "{out}{err}");
    let (ok, _, err) = run(
        &["user", "add", "alice", "--password-stdin"],
        Some("another password!\n"),
    );
    assert!(!ok && err.contains("already an account"), "{err}");
    let (ok, _, err) = run(&["user", "add", "bob", "--password-stdin"], Some("short\n"));
    assert!(!ok && err.contains("at least 10 characters"), "{err}");
    let (_, out, _) = run(&["user", "list"], None);
    assert!(out.contains("alice") && !out.contains("bob"), "{out}");

    // A reader that stops reading (`chargelog user list | grep -q alice`) ends the
    // output, not the command: it exits 0 without a panic.
    let mut piped = Command::new(env!("CARGO_BIN_EXE_chargelog"))
        .args(["user", "list"])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(piped.stdout.take());
    let gone = piped.wait_with_output().unwrap();
    let said = String::from_utf8_lossy(&gone.stderr);
    assert!(
        gone.status.success() && !said.contains("panicked"),
        "{said}"
    );

    let (ok, token, _) = run(&["token", "create", "grafana"], None);
    assert!(
        ok && token.trim().starts_with("clg_") && token.trim().len() == 68,
        "{token}"
    );
    let (_, out, _) = run(&["token", "list"], None);
    assert!(
        out.contains("grafana") && out.contains("active") && !out.contains(token.trim()),
        "{out}"
    );
    let (ok, _, _) = run(&["token", "revoke", "grafana"], None);
    assert!(ok);
    let (_, out, _) = run(&["token", "list"], None);
    assert!(out.contains("revoked"), "{out}");
    let (ok, _, _) = run(&["user", "remove", "alice"], None);
    assert!(ok);
    let (_, out, _) = run(&["user", "list"], None);
    assert!(!out.contains("alice"), "{out}");
}

/// A server started on a database without accounts: its address, its setup code, its
/// database, and the folder that holds it.
async fn spawn_without_accounts() -> (
    std::net::SocketAddr,
    std::sync::Arc<server::http::auth::setup::SetupCode>,
    sea_orm::DatabaseConnection,
    tempfile::TempDir,
) {
    let (settings, dir) = crate::helpers::test_settings(Backend::Sqlite).await;
    let app = server::startup::Application::build(settings).await.unwrap();
    let addr = app.local_addr();
    let setup = app.state().auth.setup.clone();
    let db = app.state().db.clone();
    tokio::spawn(app.run_until_stopped());
    (addr, setup, db, dir)
}

/// Started with no account, the server offers a one-time link that creates the first.
#[tokio::test]
async fn the_first_account_comes_from_a_one_time_link() {
    let (addr, setup, db, _dir) = spawn_without_accounts().await;
    let code = setup.peek().expect("a setup code when no account exists");
    let browser = TestApp::anonymous();
    let url = |path: &str| format!("http://{addr}{path}");

    assert_eq!(
        browser
            .get(url("/setup?code=wrong"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let form = browser
        .get(url(&format!("/setup?code={code}")))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let mismatch = browser
        .post(url("/setup"))
        .form(&[
            ("code", code.as_str()),
            ("name", "root"),
            ("password", "a long password"),
            ("again", "a different one"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(mismatch.status(), 400);
    let created = browser
        .post(url("/setup"))
        .form(&[
            ("code", code.as_str()),
            ("name", "root"),
            ("password", "a long password"),
            ("again", "a long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let cookie = created.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "the same cookie as a login: {cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let fleet = browser
        .get(url("/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(fleet.status(), 200, "logged in as the new account");
    assert_eq!(server::http::auth::user_count(&db).await.unwrap(), 1);
    // The link works once.
    let again = browser
        .post(url("/setup"))
        .form(&[
            ("code", code.as_str()),
            ("name", "intruder"),
            ("password", "a long password"),
            ("again", "a long password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404);
    assert_eq!(server::http::auth::user_count(&db).await.unwrap(), 1);
}

/// Two people racing with the same setup link: one account, never two. An account made
/// with the CLI spends the link too.
#[tokio::test]
async fn a_setup_link_makes_one_account_however_many_use_it_at_once() {
    let (addr, setup, db, _dir) = spawn_without_accounts().await;
    let code = setup.peek().expect("a setup code when no account exists");
    let browser = TestApp::anonymous();
    let attempts = (0..4).map(|i| {
        let name = format!("racer{i}");
        browser
            .post(format!("http://{addr}/setup"))
            .form(&[
                ("code", code.as_str()),
                ("name", name.as_str()),
                ("password", "a long password"),
                ("again", "a long password"),
            ])
            .send()
    });
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::SEE_OTHER)
            .count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SEE_OTHER || *s == StatusCode::NOT_FOUND),
        "{statuses:?}"
    );
    assert_eq!(server::http::auth::user_count(&db).await.unwrap(), 1);

    // A second server, no account yet; then the CLI makes one.
    let (addr, setup, db, _dir2) = spawn_without_accounts().await;
    let code = setup.peek().expect("a setup code");
    server::http::auth::add_user(&db, &Default::default(), "fromcli", "a long password", 0)
        .await
        .unwrap();
    let form = browser
        .get(format!("http://{addr}/setup?code={code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), StatusCode::NOT_FOUND);
    assert_eq!(setup.peek(), None, "the code is forgotten");
}
