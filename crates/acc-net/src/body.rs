//! Request bodies under a size limit, a deadline and a minimum rate: the defence against a
//! client that sends a request's head and then its body never, or a byte at a time, to
//! hold a connection (and a request in flight) for as long as it likes.
//!
//! From the first time the application reads it, a body must end by
//! `start + body_timeout + received / body_min_rate`: a grace period, extended by each byte
//! received at the minimum rate. A body that is late ends with [`BodyError::TimedOut`],
//! one that grows past its route's limit with [`BodyError::TooLarge`]; either is also
//! recorded in the request's [`Verdict`], from which the per-connection service answers
//! 408 or 413 itself (whatever the application made of the error) and closes the
//! connection. [`deadline`] is the pure rule.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

/// Why a request body was cut short.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// It did not arrive in time (see [`deadline`]).
    #[error("the request body did not arrive within {timeout_s} s and at {min_rate} bytes/s after that")]
    TimedOut {
        /// The grace period, seconds.
        timeout_s: u64,
        /// The minimum rate, bytes per second.
        min_rate: u64,
    },
    /// It is larger than its route accepts.
    #[error("the request body is larger than {limit} bytes")]
    TooLarge {
        /// The route's limit, bytes.
        limit: u64,
    },
    /// The connection failed while it was read.
    #[error("the request body could not be read: {0}")]
    Transport(#[from] hyper::Error),
}

/// The instant by which a body whose reading started at `start` and which has delivered
/// `received` bytes must have ended: `timeout`, plus the time `received` bytes take at
/// `min_rate` bytes/s (no extension when `min_rate` is 0).
pub fn deadline(start: Instant, received: u64, timeout: Duration, min_rate: u64) -> Instant {
    let earned = match min_rate {
        0 => Duration::ZERO,
        rate => Duration::from_secs_f64(received as f64 / rate as f64),
    };
    start + timeout + earned
}

/// What became of a request's body, shared between the body and the service that
/// answers for it.
#[derive(Debug, Default)]
pub(crate) struct Verdict(AtomicU8);

/// [`Verdict`] values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cut {
    /// Read normally, or not (yet) at all.
    None,
    /// Late: 408.
    TimedOut,
    /// Over the limit: 413.
    TooLarge,
}

impl Verdict {
    fn set(&self, cut: Cut) {
        let v = match cut {
            Cut::None => 0,
            Cut::TimedOut => 1,
            Cut::TooLarge => 2,
        };
        self.0.store(v, Ordering::Release);
    }

    pub(crate) fn get(&self) -> Cut {
        match self.0.load(Ordering::Acquire) {
            1 => Cut::TimedOut,
            2 => Cut::TooLarge,
            _ => Cut::None,
        }
    }
}

/// How a body is bounded.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) limit: u64,
    pub(crate) timeout: Duration,
    pub(crate) min_rate: u64,
}

pin_project_lite::pin_project! {
    /// The body of every request the application sees: hyper's body under its route's
    /// size limit, a deadline and a minimum rate (see the module).
    pub struct RequestBody {
        #[pin]
        inner: Incoming,
        bounds: Bounds,
        received: u64,
        started: Option<Instant>,
        timer: Option<Pin<Box<Sleep>>>,
        verdict: Arc<Verdict>,
    }
}

impl RequestBody {
    pub(crate) fn new(inner: Incoming, bounds: Bounds, verdict: Arc<Verdict>) -> RequestBody {
        RequestBody { inner, bounds, received: 0, started: None, timer: None, verdict }
    }
}

impl std::fmt::Debug for RequestBody {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestBody").field("received", &self.received).finish_non_exhaustive()
    }
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.project();
        let bounds = *this.bounds;
        let timed_out =
            || BodyError::TimedOut { timeout_s: bounds.timeout.as_secs(), min_rate: bounds.min_rate };
        match this.verdict.get() {
            Cut::TimedOut => return Poll::Ready(Some(Err(timed_out()))),
            Cut::TooLarge => return Poll::Ready(Some(Err(BodyError::TooLarge { limit: bounds.limit }))),
            Cut::None => {}
        }
        let started = *this.started.get_or_insert_with(Instant::now);
        let due = |received: u64| deadline(started, received, bounds.timeout, bounds.min_rate);
        match this.inner.poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    *this.received += data.len() as u64;
                    if *this.received > bounds.limit {
                        this.verdict.set(Cut::TooLarge);
                        return Poll::Ready(Some(Err(BodyError::TooLarge { limit: bounds.limit })));
                    }
                    // A dripping body is cut here as well as while it waits.
                    if Instant::now() > due(*this.received) {
                        this.verdict.set(Cut::TimedOut);
                        return Poll::Ready(Some(Err(timed_out())));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Transport(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let at = due(*this.received);
                let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
                if timer.deadline() != at {
                    timer.as_mut().reset(at);
                }
                if timer.as_mut().poll(cx).is_ready() {
                    this.verdict.set(Cut::TimedOut);
                    return Poll::Ready(Some(Err(timed_out())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_the_grace_period_plus_what_the_bytes_earned() {
        let t0 = Instant::now();
        let grace = Duration::from_secs(10);
        assert_eq!(deadline(t0, 0, grace, 8192), t0 + grace);
        // 64 KiB at 8 KiB/s earns 8 s more.
        assert_eq!(deadline(t0, 65_536, grace, 8192), t0 + Duration::from_secs(18));
        // A drip of one byte every 3 s earns nearly nothing: cut soon after the grace.
        assert!(deadline(t0, 4, grace, 8192) < t0 + grace + Duration::from_millis(1));
        // Rate 0: the grace period alone.
        assert_eq!(deadline(t0, 1 << 30, grace, 0), t0 + grace);
    }

    #[test]
    fn the_verdict_reads_back_the_last_cut() {
        let v = Verdict::default();
        assert_eq!(v.get(), Cut::None);
        v.set(Cut::TimedOut);
        assert_eq!(v.get(), Cut::TimedOut);
        v.set(Cut::TooLarge);
        assert_eq!(v.get(), Cut::TooLarge);
    }
}
