//! Retry pacing of long-lived connections (a site server's policy long-poll and event
//! forwarding to its management server; an agent's policy long-poll and its site
//! sessions): how long to wait before the next try, by how the last one ended.
//!
//! A server that cannot be reached is tried again quickly at first, then less often. A
//! server that answered and refused (401, 403 …) is reachable: asking again at once gets
//! the same refusal, so refusals back off on their own, longer, scale. A connection that
//! worked before it ended starts both over. Exponential, capped; no clock read here.

use std::time::Duration;

/// How a try ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It worked (at least one answer was accepted) before the connection ended.
    AfterProgress,
    /// The server could not be reached, or the connection broke before any answer.
    Unreachable,
    /// The server answered with a refusal.
    Refused,
}

/// The first and longest waits of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// First wait after an unreachable try (and after a connection that worked).
    pub unreachable_first: Duration,
    /// Longest wait between unreachable tries.
    pub unreachable_max: Duration,
    /// First wait after a refusal.
    pub refused_first: Duration,
    /// Longest wait between refused tries.
    pub refused_max: Duration,
}

/// The waits of one connection's retries.
#[derive(Debug, Clone)]
pub struct Retry {
    policy: RetryPolicy,
    unreachable: u32,
    refused: u32,
}

/// `first` doubled `streak − 1` times, at most `max`.
fn doubled(first: Duration, streak: u32, max: Duration) -> Duration {
    first.saturating_mul(1u32 << streak.saturating_sub(1).min(20)).min(max)
}

impl Retry {
    /// No try yet.
    pub fn new(policy: RetryPolicy) -> Retry {
        Retry { policy, unreachable: 0, refused: 0 }
    }

    /// How long to wait after a try that ended as `ended`.
    pub fn after(&mut self, ended: Ended) -> Duration {
        let p = self.policy;
        match ended {
            Ended::AfterProgress => {
                self.unreachable = 0;
                self.refused = 0;
                p.unreachable_first
            }
            Ended::Unreachable => {
                self.unreachable = self.unreachable.saturating_add(1);
                doubled(p.unreachable_first, self.unreachable, p.unreachable_max)
            }
            Ended::Refused => {
                self.refused = self.refused.saturating_add(1);
                doubled(p.refused_first, self.refused, p.refused_max)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const POLICY: RetryPolicy = RetryPolicy {
        unreachable_first: Duration::from_millis(200),
        unreachable_max: Duration::from_secs(30),
        refused_first: Duration::from_secs(1),
        refused_max: Duration::from_secs(300),
    };

    fn secs(d: Duration) -> f64 {
        d.as_secs_f64()
    }

    #[test]
    fn refusals_back_off_exponentially_to_their_cap_and_progress_starts_over() {
        let mut r = Retry::new(POLICY);
        let waits: Vec<f64> = (0..12).map(|_| secs(r.after(Ended::Refused))).collect();
        assert_eq!(waits, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0, 300.0, 300.0]);
        assert_eq!(secs(r.after(Ended::AfterProgress)), 0.2);
        assert_eq!(secs(r.after(Ended::Refused)), 1.0, "a refusal after progress starts over");
    }

    #[test]
    fn unreachable_servers_are_retried_quickly_at_first() {
        let mut r = Retry::new(POLICY);
        let waits: Vec<f64> = (0..10).map(|_| secs(r.after(Ended::Unreachable))).collect();
        assert_eq!(waits, [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]);
        // A refusal in between has its own scale and does not reset the other.
        assert_eq!(secs(r.after(Ended::Refused)), 1.0);
        assert_eq!(secs(r.after(Ended::Unreachable)), 30.0);
    }

    proptest! {
        /// Waits stay within [first, cap] of their kind and never shrink while the same
        /// kind repeats.
        #[test]
        fn waits_are_bounded_and_monotonic(ends in prop::collection::vec(0u8..3, 1..200)) {
            let mut r = Retry::new(POLICY);
            let mut last: Option<(u8, Duration)> = None;
            for e in ends {
                let ended = [Ended::AfterProgress, Ended::Unreachable, Ended::Refused][usize::from(e)];
                let w = r.after(ended);
                let (lo, hi) = match ended {
                    Ended::Refused => (POLICY.refused_first, POLICY.refused_max),
                    _ => (POLICY.unreachable_first, POLICY.unreachable_max),
                };
                prop_assert!(lo <= w && w <= hi);
                if let Some((k, prev)) = last && k == e && e != 0 {
                    prop_assert!(w >= prev);
                }
                last = Some((e, w));
            }
        }
    }
}
