//! Authentication attempts against local accounts: classic mode (2.2, C1–C7) and smart
//! mode (2.3, M1–M9), in two phases so the caller hashes outside the engine.
//!
//! 1. [`SiteState::precheck`] decides everything that needs no password: unknown name,
//!    disabled, lock or source block in force. Those end the attempt at once, change no
//!    counter, and cost one lookup — a blocked source never reaches the hash.
//!    Otherwise it returns [`Step::Verify`] with the hash to check.
//! 2. The caller verifies the password (argon2id, constant time) with no lock held, then
//!    calls [`SiteState::complete`] with the result. `complete` re-evaluates at the new
//!    effective time, so an attempt that raced with another one (which blocked the source
//!    meanwhile) is refused rather than counted; if the account was re-created or its hash
//!    repaired meanwhile, it asks for another verification.
//!
//! Lazy expiry of locks and blocks (no event) happens in phase 2 only; phase 1 changes
//! nothing but the clock high-water mark.

use std::collections::BTreeMap;

use super::outcome::{Attempt, AttemptResult, Outcome, PendingVerify, Step};
use super::policy::{LockoutMode, LockoutPolicy, within};
use super::record::{
    AccountRecord, AddressShare, FAILURE_LOG_CAP, FailureEntry, Lifecycle, LockScope, PasswordHash,
    SOURCE_PRUNE_AT,
};
use super::source::Source;
use super::state::SiteState;
use crate::event::Event;
use crate::event::catalogue::{
    self, FailureKind, LockedOut, LogonFailure, LogonSuccess, NULL_SID, Network, Subject, Target,
};
use crate::time::Timestamp;

/// The lockout-loop look-back (3.1.6): 86,400 s.
pub const LOOP_WINDOW_SECS: u64 = 86_400;
/// How many callers `acc.lockout_loop` names.
pub const LOOP_TOP_CALLERS: usize = 5;

/// Everything a 4625 of this attempt shares.
struct FailureCtx<'a> {
    subject: Subject,
    attempt: &'a Attempt,
    site: &'a str,
    sid: Option<String>,
    generation: Option<u32>,
    mode: LockoutMode,
    familiar: Option<bool>,
}

impl FailureCtx<'_> {
    fn event(&self, t: Timestamp, failure: FailureKind, scope: Option<LockScope>, verified: bool) -> Event {
        catalogue::logon_failure(
            t,
            self.mode,
            &LogonFailure {
                subject: &self.subject,
                target: Target {
                    user_name: &self.attempt.user_name,
                    domain_name: self.site,
                    sid: self.sid.as_deref().unwrap_or(NULL_SID),
                },
                failure,
                package: self.attempt.package,
                network: network(self.attempt),
                lock_scope: scope,
                verified,
                familiar: self.familiar,
                generation: self.generation,
            },
        )
    }
}

fn network(a: &Attempt) -> Network<'_> {
    Network { workstation: a.source.caller_computer_name(), ip: a.source.ip(), port: a.port }
}

fn done(outcome: Outcome, events: Vec<Event>) -> Step {
    Step::Done(AttemptResult { outcome, events })
}

impl SiteState {
    /// Phase 1 of an attempt at wall time `now`: refuses what needs no password (C1–C3,
    /// M1–M5a) or asks for a verification. Changes no counter.
    pub fn precheck(&mut self, policy: &LockoutPolicy, attempt: Attempt, now: Timestamp) -> Step {
        let (t, events) = self.effective_time(now);
        self.evaluate(policy, attempt, t, events, None)
    }

    /// Phase 2: the password check of `pending` returned `verified`. Applies C5/C6 or
    /// M7/M8 at the effective time of `now`, or, if the account's SID or hash changed
    /// since phase 1, asks for another verification.
    pub fn complete(
        &mut self,
        policy: &LockoutPolicy,
        pending: PendingVerify,
        verified: bool,
        now: Timestamp,
    ) -> Step {
        let (t, clock) = self.effective_time(now);
        let PendingVerify { attempt, sid, hash, mut events } = pending;
        events.extend(clock);
        let unchanged = self
            .account(&attempt.user_name)
            .is_some_and(|r| r.sid == sid && r.password_hash.as_ref() == Some(&hash));
        self.evaluate(policy, attempt, t, events, unchanged.then_some(verified))
    }

    /// Both phases with an inline verifier (tests, tools, or callers that hash in place).
    pub fn authenticate(
        &mut self,
        policy: &LockoutPolicy,
        attempt: Attempt,
        now: Timestamp,
        mut verify: impl FnMut(&PasswordHash) -> bool,
    ) -> AttemptResult {
        let mut step = self.precheck(policy, attempt, now);
        loop {
            match step {
                Step::Done(result) => return result,
                Step::Verify(pending) => {
                    let ok = verify(pending.password_hash());
                    step = self.complete(policy, pending, ok, now);
                }
            }
        }
    }

    /// D3: a domain-form attempt while the directory is unreachable: 4625 Status
    /// 0xC000005E, `unavailable`, and no counter changes anywhere.
    pub fn directory_unavailable(
        &mut self,
        attempt: &Attempt,
        domain: &str,
        now: Timestamp,
    ) -> AttemptResult {
        let (t, mut events) = self.effective_time(now);
        let ctx = FailureCtx {
            subject: self.site_subject(),
            attempt,
            site: domain,
            sid: None,
            generation: None,
            mode: LockoutMode::Classic,
            familiar: None,
        };
        events.push(ctx.event(t, FailureKind::NoLogonServers, None, false));
        AttemptResult { outcome: Outcome::Unavailable, events }
    }

    /// D2: a domain-form attempt the directory decided (`sid`: the account's, when the
    /// directory knows the name). The site writes the 4624 or 4625, with the agent as
    /// `WorkstationName`, and changes no counter of its own: the directory keeps them.
    pub fn directory_decided(
        &mut self,
        attempt: &Attempt,
        domain: &str,
        sid: Option<&str>,
        outcome: Outcome,
        now: Timestamp,
    ) -> AttemptResult {
        let (t, mut events) = self.effective_time(now);
        // TargetUserName is the account part; the domain is TargetDomainName.
        let account = crate::name::NameParts::split(&attempt.user_name).account;
        let attempt = &Attempt { user_name: account.to_owned(), ..attempt.clone() };
        if let Outcome::Ok { .. } = outcome {
            let logon_id = self.new_logon_id();
            events.push(catalogue::logon_success(
                t,
                LockoutMode::Classic,
                &LogonSuccess {
                    subject: &self.site_subject(),
                    target: Target {
                        user_name: &attempt.user_name,
                        domain_name: domain,
                        sid: sid.unwrap_or(NULL_SID),
                    },
                    logon_id: &logon_id,
                    package: attempt.package,
                    network: network(attempt),
                    generation: None,
                    familiar: None,
                },
            ));
            return AttemptResult { outcome: Outcome::Ok { policy_stale: false }, events };
        }
        let (kind, scope) = match outcome {
            Outcome::LockedOut { .. } => (FailureKind::LockedOut, Some(LockScope::Account)),
            Outcome::AccountDisabled => (FailureKind::Disabled, None),
            Outcome::Unavailable => (FailureKind::NoLogonServers, None),
            _ if sid.is_some() => (FailureKind::BadPassword, None),
            _ => (FailureKind::UnknownUser, None),
        };
        let ctx = FailureCtx {
            subject: self.site_subject(),
            attempt,
            site: domain,
            sid: sid.map(str::to_owned),
            generation: None,
            mode: LockoutMode::Classic,
            familiar: None,
        };
        events.push(ctx.event(t, kind, scope, kind == FailureKind::BadPassword));
        AttemptResult { outcome, events }
    }

    /// The single decision procedure of both phases. `verified = None` stops before the
    /// password step (phase 1) and changes nothing.
    fn evaluate(
        &mut self,
        policy: &LockoutPolicy,
        attempt: Attempt,
        t: Timestamp,
        mut events: Vec<Event>,
        verified: Option<bool>,
    ) -> Step {
        let mode = policy.mode;
        let smart = mode == LockoutMode::Smart;
        let src = attempt.source.clone();
        // M4: familiarity is evaluated before this attempt is processed. It is also
        // reported on every smart-mode 4625, so compute it once up front.
        let fam = smart && self.familiar.is_familiar(&src, t, policy.familiar_ttl);
        let index = self.account_index(&attempt.user_name);
        let record = index.map(|i| &self.accounts[i]);
        let ctx = FailureCtx {
            subject: self.site_subject(),
            attempt: &attempt,
            site: &self.identity.computer,
            sid: record.map(|r| r.sid.clone()),
            generation: record.and_then(|r| r.generation),
            mode,
            familiar: smart.then_some(fam),
        };
        let checked = verified.is_some();

        // C1 / M1: unknown (or deleted) name.
        let (Some(i), Some(rec)) = (index, record) else {
            events.push(ctx.event(t, FailureKind::UnknownUser, None, checked));
            return done(Outcome::InvalidCredentials, events);
        };
        // C2 / M2 / S4: disabled, before any password check.
        if rec.lifecycle == Lifecycle::Disabled {
            events.push(ctx.event(t, FailureKind::Disabled, None, checked));
            return done(Outcome::AccountDisabled, events);
        }
        // C3 / M3 / M5 / M5a: a lock or block in force refuses without counting (S3).
        if let Some((scope, retry_after)) = refusal(policy, rec, &src, fam, t) {
            events.push(ctx.event(t, FailureKind::LockedOut, Some(scope), checked));
            return done(Outcome::LockedOut { retry_after }, events);
        }
        let Some(verified) = verified else {
            let pending = PendingVerify {
                sid: rec.sid.clone(),
                hash: rec.password_hash.clone().unwrap_or_else(|| PasswordHash::new("")),
                attempt,
                events,
            };
            return Step::Verify(pending);
        };
        drop(ctx);

        expire_lazily(policy, &mut self.accounts[i], &src, t);
        let outcome = if verified {
            self.succeed(policy, i, &attempt, fam, t, &mut events)
        } else {
            self.fail(policy, i, &attempt, fam, t, &mut events)
        };
        done(outcome, events)
    }

    /// C5 / M7.
    fn succeed(
        &mut self,
        policy: &LockoutPolicy,
        i: usize,
        attempt: &Attempt,
        fam: bool,
        t: Timestamp,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let logon_id = self.new_logon_id();
        let subject = self.site_subject();
        let rec = &mut self.accounts[i];
        match policy.mode {
            LockoutMode::Classic => {
                rec.bad_count = 0;
                rec.bad_time = None;
            }
            LockoutMode::Smart => {
                // The source's state returns to that of a source never seen: count 0,
                // no bad_time, streak −1, no last block. The unfamiliar aggregate stays.
                rec.sources.remove(&attempt.source);
            }
        }
        let retiring = rec.lifecycle == Lifecycle::Retiring;
        let phase = if retiring { "retiring" } else { "active" };
        let rec = &self.accounts[i];
        let smart = policy.mode == LockoutMode::Smart;
        events.push(catalogue::logon_success(
            t,
            policy.mode,
            &LogonSuccess {
                subject: &subject,
                target: self.target(rec),
                logon_id: &logon_id,
                package: attempt.package,
                network: network(attempt),
                generation: rec.generation.map(|g| (g, phase)),
                familiar: smart.then_some(fam),
            },
        ));
        if smart {
            let max = usize::try_from(policy.familiar_max).unwrap_or(usize::MAX);
            self.familiar.record_success(&attempt.source, t, max);
        }
        Outcome::Ok { policy_stale: retiring }
    }

    /// C6 / C7 / M8.
    fn fail(
        &mut self,
        policy: &LockoutPolicy,
        i: usize,
        attempt: &Attempt,
        fam: bool,
        t: Timestamp,
        events: &mut Vec<Event>,
    ) -> Outcome {
        let subject = self.site_subject();
        let ctx = FailureCtx {
            subject: subject.clone(),
            attempt,
            site: &self.identity.computer,
            sid: Some(self.accounts[i].sid.clone()),
            generation: self.accounts[i].generation,
            mode: policy.mode,
            familiar: (policy.mode == LockoutMode::Smart).then_some(fam),
        };
        let bad_password = ctx.event(t, FailureKind::BadPassword, None, true);
        drop(ctx);
        let caller = attempt.source.caller_computer_name().to_owned();
        let ip = attempt.source.ip();
        let rec = &mut self.accounts[i];
        log_failure(rec, &caller, t);
        let lock_event_by = |rec: &AccountRecord, by: &str, scope: LockScope, seconds: u64| {
            catalogue::account_locked_out(
                t,
                &LockedOut {
                    subject: &subject,
                    user_name: rec.name.as_str(),
                    sid: &rec.sid,
                    caller: by,
                    scope,
                    ip,
                    seconds,
                    reporting_site: attempt.reporting_site.as_deref(),
                },
            )
        };
        let lock_event =
            |rec: &AccountRecord, scope: LockScope, seconds: u64| lock_event_by(rec, &caller, scope, seconds);
        let mut account_locked = false;
        match policy.mode {
            LockoutMode::Classic => {
                // C6 (F7): the window runs from the last failure, inclusive.
                rec.bad_count = next_count(rec.bad_count, rec.bad_time, t, policy);
                rec.bad_time = Some(t);
                events.push(bad_password);
                // C7: with T = 0 the counter is kept but nothing locks.
                if policy.threshold > 0 && rec.bad_count >= policy.threshold {
                    lock(rec, LockScope::Account, t);
                    events.push(lock_event(rec, LockScope::Account, policy.duration));
                    account_locked = true;
                }
            }
            LockoutMode::Smart => {
                if !rec.sources.contains_key(&attempt.source) && rec.sources.len() >= SOURCE_PRUNE_AT {
                    rec.sources.retain(|_, s| !s.is_forgotten(policy, t));
                }
                // M8.1: the source counter.
                let s = rec.sources.entry(attempt.source.clone()).or_default();
                s.count = next_count(s.count, s.bad_time, t, policy);
                s.bad_time = Some(t);
                // M8.2: the unfamiliar aggregate, through the address's share (M8a (a)).
                let address_blocked = !fam && add_to_unfamiliar(rec, policy, ip, &caller, t);
                // M8.3.
                events.push(bad_password);
                // M8a (a): the address is blocked for unfamiliar callers (M5a) for W. Its
                // 4740 follows the 4625, as every 4740 of an attempt does (4.2).
                if address_blocked {
                    events.push(lock_event_by(rec, ip, LockScope::Address, policy.reset_after));
                }
                // M8.4: block the source, escalating.
                let s = rec.sources.get_mut(&attempt.source).expect("the source entry was inserted above");
                if s.count >= policy.source_threshold {
                    let escalates = s.last_block_time.is_some_and(|l| within(l, t, policy.escalation_memory));
                    s.streak = if escalates { s.streak.saturating_add(1).max(0) } else { 0 };
                    s.block_len = policy.block_len(s.streak.unsigned_abs());
                    s.block_time = Some(t);
                    s.last_block_time = Some(t);
                    let len = s.block_len;
                    events.push(lock_event(rec, LockScope::Source, len));
                }
                // M8.5: lock unfamiliar sources out.
                if !fam
                    && rec.unf_count >= policy.unfamiliar_threshold
                    && rec.lock_in_force(policy, t).is_none()
                {
                    lock(rec, LockScope::Unfamiliar, t);
                    events.push(lock_event(rec, LockScope::Unfamiliar, policy.duration));
                    account_locked = true;
                }
            }
        }
        if account_locked {
            let rec = &self.accounts[i];
            if rec.lockouts.len() >= policy.lockout_loop_count as usize {
                events.push(catalogue::acc_lockout_loop(
                    t,
                    rec.name.as_str(),
                    rec.lockouts.len(),
                    top_callers(rec, t),
                ));
            }
        }
        Outcome::InvalidCredentials
    }
}

/// The refusal of C3, M3, M5 or M5a at `t`, if any: (scope, retry_after).
fn refusal(
    policy: &LockoutPolicy,
    rec: &AccountRecord,
    src: &Source,
    fam: bool,
    t: Timestamp,
) -> Option<(LockScope, Option<u64>)> {
    let lock_retry = || rec.lock_time.and_then(|lt| policy.lock_retry_after(lt, t));
    match policy.mode {
        LockoutMode::Classic => rec.lock_in_force(policy, t).map(|_| (LockScope::Account, lock_retry())),
        LockoutMode::Smart => {
            if let Some(end) = rec.sources.get(src).filter(|s| s.blocked_at(t)).and_then(|s| s.block_end()) {
                return Some((LockScope::Source, Some(t.retry_after_secs(end))));
            }
            match rec.lock_in_force(policy, t) {
                // A classic lock left from before a switch to smart still holds everyone.
                Some(LockScope::Account) => return Some((LockScope::Account, lock_retry())),
                Some(scope) if !fam => return Some((scope, lock_retry())),
                _ => {}
            }
            // M5a (rule M8a (b)): an address whose share two or more names used up refuses
            // its unfamiliar callers until `since + W`. A lock still set here is either in
            // force (the caller is familiar) or expired, and an expired one is cleared with
            // every share before this step (M5), so shares only count without a lock.
            if fam || rec.lock_time.is_some() {
                return None;
            }
            let end = rec.shares.get(src.ip()).and_then(|share| share.block_end(policy, t))?;
            Some((LockScope::Address, Some(t.retry_after_secs(end))))
        }
    }
}

/// M8.2 with rule M8a (a), for an unfamiliar failure from `ip` named `caller` at `t`: the
/// failure reaches `unf_count` only while the address's share holds fewer than `Ts`.
/// Returns true when this failure used up the share with two or more names, which blocks
/// the address for unfamiliar callers (M5a).
fn add_to_unfamiliar(
    rec: &mut AccountRecord,
    policy: &LockoutPolicy,
    ip: &str,
    caller: &str,
    t: Timestamp,
) -> bool {
    // A share past its window behaves exactly like none ("start one"); dropping every such
    // share here keeps the map as small as the aggregate it feeds.
    rec.shares.retain(|_, share| share.in_window(policy, t));
    let share = rec.shares.entry(ip.to_owned()).or_insert_with(|| AddressShare::new(t));
    if share.n >= policy.source_threshold {
        // Beyond the share: counted for its own source only (M8.1, M8.4).
        return false;
    }
    share.n += 1;
    share.since = t;
    share.callers.insert(caller.to_owned());
    let used_up = share.n == policy.source_threshold && share.callers.len() >= 2;
    rec.unf_count = next_count(rec.unf_count, rec.unf_time, t, policy);
    rec.unf_time = Some(t);
    used_up
}

/// C3 / M3 / M5 expiry: clears expired locks and blocks without an event.
fn expire_lazily(policy: &LockoutPolicy, rec: &mut AccountRecord, src: &Source, t: Timestamp) {
    let lock_expired = rec.lock_time.is_some() && rec.lock_in_force(policy, t).is_none();
    match policy.mode {
        LockoutMode::Classic => {
            if lock_expired {
                rec.lock_time = None;
                rec.lock_scope = None;
                rec.bad_count = 0;
                rec.bad_time = None;
            }
        }
        LockoutMode::Smart => {
            if let Some(s) = rec.sources.get_mut(src)
                && let Some(end) = s.block_end().filter(|_| !s.blocked_at(t))
            {
                // "One more try": the next failure within W of the block's end blocks again.
                s.block_time = None;
                s.block_len = 0;
                s.count = policy.source_threshold.saturating_sub(1);
                s.bad_time = Some(end);
            }
            if lock_expired {
                rec.lock_time = None;
                rec.lock_scope = None;
                // M8a: every share is cleared with `unf_count`.
                rec.clear_unfamiliar();
            }
        }
    }
}

/// F7: `+1` if the previous failure is within the window, else 1.
fn next_count(count: u32, last: Option<Timestamp>, t: Timestamp, policy: &LockoutPolicy) -> u32 {
    if last.is_some_and(|b| policy.within_window(b, t)) { count.saturating_add(1) } else { 1 }
}

/// Sets an account-level lock at `t` and records it for lockout-loop detection.
fn lock(rec: &mut AccountRecord, scope: LockScope, t: Timestamp) {
    rec.lock_time = Some(t);
    rec.lock_scope = Some(scope);
    rec.lockouts.retain(|x| within(*x, t, LOOP_WINDOW_SECS));
    rec.lockouts.push(t);
}

/// Keeps the bad-password failure for the lockout-loop report.
fn log_failure(rec: &mut AccountRecord, caller: &str, t: Timestamp) {
    while rec
        .failures
        .front()
        .is_some_and(|f| !within(f.time, t, LOOP_WINDOW_SECS) || rec.failures.len() >= FAILURE_LOG_CAP)
    {
        rec.failures.pop_front();
    }
    rec.failures.push_back(FailureEntry { time: t, caller: caller.to_owned() });
}

/// The five CallerComputerNames with the most bad-password failures in the last
/// 86,400 s, most first (ties by name), as `name:count`.
pub(crate) fn top_callers(rec: &AccountRecord, t: Timestamp) -> Vec<String> {
    let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
    for f in rec.failures.iter().filter(|f| within(f.time, t, LOOP_WINDOW_SECS)) {
        *counts.entry(f.caller.as_str()).or_default() += 1;
    }
    let mut ranked: Vec<(&str, u64)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
    ranked.into_iter().take(LOOP_TOP_CALLERS).map(|(name, n)| format!("{name}:{n}")).collect()
}
