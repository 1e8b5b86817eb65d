//! Never the cause of a lockout (specification 2.5): the agent's decisions after a
//! refused credential, pure and clock-injected.
//!
//! - It never sends more than `T − 2` failed attempts per observation window `W` (T the
//!   threshold that applies to it; with T = 0 nothing locks, and it still backs off).
//! - It retries a `401` with the same secret at most once per policy revision: after that
//!   the secret waits for a new revision.
//! - Between failures it backs off exponentially (5 s doubling to 10 min) with jitter, and
//!   a `Retry-After` is honoured as a floor.

use std::collections::VecDeque;
use std::time::Duration;

/// The first pause after a failure.
pub const FIRST_BACKOFF: Duration = Duration::from_secs(5);
/// The longest pause.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// What the agent may do now with a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Try it.
    Go,
    /// Wait this long first (backoff, Retry-After, or the window's budget).
    Wait(Duration),
    /// Not with this secret at this revision: fetch the policy and wait for a new one.
    NeedNewPolicy,
}

/// The retry state of one agent (times in milliseconds from any fixed origin).
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// Failed attempts within the window.
    failures: VecDeque<i64>,
    /// (revision, secret fingerprint) of the last refusal, and the attempts refused with it.
    refused: Option<(i64, u64, u32)>,
    /// Not before this time, with the secret it applies to (a new secret, from a new
    /// policy, is not held back by the wait of the old one).
    not_before: i64,
    /// The fingerprint `not_before` applies to.
    waiting_secret: u64,
    /// Consecutive failures (for the backoff).
    streak: u32,
}

impl Budget {
    /// Whether an attempt with `secret` (a fingerprint; 0 for a certificate) under
    /// `revision` may go at `now`, given threshold `threshold` and window `window_secs`.
    pub fn check(
        &mut self,
        now: i64,
        revision: i64,
        secret: u64,
        threshold: u32,
        window_secs: u64,
    ) -> Verdict {
        let window = i64::try_from(window_secs.saturating_mul(1000)).unwrap_or(i64::MAX);
        while self.failures.front().is_some_and(|&t| now - t >= window) {
            self.failures.pop_front();
        }
        if let Some((r, s, n)) = self.refused
            && r == revision
            && s == secret
            && n >= 2
        {
            return Verdict::NeedNewPolicy;
        }
        if threshold > 0 {
            let allowed = usize::try_from(threshold.saturating_sub(2).max(1)).unwrap_or(usize::MAX);
            if self.failures.len() >= allowed
                && let Some(&oldest) = self.failures.front()
            {
                let free_at = oldest.saturating_add(window);
                return Verdict::Wait(ms(free_at - now));
            }
        }
        if now < self.not_before && secret == self.waiting_secret {
            return Verdict::Wait(ms(self.not_before - now));
        }
        Verdict::Go
    }

    /// Records a refused attempt (`401`), with an optional `Retry-After` and `jitter` in
    /// 0..1 for the backoff.
    pub fn failed(
        &mut self,
        now: i64,
        revision: i64,
        secret: u64,
        retry_after: Option<Duration>,
        jitter: f64,
    ) {
        self.failures.push_back(now);
        self.refused = match self.refused {
            Some((r, s, n)) if r == revision && s == secret => Some((r, s, n + 1)),
            _ => Some((revision, secret, 1)),
        };
        self.streak = self.streak.saturating_add(1);
        let backoff =
            FIRST_BACKOFF.saturating_mul(1 << self.streak.saturating_sub(1).min(8)).min(MAX_BACKOFF);
        let jittered = backoff.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0);
        let wait = retry_after.map_or(jittered, |r| r.max(jittered));
        self.not_before = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        self.waiting_secret = secret;
    }

    /// A lock or block (`403 locked_out`): wait `retry_after` (or the longest backoff);
    /// the attempt was not counted by the server, so it is not counted here.
    pub fn locked(&mut self, now: i64, secret: u64, retry_after: Option<Duration>) {
        let wait = retry_after.unwrap_or(MAX_BACKOFF);
        self.not_before = now.saturating_add(i64::try_from(wait.as_millis()).unwrap_or(i64::MAX));
        self.waiting_secret = secret;
    }

    /// A success: the streak and the per-secret refusal end (the window keeps its count).
    pub fn succeeded(&mut self) {
        self.streak = 0;
        self.refused = None;
        self.not_before = 0;
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(u64::try_from(v.max(0)).unwrap_or(0))
}

/// A fingerprint of a secret, to tell secrets apart without keeping them.
pub fn fingerprint(secret: &str) -> u64 {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, secret.as_bytes());
    let mut b = [0u8; 8];
    b.copy_from_slice(&d.as_ref()[..8]);
    u64::from_be_bytes(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_retried_once_per_revision_then_waits_for_a_new_policy() {
        let mut b = Budget::default();
        let s = fingerprint("old");
        assert_eq!(b.check(0, 7, s, 10, 600), Verdict::Go);
        b.failed(0, 7, s, None, 0.0);
        assert!(matches!(b.check(1_000, 7, s, 10, 600), Verdict::Wait(_)), "backoff first");
        assert_eq!(b.check(60_000, 7, s, 10, 600), Verdict::Go, "one retry");
        b.failed(60_000, 7, s, None, 0.0);
        assert_eq!(b.check(10_000_000, 7, s, 10, 600), Verdict::NeedNewPolicy);
        assert_eq!(b.check(10_000_000, 8, s, 10, 600), Verdict::Go, "a new revision may carry a new secret");
        assert_eq!(b.check(10_000_000, 7, fingerprint("new"), 10, 600), Verdict::Go);
    }

    #[test]
    fn never_more_than_t_minus_2_failures_per_window() {
        let mut b = Budget::default();
        let t = 5;
        let mut sent = 0;
        let mut now = 0;
        // A stream of distinct secrets (revisions), each refused: the budget holds.
        for rev in 0..100 {
            match b.check(now, rev, rev as u64, t, 600) {
                Verdict::Go => {
                    sent += 1;
                    b.failed(now, rev, rev as u64, None, 1.0);
                }
                Verdict::Wait(d) => now += i64::try_from(d.as_millis()).unwrap() + 1,
                Verdict::NeedNewPolicy => {}
            }
            let in_window = b.failures.iter().filter(|&&f| now - f < 600_000).count();
            assert!(in_window <= 3, "at most T-2 = 3 per window, saw {in_window} at {now}");
        }
        assert!(sent > 3, "it keeps trying across windows: {sent}");
    }

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let mut b = Budget::default();
        b.failed(0, 1, 1, None, 0.0);
        assert_eq!(b.check(0, 1, 1, 0, 600), Verdict::Wait(Duration::from_millis(2_500)));
        b.failed(0, 2, 1, None, 1.0);
        assert_eq!(b.check(0, 2, 1, 0, 600), Verdict::Wait(Duration::from_secs(10)));
        b.failed(0, 3, 1, Some(Duration::from_secs(900)), 0.5);
        assert_eq!(b.check(0, 3, 1, 0, 600), Verdict::Wait(Duration::from_secs(900)));
        b.succeeded();
        b.locked(0, 4, Some(Duration::from_secs(30)));
        assert_eq!(b.check(0, 4, 4, 0, 600), Verdict::Wait(Duration::from_secs(30)));
        assert_eq!(
            b.check(0, 5, 5, 0, 600),
            Verdict::Go,
            "a new secret is not held back by the old one's lock"
        );
    }
}
