//! Tests of the lockout engine: one file per area of the specification, sharing a small
//! fixture with a fake clock. Every test names the rule it pins.

mod address;
mod admin;
mod classic;
mod clock;
mod policy;
mod props;
mod refresh;
mod smart;

use std::sync::atomic::{AtomicI64, Ordering};

use super::*;
use crate::event::{Event, FieldValue};
use crate::time::{Clock, Timestamp};

/// 2025-06-02T12:00:00.000Z.
pub(crate) const T0: i64 = 1_748_865_600_000;
pub(crate) const HASH1: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g";

/// A settable clock, as the site server's I/O edge would hold.
pub(crate) struct FakeClock(AtomicI64);

impl FakeClock {
    pub(crate) fn set(&self, t: Timestamp) {
        self.0.store(t.millis(), Ordering::SeqCst);
    }
    pub(crate) fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

pub(crate) fn identity() -> SiteIdentity {
    SiteIdentity {
        computer: "SITE-01".into(),
        site_id: "6f1c2a9e-0000-4000-8000-000000000001".into(),
        fleet_name: "ACC".into(),
        domain_sid: "S-1-5-21-1111-2222-3333".into(),
    }
}

pub(crate) fn src(n: u32) -> Source {
    Source::parse(&format!("10.0.{}.{}", n / 256, n % 256), &format!("pc{n}")).unwrap()
}

pub(crate) struct Fx {
    pub site: SiteState,
    pub policy: LockoutPolicy,
    pub clock: FakeClock,
    /// Number of password verifications the engine asked for.
    pub verifications: usize,
}

impl Fx {
    /// A site with managed account `ACC_user` (generation 1) created at T0.
    pub(crate) fn new(policy: LockoutPolicy) -> Fx {
        let mut site = SiteState::new(identity());
        site.create_managed_account("ACC_user", 1, PasswordHash::new(HASH1), false, Timestamp(T0)).unwrap();
        Fx { site, policy, clock: FakeClock(AtomicI64::new(T0)), verifications: 0 }
    }

    pub(crate) fn classic() -> Fx {
        Fx::new(LockoutPolicy { mode: LockoutMode::Classic, ..LockoutPolicy::default() })
    }

    pub(crate) fn smart() -> Fx {
        Fx::new(LockoutPolicy::default())
    }

    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// Sets the clock to T0 + `ms`.
    pub(crate) fn at_ms(&mut self, ms: i64) -> &mut Self {
        self.clock.set(Timestamp(T0 + ms));
        self
    }

    pub(crate) fn at(&mut self, secs: i64) -> &mut Self {
        self.at_ms(secs * 1000)
    }

    /// One attempt as `name` from `source`; `good` is what the password check returns.
    pub(crate) fn attempt_as(&mut self, name: &str, source: &Source, good: bool) -> AttemptResult {
        let now = self.now();
        let mut verified = 0;
        let r = self.site.authenticate(
            &self.policy,
            Attempt::password(name, source.clone(), 50_000),
            now,
            |_hash| {
                verified += 1;
                good
            },
        );
        self.verifications += verified;
        r
    }

    pub(crate) fn good(&mut self, source: &Source) -> AttemptResult {
        self.attempt_as("ACC_user", source, true)
    }

    pub(crate) fn bad(&mut self, source: &Source) -> AttemptResult {
        self.attempt_as("ACC_user", source, false)
    }

    pub(crate) fn rec(&self) -> &AccountRecord {
        self.site.account("ACC_user").unwrap()
    }

    pub(crate) fn label(&self) -> &'static str {
        self.site.displayed_state(&self.policy, "ACC_user", self.now()).unwrap().label()
    }
}

/// The event ids of `events`, as text.
pub(crate) fn ids(events: &[Event]) -> Vec<String> {
    events.iter().map(|e| e.id.to_string()).collect()
}

pub(crate) fn s(e: &Event, field: &str) -> String {
    match e.field(field) {
        Some(FieldValue::Str(v)) => v.clone(),
        other => panic!("{field} is {other:?} in {e:?}"),
    }
}

pub(crate) fn n(e: &Event, field: &str) -> u64 {
    match e.field(field) {
        Some(FieldValue::UInt(v)) => *v,
        other => panic!("{field} is {other:?} in {e:?}"),
    }
}

pub(crate) fn b(e: &Event, field: &str) -> bool {
    match e.field(field) {
        Some(FieldValue::Bool(v)) => *v,
        other => panic!("{field} is {other:?} in {e:?}"),
    }
}

/// The fields of a 4740 in their order (4.2); `seconds` is `BlockSeconds` (source and
/// address scope) or `LockoutDurationSeconds` (account and unfamiliar scope).
pub(crate) fn fields_4740(seconds: &'static str) -> [&'static str; 10] {
    [
        "SubjectUserSid",
        "SubjectUserName",
        "SubjectDomainName",
        "SubjectLogonId",
        "TargetUserName",
        "TargetSid",
        "CallerComputerName",
        "LockScope",
        "IpAddress",
        seconds,
    ]
}

pub(crate) fn locked(retry_after: Option<u64>) -> Outcome {
    Outcome::LockedOut { retry_after }
}

pub(crate) const OK: Outcome = Outcome::Ok { policy_stale: false };
