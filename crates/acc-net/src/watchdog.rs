//! Per-connection timeouts on the read side, for slow and idle clients: a request's
//! header must arrive within the header timeout of its first byte (and the first
//! request within the header timeout of the handshake), and a connection with no
//! request in flight is closed after the idle timeout.
//!
//! hyper's own `header_read_timeout` starts whenever it waits for a head, so it also
//! closes idle keep-alive connections at the header timeout, and it does not cover the
//! HTTP/2 preface or HTTP/2 at all. Here the request/response side ([`Activity`],
//! updated by the service wrapper and the response body) tells the reader whether the
//! connection is busy, waiting for a header or idle; no clock is read on the data path
//! except when that phase changes. While a request is in flight its body is timed by
//! `body` (a deadline and a minimum rate), and a request can ask for its connection to
//! close ([`Activity::request_close`]) after a body was cut short.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Requests of one connection, shared between its reader and its requests.
#[derive(Debug, Default)]
pub(crate) struct Activity {
    /// Requests begun (never decreases).
    started: AtomicU64,
    /// Requests whose response has not been fully sent (or dropped) yet.
    in_flight: AtomicUsize,
    /// The reader's waker, left while busy: when the last request ends, the reader
    /// must look again to start the idle clock, and hyper may not poll it by itself.
    reader: Mutex<Option<Waker>>,
    /// Raised when a request asks for its connection to close (a body cut short).
    close: tokio::sync::Notify,
}

impl Activity {
    /// Asks the connection to close once its responses are sent.
    pub(crate) fn request_close(&self) {
        // One waiter (the connection's task): the permit is kept until it looks.
        self.close.notify_one();
    }

    /// Resolves when a request asked for the connection to close.
    pub(crate) async fn close_requested(&self) {
        self.close.notified().await;
    }

    fn lock_reader(&self) -> std::sync::MutexGuard<'_, Option<Waker>> {
        self.reader.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Held for as long as a request is in flight: from the service call until the
/// response body is finished or dropped.
#[derive(Debug)]
pub(crate) struct InFlight(Arc<Activity>);

impl InFlight {
    pub(crate) fn enter(activity: &Arc<Activity>) -> InFlight {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        activity.started.fetch_add(1, Ordering::AcqRel);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(waker) = self.0.lock_reader().take()
        {
            waker.wake();
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for (the rest of) a request header since this instant.
    Head(Instant),
    /// No request in flight and no byte of the next one yet, since this instant.
    Idle(Instant),
    /// Some request in flight: the service and its own timeouts are in charge.
    Busy,
}

/// An I/O stream whose reads fail with `TimedOut` when a deadline of its phase passes.
pub(crate) struct Watchdog<T> {
    io: T,
    activity: Arc<Activity>,
    header_timeout: Duration,
    idle_timeout: Duration,
    phase: Phase,
    seen_started: u64,
    sleep: Pin<Box<Sleep>>,
    armed: Option<Instant>,
    /// Where a small vectored write is gathered (see [`COALESCE_MAX`]).
    gather: Vec<u8>,
}

/// Vectored writes up to this size (one TLS record's plaintext) are gathered into one
/// buffer before they reach TLS: hyper writes a response's head and a small body as two
/// slices, which rustls would seal as two records (two AEAD operations here and at the
/// client, and a second record header). Larger writes go through as they are.
const COALESCE_MAX: usize = 16 * 1024;

impl<T> Watchdog<T> {
    /// Starts in the header phase: the first request is due within the header timeout.
    pub(crate) fn new(
        io: T,
        activity: Arc<Activity>,
        header_timeout: Duration,
        idle_timeout: Duration,
    ) -> Self {
        let now = Instant::now();
        Watchdog {
            io,
            activity,
            header_timeout,
            idle_timeout,
            phase: Phase::Head(now),
            seen_started: 0,
            sleep: Box::pin(tokio::time::sleep_until(now + header_timeout)),
            armed: None,
            gather: Vec::new(),
        }
    }

    fn refresh_phase(&mut self) {
        let started = self.activity.started.load(Ordering::Acquire);
        if self.activity.in_flight.load(Ordering::Acquire) > 0 {
            self.phase = Phase::Busy;
            self.seen_started = started;
        } else if self.phase == Phase::Busy || started != self.seen_started {
            // Requests began and finished since the last look.
            self.seen_started = started;
            self.phase = Phase::Idle(Instant::now());
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Head(since) => Some(since + self.header_timeout),
            Phase::Idle(since) => Some(since + self.idle_timeout),
            Phase::Busy => None,
        }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watchdog<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        this.refresh_phase();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before && matches!(this.phase, Phase::Idle(_)) {
                    this.phase = Phase::Head(Instant::now());
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                let Some(deadline) = this.deadline() else {
                    *this.activity.lock_reader() = Some(cx.waker().clone());
                    // The last request may have ended between the look and now.
                    if this.activity.in_flight.load(Ordering::Acquire) == 0 {
                        cx.waker().wake_by_ref();
                    }
                    return Poll::Pending;
                };
                if this.armed != Some(deadline) {
                    this.sleep.as_mut().reset(deadline);
                    this.armed = Some(deadline);
                }
                if this.sleep.as_mut().poll(cx).is_ready() {
                    let what = match this.phase {
                        Phase::Head(_) => "request header not received within the header timeout",
                        _ => "connection idle for longer than the idle timeout",
                    };
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)));
                }
                Poll::Pending
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watchdog<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if bufs.len() > 1 && total <= COALESCE_MAX {
            let this = &mut *self;
            this.gather.clear();
            for b in bufs {
                this.gather.extend_from_slice(b);
            }
            return Pin::new(&mut this.io).poll_write(cx, &this.gather);
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}
