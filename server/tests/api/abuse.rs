//! Clients that try to tie the server up: slow request heads and bodies are cut off
//! after the client timeout, and a flood of forged deliveries neither stops others from
//! logging in and delivering nor fills the log.

use crate::helpers::{
    spawn_app, spawn_configured, test_settings, Backend, TestApp, OPERATOR, OPERATOR_PASSWORD,
};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

crate::on_both_backends!(
    slow_heads_and_bodies_are_cut_off,
    login_and_deliveries_go_through_a_flood_of_forged_requests,
);

/// 32 clients at once send 3 200 deliveries with a wrong signature (bounded, to
/// 127.0.0.1 only); meanwhile an operator logs in and a real delivery is stored.
async fn login_and_deliveries_go_through_a_flood_of_forged_requests(backend: Backend) {
    let app = spawn_app(backend).await;
    let started = Instant::now();
    let flood = (0..32).map(|client| {
        let url = app.url("/webhooks/smartcar");
        tokio::spawn(async move {
            let http = TestApp::anonymous();
            let mut refused = 0;
            for i in 0..100 {
                let response = http
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("SC-Signature", "00".repeat(32))
                    .body(format!(
                        r#"{{"eventId":"forged-{client}-{i}","eventType":"VEHICLE_STATE"}}"#
                    ))
                    .send()
                    .await
                    .unwrap();
                if response.status() == 401 {
                    refused += 1;
                }
            }
            refused
        })
    });
    let flood: Vec<_> = flood.collect();

    let login = TestApp::anonymous()
        .post(app.url("/login"))
        .form(&[
            ("name", OPERATOR),
            ("password", OPERATOR_PASSWORD),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 303);
    assert!(login.headers().contains_key("set-cookie"));
    assert_eq!(app.post_fixture("03_charge_start.json").await.status(), 200);

    let mut refused = 0;
    for task in flood {
        refused += task.await.unwrap();
    }
    let seconds = started.elapsed().as_secs() as i64 + 1;
    assert_eq!(refused, 3200);
    assert_eq!(app.count("deliveries").await, 1);
    // Refusals are logged at most 20 a second, so a flood cannot fill the disk.
    let logged = app
        .scalar_i64("SELECT COUNT(*) FROM webhook_log WHERE outcome = 'rejected_signature'")
        .await;
    assert!(logged <= 20 * (seconds + 1), "{logged} in {seconds} s");
}

/// Reads until the server answers or closes; the text read, and how long it took.
async fn wait_for_server(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await {
            Err(_) => panic!("the server held a slow connection open for 10 s"),
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => {
                got.extend_from_slice(&buf[..n]);
                if got.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
        }
    }
    (
        String::from_utf8_lossy(&got).into_owned(),
        started.elapsed(),
    )
}

async fn slow_heads_and_bodies_are_cut_off(backend: Backend) {
    let (mut settings, dir) = test_settings(backend).await;
    settings.connections.head_timeout = Duration::from_secs(1);
    settings.connections.body_timeout = Duration::from_secs(1);
    let app = spawn_configured(backend, settings, dir).await;

    // A head that never ends: the connection is closed without an answer.
    let mut slow_head = TcpStream::connect(app.addr).await.unwrap();
    slow_head
        .write_all(b"POST /webhooks/smartcar HTTP/1.1\r\nHost: chargelog\r\nX-Slow: 1")
        .await
        .unwrap();
    // A body that stops after 10 of its 1 000 bytes: answered 4xx, nothing stored.
    let mut slow_body = TcpStream::connect(app.addr).await.unwrap();
    slow_body
        .write_all(
            b"POST /webhooks/smartcar HTTP/1.1\r\nHost: chargelog\r\n\
              Content-Type: application/json\r\nSC-Signature: 00\r\n\
              Content-Length: 1000\r\n\r\n{\"eventId\"",
        )
        .await
        .unwrap();

    // Meanwhile others are served.
    let response = app.post_fixture("03_charge_start.json").await;
    assert_eq!(response.status(), 200);

    let (answer, took) = wait_for_server(&mut slow_head).await;
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    assert!(took < Duration::from_secs(5), "{took:?}");
    let (answer, took) = wait_for_server(&mut slow_body).await;
    let status: u16 = answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"));
    assert!((400..500).contains(&status), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    assert_eq!(app.count("deliveries").await, 1);
    assert_eq!(app.count("dead_letters").await, 0);
}
