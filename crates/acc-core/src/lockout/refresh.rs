//! The ACC refresh and auto re-enable of a site server (3.1, after KB 150951): for every
//! managed generation in provisioning, active or retiring, in generation order, actions
//! A1–A5, then one `acc.refresh` event (A7) and `next_refresh_at := t + interval`.
//! Source blocks are never cleared here (A6): they name the culprit and expire alone.
//!
//! Also: which policy changes are ACC-relevant and therefore trigger a refresh (R-POLICY).

use serde::{Deserialize, Serialize};

use super::policy::LockoutPolicy;
use super::record::{Lifecycle, PasswordHash};
use super::state::{SiteState, local_name};
use crate::event::Event;
use crate::event::catalogue::{self, UnlockReason};
use crate::time::Timestamp;

/// Why a refresh runs (3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RefreshTrigger {
    /// R-START: the site process started.
    Start,
    /// R-POLICY: an ACC-relevant policy change was applied.
    Policy,
    /// R-INTERVAL: `t >= next_refresh_at`.
    Interval,
    /// R-MANUAL: `acc ctl site refresh-acc`.
    Manual,
}

impl RefreshTrigger {
    /// `start`, `policy`, `interval` or `manual`.
    pub const fn as_str(self) -> &'static str {
        match self {
            RefreshTrigger::Start => "start",
            RefreshTrigger::Policy => "policy",
            RefreshTrigger::Interval => "interval",
            RefreshTrigger::Manual => "manual",
        }
    }
}

pub use crate::generation::GenerationPhase;

/// One managed generation as the policy revision describes it to a site server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedGeneration {
    /// Generation number.
    pub generation: u32,
    /// The user name as configured (`ACC_User_v2`, `.\ACC_User_v2`, `CORP\acc`).
    pub user_name: String,
    /// Its phase.
    pub phase: GenerationPhase,
    /// The argon2id hash of its password (local form only; K2).
    pub password_hash: Option<PasswordHash>,
}

/// Acknowledgement status of a generation (3.2.4 P2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AckStatus {
    /// This refresh created the account.
    Created,
    /// The account was already there.
    Exists,
    /// The account cannot be created here.
    Failed,
}

/// The acknowledgement a site sends for one generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationAck {
    /// Generation number.
    pub generation: u32,
    /// Status.
    pub status: AckStatus,
    /// The message of a failure (U-CONFLICT).
    pub message: Option<String>,
}

/// What a refresh did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// Events in write order, `acc.refresh` last.
    pub events: Vec<Event>,
    /// One acknowledgement per local-form generation whose account exists, was created or
    /// failed; none for domain forms or when creation is disabled and the account is
    /// missing (there is nothing to acknowledge).
    pub acks: Vec<GenerationAck>,
    /// The `Actions` of `acc.refresh`.
    pub actions: Vec<String>,
    /// The new `next_refresh_at`.
    pub next_refresh_at: Timestamp,
}

/// A1: a domain form (`DOMAIN\name`, `name@dns.domain`), by the rule of
/// [`crate::name::form_of`].
pub fn is_domain_form(user_name: &str) -> bool {
    crate::name::form_of(user_name) == crate::name::UserNameForm::Domain
}

/// The U-CONFLICT message (5.5).
pub fn conflict_message(site: &str, name: &str) -> String {
    format!(
        "rotation: site server {site} cannot create '{name}': a local account with that name already exists and was not created by acc; delete or rename it there, or choose another name"
    )
}

impl SiteState {
    /// R-INTERVAL: true when `t >= next_refresh_at` (or no refresh ever ran).
    pub fn refresh_due(&self, now: Timestamp) -> bool {
        let t = self.peek_time(now);
        self.next_refresh_at.is_none_or(|at| t >= at)
    }

    /// Runs the ACC refresh (3.1.3) for `generations` (those in provisioning, active or
    /// retiring) with the settings of `policy`.
    pub fn refresh(
        &mut self,
        policy: &LockoutPolicy,
        generations: &[ManagedGeneration],
        trigger: RefreshTrigger,
        now: Timestamp,
    ) -> RefreshReport {
        self.refresh_with_local(policy, generations, false, trigger, now)
    }

    /// [`SiteState::refresh`], and, with `local_accounts`, A3 and A5 for the live accounts
    /// a local administrator created (not managed, no generation) after the generations:
    /// a standalone site, which has no ACC generation until a management server drives
    /// it, keeps its locally created ACC enabled. Such accounts are never created,
    /// repaired or deleted by a refresh.
    pub fn refresh_with_local(
        &mut self,
        policy: &LockoutPolicy,
        generations: &[ManagedGeneration],
        local_accounts: bool,
        trigger: RefreshTrigger,
        now: Timestamp,
    ) -> RefreshReport {
        let (t, mut events) = self.effective_time(now);
        let mut actions = Vec::new();
        let mut acks = Vec::new();
        // A removed generation is no longer maintained: as if it were not listed.
        let mut ordered: Vec<&ManagedGeneration> =
            generations.iter().filter(|g| g.phase.is_maintained()).collect();
        ordered.sort_by_key(|g| g.generation);
        let subject = self.site_subject();

        for g in ordered {
            // A1.
            if is_domain_form(&g.user_name) {
                actions.push(format!("skip {}: domain account", g.user_name));
                continue;
            }
            let n = local_name(&g.user_name);
            let ack = |status, message| GenerationAck { generation: g.generation, status, message };
            let existing = self.account_index(n);
            // A2.
            let missing = existing.is_none_or(|i| !self.accounts[i].managed);
            if missing {
                if !policy.create_acc_on_site_servers {
                    actions.push(format!("skip {n}: creation disabled"));
                    continue;
                }
                let failure = if existing.is_some() {
                    Some(conflict_message(&self.identity.computer, n))
                } else if g.password_hash.is_none() {
                    Some(format!(
                        "rotation: the policy revision carries no password hash for generation {}",
                        g.generation
                    ))
                } else {
                    None
                };
                match (failure, &g.password_hash) {
                    (None, Some(hash)) => {
                        let retiring = g.phase == GenerationPhase::Retiring;
                        match self.create_at(n, g.generation, hash.clone(), retiring, t) {
                            Ok(created) => {
                                events.extend(created);
                                actions.push(format!("create {n}"));
                                acks.push(ack(AckStatus::Created, None));
                            }
                            Err(e) => {
                                actions.push(format!("failed {n}: {e}"));
                                acks.push(ack(AckStatus::Failed, Some(e.to_string())));
                            }
                        }
                    }
                    (failure, _) => {
                        let message = failure.unwrap_or_default();
                        actions.push(format!("failed {n}: {message}"));
                        acks.push(ack(AckStatus::Failed, Some(message)));
                    }
                }
                continue;
            }
            let Some(i) = existing else { continue };
            acks.push(ack(AckStatus::Exists, None));
            // A3: a disabled account is left entirely alone.
            if self.accounts[i].lifecycle == Lifecycle::Disabled {
                actions.push(format!("skip {n}: disabled"));
                continue;
            }
            // S5: retiring follows the generation's phase; it behaves like enabled.
            self.accounts[i].lifecycle = match g.phase {
                GenerationPhase::Retiring => Lifecycle::Retiring,
                GenerationPhase::Provisioning | GenerationPhase::Active | GenerationPhase::Removed => {
                    Lifecycle::Enabled
                }
            };
            // A4.
            if let Some(hash) = &g.password_hash
                && self.accounts[i].password_hash.as_ref() != Some(hash)
            {
                let subject = self.site_subject();
                events.extend(self.repair_at(i, hash.clone(), &subject, t));
                actions.push(format!("repair-password {n}"));
            }
            // A5.
            self.reenable_at(policy, i, &subject, t, &mut events, &mut actions);
        }

        if local_accounts {
            let mut local: Vec<usize> = (0..self.accounts.len())
                .filter(|&i| self.accounts[i].is_live() && !self.accounts[i].managed)
                .collect();
            local.sort_by_key(|&i| self.accounts[i].name.folded());
            for i in local {
                if self.accounts[i].lifecycle == Lifecycle::Disabled {
                    actions.push(format!("skip {}: disabled", self.accounts[i].name));
                    continue;
                }
                self.reenable_at(policy, i, &subject, t, &mut events, &mut actions);
            }
        }

        // A7.
        let next = t.plus_secs(policy.acc_refresh_interval);
        self.next_refresh_at = Some(next);
        events.push(catalogue::acc_refresh(t, trigger.as_str(), actions.clone(), next));
        RefreshReport { events, acks, actions, next_refresh_at: next }
    }
}

impl SiteState {
    /// The acknowledgements (3.2.4 P2) of `generations` as they stand, without a refresh:
    /// for a revision that changes nothing the refresh acts on (R-POLICY), so no refresh
    /// runs. `exists` for a local-form generation whose managed account is here, `failed`
    /// (U-CONFLICT) when an account of that name was not created by acc and creation is
    /// on; nothing for domain forms and missing accounts (the next refresh creates them).
    pub fn acknowledgements(
        &self,
        policy: &LockoutPolicy,
        generations: &[ManagedGeneration],
    ) -> Vec<GenerationAck> {
        let mut ordered: Vec<&ManagedGeneration> = generations.iter().collect();
        ordered.sort_by_key(|g| g.generation);
        ordered
            .into_iter()
            .filter(|g| g.phase.is_maintained() && !is_domain_form(&g.user_name))
            .filter_map(|g| {
                let n = local_name(&g.user_name);
                let ack = |status, message| GenerationAck { generation: g.generation, status, message };
                match self.account_index(n).map(|i| self.accounts[i].managed) {
                    Some(true) => Some(ack(AckStatus::Exists, None)),
                    Some(false) if policy.create_acc_on_site_servers => {
                        Some(ack(AckStatus::Failed, Some(conflict_message(&self.identity.computer, n))))
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// A5 for the account at `i`: re-enable a lock in force (4767, Reason `reenable`) when
    /// the policy says so; clear an expired one silently.
    fn reenable_at(
        &mut self,
        policy: &LockoutPolicy,
        i: usize,
        subject: &crate::event::catalogue::Subject,
        t: Timestamp,
        events: &mut Vec<Event>,
        actions: &mut Vec<String>,
    ) {
        let n = self.accounts[i].name.to_string();
        let rec = &self.accounts[i];
        if rec.lock_in_force(policy, t).is_some() {
            if policy.reenable_locked_local_account {
                events.extend(self.unlock_at(policy, i, subject, UnlockReason::Reenable, t));
                actions.push(format!("unlock {n}"));
            }
        } else if rec.lock_time.is_some() {
            self.accounts[i].clear_lock();
            actions.push(format!("clear-expired-lock {n}"));
        }
    }
}

/// The ACC-relevant part of a policy revision, as a site server sees it (R-POLICY).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccPolicySnapshot {
    /// The generations in provisioning, active or retiring.
    pub generations: Vec<ManagedGeneration>,
    /// `create_acc_on_site_servers`.
    pub create_acc_on_site_servers: bool,
    /// `reenable_locked_local_account`.
    pub reenable_locked_local_account: bool,
    /// `acc_refresh_interval`.
    pub acc_refresh_interval: u64,
}

impl AccPolicySnapshot {
    /// The snapshot of `generations` under `policy`.
    pub fn new(policy: &LockoutPolicy, generations: &[ManagedGeneration]) -> Self {
        AccPolicySnapshot {
            generations: generations.to_vec(),
            create_acc_on_site_servers: policy.create_acc_on_site_servers,
            reenable_locked_local_account: policy.reenable_locked_local_account,
            acc_refresh_interval: policy.acc_refresh_interval,
        }
    }
}

/// R-POLICY: true when applying `new` after `old` must refresh: a generation was added,
/// removed or changed phase, a generation's password hash changed, or one of
/// `create_acc_on_site_servers`, `reenable_locked_local_account`, `acc_refresh_interval`
/// changed. The order in which generations are listed does not matter.
pub fn acc_policy_changed(old: &AccPolicySnapshot, new: &AccPolicySnapshot) -> bool {
    let sorted = |s: &AccPolicySnapshot| {
        let mut g = s.generations.clone();
        g.sort_by_key(|g| g.generation);
        g
    };
    old.create_acc_on_site_servers != new.create_acc_on_site_servers
        || old.reenable_locked_local_account != new.reenable_locked_local_account
        || old.acc_refresh_interval != new.acc_refresh_interval
        || sorted(old) != sorted(new)
}
