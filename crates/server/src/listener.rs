//! The accept loop (in place of `axum::serve`): HTTP/1.1 connections with
//! a header-read timeout, an idle keep-alive timeout and a connection cap
//! below the file-descriptor limit, so clients that connect and say nothing
//! cannot take the server away from everyone else.
//!
//! A connection has `header_read_timeout` from connecting to send its first
//! request's headers; after a response, `keep_alive_timeout` to begin the
//! next request, and from that request's first byte, `header_read_timeout`
//! again. While a request is being handled no timer runs here (the
//! router's own request timeout does).
//!
//! At the cap, the next client is accepted and held while room is made:
//! connections that are idle (between requests, or silent since connecting)
//! for over a second are closed. If none is, it waits until one ends (its
//! timeout at the latest); everyone behind it waits in the kernel's backlog.

use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// How long an idle connection is spared when room is needed: a client that
/// has just connected is sending its request.
const IDLE_BEFORE_SHEDDING: Duration = Duration::from_secs(1);

/// How often a client held at the cap asks again for room.
const ROOM_RETRY: Duration = Duration::from_millis(250);

/// File descriptors kept free of client connections: the listener, the
/// runtime's own, standard streams, logs, the configuration file, one held
/// client, and headroom.
const RESERVED_FDS: u64 = 64;

/// A connection buffers at most this much of a request's headers (hyper's
/// default is ~400 KiB; thousands of slow clients times that is gigabytes).
const MAX_BUFFER_BYTES: usize = 64 * 1024;

/// An accept error is logged at most this often; the rest are counted.
const ACCEPT_ERROR_LOG_EVERY: Duration = Duration::from_secs(10);

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub keep_alive_timeout: Duration,
    pub max_connections: usize,
}

/// Raises the soft `RLIMIT_NOFILE` to the hard limit, as servers do (the
/// soft default, often 1,024, is a limit for interactive programs). Returns
/// the soft limit in force afterwards, if it can be read.
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit/setrlimit only read and write the struct given.
        if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
            return None;
        }
        if limit.rlim_cur < limit.rlim_max {
            let raised = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            // SAFETY: as above.
            if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
                limit = raised;
            } else {
                tracing::warn!(
                    soft = limit.rlim_cur,
                    hard = limit.rlim_max,
                    "cannot raise the open-file limit"
                );
            }
        }
        #[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere
        Some(limit.rlim_cur as u64)
    }
    #[cfg(not(unix))]
    None
}

/// The default cap where the file-descriptor limit allows more (each
/// connection may buffer up to 64 KiB of headers).
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// The connection cap: as configured, but never so close to the
/// file-descriptor limit that the database pool (SQLite holds 3 files per
/// connection, PostgreSQL one socket) or a log file cannot be opened.
/// Without a readable limit, 1,024 is assumed.
pub fn connection_cap(
    configured: Option<usize>,
    fd_limit: Option<u64>,
    db_connections: u32,
) -> usize {
    let reserved = RESERVED_FDS + 4 * u64::from(db_connections);
    let ceiling = fd_limit.unwrap_or(1024).saturating_sub(reserved).max(1);
    let ceiling = usize::try_from(ceiling).unwrap_or(usize::MAX);
    let cap = match configured {
        Some(wanted) if wanted > ceiling => {
            tracing::warn!(
                wanted,
                allowed = ceiling,
                "LATCHKEY_MAX_CONNECTIONS is above what the open-file limit allows; using the lower value"
            );
            ceiling
        }
        Some(wanted) => wanted,
        // Bounded by memory too: hosts whose hard limit is a million files
        // would otherwise allow a million buffered connections.
        None => ceiling.min(DEFAULT_MAX_CONNECTIONS),
    };
    // The semaphore's and `acquire_many`'s limits.
    cap.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize))
}

/// Serves `router` on `listener` until `shutdown` resolves; then stops
/// accepting, lets every connection finish its request, and returns when
/// all are closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let room_wanted = Arc::new(Notify::new());
    let (stop_tx, stop_rx) = watch::channel(());
    let mut errors = AcceptErrors::default();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => {
                errors.reset();
                accepted
            }
            Err(error) => {
                let pause = errors.pause_after(&error);
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(pause) => continue,
                }
            }
        };
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                let room = make_room(&slots, &room_wanted);
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = room => slot,
                }
            }
        };
        tokio::spawn(connection(
            stream,
            peer,
            router.clone(),
            limits,
            room_wanted.clone(),
            stop_rx.clone(),
            slot,
        ));
    }
    // New clients are refused from now on instead of waiting in the backlog.
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    // Each connection holds its slot until it is closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let _ = slots.acquire_many(all).await;
}

/// Asks idle connections to close until a slot is free.
async fn make_room(slots: &Arc<Semaphore>, room_wanted: &Notify) -> OwnedSemaphorePermit {
    loop {
        room_wanted.notify_waiters();
        tokio::select! {
            slot = slots.clone().acquire_owned() => {
                // The semaphore is never closed.
                if let Ok(slot) = slot {
                    return slot;
                }
            }
            () = tokio::time::sleep(ROOM_RETRY) => {}
        }
    }
}

/// Accept errors that concern the whole process (no file descriptor left,
/// no memory) are retried after a growing pause and logged now and then,
/// not once per attempt; those of one connection are skipped.
#[derive(Default)]
struct AcceptErrors {
    pause: Duration,
    logged_at: Option<Instant>,
    unlogged: u64,
}

impl AcceptErrors {
    fn reset(&mut self) {
        self.pause = Duration::ZERO;
    }

    fn pause_after(&mut self, error: &io::Error) -> Duration {
        if matches!(
            error.kind(),
            io::ErrorKind::ConnectionAborted
                | io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionRefused
                | io::ErrorKind::Interrupted
        ) {
            return Duration::ZERO;
        }
        self.pause = (self.pause * 2).clamp(Duration::from_millis(5), Duration::from_secs(1));
        if self
            .logged_at
            .is_none_or(|at| at.elapsed() >= ACCEPT_ERROR_LOG_EVERY)
        {
            tracing::warn!(
                %error,
                since_last_logged = self.unlogged,
                "cannot accept connections; retrying (if out of file descriptors, lower LATCHKEY_MAX_CONNECTIONS or raise the limit)"
            );
            self.logged_at = Some(Instant::now());
            self.unlogged = 0;
        } else {
            self.unlogged += 1;
        }
        self.pause
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Phase {
    /// Connected, nothing received yet.
    Fresh,
    /// Part of a request's headers received.
    Headers,
    /// A request is being handled.
    Busy,
    /// Between requests.
    Idle,
}

#[derive(Clone, Copy)]
struct Seen {
    phase: Phase,
    since: Instant,
    /// Changes with every transition, so a timer can tell it is stale.
    generation: u64,
}

/// Where a connection is, shared by its socket, its service and its watchdog.
struct Activity {
    seen: Mutex<Seen>,
    /// `seen.phase`, readable without the lock: every read of the socket
    /// asks it, and only the first read of a request changes it.
    phase: AtomicU8,
    changed: Notify,
}

impl Activity {
    fn new() -> Activity {
        Activity {
            seen: Mutex::new(Seen {
                phase: Phase::Fresh,
                since: Instant::now(),
                generation: 0,
            }),
            phase: AtomicU8::new(Phase::Fresh as u8),
            changed: Notify::new(),
        }
    }

    fn get(&self) -> Seen {
        *self.seen.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enter(&self, phase: Phase) {
        let mut seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        // A first request's headers are due `header_read_timeout` after
        // connecting, not after its first byte.
        if !(seen.phase == Phase::Fresh && phase == Phase::Headers) {
            seen.since = Instant::now();
        }
        seen.phase = phase;
        seen.generation += 1;
        self.phase.store(phase as u8, Ordering::Release);
        drop(seen);
        self.changed.notify_one();
    }

    /// Bytes arrived: the start of a request when there was none.
    fn received(&self) {
        let phase = self.phase.load(Ordering::Acquire);
        if phase == Phase::Fresh as u8 || phase == Phase::Idle as u8 {
            self.enter(Phase::Headers);
        }
    }
}

/// Why the watchdog closed a connection.
#[derive(Debug)]
enum Closed {
    HeaderReadTimeout,
    KeepAliveTimeout,
    MadeRoom,
}

/// Resolves when the connection has to go: too slow with its headers, idle
/// too long, or idle when room is wanted.
async fn watchdog(activity: &Activity, limits: Limits, room_wanted: &Notify) -> Closed {
    loop {
        let changed = activity.changed.notified();
        let room = room_wanted.notified();
        let seen = activity.get();
        let (deadline, why) = match seen.phase {
            Phase::Busy => (None, Closed::HeaderReadTimeout),
            Phase::Fresh | Phase::Headers => (
                Some(seen.since + limits.header_read_timeout),
                Closed::HeaderReadTimeout,
            ),
            Phase::Idle => (
                Some(seen.since + limits.keep_alive_timeout),
                Closed::KeepAliveTimeout,
            ),
        };
        let idle = matches!(seen.phase, Phase::Fresh | Phase::Idle);
        let unchanged = || activity.get().generation == seen.generation;
        tokio::select! {
            () = changed => {}
            () = until(deadline) => {
                if unchanged() {
                    return why;
                }
            }
            () = room, if idle => {
                if unchanged() && seen.since.elapsed() >= IDLE_BEFORE_SHEDDING {
                    return Closed::MadeRoom;
                }
            }
        }
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: Limits,
    room_wanted: Arc<Notify>,
    mut stop: watch::Receiver<()>,
    slot: OwnedSemaphorePermit,
) {
    let _slot = slot;
    let activity = Arc::new(Activity::new());
    let service = {
        let activity = activity.clone();
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            activity.enter(Phase::Busy);
            // Handlers read the peer address from here, as with axum::serve.
            request.extensions_mut().insert(ConnectInfo(peer));
            let response = router.clone().oneshot(request);
            let activity = activity.clone();
            async move {
                let response = response.await;
                activity.enter(Phase::Idle);
                response
            }
        })
    };
    let io = TokioIo::new(Watched {
        stream,
        activity: activity.clone(),
    });
    let conn = hyper::server::conn::http1::Builder::new()
        // The watchdog times headers: hyper's own timer would also run
        // between requests and cut keep-alive to the header timeout.
        .header_read_timeout(None)
        .max_buf_size(MAX_BUFFER_BYTES)
        .serve_connection(io, service);
    tokio::pin!(conn);
    let watchdog = watchdog(&activity, limits, &room_wanted);
    tokio::pin!(watchdog);
    let mut stopping = false;
    loop {
        tokio::select! {
            served = conn.as_mut() => {
                if let Err(error) = served {
                    tracing::trace!(%error, "connection ended with an error");
                }
                break;
            }
            why = &mut watchdog => {
                tracing::debug!(?why, "closing a connection");
                break;
            }
            // Finish the request in progress, then close.
            _ = stop.changed(), if !stopping => {
                stopping = true;
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// A client socket that tells its connection's watchdog when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.received();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_database_and_files() {
        // 64 reserved, 4 per database connection.
        assert_eq!(connection_cap(None, Some(1024), 8), 1024 - 64 - 32);
        assert_eq!(
            connection_cap(None, Some(20_000), 8),
            16_384,
            "bounded by default"
        );
        assert_eq!(connection_cap(Some(19_000), Some(20_000), 8), 19_000);
        assert_eq!(connection_cap(Some(500), Some(1024), 8), 500);
        assert_eq!(connection_cap(Some(5000), Some(1024), 8), 928, "clamped");
        assert_eq!(connection_cap(None, None, 8), 928, "1,024 assumed");
        assert_eq!(connection_cap(None, Some(10), 8), 1, "never zero");
        assert_eq!(connection_cap(Some(0), Some(1024), 8), 1, "never zero");
    }

    #[test]
    fn accept_errors_back_off_and_skip_per_connection_ones() {
        let mut errors = AcceptErrors::default();
        let emfile = io::Error::from_raw_os_error(libc::EMFILE);
        let pauses: Vec<_> = (0..10).map(|_| errors.pause_after(&emfile)).collect();
        assert_eq!(pauses[0], Duration::from_millis(5));
        assert_eq!(pauses[1], Duration::from_millis(10));
        assert_eq!(pauses[9], Duration::from_secs(1), "capped");
        assert_eq!(errors.unlogged, 9, "logged once");
        let aborted = io::Error::from(io::ErrorKind::ConnectionAborted);
        assert_eq!(errors.pause_after(&aborted), Duration::ZERO);
        errors.reset();
        assert_eq!(errors.pause_after(&emfile), Duration::from_millis(5));
    }
}
