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
//! - **A cap on open connections** ([`ConnectionLimits::max_connections`]), of which one
//!   client holds at most a quarter: past either a new connection is answered 503 and
//!   closed at once, never queued.
//! - **A deadline for every stalled write** ([`ConnectionLimits::write_stall`]): a client
//!   that stops reading its answer is disconnected.
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
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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
/// requests in flight finish, for at most [`SHUTDOWN_GRACE`]. Connections from
/// `trusted` proxies (which carry many clients) are not held to the per-client share.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    trusted: Arc<Vec<ipnet::IpNet>>,
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
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    auto.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(H2_MAX_STREAMS)
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .keep_alive_interval(Some(Duration::from_secs(20)))
        .keep_alive_timeout(Duration::from_secs(10));
    let seats = Arc::new(Seats::new(&limits, trusted));
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
        let Some(seat) = seats.take(peer.ip()) else {
            turn_away(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let stream = StallGuard::new(stream, limits.write_stall);
        let service =
            TowerToHyperService::new(axum::Extension(ConnectInfo(peer)).layer(router.clone()));
        if limits.h2c {
            let auto = auto.clone();
            let watcher = graceful.watcher();
            tokio::spawn(async move {
                let _seat = seat;
                // The auto builder reads the first bytes with no deadline of its own.
                if !tokio::time::timeout(limits.head_timeout, http2_or_not(&stream.inner))
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
                let _seat = seat;
                if let Err(err) = connection.await {
                    tracing::debug!(error = %err, %peer, "connection ended with an error");
                }
            });
        }
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "stopped with connections still open after {} s",
            SHUTDOWN_GRACE.as_secs()
        );
    }
    Ok(())
}

/// Raises this process's limit of open files as far as the system allows (many start
/// at 1 024, which the connection cap alone would use up) and returns it; warns when it
/// stays below what `connections` open connections on `listeners` addresses need.
pub fn open_files_for(limits: &ConnectionLimits, listeners: usize) -> u64 {
    // Database connections, the log, the SQLite files, and room to spare.
    const OTHER_FILES: u64 = 256;
    let limit = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(0);
    let needed = limits.max_connections as u64 * listeners as u64 + OTHER_FILES;
    if limit < needed {
        tracing::warn!(
            open_files = limit,
            needed,
            "the limit of open files is below what the connection cap needs: raise it (ulimit -n, \
             LimitNOFILE=) or lower CHARGELOG_MAX_CONNECTIONS, or connections past it wait \
             unanswered instead of being turned away"
        );
    }
    limit
}

/// How long requests in flight may take to finish once the server is told to stop.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Places for connections: [`ConnectionLimits::max_connections`] in all, of which one
/// client (an IPv4 address or an IPv6 /64, unless it is a trusted proxy) holds at most a
/// quarter, so that one host cannot take them all.
struct Seats {
    total: Arc<Semaphore>,
    per_client: usize,
    clients: std::sync::Mutex<HashMap<IpAddr, usize>>,
    trusted: Arc<Vec<ipnet::IpNet>>,
}

/// One connection's place, given back when it closes.
struct Seat {
    _total: OwnedSemaphorePermit,
    client: Option<(IpAddr, Arc<Seats>)>,
}

impl Seats {
    fn new(limits: &ConnectionLimits, trusted: Arc<Vec<ipnet::IpNet>>) -> Self {
        Self {
            total: Arc::new(Semaphore::new(limits.max_connections)),
            per_client: limits.per_client(),
            clients: std::sync::Mutex::default(),
            trusted,
        }
    }

    fn take(self: &Arc<Self>, peer: IpAddr) -> Option<Seat> {
        let total = self.total.clone().try_acquire_owned().ok()?;
        if crate::http::client::is_trusted_proxy(peer, &self.trusted) {
            return Some(Seat {
                _total: total,
                client: None,
            });
        }
        let client = crate::http::client::limit_key(peer);
        let mut clients = self.clients.lock().unwrap_or_else(|p| p.into_inner());
        let held = clients.entry(client).or_insert(0);
        if *held >= self.per_client {
            return None;
        }
        *held += 1;
        Some(Seat {
            _total: total,
            client: Some((client, self.clone())),
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        if let Some((client, seats)) = &self.client {
            let mut clients = seats.clients.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(held) = clients.get_mut(client) {
                *held -= 1;
                if *held == 0 {
                    clients.remove(client);
                }
            }
        }
    }
}

/// Answers a connection past the cap with 503 and closes it, without waiting for it:
/// one non-blocking write, so a client that does not read costs nothing.
fn turn_away(stream: TcpStream) {
    let _ = stream.try_write(BUSY);
    tracing::debug!("turned a connection away: at the cap of open connections");
}

/// A connection whose writes fail once they have made no progress for `limit`: a
/// client that stops reading its answer (a large file, a stream, pipelined requests)
/// would otherwise hold its connection, and shutdown, for ever. hyper's own timer only
/// watches the reading of request heads.
struct StallGuard<S> {
    inner: S,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<S> StallGuard<S> {
    fn new(inner: S, limit: Duration) -> Self {
        Self {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After a write that could not go ahead: an error once it has waited `limit`.
    fn waited<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        let limit = self.limit;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match stalled.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the client read nothing of its answer for too long",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn guard<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<std::io::Result<T>>,
    ) -> Poll<std::io::Result<T>> {
        match result {
            Poll::Pending => self.waited(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for StallGuard<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for StallGuard<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.guard(cx, result)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.guard(cx, result)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let result = Pin::new(&mut self.inner).poll_flush(cx);
        self.guard(cx, result)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
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
                // A partial preface: look again shortly (peeked bytes stay readable,
                // so waiting for readiness would spin).
                tokio::time::sleep(Duration::from_millis(50)).await;
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
