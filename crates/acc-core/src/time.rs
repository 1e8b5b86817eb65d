//! Time as the domain sees it: wall-clock instants in Unix milliseconds (UTC) and whole
//! second durations. The engines never read a clock; callers pass `Timestamp`s in
//! (specification 1.5, T1).

use serde::{Deserialize, Serialize};

/// A wall-clock instant: milliseconds since the Unix epoch, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// From whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs * 1000)
    }

    /// Milliseconds since the epoch.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// `self + secs` seconds, saturating.
    pub const fn plus_secs(self, secs: u64) -> Self {
        Timestamp(self.0.saturating_add((secs as i64).saturating_mul(1000)))
    }

    /// Milliseconds from `earlier` to `self` (negative when `earlier` is later).
    pub const fn millis_since(self, earlier: Timestamp) -> i64 {
        self.0.saturating_sub(earlier.0)
    }
}

/// Something that tells the time. Production code uses the system clock; tests inject a
/// fake one. Only the I/O edges hold a `Clock`; pure logic takes a `Timestamp`.
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_measures() {
        let t = Timestamp::from_secs(10);
        assert_eq!(t.plus_secs(5), Timestamp(15_000));
        assert_eq!(Timestamp(15_000).millis_since(t), 5_000);
        assert_eq!(t.millis_since(Timestamp(15_000)), -5_000);
        assert_eq!(Timestamp(i64::MAX).plus_secs(1), Timestamp(i64::MAX));
    }
}
