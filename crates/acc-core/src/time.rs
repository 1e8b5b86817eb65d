//! Time as the domain sees it: wall-clock instants in Unix milliseconds (UTC) and whole
//! second durations. The engines never read a clock; callers pass `Timestamp`s in
//! (specification 1.5, T1). This module also owns the one place that reads the wall
//! clock, [`SystemClock`], which every role (management server, site server, agent, CLI)
//! injects as a [`Clock`] so that tests can give a chosen time instead.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

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

impl Timestamp {
    /// Whole seconds from `self` until `later`, rounded up (`ceil`), and never less than 1:
    /// the `retry_after` of a lock or block that ends at `later` (specification 2.2 C3).
    pub const fn retry_after_secs(self, later: Timestamp) -> u64 {
        let ms = later.millis_since(self);
        if ms <= 1000 { 1 } else { ((ms + 999) / 1000) as u64 }
    }

    /// RFC 3339 UTC with milliseconds, as event times are written (specification 1.5 T4):
    /// `2025-06-02T12:00:04.000Z`. An instant outside years -9999 to 9999 is written as
    /// the nearest one inside them.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime().format(WRITTEN).unwrap_or_default()
    }

    /// As a calendar time (certificates and CRLs are dated with one). An instant outside
    /// years -9999 to 9999 is the nearest one inside them.
    pub fn to_datetime(self) -> OffsetDateTime {
        let nanos = i128::from(self.0) * 1_000_000;
        OffsetDateTime::from_unix_timestamp_nanos(nanos).unwrap_or(if self.0 < 0 {
            PrimitiveDateTime::MIN.assume_utc()
        } else {
            PrimitiveDateTime::MAX.assume_utc()
        })
    }

    /// Parses the RFC 3339 UTC form written by [`Timestamp::to_rfc3339`]
    /// (`YYYY-MM-DDTHH:MM:SS[.fff]Z`; the fraction may have 0 to 3 digits). The date must
    /// exist in the calendar (no 30 February).
    pub fn parse_rfc3339(text: &str) -> Result<Timestamp, TimeParseError> {
        let err = || TimeParseError(text.to_owned());
        // The form is `time`'s; a year without a sign and milliseconds at most are ours.
        let fraction = text.split_once('.').map_or(0, |(_, f)| f.trim_end_matches('Z').len());
        if fraction > 3 || !text.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(err());
        }
        let at = PrimitiveDateTime::parse(text, READ).map_err(|_| err())?.assume_utc();
        let ms = at.unix_timestamp_nanos() / 1_000_000;
        i64::try_from(ms).map(Timestamp).map_err(|_| err())
    }
}

/// How acc writes an instant.
const WRITTEN: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
/// What acc reads: the written form, with 0 to 9 fraction digits (three at most are
/// allowed by [`Timestamp::parse_rfc3339`]).
const READ: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second][optional [.[subsecond digits:1+]]]Z");

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// A text that is not an RFC 3339 UTC time of the form acc writes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not an RFC 3339 UTC time such as 2025-06-02T12:00:04.000Z")]
pub struct TimeParseError(pub String);

/// Something that tells the time. Production code uses the system clock; tests inject a
/// fake one. Only the I/O edges hold a `Clock`; pure logic takes a `Timestamp`.
pub trait Clock: Send + Sync {
    /// The current wall-clock time.
    fn now(&self) -> Timestamp;

    /// The current wall-clock time as a calendar time (for certificates and CRLs).
    fn now_utc(&self) -> OffsetDateTime {
        self.now().to_datetime()
    }
}

/// The wall clock: the only reading of the system time in acc (every role injects it).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(ms)
    }
}

/// A clock that says what it is told: for tests that decide a rule at a chosen time.
#[derive(Debug, Default)]
pub struct FixedClock(std::sync::atomic::AtomicI64);

impl FixedClock {
    /// A clock stopped at `at`.
    pub fn at(at: Timestamp) -> FixedClock {
        FixedClock(std::sync::atomic::AtomicI64::new(at.0))
    }

    /// Moves the clock to `at`.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.0, std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the clock forward by `ms` milliseconds.
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_is_after_2025_and_a_fixed_clock_says_what_it_is_told() {
        assert!(SystemClock.now() > Timestamp(1_735_689_600_000));
        let c = FixedClock::at(Timestamp(5));
        c.advance_ms(10);
        assert_eq!(c.now(), Timestamp(15));
        c.set(Timestamp(-3));
        assert_eq!(c.now(), Timestamp(-3));
        c.set(Timestamp(1_748_865_604_250));
        assert_eq!(c.now_utc().unix_timestamp_nanos(), 1_748_865_604_250_000_000);
        assert_eq!(Timestamp(i64::MAX).to_datetime(), PrimitiveDateTime::MAX.assume_utc());
    }

    #[test]
    fn arithmetic_saturates_and_measures() {
        let t = Timestamp::from_secs(10);
        assert_eq!(t.plus_secs(5), Timestamp(15_000));
        assert_eq!(Timestamp(15_000).millis_since(t), 5_000);
        assert_eq!(t.millis_since(Timestamp(15_000)), -5_000);
        assert_eq!(Timestamp(i64::MAX).plus_secs(1), Timestamp(i64::MAX));
    }

    #[test]
    fn rfc3339_is_utc_with_milliseconds() {
        assert_eq!(Timestamp(0).to_rfc3339(), "1970-01-01T00:00:00.000Z");
        // 2025-06-02T12:00:04Z = 1748865604 s.
        assert_eq!(Timestamp(1_748_865_604_000).to_rfc3339(), "2025-06-02T12:00:04.000Z");
        assert_eq!(Timestamp(1_748_865_604_007).to_rfc3339(), "2025-06-02T12:00:04.007Z");
        assert_eq!(Timestamp(951_782_400_000).to_rfc3339(), "2000-02-29T00:00:00.000Z");
        assert_eq!(Timestamp(-1).to_rfc3339(), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn rfc3339_round_trips_and_rejects_other_forms() {
        for ms in [0, -1, 951_782_400_000, 1_748_865_604_123, 4_102_444_800_000] {
            let t = Timestamp(ms);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_rfc3339()), Ok(t));
        }
        assert_eq!(Timestamp::parse_rfc3339("2025-06-02T12:00:04Z"), Ok(Timestamp(1_748_865_604_000)));
        assert_eq!(Timestamp::parse_rfc3339("2025-06-02T12:00:04.5Z"), Ok(Timestamp(1_748_865_604_500)));
        for bad in [
            "",
            "2025-06-02 12:00:04Z",
            "2025-06-02T12:00:04+01:00",
            "2025-13-02T12:00:04Z",
            "2025-06-02T12:00:04.1234Z",
            "2025-06-02T1a:00:04Z",
            "+2025-06-02T12:00:04Z",
            "2025-06-02t12:00:04z",
            "2025-06-02T12:00:04.Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rfc3339_refuses_days_the_month_does_not_have() {
        for bad in [
            "2025-02-30T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2024-04-31T00:00:00Z",
            "2100-02-29T00:00:00Z",
            "2025-06-00T00:00:00Z",
            "2025-06-02T24:00:00Z",
        ] {
            assert!(Timestamp::parse_rfc3339(bad).is_err(), "{bad}");
        }
        assert_eq!(Timestamp::parse_rfc3339("2000-02-29T00:00:00Z"), Ok(Timestamp(951_782_400_000)));
        assert!(Timestamp::parse_rfc3339("2024-02-29T23:59:59.999Z").is_ok());
    }

    #[test]
    fn instants_beyond_four_digit_years_are_written_at_the_edge() {
        assert_eq!(Timestamp(i64::MAX).to_rfc3339(), "9999-12-31T23:59:59.999Z");
        assert_eq!(Timestamp(i64::MIN).to_rfc3339(), "-9999-01-01T00:00:00.000Z");
    }

    #[test]
    fn retry_after_rounds_up_and_is_at_least_one_second() {
        let t = Timestamp(10_000);
        assert_eq!(t.retry_after_secs(Timestamp(10_000)), 1);
        assert_eq!(t.retry_after_secs(Timestamp(10_001)), 1);
        assert_eq!(t.retry_after_secs(Timestamp(11_000)), 1);
        assert_eq!(t.retry_after_secs(Timestamp(11_001)), 2);
        assert_eq!(t.retry_after_secs(Timestamp(610_000)), 600);
        assert_eq!(t.retry_after_secs(Timestamp(9_000)), 1);
    }
}
