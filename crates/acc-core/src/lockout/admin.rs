//! Administration of the local accounts of one site server, as pure operations that
//! return the events of 4.2 in their fixed orders: creation (4720, 4724, 4722, 4738),
//! enable (4722, 4738), disable (4725, 4738), delete (4726, leaving a tombstone, S1),
//! password drift repair (4724, 4738), unlock (4767, 3.1.4), and the displayed state (1.3).
//!
//! Only managed accounts (created by acc) are enabled, disabled, deleted or repaired; an
//! unlock works on any account the engine tracks. Disabling and enabling never touch the
//! lock or the counters (S2).

use super::attempt::LOOP_WINDOW_SECS;
use super::policy::LockoutPolicy;
use super::record::{AccountRecord, DisabledBy, Lifecycle, LockScope, PasswordHash};
use super::state::{SiteState, local_name};
use crate::event::Event;
use crate::event::catalogue::{self, AccountChange, Subject, Target, UnlockReason};
use crate::name::AccountName;
use crate::time::Timestamp;

/// An administrative operation that cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No live account of that name.
    #[error("account '{0}' does not exist on this site server")]
    UnknownAccount(String),
    /// The account exists but acc did not create it.
    #[error("account '{0}' was not created by acc; acc only manages the accounts it created")]
    NotManaged(String),
    /// A live account of that name exists already.
    #[error("a local account named '{0}' already exists on this site server")]
    AlreadyExists(String),
    /// Enable of an account that is not disabled.
    #[error("account '{0}' is not disabled")]
    NotDisabled(String),
    /// Disable of an account that is already disabled.
    #[error("account '{0}' is already disabled")]
    AlreadyDisabled(String),
    /// Enable of an account whose generation rotation retired.
    #[error(
        "account '{0}' was disabled by rotation; its generation is retired, so it cannot be enabled again"
    )]
    DisabledByRotation(String),
}

/// What an administrator sees for an account (1.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DisplayedState {
    /// The lifecycle.
    pub lifecycle: Lifecycle,
    /// The scope of the account-level lock in force, if any.
    pub lock_scope: Option<LockScope>,
    /// Seconds until that lock ends; absent when it lasts until unlocked.
    pub retry_after: Option<u64>,
    /// Number of sources blocked now (smart mode).
    pub blocked_sources: usize,
    /// Number of addresses blocked now for unfamiliar callers (smart mode, M5a).
    pub blocked_addresses: usize,
}

impl DisplayedState {
    /// `locked_out` for an enabled account whose lock is in force, `retiring (locked out)`
    /// for a retiring one, otherwise the lifecycle (`enabled`, `retiring`, `disabled`).
    pub fn label(&self) -> &'static str {
        match (self.lifecycle, self.lock_scope) {
            (Lifecycle::Enabled, Some(_)) => "locked_out",
            (Lifecycle::Retiring, Some(_)) => "retiring (locked out)",
            (l, _) => l.as_str(),
        }
    }
}

/// Owned copies of a record's target fields, so the record can be changed meanwhile.
struct OwnedTarget {
    user_name: String,
    domain_name: String,
    sid: String,
}

impl OwnedTarget {
    fn of(site: &SiteState, rec: &AccountRecord) -> Self {
        OwnedTarget {
            user_name: rec.name.as_str().to_owned(),
            domain_name: site.identity.computer.clone(),
            sid: rec.sid.clone(),
        }
    }

    fn as_target(&self) -> Target<'_> {
        Target { user_name: &self.user_name, domain_name: &self.domain_name, sid: &self.sid }
    }
}

impl SiteState {
    fn live_index(&self, name: &str) -> Result<usize, AdminError> {
        self.account_index(name).ok_or_else(|| AdminError::UnknownAccount(local_name(name).to_owned()))
    }

    fn managed_index(&self, name: &str) -> Result<usize, AdminError> {
        let i = self.live_index(name)?;
        if self.accounts[i].managed {
            Ok(i)
        } else {
            Err(AdminError::NotManaged(local_name(name).to_owned()))
        }
    }

    /// Creates the managed account `name` of ACC generation `generation` (3.1.3 A2):
    /// 4720 (created disabled), 4724 (password set), 4722 (enabled), 4738, with the site
    /// as Subject and a new SID. `retiring` creates it in the `retiring` lifecycle (a
    /// missing account of a retiring generation, S5).
    pub fn create_managed_account(
        &mut self,
        name: &str,
        generation: u32,
        hash: PasswordHash,
        retiring: bool,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let (t, mut events) = self.effective_time(now);
        events.extend(self.create_at(name, generation, hash, retiring, t)?);
        Ok(events)
    }

    pub(crate) fn create_at(
        &mut self,
        name: &str,
        generation: u32,
        hash: PasswordHash,
        retiring: bool,
        t: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let name = local_name(name);
        if self.account_index(name).is_some() {
            return Err(AdminError::AlreadyExists(name.to_owned()));
        }
        let sid = self.new_sid();
        let mut rec = AccountRecord::new(AccountName::new(name), sid, Some(generation), true, hash);
        if retiring {
            rec.lifecycle = Lifecycle::Retiring;
        }
        let subject = self.site_subject();
        let target = OwnedTarget::of(self, &rec);
        let target = target.as_target();
        let events = vec![
            catalogue::account_created(t, &subject, target, generation),
            catalogue::password_reset(t, &subject, target, true),
            catalogue::account_enabled(t, &subject, target),
            catalogue::account_changed(t, &subject, target, AccountChange::Created { password_set: t }),
        ];
        self.accounts.push(rec);
        Ok(events)
    }

    /// Records a local account that exists on the site server but was not created by acc
    /// (it blocks the creation of an ACC of the same name: U-CONFLICT). No event: acc did
    /// not create it.
    pub fn add_unmanaged_account(&mut self, name: &str, hash: PasswordHash) -> Result<(), AdminError> {
        let name = local_name(name);
        if self.account_index(name).is_some() {
            return Err(AdminError::AlreadyExists(name.to_owned()));
        }
        let sid = self.new_sid();
        self.accounts.push(AccountRecord::new(AccountName::new(name), sid, None, false, hash));
        Ok(())
    }

    /// Admin enable of a disabled(admin) account: 4722, 4738. A lock still in force stays
    /// (S2): the account is then displayed `locked_out`.
    pub fn admin_enable(
        &mut self,
        name: &str,
        actor: &Subject,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let i = self.live_index(name)?;
        let rec = &self.accounts[i];
        match (rec.lifecycle, rec.disabled_by) {
            (Lifecycle::Disabled, Some(DisabledBy::Rotation)) => {
                return Err(AdminError::DisabledByRotation(rec.name.to_string()));
            }
            (Lifecycle::Disabled, _) => {}
            _ => return Err(AdminError::NotDisabled(rec.name.to_string())),
        }
        let (t, mut events) = self.effective_time(now);
        let target = OwnedTarget::of(self, &self.accounts[i]);
        let rec = &mut self.accounts[i];
        rec.lifecycle = Lifecycle::Enabled;
        rec.disabled_by = None;
        events.push(catalogue::account_enabled(t, actor, target.as_target()));
        events.push(catalogue::account_changed(t, actor, target.as_target(), AccountChange::Enabled));
        Ok(events)
    }

    /// Disable from enabled, locked out or retiring: 4725 (`DisabledBy`), 4738. Locks,
    /// counters and source blocks are kept (S2).
    pub fn disable(
        &mut self,
        name: &str,
        by: DisabledBy,
        actor: &Subject,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        // A person may disable any local account; rotation only disables the ones acc made.
        let i = if by == DisabledBy::Admin { self.live_index(name)? } else { self.managed_index(name)? };
        if self.accounts[i].lifecycle == Lifecycle::Disabled {
            return Err(AdminError::AlreadyDisabled(self.accounts[i].name.to_string()));
        }
        let (t, mut events) = self.effective_time(now);
        events.extend(self.disable_at(i, by, actor, t));
        Ok(events)
    }

    fn disable_at(&mut self, i: usize, by: DisabledBy, actor: &Subject, t: Timestamp) -> Vec<Event> {
        let target = OwnedTarget::of(self, &self.accounts[i]);
        let rec = &mut self.accounts[i];
        rec.lifecycle = Lifecycle::Disabled;
        rec.disabled_by = Some(by);
        vec![
            catalogue::account_disabled(t, actor, target.as_target(), by),
            catalogue::account_changed(t, actor, target.as_target(), AccountChange::Disabled),
        ]
    }

    /// P6: disables, by rotation, every managed live account whose generation is not in
    /// `live_generations` (those in provisioning, active or retiring), and schedules its
    /// deletion at `t + retired_delete_delay`. An account an administrator had already
    /// disabled stays as it is but is scheduled for deletion too.
    pub fn retire_removed_generations(
        &mut self,
        live_generations: &[u32],
        retired_delete_delay: u64,
        now: Timestamp,
    ) -> Vec<Event> {
        let (t, mut events) = self.effective_time(now);
        let subject = self.site_subject();
        for i in 0..self.accounts.len() {
            let rec = &self.accounts[i];
            let removed = rec.generation.is_some_and(|g| !live_generations.contains(&g));
            if !rec.managed || !rec.is_live() || !removed || rec.delete_at.is_some() {
                continue;
            }
            if rec.lifecycle != Lifecycle::Disabled {
                events.extend(self.disable_at(i, DisabledBy::Rotation, &subject, t));
            }
            self.accounts[i].delete_at = Some(t.plus_secs(retired_delete_delay));
        }
        events
    }

    /// Admin delete of a disabled account: 4726; the record becomes a tombstone (S1).
    pub fn admin_delete(
        &mut self,
        name: &str,
        actor: &Subject,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let i = self.live_index(name)?;
        if self.accounts[i].lifecycle != Lifecycle::Disabled {
            return Err(AdminError::NotDisabled(self.accounts[i].name.to_string()));
        }
        let (t, mut events) = self.effective_time(now);
        events.push(self.delete_at_index(i, actor, t));
        Ok(events)
    }

    /// Site-initiated delete in any lifecycle (a cancelled rotation, P4): 4726 with the
    /// site as Subject.
    pub fn delete_for_rotation(&mut self, name: &str, now: Timestamp) -> Result<Vec<Event>, AdminError> {
        let i = self.managed_index(name)?;
        let (t, mut events) = self.effective_time(now);
        let subject = self.site_subject();
        events.push(self.delete_at_index(i, &subject, t));
        Ok(events)
    }

    /// Deletes (4726) every disabled account whose scheduled deletion is due (`t >=
    /// delete_at`, T3).
    pub fn delete_due(&mut self, now: Timestamp) -> Vec<Event> {
        let (t, mut events) = self.effective_time(now);
        let subject = self.site_subject();
        for i in 0..self.accounts.len() {
            let rec = &self.accounts[i];
            if rec.is_live() && rec.lifecycle == Lifecycle::Disabled && rec.delete_at.is_some_and(|d| t >= d)
            {
                events.push(self.delete_at_index(i, &subject, t));
            }
        }
        events
    }

    fn delete_at_index(&mut self, i: usize, actor: &Subject, t: Timestamp) -> Event {
        let target = OwnedTarget::of(self, &self.accounts[i]);
        let rec = &self.accounts[i];
        // S1: keep name, SID and generation only.
        let mut tomb = AccountRecord::new(
            rec.name.clone(),
            rec.sid.clone(),
            rec.generation,
            rec.managed,
            PasswordHash::new(""),
        );
        tomb.password_hash = None;
        tomb.lifecycle = Lifecycle::Deleted;
        self.accounts[i] = tomb;
        catalogue::account_deleted(t, actor, target.as_target())
    }

    /// A4: password drift repair: stores `hash`, writes 4724 then 4738. Lock state and
    /// counters are unchanged.
    pub fn repair_password(
        &mut self,
        name: &str,
        hash: PasswordHash,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let i = self.managed_index(name)?;
        let (t, mut events) = self.effective_time(now);
        let subject = self.site_subject();
        events.extend(self.repair_at(i, hash, &subject, t));
        Ok(events)
    }

    /// An administrator sets the password of any live local account: 4724, 4738
    /// (Subject = the administrator). Lock state and counters are unchanged.
    pub fn admin_set_password(
        &mut self,
        name: &str,
        hash: PasswordHash,
        actor: &Subject,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let i = self.live_index(name)?;
        let (t, mut events) = self.effective_time(now);
        events.extend(self.repair_at(i, hash, actor, t));
        Ok(events)
    }

    /// An administrator creates a local account on the site server (a standalone site, or
    /// a test): enabled, not managed by acc, no ACC generation; 4720, 4724, 4722, 4738
    /// with the administrator as Subject.
    pub fn admin_create(
        &mut self,
        name: &str,
        hash: PasswordHash,
        actor: &Subject,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let name = local_name(name);
        if self.account_index(name).is_some() {
            return Err(AdminError::AlreadyExists(name.to_owned()));
        }
        let (t, mut events) = self.effective_time(now);
        let sid = self.new_sid();
        let rec = AccountRecord::new(AccountName::new(name), sid, None, false, hash);
        let target = OwnedTarget::of(self, &rec);
        let target = target.as_target();
        events.extend([
            catalogue::local_account_created(t, actor, target),
            catalogue::password_reset(t, actor, target, true),
            catalogue::account_enabled(t, actor, target),
            catalogue::account_changed(t, actor, target, AccountChange::Created { password_set: t }),
        ]);
        self.accounts.push(rec);
        Ok(events)
    }

    pub(crate) fn repair_at(
        &mut self,
        i: usize,
        hash: PasswordHash,
        subject: &Subject,
        t: Timestamp,
    ) -> Vec<Event> {
        let subject = subject.clone();
        let target = OwnedTarget::of(self, &self.accounts[i]);
        self.accounts[i].password_hash = Some(hash);
        vec![
            catalogue::password_reset(t, &subject, target.as_target(), true),
            catalogue::account_changed(t, &subject, target.as_target(), AccountChange::PasswordSet(t)),
        ]
    }

    /// 3.1.4 manual unlock: clears an account-level lock in force (4767 with the lock's
    /// scope, Reason `admin`); an expired one is cleared silently. With `sources`, also
    /// clears every source block in force, one 4767 per source (`LockScope=source`, its
    /// CallerComputerName), in source order. A cleared source starts counting afresh;
    /// its escalation memory is kept.
    pub fn admin_unlock(
        &mut self,
        policy: &LockoutPolicy,
        name: &str,
        sources: bool,
        actor: &Subject,
        now: Timestamp,
    ) -> Result<Vec<Event>, AdminError> {
        let i = self.live_index(name)?;
        let (t, mut events) = self.effective_time(now);
        events.extend(self.unlock_at(policy, i, actor, UnlockReason::Admin, t));
        if sources {
            let target = OwnedTarget::of(self, &self.accounts[i]);
            for (src, s) in self.accounts[i].sources.iter_mut() {
                if s.blocked_at(t) {
                    s.block_time = None;
                    s.block_len = 0;
                    s.count = 0;
                    s.bad_time = None;
                    events.push(catalogue::account_unlocked(
                        t,
                        actor,
                        target.as_target(),
                        LockScope::Source,
                        Some(src.caller_computer_name()),
                        UnlockReason::Admin,
                    ));
                }
            }
        }
        Ok(events)
    }

    /// Clears the account-level lock of record `i` at `t`: a 4767 if it was in force,
    /// nothing if it had expired or there was none.
    pub(crate) fn unlock_at(
        &mut self,
        policy: &LockoutPolicy,
        i: usize,
        actor: &Subject,
        reason: UnlockReason,
        t: Timestamp,
    ) -> Vec<Event> {
        let target = OwnedTarget::of(self, &self.accounts[i]);
        let rec = &mut self.accounts[i];
        match rec.lock_in_force(policy, t) {
            Some(scope) => {
                rec.clear_lock();
                vec![catalogue::account_unlocked(t, actor, target.as_target(), scope, None, reason)]
            }
            None => {
                if rec.lock_time.is_some() {
                    rec.clear_lock();
                }
                Vec::new()
            }
        }
    }

    /// The displayed state of a live account at `now` (1.3), without changing anything.
    pub fn displayed_state(
        &self,
        policy: &LockoutPolicy,
        name: &str,
        now: Timestamp,
    ) -> Option<DisplayedState> {
        let t = self.peek_time(now);
        let rec = self.account(name)?;
        let lock_scope = rec.lock_in_force(policy, t);
        Some(DisplayedState {
            lifecycle: rec.lifecycle,
            lock_scope,
            retry_after: lock_scope.and(rec.lock_time).and_then(|lt| policy.lock_retry_after(lt, t)),
            blocked_sources: rec.blocked_sources(t).count(),
            // M5a holds only without a lock: an expired one is cleared with every share.
            blocked_addresses: if rec.lock_time.is_some() {
                0
            } else {
                rec.blocked_addresses(policy, t).count()
            },
        })
    }

    /// Account-level lock times of `name` within the last 86,400 s at `now` (3.1.6).
    pub fn lockouts_24h(&self, name: &str, now: Timestamp) -> usize {
        let t = self.peek_time(now);
        self.account(name).map_or(0, |r| {
            r.lockouts.iter().filter(|x| super::policy::within(**x, t, LOOP_WINDOW_SECS)).count()
        })
    }
}
