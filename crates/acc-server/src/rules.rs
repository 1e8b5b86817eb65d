//! The management server's time rules, decided by pure functions of the policy document
//! and the time the caller read from the server's one [`acc_core::time::Clock`]: when a
//! provisioning rotation has stalled (P4), when a retiring generation is due for removal
//! (P6), how far certificates and CRLs are backdated, when the fleet CRL is re-signed and
//! pushed, when an API token has expired, and
//! whether a management server may run a once-only job (its lease, see `crate::cluster`). The
//! rotation's own steps (the switch, the retire deadline) are [`crate::document::settle`]
//! and [`crate::document::force_switch`], pure as well. Nothing here reads a clock, so each
//! rule is tested at chosen times below.

use acc_core::generation::GenerationPhase;

use crate::document::{Generation, PolicyDocument};

/// `rotation.provisioning_timeout` (3.2.1): after this a provisioning rotation is stalled.
pub const PROVISIONING_TIMEOUT_MS: i64 = 86_400_000;

/// Issued certificates and CRLs start this much in the past, so modest clock skew does not
/// break them (a CRL's issuance is so its thisUpdate plus this, see `SiteRecord`).
pub const BACKDATE: time::Duration = time::Duration::minutes(5);

/// Sites get a freshly signed CRL at least this often, so it never nears its nextUpdate
/// (6 of its 7 days left) even when no revision is saved.
pub const CRL_PUSH_EVERY_MS: i64 = 86_400_000;

/// The provisioning generation when it has waited `provisioning_timeout` at `now_ms` (P4).
pub fn stalled(doc: &PolicyDocument, now_ms: i64) -> Option<&Generation> {
    doc.generation_in(GenerationPhase::Provisioning)
        .filter(|g| now_ms.saturating_sub(g.saved_at) >= PROVISIONING_TIMEOUT_MS)
}

/// Whether a retiring generation has reached its retire deadline at `now_ms` (P6): the
/// next revision removes it.
pub fn retirement_due(doc: &PolicyDocument, now_ms: i64) -> bool {
    doc.generations
        .iter()
        .any(|g| g.phase == GenerationPhase::Retiring && g.retire_deadline.is_some_and(|d| now_ms >= d))
}

/// Whether the CRL last pushed at `last_push_ms` is due again at `now_ms`.
pub fn crl_push_due(last_push_ms: i64, now_ms: i64) -> bool {
    now_ms.saturating_sub(last_push_ms) >= CRL_PUSH_EVERY_MS
}

/// Whether a token that expires at `expires_at_ms` (`None`: never) is expired at `now_ms`.
pub fn token_expired(expires_at_ms: Option<i64>, now_ms: i64) -> bool {
    expires_at_ms.is_some_and(|at| now_ms >= at)
}

/// How long a job's lease lasts unless its holder renews it (every second while it runs):
/// the jobs of a management server that died move to another after this.
pub const LEASE_TTL_MS: i64 = 10_000;

/// What a management server does about a job's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Nobody holds it, or its holder let it expire: take it.
    Take,
    /// It is ours: renew it (even expired: nobody took it since).
    Renew,
    /// Another node holds it until its expiry: leave the job to it.
    Wait,
}

/// The decision of node `me` at `now_ms` about a lease held by `holder` until
/// `expires_at` (`None`: never taken).
pub fn lease_decision(current: Option<(&str, i64)>, me: &str, now_ms: i64) -> LeaseDecision {
    match current {
        None => LeaseDecision::Take,
        Some((holder, _)) if holder == me => LeaseDecision::Renew,
        Some((_, expires_at)) if now_ms >= expires_at => LeaseDecision::Take,
        Some(_) => LeaseDecision::Wait,
    }
}

/// Until when a lease taken or renewed at `now_ms` holds.
pub fn lease_until(now_ms: i64) -> i64 {
    now_ms.saturating_add(LEASE_TTL_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_held_until_it_expires_then_anyone_takes_it() {
        use LeaseDecision::*;
        assert_eq!(lease_decision(None, "A", 0), Take);
        let held = Some(("A", lease_until(1_000)));
        assert_eq!(held, Some(("A", 11_000)));
        assert_eq!(lease_decision(held, "A", 5_000), Renew);
        assert_eq!(lease_decision(held, "B", 5_000), Wait);
        assert_eq!(lease_decision(held, "B", 10_999), Wait, "one ms before expiry");
        assert_eq!(lease_decision(held, "B", 11_000), Take, "at expiry");
        assert_eq!(lease_decision(held, "A", 50_000), Renew, "expired but nobody took it");
        assert_eq!(lease_until(i64::MAX), i64::MAX);
    }

    fn generation(number: u32, phase: GenerationPhase, saved_at: i64, deadline: Option<i64>) -> Generation {
        Generation {
            number,
            user_name: format!("ACC_User_v{number}"),
            phase,
            password_hash: None,
            saved_at,
            retire_deadline: deadline,
        }
    }

    #[test]
    fn a_rotation_stalls_after_the_provisioning_timeout() {
        let mut doc = PolicyDocument::default();
        assert!(stalled(&doc, i64::MAX).is_none());
        doc.generations.push(generation(2, GenerationPhase::Provisioning, 1_000, None));
        assert!(stalled(&doc, 1_000 + PROVISIONING_TIMEOUT_MS - 1).is_none());
        assert_eq!(stalled(&doc, 1_000 + PROVISIONING_TIMEOUT_MS).map(|g| g.number), Some(2));
        doc.generations[0].phase = GenerationPhase::Active;
        assert!(stalled(&doc, i64::MAX).is_none(), "only a provisioning generation stalls");
    }

    #[test]
    fn a_retiring_generation_is_due_at_its_deadline_and_not_before() {
        let mut doc = PolicyDocument::default();
        doc.generations.push(generation(1, GenerationPhase::Retiring, 0, Some(5_000)));
        doc.generations.push(generation(2, GenerationPhase::Active, 0, None));
        assert!(!retirement_due(&doc, 4_999));
        assert!(retirement_due(&doc, 5_000));
        doc.generations[0].retire_deadline = None;
        assert!(!retirement_due(&doc, i64::MAX), "no deadline, no removal");
        doc.generations[0] = generation(1, GenerationPhase::Removed, 0, Some(5_000));
        assert!(!retirement_due(&doc, i64::MAX), "a removed generation is not removed again");
    }

    #[test]
    fn the_crl_is_pushed_once_a_day() {
        assert!(!crl_push_due(1_000, 1_000));
        assert!(!crl_push_due(1_000, 1_000 + CRL_PUSH_EVERY_MS - 1));
        assert!(crl_push_due(1_000, 1_000 + CRL_PUSH_EVERY_MS));
        assert!(!crl_push_due(1_000, 0), "a clock set back does not push");
    }

    #[test]
    fn a_token_expires_at_its_time() {
        assert!(!token_expired(None, i64::MAX));
        assert!(!token_expired(Some(10), 9));
        assert!(token_expired(Some(10), 10));
    }

    /// The server reads the time only from its clock: at chosen times, a token expires,
    /// the CRL is pushed, and a retiring generation is removed at its deadline.
    #[tokio::test]
    async fn the_server_decides_at_the_time_its_clock_tells() {
        use std::sync::Arc;

        use acc_core::time::{FixedClock, Timestamp};

        use crate::layout::Layout;
        use crate::server::Server;
        use crate::tokens::Role;

        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server");
        crate::init::init(&crate::init::tests::opts(&dir)).await.unwrap();
        const T0: i64 = 1_800_000_000_000;
        let clock = Arc::new(FixedClock::at(Timestamp(T0)));
        let server = Server::open_with_clock(Layout::new(&dir), clock.clone()).await.unwrap();
        assert_eq!(server.now_ms(), T0);

        let (token, row) = server.create_token(Role::Viewer, Some(60), "test").await.unwrap();
        assert_eq!(row.expires_at, Some(T0 + 60_000));
        clock.set(Timestamp(T0 + 59_999));
        assert!(server.authenticate(&token).is_some());
        clock.set(Timestamp(T0 + 60_000));
        assert!(server.authenticate(&token).is_none(), "expired at its time");

        let pushes = server.long_polls().subscribe(crate::wake::Audience::Sites);
        server.push_crl_if_due().await;
        assert!(!pushes.has_changed().unwrap(), "the first tick starts the schedule");
        clock.set(Timestamp(T0 + 60_000 + CRL_PUSH_EVERY_MS - 1));
        server.push_crl_if_due().await;
        assert!(!pushes.has_changed().unwrap(), "pushed a day after the first tick");
        clock.set(Timestamp(T0 + 60_000 + CRL_PUSH_EVERY_MS));
        server.push_crl_if_due().await;
        assert!(pushes.has_changed().unwrap());
        let mut pushes = pushes;
        pushes.mark_unchanged();
        server.push_crl_if_due().await;
        assert!(!pushes.has_changed().unwrap(), "once a day");

        let (revision, before) = server.current();
        let mut next = before.clone();
        let deadline = server.now_ms() + 3_600_000;
        next.generations.push(generation(1, GenerationPhase::Retiring, T0, Some(deadline)));
        next.generations.push(generation(2, GenerationPhase::Active, T0, None));
        let guard = server.saving().await.unwrap();
        server.commit_document(guard, &before, next, "test").await.unwrap();
        clock.set(Timestamp(deadline - 1));
        server.tick().await;
        let (after, doc) = server.current();
        assert_eq!(after, revision + 1, "nothing due before the deadline");
        assert_eq!(doc.generations[0].phase, GenerationPhase::Retiring);
        clock.set(Timestamp(deadline));
        server.tick().await;
        let (after, doc) = server.current();
        assert_eq!(after, revision + 2);
        assert_eq!(doc.generations[0].phase, GenerationPhase::Removed);
    }
}
