//! Serving connections under limits, so that slow, idle or numerous clients cannot tie
//! the server up. What `axum::serve` does, plus:
//!
//! - **A deadline for every request head**, counting from accept and from the end of
//!   each response ([`ConnectionLimits::head_timeout`]): hyper's HTTP/1 header read
//!   timeout, which runs from the connection's first poll. (`axum::serve` sets no timer,
//!   so it has none, and hyper-util's auto builder first waits, without any deadline, for
//!   the bytes that tell HTTP/1 from HTTP/2; so HTTP/1 is served by hyper directly.)
//! - **A total deadline for every request body** ([`ConnectionLimits::body_timeout`]),
//!   not one per chunk: a body trickling in a byte at a time is cut off all the same.
//! - **A cap on open connections** ([`ConnectionLimits::max_connections`]): past it a new
//!   connection is answered 503 and closed at once, never queued.
//! - **Request heads of at most [`MAX_HEAD_BYTES`]** and [`MAX_HEADERS`] headers (431
//!   past either).
//! - **Plain-text HTTP/2 only when asked for** ([`ConnectionLimits::h2c`]).

use crate::config::ConnectionLimits;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::Response;
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tower::Layer;

/// A request's start line and headers together, at most (hyper answers 431 past it).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Headers in one request, at most.
pub const MAX_HEADERS: usize = 64;
/// Streams one plain-text HTTP/2 connection may have open at once.
const H2_MAX_STREAMS: u32 = 64;

/// What a client is told when the server already holds its cap of connections.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\n\
    Content-Type: text/plain\r\nContent-Length: 43\r\nConnection: close\r\n\r\n\
    too many open connections; try again later\n";

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then lets
/// requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        .max_header_size(MAX_HEAD_BYTES)
        .max_buf_size(2 * MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    let mut auto = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    auto.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.head_timeout)
        // The auto builder cannot set an exact head size: its read buffer bounds it.
        .max_buf_size(MAX_HEAD_BYTES);
    auto.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(10));
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, for instance: wait, do not spin.
                    tracing::warn!(error = %err, "could not accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(permit) = open.clone().try_acquire_owned() else {
            turn_away(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service =
            TowerToHyperService::new(axum::Extension(ConnectInfo(peer)).layer(router.clone()));
        if limits.h2c {
            let auto = auto.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _permit = permit;
                // The auto builder reads the first bytes with no deadline of its own.
                if !tokio::time::timeout(limits.head_timeout, http2_or_not(&stream))
                    .await
                    .unwrap_or(false)
                {
                    return;
                }
                let connection = auto.serve_connection(TokioIo::new(stream), service);
                if let Err(err) = watcher.watch(connection).await {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
            });
        } else {
            let connection = graceful.watch(http1.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                let _permit = permit;
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
            });
        }
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// Answers a connection past the cap with 503 and closes it, without waiting for it:
/// one non-blocking write, so a client that does not read costs nothing.
fn turn_away(stream: TcpStream) {
    let _ = stream.try_write(BUSY);
    tracing::debug!("turned a connection away: at the cap of open connections");
}

/// Waits until the client has sent enough to tell HTTP/2's preface from anything else
/// (what the auto builder reads next); `false` if it closed first.
async fn http2_or_not(stream: &TcpStream) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut buf = [0u8; PREFACE.len()];
    loop {
        match stream.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) if n == PREFACE.len() || buf[..n] != PREFACE[..n] => return true,
            Ok(_) => {
                // A partial preface: wait for more without spinning.
                if stream.readable().await.is_err() {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    }
}

/// Middleware: the request's whole body must arrive within `deadline` from now.
pub async fn body_deadline(deadline: Duration, request: Request, next: Next) -> Response {
    let request = request.map(|body| Body::new(DeadlineBody::new(body, deadline)));
    next.run(request).await
}

/// A request body that fails once its deadline passes, however it trickles in.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, deadline: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(deadline)),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
pub struct BodyTooSlow;

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow)))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
