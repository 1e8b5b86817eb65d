//! The per-account record of specification 1.2, the per-source state of 2.3 and the
//! per-address share of rule M8a, as the site server persists them (T5). Pure data plus
//! the small rules that read it (is a lock in force, clear a lock as F9 does); the
//! decisions live in the engine.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::policy::{LockoutPolicy, within};
use super::serde_entries;
use super::source::Source;
use crate::name::AccountName;
use crate::time::Timestamp;

/// Account lifecycle (1.3). A lock is not a lifecycle state; it is displayed on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lifecycle {
    /// Usable.
    Enabled,
    /// The previous active generation during a rotation; behaves exactly like `enabled` (S5).
    Retiring,
    /// Rejects every attempt before the password is checked (S4).
    Disabled,
    /// Terminal; the record is a tombstone (S1).
    Deleted,
}

impl Lifecycle {
    /// The lower-case name used in displays.
    pub const fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Enabled => "enabled",
            Lifecycle::Retiring => "retiring",
            Lifecycle::Disabled => "disabled",
            Lifecycle::Deleted => "deleted",
        }
    }
}

/// Who disabled an account (`DisabledBy` in 4725).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DisabledBy {
    /// An administrator.
    Admin,
    /// The rotation state machine (3.2.4 P6).
    Rotation,
}

impl DisabledBy {
    /// `admin` or `rotation`.
    pub const fn as_str(self) -> &'static str {
        match self {
            DisabledBy::Admin => "admin",
            DisabledBy::Rotation => "rotation",
        }
    }
}

/// The scope of a lock or block (`LockScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockScope {
    /// Classic: the whole account.
    Account,
    /// Smart: every unfamiliar source.
    Unfamiliar,
    /// Smart: one source against one account.
    Source,
    /// Smart, rule M8a: every unfamiliar caller at one address, once two or more names
    /// from it used up its share of the unfamiliar aggregate.
    Address,
}

impl LockScope {
    /// `account`, `unfamiliar`, `source` or `address`.
    pub const fn as_str(self) -> &'static str {
        match self {
            LockScope::Account => "account",
            LockScope::Unfamiliar => "unfamiliar",
            LockScope::Source => "source",
            LockScope::Address => "address",
        }
    }
}

/// An argon2id PHC string. Opaque to the engine (compared for drift only), persisted, and
/// never shown: its `Debug` is redacted and no event carries it (K3).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string.
    pub fn new(phc: impl Into<String>) -> Self {
        PasswordHash(phc.into())
    }

    /// The PHC string, for the verifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Smart-mode state of one source against one account (2.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceState {
    /// Failures of this source within the window.
    pub count: u32,
    /// Time of its last counted failure.
    pub bad_time: Option<Timestamp>,
    /// Start of the current block, if any.
    pub block_time: Option<Timestamp>,
    /// Length of the current block in seconds.
    pub block_len: u64,
    /// Number of earlier blocks in the escalation memory; −1 when none.
    pub streak: i32,
    /// Start of the last block (kept after the block ends, for escalation).
    pub last_block_time: Option<Timestamp>,
}

impl Default for SourceState {
    fn default() -> Self {
        SourceState {
            count: 0,
            bad_time: None,
            block_time: None,
            block_len: 0,
            streak: -1,
            last_block_time: None,
        }
    }
}

impl SourceState {
    /// The end of the current block (`block_time + block_len`), if a block is set.
    pub fn block_end(&self) -> Option<Timestamp> {
        self.block_time.map(|b| b.plus_secs(self.block_len))
    }

    /// True when a block is set and in force at `t` (T3: `t <= block_time + block_len`).
    pub fn blocked_at(&self, t: Timestamp) -> bool {
        self.block_end().is_some_and(|end| t <= end)
    }

    /// True when this state behaves exactly like a source never seen before, at `t` and
    /// any later time: no block in force, no failure that still counts (including the
    /// "one more try" after an expired block) and no block in the escalation memory.
    pub fn is_forgotten(&self, policy: &LockoutPolicy, t: Timestamp) -> bool {
        let counts = |time: Option<Timestamp>| time.is_some_and(|b| within(b, t, policy.reset_after));
        !self.blocked_at(t)
            && !counts(self.bad_time)
            && !counts(self.block_end())
            && !self.last_block_time.is_some_and(|l| within(l, t, policy.escalation_memory))
    }
}

/// Smart mode, rule M8a (2.3 M8.2): what one address (`ip`) has added to the unfamiliar
/// aggregate of one account in the current window: at most `Ts` failures, whatever caller
/// names it sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddressShare {
    /// Failures of this address added to `unf_count` (at most `Ts`).
    pub n: u32,
    /// Time of the last one (the share's window runs from here).
    pub since: Timestamp,
    /// The CallerComputerNames of the failures that were added.
    pub callers: BTreeSet<String>,
}

impl AddressShare {
    /// A share started at `t`: `(0, t, {})`.
    pub fn new(t: Timestamp) -> Self {
        AddressShare { n: 0, since: t, callers: BTreeSet::new() }
    }

    /// True while the share still counts at `t` (`t - since <= W`); afterwards it behaves
    /// exactly like no share.
    pub fn in_window(&self, policy: &LockoutPolicy, t: Timestamp) -> bool {
        within(self.since, t, policy.reset_after)
    }

    /// M5a: the end of the address block (`since + W`) when the share is used up
    /// (`n = Ts`) by two or more names and still in its window at `t`.
    pub fn block_end(&self, policy: &LockoutPolicy, t: Timestamp) -> Option<Timestamp> {
        (self.n == policy.source_threshold && self.callers.len() >= 2 && self.in_window(policy, t))
            .then(|| self.since.plus_secs(policy.reset_after))
    }
}

/// One bad-password failure, kept for the lockout-loop report (3.1.6).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureEntry {
    /// When it happened.
    pub time: Timestamp,
    /// Its `CallerComputerName`.
    pub caller: String,
}

/// The per-account record of 1.2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    /// As created; compared case-insensitively.
    pub name: AccountName,
    /// `S-1-5-21-a-b-c-rid`, unique per account instance.
    pub sid: String,
    /// ACC generation (managed accounts only).
    pub generation: Option<u32>,
    /// Created by acc.
    pub managed: bool,
    /// Lifecycle.
    pub lifecycle: Lifecycle,
    /// Set only when `disabled`.
    pub disabled_by: Option<DisabledBy>,
    /// The stored hash; `None` for a tombstone.
    pub password_hash: Option<PasswordHash>,
    /// Classic counter.
    pub bad_count: u32,
    /// Time of the last counted failure (classic).
    pub bad_time: Option<Timestamp>,
    /// Set when the account locks.
    pub lock_time: Option<Timestamp>,
    /// `account` (classic) or `unfamiliar` (smart) while `lock_time` is set.
    pub lock_scope: Option<LockScope>,
    /// Smart: failures from unfamiliar sources.
    pub unf_count: u32,
    /// Smart: time of the last unfamiliar failure.
    pub unf_time: Option<Timestamp>,
    /// Smart, rule M8a: each address's share of `unf_count`, by `ip`. Cleared whenever
    /// `unf_count` is; a share past its window is dropped (it behaves like none).
    #[serde(default)]
    pub shares: BTreeMap<String, AddressShare>,
    /// Smart: per-source state.
    #[serde(with = "serde_entries")]
    pub sources: BTreeMap<Source, SourceState>,
    /// Account-level lock times in the last 24 h (3.1.6).
    pub lockouts: Vec<Timestamp>,
    /// Bad-password failures in the last 24 h, oldest first, for the lockout-loop report
    /// (3.1.6); capped at [`FAILURE_LOG_CAP`] entries.
    pub failures: VecDeque<FailureEntry>,
    /// Scheduled deletion of an account disabled by rotation (3.2.4 P6).
    pub delete_at: Option<Timestamp>,
}

/// The most failures kept per account for the lockout-loop report. In a storm the report
/// then covers the most recent failures rather than all of the last 24 h; bounded memory
/// and persistence size matter more there than the exact tail.
pub const FAILURE_LOG_CAP: usize = 10_000;

/// Above this many source entries, forgotten ones are pruned when a new one is added.
pub(crate) const SOURCE_PRUNE_AT: usize = 1024;

impl AccountRecord {
    /// A copy without the collections that a site server persists as rows of their own
    /// (`sources` and `failures`, which grow with the fleet, and the address `shares`). Built field by
    /// field so that copying never costs more than the scalars.
    pub fn scalars(&self) -> AccountRecord {
        AccountRecord {
            name: self.name.clone(),
            sid: self.sid.clone(),
            generation: self.generation,
            managed: self.managed,
            lifecycle: self.lifecycle,
            disabled_by: self.disabled_by,
            password_hash: self.password_hash.clone(),
            bad_count: self.bad_count,
            bad_time: self.bad_time,
            lock_time: self.lock_time,
            lock_scope: self.lock_scope,
            unf_count: self.unf_count,
            unf_time: self.unf_time,
            shares: BTreeMap::new(),
            sources: BTreeMap::new(),
            lockouts: self.lockouts.clone(),
            failures: VecDeque::new(),
            delete_at: self.delete_at,
        }
    }

    /// A new enabled record with clean counters.
    pub fn new(
        name: AccountName,
        sid: String,
        generation: Option<u32>,
        managed: bool,
        password_hash: PasswordHash,
    ) -> Self {
        AccountRecord {
            name,
            sid,
            generation,
            managed,
            lifecycle: Lifecycle::Enabled,
            disabled_by: None,
            password_hash: Some(password_hash),
            bad_count: 0,
            bad_time: None,
            lock_time: None,
            lock_scope: None,
            unf_count: 0,
            unf_time: None,
            shares: BTreeMap::new(),
            sources: BTreeMap::new(),
            lockouts: Vec::new(),
            failures: VecDeque::new(),
            delete_at: None,
        }
    }

    /// True for an account agents can still try (not deleted).
    pub fn is_live(&self) -> bool {
        self.lifecycle != Lifecycle::Deleted
    }

    /// The lock's scope when a lock is set and in force at `t`.
    pub fn lock_in_force(&self, policy: &LockoutPolicy, t: Timestamp) -> Option<LockScope> {
        let lock_time = self.lock_time?;
        policy.lock_in_force(lock_time, t).then(|| self.lock_scope.unwrap_or(LockScope::Account))
    }

    /// Clears the account-level lock and every account-level counter (F9: an unlock also
    /// resets the bad-password count), with every address share (M8a: cleared with
    /// `unf_count`). Source state is untouched.
    pub fn clear_lock(&mut self) {
        self.lock_time = None;
        self.lock_scope = None;
        self.bad_count = 0;
        self.bad_time = None;
        self.clear_unfamiliar();
    }

    /// Clears the unfamiliar aggregate and, with it, every address share (M5, M8a).
    pub(crate) fn clear_unfamiliar(&mut self) {
        self.unf_count = 0;
        self.unf_time = None;
        self.shares.clear();
    }

    /// Addresses blocked for unfamiliar callers at `t` (M5a), in address order, with the
    /// end of each block.
    pub fn blocked_addresses<'a>(
        &'a self,
        policy: &'a LockoutPolicy,
        t: Timestamp,
    ) -> impl Iterator<Item = (&'a str, Timestamp)> + 'a {
        self.shares.iter().filter_map(move |(ip, s)| s.block_end(policy, t).map(|end| (ip.as_str(), end)))
    }

    /// Sources whose block is in force at `t`, in source order.
    pub fn blocked_sources(&self, t: Timestamp) -> impl Iterator<Item = (&Source, &SourceState)> {
        self.sources.iter().filter(move |(_, s)| s.blocked_at(t))
    }
}
