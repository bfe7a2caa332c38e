//! What an anonymous client on the internet can no longer do (docs/SECURITY.md): make
//! the server sign or store what it likes, hold its connections, grow its memory, fill
//! its logs, or read what a logged-in operator saw. The limits that live in the process
//! (connections, memory, log output) are tested against the real binary.

use crate::helpers::{
    fixture, sign, spawn_app, spawn_app_with, spawn_configured, test_settings, Backend, TestApp,
    OPERATOR, OPERATOR_PASSWORD, TOKEN, VEHICLE_A,
};
use crate::process::ServerProcess;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

crate::on_both_backends!(
    a_signed_challenge_is_never_a_delivery,
    dead_letters_are_kept_once_counted_and_pruned,
    the_migration_merges_dead_letters_kept_before_it,
    csv_cells_cannot_run_in_a_spreadsheet,
);

/// Today's code fails each of these; they need no database of their own.
mod sqlite_only {
    #[tokio::test]
    async fn idle_and_trickling_clients_are_cut_off_and_others_served() {
        super::idle_and_trickling_clients_are_cut_off_and_others_served().await
    }
    #[tokio::test]
    async fn connections_past_the_cap_are_turned_away_and_h2c_is_off() {
        super::connections_past_the_cap_are_turned_away_and_h2c_is_off().await
    }
    #[tokio::test]
    async fn webhook_bodies_are_bounded_before_they_are_read() {
        super::webhook_bodies_are_bounded_before_they_are_read().await
    }
    #[tokio::test]
    async fn login_attempts_cannot_grow_memory_or_queue_hashing() {
        super::login_attempts_cannot_grow_memory_or_queue_hashing().await
    }
    #[tokio::test]
    async fn logs_hold_no_mac_no_long_id_and_a_bounded_number_of_warnings() {
        super::logs_hold_no_mac_no_long_id_and_a_bounded_number_of_warnings().await
    }
    #[tokio::test]
    async fn the_cookie_is_secure_only_when_known_to_be_and_pages_are_not_cached() {
        super::the_cookie_is_secure_only_when_known_to_be_and_pages_are_not_cached().await
    }
    #[tokio::test]
    async fn forwarded_addresses_are_read_from_the_right() {
        super::forwarded_addresses_are_read_from_the_right().await
    }
}

/// The real binary on a SQLite file of its own, with `env` on top of the defaults.
async fn binary(env: &[(&str, &str)]) -> (ServerProcess, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("chargelog.db").display());
    let server = ServerProcess::start_with(&url, dir.path(), env).await;
    (server, dir)
}

/// A connection to `addr` from the loopback address 127.0.0.`host`: every 127/8 address
/// is this machine, and each is a client of its own to the server.
async fn connect_from(host: u8, addr: SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind(([127, 0, 0, host], 0).into()).unwrap();
    socket.connect(addr).await.unwrap()
}

/// Tests that hold many sockets need more open files than some machines allow a process
/// by default (the server raises its own limit the same way).
fn enough_open_files() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
}

fn free_port() -> String {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .unwrap()
        .to_string()
}

/// The VERIFY oracle: the server answers a challenge with its HMAC, the key that also
/// signs deliveries. Challenges have Smartcar's form (no `{`), and a body that does not
/// begin a JSON object is refused before its signature counts: nothing it signs can be
/// stored.
async fn a_signed_challenge_is_never_a_delivery(backend: Backend) {
    let app = spawn_app(backend).await;
    for i in 0..100 {
        let challenge = format!("x{i}");
        let verify =
            json!({"eventId": "v", "eventType": "VERIFY", "data": {"challenge": challenge}});
        let answer = app
            .post_webhook(serde_json::to_vec(&verify).unwrap(), None)
            .await;
        assert_eq!(answer.status(), 200);
        let mac = answer.json::<Value>().await.unwrap()["challenge"]
            .as_str()
            .unwrap()
            .to_owned();
        assert_eq!(mac, sign(challenge.as_bytes()));
        // Replayed as a delivery, with the server's own signature.
        let replay = app.post_webhook(challenge.into_bytes(), Some(&mac)).await;
        assert_eq!(replay.status(), 400);
    }
    let forged = String::from_utf8(fixture("03_charge_start.json")).unwrap();
    for challenge in [
        forged.as_str(),
        " {\"a\":1}",
        "{",
        "a b",
        "a\nb",
        &"x".repeat(129),
    ] {
        let verify =
            json!({"eventId": "v", "eventType": "VERIFY", "data": {"challenge": challenge}});
        let answer = app
            .post_webhook(serde_json::to_vec(&verify).unwrap(), None)
            .await;
        // Refused: 400 for a challenge not of Smartcar's form, 401 for a VERIFY too
        // large to be read unsigned.
        assert!(
            [400, 401].contains(&answer.status().as_u16()),
            "{challenge:?}"
        );
        assert!(!answer
            .text()
            .await
            .unwrap()
            .contains(&sign(challenge.as_bytes())));
    }
    // Correctly signed, but no JSON object: not a delivery either.
    for body in ["[1,2]", "\"x\"", "1", "", "  \n", "null"] {
        let answer = app.post_signed(body.as_bytes().to_vec()).await;
        assert_eq!(answer.status(), 400, "{body:?}");
    }
    // An unsigned body larger than any VERIFY is not read: refused as unsigned.
    let mut big = br#"{"eventType":"VERIFY","data":{"challenge":"c"},"pad":""#.to_vec();
    big.resize(8 * 1024, b'a');
    big.extend_from_slice(b"\"}");
    assert_eq!(app.post_webhook(big, None).await.status(), 401);
    assert_eq!(app.count("deliveries").await, 0);
    assert_eq!(app.count("dead_letters").await, 0);
}

/// A signed body that cannot be processed is kept once however often it comes, at most
/// so many a second (429 past it, so the sender retries), and `prune` removes it.
async fn dead_letters_are_kept_once_counted_and_pruned(backend: Backend) {
    let app = spawn_app(backend).await;
    let body = br#"{"eventId":"d1","eventType":"VEHICLE_STATE","data":{}}"#.to_vec();
    let (mut kept, mut deferred) = (0, 0);
    for _ in 0..40 {
        let answer = app.post_signed(body.clone()).await;
        match answer.status() {
            StatusCode::ACCEPTED => {
                kept += 1;
                let json: Value = answer.json().await.unwrap();
                assert_eq!(json["status"], "dead_letter");
                assert_eq!(json["times_received"], kept);
            }
            StatusCode::TOO_MANY_REQUESTS => {
                deferred += 1;
                assert_eq!(answer.headers()["retry-after"], "1");
            }
            other => panic!("{other}"),
        }
    }
    assert!(kept >= 20, "{kept} kept, {deferred} deferred");
    assert_eq!(app.count("dead_letters").await, 1);
    assert_eq!(
        app.scalar_i64("SELECT times_received FROM dead_letters")
            .await,
        kept
    );
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM webhook_log WHERE outcome = 'dead_letter'")
            .await,
        kept
    );
    // Another body is another row.
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let other = br#"{"eventId":"d2","eventType":"VEHICLE_STATE","data":{}}"#.to_vec();
    assert_eq!(app.post_signed(other).await.status(), 202);
    assert_eq!(app.count("dead_letters").await, 2);

    // Retention: a cutoff before they came keeps them, one after removes them and their
    // log lines.
    let now = chrono::Utc::now().timestamp_millis();
    let kept_back = server::cli::prune::prune_raw(&app.db, now - 60_000, now, false)
        .await
        .unwrap();
    assert_eq!(kept_back.dead_letters, 0);
    let dry = server::cli::prune::prune_raw(&app.db, now + 1, now, true)
        .await
        .unwrap();
    assert_eq!(dry.dead_letters, 2);
    assert_eq!(app.count("dead_letters").await, 2);
    let pruned = server::cli::prune::prune_raw(&app.db, now + 1, now, false)
        .await
        .unwrap();
    assert_eq!(pruned.dead_letters, 2);
    assert!(pruned.dead_letter_bytes > 0);
    assert_eq!(app.count("dead_letters").await, 0);
    assert_eq!(
        app.scalar_i64("SELECT COUNT(*) FROM webhook_log WHERE dead_letter_id IS NOT NULL")
            .await,
        0
    );
}

/// A database that kept a copy of every repeated dead letter (as the VERIFY replay made
/// it do) gets one row per body, counted, with every log row pointing at a row that is
/// there; and the migration can be undone.
async fn the_migration_merges_dead_letters_kept_before_it(backend: Backend) {
    use app::domain::events::Outcome;
    use app::server::entities::{dead_letters, webhook_log};
    use migrations::MigratorTrait;
    use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};
    let dir = tempfile::tempdir().unwrap();
    let url = crate::helpers::database_url(backend, &dir).await;
    let settings = server::config::DatabaseSettings::parse(&url).unwrap();
    let db = server::db::connect(&settings).await.unwrap();
    migrations::Migrator::up(&db, Some(7)).await.unwrap();
    for (at, body) in [
        (1_000, "{\"a\":1}"),
        (2_000, "{\"b\":2}"),
        (3_000, "{\"a\":1}"),
    ] {
        let id = dead_letters::Entity::insert(dead_letters::ActiveModel {
            received_at: Set(at),
            error: Set("eventType is required".to_owned()),
            raw_body: Set(body.as_bytes().to_vec()),
            ..Default::default()
        })
        .exec(&db)
        .await
        .unwrap()
        .last_insert_id;
        webhook_log::Entity::insert(webhook_log::ActiveModel {
            received_at: Set(at),
            outcome: Set(Outcome::DeadLetter),
            dead_letter_id: Set(Some(id)),
            ..Default::default()
        })
        .exec(&db)
        .await
        .unwrap();
    }
    migrations::Migrator::up(&db, None).await.unwrap();
    let rows = dead_letters::Entity::find()
        .order_by_asc(dead_letters::Column::Id)
        .all(&db)
        .await
        .unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.received_at, r.last_received_at, r.times_received))
        .collect();
    assert_eq!(got, vec![(1_000, 3_000, 2), (2_000, 2_000, 1)]);
    assert_eq!(
        rows[0].body_hash.as_deref(),
        Some(server::webhook::accept::body_hash(b"{\"a\":1}").as_str())
    );
    let pointed: Vec<Option<i64>> = webhook_log::Entity::find()
        .order_by_asc(webhook_log::Column::Id)
        .all(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.dead_letter_id)
        .collect();
    assert_eq!(
        pointed,
        vec![Some(rows[0].id), Some(rows[1].id), Some(rows[0].id)]
    );
    migrations::Migrator::down(&db, Some(1)).await.unwrap();
    migrations::Migrator::up(&db, None).await.unwrap();
    assert_eq!(
        crate::helpers::scalar_i64(&db, "SELECT COUNT(*) FROM dead_letters").await,
        2
    );
}

/// Vehicle ids come from deliveries; a CSV export must not hand a spreadsheet a formula.
async fn csv_cells_cannot_run_in_a_spreadsheet(backend: Backend) {
    let app = spawn_app_with(backend, Some(TOKEN), crate::helpers::engine_for_fixtures()).await;
    let formula = r#"=HYPERLINK("http://evil.example","x")"#;
    for name in crate::ingest::SCENARIO {
        let body = String::from_utf8(fixture(name)).unwrap();
        if body.contains(VEHICLE_A) {
            let body = body.replace(VEHICLE_A, &formula.replace('"', "\\\""));
            assert!(app
                .post_signed(body.into_bytes())
                .await
                .status()
                .is_success());
        }
    }
    let csv = app
        .get("/sessions.csv?from=2026-03-01&to=2026-03-31")
        .await
        .text()
        .await
        .unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    let vehicles: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_owned()).collect();
    assert!(!vehicles.is_empty(), "{csv}");
    for vehicle in vehicles {
        assert_eq!(vehicle, format!("'{formula}"));
    }
}

/// Reads until the peer closes the connection (or `limit` passes); how long that took,
/// and what it sent.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (Option<Duration>, Vec<u8>) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = limit.saturating_sub(started.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (None, got),
            Ok(Ok(0) | Err(_)) => return (Some(started.elapsed()), got),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

async fn signed_delivery(addr: SocketAddr) -> (StatusCode, Duration) {
    let body = fixture("03_charge_start.json");
    let started = Instant::now();
    let answer = TestApp::anonymous()
        .post(format!("http://{addr}/webhooks/smartcar"))
        .header("content-type", "application/json")
        .header("SC-Signature", sign(&body))
        .body(body)
        .send()
        .await
        .unwrap();
    (answer.status(), started.elapsed())
}

/// 1 000 sockets that send nothing, a body that trickles in a byte every 9 s, and the
/// metrics address treated alike: a signed delivery is still answered at once; the idle
/// sockets are closed 10 s after they connected; the trickle is cut off 30 s after its
/// head, although no gap between its bytes reaches 10 s.
async fn idle_and_trickling_clients_are_cut_off_and_others_served() {
    enough_open_files();
    let metrics = free_port();
    let (server, dir) = binary(&[("CHARGELOG_METRICS_ADDR", metrics.as_str())]).await;
    let metrics: SocketAddr = metrics.parse().unwrap();
    // The first delivery opens the database's files; what is measured is the next.
    assert_eq!(signed_delivery(server.addr).await.0, 200);

    // A large file that a client asks for and never reads.
    let pkg = dir.path().join("site/pkg");
    std::fs::create_dir_all(&pkg).unwrap();
    let big = 32 * 1024 * 1024;
    std::fs::write(pkg.join("big.wasm"), vec![0u8; big]).unwrap();
    let mut unread = {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /pkg/big.wasm HTTP/1.1\r\nHost: c\r\n\r\n")
            .await
            .unwrap();
        stream
    };

    // 1 000 idle sockets, from four addresses (a client may hold a quarter of the cap).
    let opened = Instant::now();
    let mut idle = Vec::new();
    for i in 0..1_000 {
        idle.push(connect_from(2 + (i % 4) as u8, server.addr).await);
    }
    let mut idle_metrics = TcpStream::connect(metrics).await.unwrap();
    let (status, took) = signed_delivery(server.addr).await;
    assert_eq!(status, 200);
    assert!(
        took < Duration::from_secs(1),
        "{took:?} with 1 000 idle sockets"
    );

    let addr = server.addr;
    let trickle = tokio::spawn(async move {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream
            .write_all(
                b"POST /webhooks/smartcar HTTP/1.1\r\nHost: chargelog\r\n\
                  Content-Type: application/json\r\nSC-Signature: 00\r\n\
                  Content-Length: 100\r\n\r\n{",
            )
            .await
            .unwrap();
        let started = Instant::now();
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(Duration::from_secs(9), stream.read(&mut buf)).await {
                // The server answered or closed.
                Ok(_) => return started.elapsed(),
                Err(_) if started.elapsed() > Duration::from_secs(45) => {
                    panic!("a body trickling in held its connection for 45 s")
                }
                Err(_) => {
                    if stream.write_all(b" ").await.is_err() {
                        return started.elapsed();
                    }
                }
            }
        }
    });

    let closers = idle.into_iter().map(|mut stream| {
        tokio::spawn(async move { until_closed(&mut stream, Duration::from_secs(20)).await.0 })
    });
    let mut latest = Duration::ZERO;
    for closer in closers.collect::<Vec<_>>() {
        let closed = closer
            .await
            .unwrap()
            .expect("an idle socket stayed open 20 s");
        latest = latest.max(closed);
    }
    let since_open = opened.elapsed();
    assert!(
        latest < Duration::from_secs(13) && since_open >= Duration::from_secs(9),
        "the idle sockets were closed after {latest:?} (opened {since_open:?} ago)"
    );
    let (closed, _) = until_closed(&mut idle_metrics, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the metrics address kept an idle socket");

    let cut_after = trickle.await.unwrap();
    // By now the reader that never read has been disconnected: what it can still read
    // is what was in flight, not the file.
    let mut got = 0;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(5), unread.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => got += n,
            Err(_) => panic!("the unread answer's connection is still open"),
        }
    }
    assert!(
        got < big,
        "read {got} of {big} bytes: the connection was kept"
    );
    eprintln!(
        "1 000 idle sockets: a signed delivery answered in {took:?}; the idle sockets closed \
         {latest:?} after they connected at the latest; the trickling body cut off {cut_after:?} \
         after its head; a client that read none of a {big}-byte answer was disconnected after \
         {got} bytes"
    );
    assert!(
        (Duration::from_secs(25)..Duration::from_secs(40)).contains(&cut_after),
        "the trickling body was cut off after {cut_after:?}"
    );
    // And the server is still well.
    assert_eq!(signed_delivery(server.addr).await.0, 200);
}

/// The status line the server answers a plain GET with, on a new connection, and how
/// long it took.
async fn get_status(addr: SocketAddr, path: &str) -> (String, Duration) {
    get_status_from(1, addr, path).await
}

/// [`get_status`] from the loopback address 127.0.0.`host`.
async fn get_status_from(host: u8, addr: SocketAddr, path: &str) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = connect_from(host, addr).await;
    let _ = stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: c\r\nConnection: close\r\n\r\n").as_bytes(),
        )
        .await;
    let (_, got) = until_closed(&mut stream, Duration::from_secs(5)).await;
    let text = String::from_utf8_lossy(&got);
    (
        text.lines().next().unwrap_or_default().to_owned(),
        started.elapsed(),
    )
}

/// At the cap a new connection gets 503 at once, on either address; once some close,
/// others are served again. HTTP/2 without TLS is not spoken unless asked for.
async fn connections_past_the_cap_are_turned_away_and_h2c_is_off() {
    let metrics = free_port();
    let (server, _dir) = binary(&[
        ("CHARGELOG_MAX_CONNECTIONS", "32"),
        ("CHARGELOG_METRICS_ADDR", metrics.as_str()),
    ])
    .await;
    let metrics: SocketAddr = metrics.parse().unwrap();
    for addr in [server.addr, metrics] {
        let path = if addr == metrics {
            "/metrics"
        } else {
            "/healthz"
        };
        // One client holds a quarter of the cap at most.
        let mut held = Vec::new();
        for _ in 0..8 {
            held.push(connect_from(2, addr).await);
        }
        let (line, took) = get_status_from(2, addr, path).await;
        assert!(line.starts_with("HTTP/1.1 503"), "{line:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
        // Four clients fill it: a fifth is turned away, at once.
        for host in 3..6 {
            for _ in 0..8 {
                held.push(connect_from(host, addr).await);
            }
        }
        let (line, took) = get_status_from(6, addr, path).await;
        assert!(line.starts_with("HTTP/1.1 503"), "{line:?}");
        assert!(took < Duration::from_millis(500), "{took:?}");
        eprintln!("{addr}: the connection past the cap answered {line:?} in {took:?}");
        // Once some close, others are served again.
        held.truncate(16);
        let mut line = String::new();
        for _ in 0..50 {
            line = get_status_from(6, addr, path).await.0;
            if line.starts_with("HTTP/1.1 200") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(line.starts_with("HTTP/1.1 200"), "{line:?}");
    }

    // A request head larger than the limit: 431, and the connection is closed.
    let mut big = TcpStream::connect(server.addr).await.unwrap();
    big.write_all(
        format!(
            "GET /healthz HTTP/1.1\r\nHost: c\r\nX-Big: {}\r\n\r\n",
            "a".repeat(server::http::serve::MAX_HEAD_BYTES + 1024)
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    let (closed, got) = until_closed(&mut big, Duration::from_secs(5)).await;
    assert!(closed.is_some());
    assert!(
        String::from_utf8_lossy(&got).starts_with("HTTP/1.1 431"),
        "{}",
        String::from_utf8_lossy(&got)
    );

    // HTTP/2 with prior knowledge: the preface and an empty SETTINGS frame.
    let mut h2 = TcpStream::connect(server.addr).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let (closed, got) = until_closed(&mut h2, Duration::from_secs(5)).await;
    assert!(closed.is_some(), "the HTTP/2 connection stayed open");
    // An HTTP/2 server's first frame would be its SETTINGS (type 4).
    assert!(
        !(got.len() >= 9 && got[3] == 4),
        "the server spoke HTTP/2: {got:?}"
    );
    drop(server);

    // Asked for, it does; and a connection that sends nothing is still closed.
    let (server, _dir) = binary(&[("CHARGELOG_H2C", "true")]).await;
    let mut h2 = TcpStream::connect(server.addr).await.unwrap();
    h2.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .unwrap();
    let mut frame = [0u8; 9];
    tokio::time::timeout(Duration::from_secs(5), h2.read_exact(&mut frame))
        .await
        .expect("an HTTP/2 answer")
        .unwrap();
    assert_eq!(frame[3], 4, "not a SETTINGS frame: {frame:?}");
    assert_eq!(
        get_status(server.addr, "/healthz").await.0,
        "HTTP/1.1 200 OK"
    );
}

/// Bodies are bounded before they are read: an unsigned one by the size a VERIFY can
/// have, and all of them together by [`server::webhook::endpoint::BODIES_IN_FLIGHT_KIB`], so that
/// clients that announce large bodies and send them slowly cannot fill the memory.
async fn webhook_bodies_are_bounded_before_they_are_read() {
    let (server, _dir) = binary(&[]).await;
    let head = |signed: bool, length: usize| {
        format!(
            "POST /webhooks/smartcar HTTP/1.1\r\nHost: c\r\nContent-Type: application/json\r\n\
             {}Content-Length: {length}\r\n\r\n{{",
            if signed { "SC-Signature: 00\r\n" } else { "" }
        )
    };
    async fn status(stream: &mut TcpStream) -> String {
        let mut got = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(2), stream.read_exact(&mut got))
            .await
            .expect("an answer at once")
            .unwrap();
        String::from_utf8_lossy(&got).into_owned()
    }
    // Unsigned and larger than a VERIFY: refused from its head.
    let mut unsigned = TcpStream::connect(server.addr).await.unwrap();
    unsigned
        .write_all(head(false, 5_000).as_bytes())
        .await
        .unwrap();
    assert_eq!(status(&mut unsigned).await, "HTTP/1.1 401");
    // 64 bodies of 1 MiB announced and not sent take every KiB allowed...
    let mut arriving = Vec::new();
    for _ in 0..server::webhook::endpoint::BODIES_IN_FLIGHT_KIB / 1024 {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(head(true, 1024 * 1024).as_bytes())
            .await
            .unwrap();
        arriving.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    // ...so the next is answered 503 at once, and a small one too.
    for length in [1024 * 1024, 4_000] {
        let mut next = TcpStream::connect(server.addr).await.unwrap();
        next.write_all(head(true, length).as_bytes()).await.unwrap();
        assert_eq!(status(&mut next).await, "HTTP/1.1 503", "{length}");
    }
    // Once they are gone, deliveries are taken again.
    drop(arriving);
    let mut answered = StatusCode::SERVICE_UNAVAILABLE;
    for _ in 0..50 {
        answered = signed_delivery(server.addr).await.0;
        if answered == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(answered, StatusCode::OK);
}

/// 1 MiB names, thousands of made-up names from thousands of addresses, and a burst of
/// logins at once: the server's memory stays flat, invalid names are not even counted,
/// and password checks beyond the queue are answered 503 at once.
async fn login_attempts_cannot_grow_memory_or_queue_hashing() {
    let started = std::time::Instant::now();
    let (server, dir) = binary(&[("CHARGELOG_TRUSTED_PROXIES", "127.0.0.1")]).await;
    {
        let url = format!("sqlite://{}", dir.path().join("chargelog.db").display());
        let db = sea_orm::Database::connect(&url).await.unwrap();
        server::http::auth::add_user(&db, &Default::default(), OPERATOR, OPERATOR_PASSWORD, 0)
            .await
            .unwrap();
    }
    let http = TestApp::anonymous();
    let login = |name: String, from: String| {
        let http = http.clone();
        let url = server.url("/login");
        async move {
            http.post(url)
                .header("x-forwarded-for", from)
                .form(&[("name", name.as_str()), ("password", "wrong password")])
                .send()
                .await
                .unwrap()
        }
    };
    // Warm up with bursts like the flood's (the first opens every pooled database
    // connection, each with a thread and a cache: about 120 MiB, once), then measure.
    for burst in 0..4 {
        let sent: Vec<_> = (0..32)
            .map(|i| {
                tokio::spawn(login(
                    format!("warm{i}"),
                    format!("192.0.2.{}", burst * 32 + i + 1),
                ))
            })
            .collect();
        for answer in sent {
            answer.await.unwrap();
        }
    }
    let before = server.rss_kib();

    let huge = "a".repeat(1024 * 1024);
    for i in 0..128 {
        // Refused from its length alone: 413, often before the client has written the
        // body (which it then sees as a broken connection).
        let answer = http
            .post(server.url("/login"))
            .header("x-forwarded-for", format!("198.51.{}.{}", i / 250, i % 250))
            .form(&[("name", huge.as_str()), ("password", "wrong password")])
            .send()
            .await;
        if let Ok(answer) = answer {
            assert_eq!(answer.status(), StatusCode::PAYLOAD_TOO_LARGE);
        }
    }
    let mut answers = std::collections::BTreeMap::new();
    let mut rng = fastrand::Rng::with_seed(17);
    let attempts: Vec<(String, String)> = (0..4_000)
        .map(|_| {
            let name: String = (0..64).map(|_| rng.alphanumeric()).collect();
            let from = format!("10.{}.{}.{}", rng.u8(..), rng.u8(..), rng.u8(1..));
            (name, from)
        })
        .collect();
    for chunk in attempts.chunks(32) {
        let sent: Vec<_> = chunk
            .iter()
            .map(|(name, from)| tokio::spawn(login(name.clone(), from.clone())))
            .collect();
        for answer in sent {
            let answer = answer.await.unwrap();
            if answer.status() == StatusCode::SERVICE_UNAVAILABLE {
                assert!(answer.headers().contains_key("retry-after"));
            }
            *answers.entry(answer.status().as_u16()).or_insert(0) += 1;
        }
    }
    let after = server.rss_kib();
    eprintln!("login flood: RSS {before} KiB before, {after} KiB after; answers {answers:?}");
    assert!(
        after.saturating_sub(before) < 16 * 1024,
        "RSS grew from {before} KiB to {after} KiB"
    );
    assert!(
        answers.keys().all(|s| [401, 503].contains(s)),
        "{answers:?}"
    );
    assert!(
        answers.get(&503).copied().unwrap_or(0) > 0,
        "32 at once never filled the hashing queue: {answers:?}"
    );

    // Invalid names are refused before the limiter: fifty of them leave the address's
    // allowance untouched.
    for _ in 0..50 {
        let answer = login("not a name".into(), "192.0.2.50".into()).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
    }
    let answer = http
        .post(server.url("/login"))
        .header("x-forwarded-for", "192.0.2.50")
        .form(&[("name", OPERATOR), ("password", OPERATOR_PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    // Thousands of refusals and 503s, and not one ERROR line; the warnings stop at
    // their budget: so many a second for as long as the flood took (longer on a busy
    // machine), and a few lines of each second's count of what was left out.
    let log = server.log();
    assert!(!log.contains("ERROR"), "{}", server.log_tail());
    let warnings = log.lines().filter(|l| l.contains("WARN")).count();
    let allowed = (f64::from(server::budget::PER_SECOND) + 2.0) * started.elapsed().as_secs_f64();
    assert!(
        (warnings as f64) < allowed.max(1_000.0),
        "{warnings} WARN lines in {:?}: {}",
        started.elapsed(),
        server.log_tail()
    );
}

/// Refused requests do not put the server's MAC of their body in the log, a client's
/// request id is kept only when it is short and plain, refusal warnings stop at a
/// per-second budget and say how many were left out, and a missing asset is a plain 404
/// that logs no error.
async fn logs_hold_no_mac_no_long_id_and_a_bounded_number_of_warnings() {
    let (server, _dir) = binary(&[]).await;
    let http = TestApp::anonymous();
    let body = br#"{"eventId":"forged","eventType":"VEHICLE_STATE","data":{}}"#.to_vec();
    let long_id: String = (0..16 * 1024)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let answer = http
        .post(server.url("/webhooks/smartcar"))
        .header("SC-Signature", "ab".repeat(32))
        .header("x-request-id", &long_id)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
    let id = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(id.len() <= 64 && id != long_id, "{id}");
    let plain = http
        .get(server.url("/healthz"))
        .header("x-request-id", "proxy-42.a_b")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers()["x-request-id"], "proxy-42.a_b");

    let missing = http
        .get(server.url("/pkg/missing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(!missing.text().await.unwrap().contains("<html"));

    // A flood of refusals, 16 at a time.
    let started = Instant::now();
    for _ in 0..25 {
        let sent: Vec<_> = (0..16)
            .map(|i| {
                let http = http.clone();
                let url = server.url("/webhooks/smartcar");
                let body = format!(r#"{{"eventId":"f{i}","eventType":"VEHICLE_STATE"}}"#);
                tokio::spawn(async move {
                    http.post(url)
                        .header("SC-Signature", "cd".repeat(32))
                        .body(body)
                        .send()
                        .await
                        .unwrap()
                        .status()
                })
            })
            .collect();
        for status in sent {
            assert_eq!(status.await.unwrap(), StatusCode::UNAUTHORIZED);
        }
    }
    let seconds = started.elapsed().as_secs() + 2;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // One more after the flood reports what was left out.
    http.post(server.url("/webhooks/smartcar"))
        .header("SC-Signature", "ef".repeat(32))
        .body("{}")
        .send()
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let log = server.log();
    assert!(!log.contains(&sign(&body)), "the log holds the body's MAC");
    let fingerprint = server::webhook::signature::Verifier::new(TOKEN.into()).fingerprint();
    assert!(
        log.contains(&format!("key_fingerprint={fingerprint}")),
        "{log}"
    );
    assert!(
        !log.contains(&long_id[..100]),
        "the log holds the long request id"
    );
    let warnings = log
        .lines()
        .filter(|l| l.contains("bad SC-Signature"))
        .count() as u64;
    assert!(
        warnings <= 20 * seconds,
        "{warnings} refusal warnings in {seconds} s"
    );
    assert!(
        log.contains("log lines about requests from outside were not printed"),
        "{}",
        server.log_tail()
    );
    assert!(
        !log.lines().any(|l| l.contains("ERROR")),
        "{}",
        server.log_tail()
    );
}

async fn log_in_from(app: &TestApp, forwarded_proto: Option<&str>) -> reqwest::Response {
    let mut request = TestApp::anonymous()
        .post(app.url("/login"))
        .form(&[("name", OPERATOR), ("password", OPERATOR_PASSWORD)]);
    if let Some(proto) = forwarded_proto {
        request = request.header("x-forwarded-proto", proto);
    }
    request.send().await.unwrap()
}

fn set_cookie(response: &reqwest::Response) -> String {
    response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned()
}

/// `Secure` and `__Host-` whenever the public URL says https; otherwise `Secure` only
/// when a trusted proxy says so, never a client. What a logged-in reader gets is not
/// cached.
async fn the_cookie_is_secure_only_when_known_to_be_and_pages_are_not_cached() {
    let backend = Backend::Sqlite;
    // Nothing configured: a client's own X-Forwarded-Proto means nothing.
    let app = spawn_app(backend).await;
    let cookie = set_cookie(&log_in_from(&app, Some("https")).await);
    assert!(cookie.starts_with("chargelog_session="), "{cookie}");
    assert!(!cookie.contains("Secure"), "{cookie}");
    for path in [
        "/",
        "/events",
        "/api/v1/vehicles",
        "/sessions.csv?from=2026-03-01&to=2026-03-31",
    ] {
        let answer = app.get(path).await;
        assert_eq!(answer.status(), 200, "{path}");
        assert_eq!(answer.headers()["cache-control"], "no-store", "{path}");
    }

    // A trusted proxy's word counts.
    let (mut settings, dir) = test_settings(backend).await;
    settings.trusted_proxies = server::http::client::parse_trusted("127.0.0.1").unwrap();
    let app = spawn_configured(backend, settings, dir).await;
    assert!(set_cookie(&log_in_from(&app, Some("https")).await).contains("; Secure"));
    assert!(!set_cookie(&log_in_from(&app, None).await).contains("Secure"));

    // A public https URL: always Secure, always __Host-, whatever is forwarded.
    let (mut settings, dir) = test_settings(backend).await;
    settings.public_url =
        Some(server::config::PublicUrl::parse("https://chargelog.example").unwrap());
    let app = spawn_configured(backend, settings, dir).await;
    let answer = log_in_from(&app, Some("http")).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let cookie = set_cookie(&answer);
    assert!(cookie.starts_with("__Host-chargelog_session="), "{cookie}");
    assert!(
        cookie.contains("; Secure") && cookie.contains("Path=/") && !cookie.contains("Domain"),
        "{cookie}"
    );
    let value = cookie
        .split(';')
        .next()
        .and_then(|c| c.split_once('='))
        .unwrap()
        .1
        .to_owned();
    let page = |name: &'static str| {
        TestApp::anonymous()
            .get(app.url("/events"))
            .header("cookie", format!("{name}={value}"))
            .send()
    };
    assert_eq!(
        page("__Host-chargelog_session").await.unwrap().status(),
        200
    );
    assert_eq!(page("chargelog_session").await.unwrap().status(), 303);
}

/// Behind a trusted proxy the client is the first untrusted hop from the right; junk a
/// client wrote to the left of it does not make the proxy itself the client.
async fn forwarded_addresses_are_read_from_the_right() {
    let backend = Backend::Sqlite;
    let (mut settings, dir) = test_settings(backend).await;
    settings.trusted_proxies = server::http::client::parse_trusted("127.0.0.1").unwrap();
    let app = spawn_configured(backend, settings, dir).await;
    let tries = std::sync::atomic::AtomicU32::new(0);
    let attempt = |forwarded: Option<&'static str>| {
        let name = format!(
            "somebody{}",
            tries.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut request = TestApp::anonymous()
            .post(app.url("/login"))
            .form(&[("name", name.as_str()), ("password", "wrong password")]);
        if let Some(forwarded) = forwarded {
            request = request.header("x-forwarded-for", forwarded);
        }
        async move { request.send().await.unwrap().status() }
    };
    // One client's allowance, spent through junk it prepended (each attempt under a
    // new name, so only the address limit counts).
    let mut statuses = Vec::new();
    for _ in 0..server::http::auth::login::PER_ADDRESS_PER_MINUTE + 1 {
        statuses.push(attempt(Some("junk, 203.0.113.9")).await);
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
    // The proxy itself (a request without the header) is another client.
    assert_eq!(attempt(None).await, StatusCode::UNAUTHORIZED);
}
