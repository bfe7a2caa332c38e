//! Clients that try to tie the server up: slow request heads and bodies are cut off
//! after the client timeout, and the server keeps answering others meanwhile.

use crate::helpers::{spawn_configured, test_settings, Backend};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

crate::on_both_backends!(slow_heads_and_bodies_are_cut_off,);

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
    settings.client_timeout = Duration::from_secs(1);
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
