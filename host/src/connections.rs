//! Serves one door's listener within [`ConnectionLimits`], so that silent or idle clients cannot
//! take the file descriptors every other client needs: at most `max_connections` open at once
//! (at the limit, the connection that has waited longest for a request is closed to make room,
//! or the new one is refused when every connection is busy); a new connection has
//! `header_timeout` to send its request's headers, a kept-alive one `idle_timeout` to start its
//! next request. On shutdown, connections waiting for a request close at once, and busy ones
//! once their response is sent.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use tokio::time::Instant;
use tower::ServiceExt;

use crate::config::ConnectionLimits;

/// Serves `router` on `listener` until `stop` turns true, then waits for the connections still
/// open: busy ones finish their response, the others close at once.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    door: &'static str,
    mut stop: watch::Receiver<bool>,
) {
    let open = Arc::new(Open::default());
    let mut full = Throttled::default();
    let mut tasks = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = stopped(&mut stop) => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                accept_failed(door, &err).await;
                continue;
            }
        };
        while tasks.try_join_next().is_some() {}
        match open.admit(limits.max_connections) {
            Admitted::Yes { evicted } => {
                if evicted {
                    full.note(|closed| {
                        tracing::warn!(
                            door,
                            max_connections = limits.max_connections,
                            closed,
                            "at the connection limit: closed the connection that waited longest for a request"
                        )
                    });
                }
                let (conn, id) = open.add();
                let served = Served {
                    open: open.clone(),
                    id,
                };
                tasks.spawn(connection(
                    stream,
                    router.clone(),
                    conn,
                    served,
                    limits,
                    stop.clone(),
                ));
            }
            Admitted::No => full.note(|refused| {
                tracing::warn!(
                    door,
                    max_connections = limits.max_connections,
                    refused,
                    "at the connection limit: refused a connection, every open one is busy"
                )
            }),
        }
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
}

/// A failed accept: the peer gave up (go on), or the host is out of file descriptors or
/// memory (say so, and pause rather than spin).
async fn accept_failed(door: &'static str, err: &io::Error) {
    use io::ErrorKind::*;
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted
    ) {
        return;
    }
    tracing::error!(door, error = %err, "cannot accept a connection; pausing for a second");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One connection, from accept to close.
async fn connection(
    stream: TcpStream,
    router: Router,
    conn: Arc<Conn>,
    _served: Served,
    limits: ConnectionLimits,
    mut stop: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let io = TokioIo::new(Watched {
        stream,
        conn: conn.clone(),
    });
    let for_requests = conn.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let busy = Busy::start(for_requests.clone());
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await?;
            // The request stays busy until its response's body is sent (or dropped).
            Ok::<_, std::convert::Infallible>(response.map(|body| {
                Body::new(body.map_frame(move |frame| {
                    let _ = &busy;
                    frame
                }))
            }))
        }
    });
    let serving = hyper::server::conn::http1::Builder::new()
        .header_read_timeout(None)
        .serve_connection(io, service);
    tokio::pin!(serving);
    let mut stopping = false;
    // Set once the connection is told to close with no request in hand: it has this long to
    // send what it has written, then it is dropped.
    let mut closing: Option<Instant> = None;
    loop {
        let deadline = closing.or_else(|| conn.deadline(&limits));
        tokio::select! {
            served = serving.as_mut() => {
                if let Err(err) = served {
                    tracing::debug!(error = %err, "connection ended with an error");
                }
                return;
            }
            () = sleep_until(deadline) => {
                let now = Instant::now();
                if closing.is_some_and(|at| at <= now) {
                    return;
                }
                if closing.is_none() && conn.deadline(&limits).is_some_and(|at| at <= now) {
                    tracing::debug!("closed a connection that sent no request in time");
                    return;
                }
            }
            () = conn.changed.notified() => {}
            () = stopped(&mut stop), if !stopping => stopping = true,
        }
        if stopping || conn.evicted.load(Ordering::Relaxed) {
            let (busy, requests) = {
                let state = conn.state();
                (state.busy > 0, state.requests)
            };
            // One that never had a request has nothing to send: it goes now (hyper would keep
            // it open until its first request came).
            if requests == 0 {
                return;
            }
            // A busy connection finishes the response in hand, then closes; an idle one closes
            // once what it has written is sent.
            serving.as_mut().graceful_shutdown();
            if closing.is_none() && !busy {
                closing = Some(Instant::now() + CLOSE_WAIT);
            }
        }
    }
}

/// How long a connection told to close between requests may take to send the end of its last
/// response.
const CLOSE_WAIT: Duration = Duration::from_secs(1);

async fn stopped(stop: &mut watch::Receiver<bool>) {
    // A closed channel means the host is going away too.
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// The connections open on one listener.
#[derive(Default)]
struct Open {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
}

enum Admitted {
    Yes { evicted: bool },
    No,
}

impl Open {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Conn>>> {
        // A panic while holding the lock leaves the map whole: every change is one call.
        self.conns
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether one more connection may open: under the limit, or once the connection waiting
    /// longest for a request is told to close.
    fn admit(&self, max: usize) -> Admitted {
        let conns = self.lock();
        let staying = conns
            .values()
            .filter(|c| !c.evicted.load(Ordering::Relaxed));
        if staying.clone().count() < max {
            return Admitted::Yes { evicted: false };
        }
        let idle = staying
            .filter(|c| !c.is_busy())
            .min_by_key(|c| c.state().waiting_since);
        match idle {
            Some(conn) => {
                conn.evicted.store(true, Ordering::Relaxed);
                conn.changed.notify_one();
                Admitted::Yes { evicted: true }
            }
            None => Admitted::No,
        }
    }

    fn add(&self) -> (Arc<Conn>, u64) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn::new());
        self.lock().insert(id, conn.clone());
        (conn, id)
    }
}

/// Removes its connection from [`Open`] when the connection's task ends, however it ends.
struct Served {
    open: Arc<Open>,
    id: u64,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.open.lock().remove(&self.id);
    }
}

/// What the limits need to know of one connection.
struct Conn {
    state: Mutex<State>,
    /// Wakes the connection's task to look at its deadline, or at `evicted`, again.
    changed: Notify,
    /// Told to close, to make room for a new connection.
    evicted: AtomicBool,
}

struct State {
    /// Requests whose response is not sent yet.
    busy: usize,
    /// Requests received so far.
    requests: u64,
    /// Since when the connection has had nothing to do: opened, or sent its last response.
    waiting_since: Instant,
    /// When the next request's first byte came, if it has.
    head_started: Option<Instant>,
}

impl Conn {
    fn new() -> Conn {
        Conn {
            state: Mutex::new(State {
                busy: 0,
                requests: 0,
                waiting_since: Instant::now(),
                head_started: None,
            }),
            changed: Notify::new(),
            evicted: AtomicBool::new(false),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change to the state is a plain assignment: a poisoned lock holds a whole one.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_busy(&self) -> bool {
        self.state().busy > 0
    }

    /// When the connection must have started (or finished sending the headers of) its next
    /// request; none while a request is being served.
    fn deadline(&self, limits: &ConnectionLimits) -> Option<Instant> {
        let state = self.state();
        if state.busy > 0 {
            None
        } else if state.requests == 0 {
            Some(state.waiting_since + limits.header_timeout)
        } else if let Some(started) = state.head_started {
            Some(started + limits.header_timeout)
        } else {
            Some(state.waiting_since + limits.idle_timeout)
        }
    }

    /// Bytes came in: while no request is being served, they begin the next one's headers.
    fn read_some(&self) {
        let mut state = self.state();
        if state.busy == 0 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }
}

/// A request being served, from its headers until its response is sent.
struct Busy(Arc<Conn>);

impl Busy {
    fn start(conn: Arc<Conn>) -> Busy {
        {
            let mut state = conn.state();
            state.busy += 1;
            state.requests += 1;
            state.head_started = None;
        }
        conn.changed.notify_one();
        Busy(conn)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        {
            let mut state = self.0.state();
            state.busy = state.busy.saturating_sub(1);
            if state.busy == 0 {
                state.waiting_since = Instant::now();
                state.head_started = None;
            }
        }
        self.0.changed.notify_one();
    }
}

/// The socket, telling its connection when bytes arrive.
struct Watched {
    stream: TcpStream,
    conn: Arc<Conn>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.read_some();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// A log line that a flood would repeat: written at most once a second, with how many times it
/// happened since the last one.
#[derive(Default)]
struct Throttled {
    last: Option<Instant>,
    count: u64,
}

impl Throttled {
    fn note(&mut self, log: impl FnOnce(u64)) {
        self.count += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|last| now - last >= Duration::from_secs(1))
        {
            log(self.count);
            self.count = 0;
            self.last = Some(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> ConnectionLimits {
        ConnectionLimits {
            max_connections: 2,
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_new_connection_has_the_header_timeout_and_a_kept_alive_one_the_idle_timeout() {
        let conn = Arc::new(Conn::new());
        let opened = Instant::now();
        assert_eq!(
            conn.deadline(&limits()),
            Some(opened + limits().header_timeout)
        );
        let busy = Busy::start(conn.clone());
        assert_eq!(conn.deadline(&limits()), None, "no deadline while serving");
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(busy);
        let done = Instant::now();
        assert_eq!(conn.deadline(&limits()), Some(done + limits().idle_timeout));
        tokio::time::advance(Duration::from_secs(1)).await;
        conn.read_some();
        assert_eq!(
            conn.deadline(&limits()),
            Some(Instant::now() + limits().header_timeout),
            "the next request's headers, once begun, have the header timeout"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn at_the_limit_the_longest_waiting_idle_connection_makes_room_and_busy_ones_do_not() {
        let open = Open::default();
        let (first, _) = open.add();
        tokio::time::advance(Duration::from_secs(1)).await;
        let (second, _) = open.add();
        assert!(matches!(open.admit(2), Admitted::Yes { evicted: true }));
        assert!(
            first.evicted.load(Ordering::Relaxed),
            "the one waiting longest"
        );
        assert!(!second.evicted.load(Ordering::Relaxed));
        let (third, _) = open.add();
        let _busy = (Busy::start(second), Busy::start(third));
        assert!(
            matches!(open.admit(2), Admitted::No),
            "every other one is busy"
        );
    }
}
