//! The lockout policy of local ACC accounts (specification 2.1): every parameter with its
//! default, and the settings validation of 5.5 with its exact messages and warnings.
//!
//! One policy applies to all local ACC accounts of all site servers. It also carries the
//! site settings the ACC refresh needs (`create_acc_on_site_servers`,
//! `reenable_locked_local_account`, `acc_refresh_interval`, `lockout_loop_count`). This
//! module only describes and checks the policy; the engine applies it.

use serde::{Deserialize, Serialize};

/// `classic` (Windows semantics, 2.2) or `smart` (per-source lockout, 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LockoutMode {
    /// Windows semantics: one counter per account, T failures lock it for everyone.
    Classic,
    /// Per-source blocks plus a lock of unfamiliar sources; the acc default.
    #[default]
    Smart,
}

impl LockoutMode {
    /// `classic` or `smart`, as written in events.
    pub const fn as_str(self) -> &'static str {
        match self {
            LockoutMode::Classic => "classic",
            LockoutMode::Smart => "smart",
        }
    }
}

/// The lockout policy and the ACC site settings of 2.1. Durations in whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LockoutPolicy {
    /// `mode`.
    pub mode: LockoutMode,
    /// `threshold` (T), classic: failures that lock the account; 0 = never lock.
    pub threshold: u32,
    /// `reset_after` (W): a previous failure counts iff `t - bad_time <= W`.
    pub reset_after: u64,
    /// `duration` (D): how long a lock lasts; 0 = until unlocked.
    pub duration: u64,
    /// `source_threshold` (Ts), smart: failures of one source that block it.
    pub source_threshold: u32,
    /// `unfamiliar_threshold` (Tu), smart: failures of unfamiliar sources that lock them out.
    pub unfamiliar_threshold: u32,
    /// `source_block_base`, smart: the first block of a source.
    pub source_block_base: u64,
    /// `source_block_max`, smart: cap of the escalation.
    pub source_block_max: u64,
    /// `escalation_memory`, smart: a block escalates if the previous one started this recently.
    pub escalation_memory: u64,
    /// `familiar_ttl`, smart: how long a success keeps a source familiar.
    pub familiar_ttl: u64,
    /// `familiar_max`, smart: familiar sources kept per site server (LRU by last success).
    pub familiar_max: u32,
    /// `reenable_locked_local_account`: the ACC refresh clears locks in force.
    pub reenable_locked_local_account: bool,
    /// `create_acc_on_site_servers`: the ACC refresh creates missing accounts.
    pub create_acc_on_site_servers: bool,
    /// `acc_refresh_interval`: time between two ACC refreshes.
    pub acc_refresh_interval: u64,
    /// `lockout_loop_count`: account-level locks per 24 h that raise `acc.lockout_loop`.
    pub lockout_loop_count: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        LockoutPolicy {
            mode: LockoutMode::Smart,
            threshold: 10,
            reset_after: 600,
            duration: 600,
            source_threshold: 5,
            unfamiliar_threshold: 20,
            source_block_base: 300,
            source_block_max: 3600,
            escalation_memory: 86_400,
            familiar_ttl: 2_592_000,
            familiar_max: 100_000,
            reenable_locked_local_account: true,
            create_acc_on_site_servers: true,
            acc_refresh_interval: 21_600,
            lockout_loop_count: 3,
        }
    }
}

/// A refused setting, with the exact message of 5.5 (or, for settings 5.5 has no row for,
/// a message in the same style).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// L-T.
    #[error("lockout.threshold: {0} is out of range; use 0 (never lock) to 999")]
    Threshold(u32),
    /// L-W.
    #[error("lockout.reset_after: {0} s is out of range; use 60 to 5999940 s (1 to 99999 minutes)")]
    ResetAfter(u64),
    /// L-D.
    #[error("lockout.duration: {0} s is out of range; use 0 (until unlocked) or 60 to 5999940 s")]
    Duration(u64),
    /// L-DW.
    #[error(
        "lockout.duration: {duration} s is shorter than lockout.reset_after {reset_after} s; use 0 (until unlocked) or at least {reset_after} s"
    )]
    DurationBelowResetAfter {
        /// D.
        duration: u64,
        /// W.
        reset_after: u64,
    },
    /// L-TS.
    #[error("lockout.source_threshold: {0} is out of range; use 1 to 100")]
    SourceThreshold(u32),
    /// L-TU.
    #[error("lockout.unfamiliar_threshold: {0} is out of range; use 2 to 100")]
    UnfamiliarThreshold(u32),
    /// L-TSTU.
    #[error(
        "lockout.source_threshold: {ts} must be less than lockout.unfamiliar_threshold {tu}; otherwise one source alone could lock out every unfamiliar source"
    )]
    SourceNotBelowUnfamiliar {
        /// Ts.
        ts: u32,
        /// Tu.
        tu: u32,
    },
    /// `source_block_base` outside 60–86,400 s (values 1–59 are lab values, accepted).
    #[error("lockout.source_block_base: {0} s is out of range; use 60 to 86400 s")]
    SourceBlockBase(u64),
    /// `source_block_max` below `source_block_base` or above 86,400 s.
    #[error("lockout.source_block_max: {value} s is out of range; use {base} to 86400 s")]
    SourceBlockMax {
        /// The configured maximum.
        value: u64,
        /// The configured base, the lower bound.
        base: u64,
    },
    /// `escalation_memory` outside 3,600–604,800 s.
    #[error("lockout.escalation_memory: {0} s is out of range; use 3600 to 604800 s")]
    EscalationMemory(u64),
    /// `familiar_ttl` outside 86,400–7,776,000 s.
    #[error("lockout.familiar_ttl: {0} s is out of range; use 86400 to 7776000 s (90 days)")]
    FamiliarTtl(u64),
    /// `familiar_max` outside 1,000–1,000,000.
    #[error("lockout.familiar_max: {0} is out of range; use 1000 to 1000000")]
    FamiliarMax(u32),
    /// L-REFRESH.
    #[error("site.acc_refresh_interval: {0} s is out of range; use 60 to 1209600 s (2 weeks)")]
    RefreshInterval(u64),
    /// `lockout_loop_count` outside 2–100.
    #[error("lockout.lockout_loop_count: {0} is out of range; use 2 to 100")]
    LockoutLoopCount(u32),
}

/// A setting accepted with a warning (5.5 warnings and the lab rule of 2.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyWarning {
    /// W-THRESHOLD.
    #[error(
        "warning: lockout.threshold {0} is above 100, the most consecutive failures NIST SP 800-63B allows"
    )]
    ThresholdAboveNist(u32),
    /// A duration between 1 s and its production minimum (2.1, labs and tests).
    #[error(
        "warning: {field} {value} s is below the production minimum {min} s; use it for labs and tests only"
    )]
    BelowProductionMinimum {
        /// The setting, such as `lockout.reset_after`.
        field: &'static str,
        /// The configured value.
        value: u64,
        /// The production minimum.
        min: u64,
    },
}

/// The result of [`LockoutPolicy::validate`]: at most one error per field, in field order,
/// and the warnings of the fields that passed. The save succeeds iff `errors` is empty.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyValidation {
    /// Refusals, in field order.
    pub errors: Vec<PolicyError>,
    /// Warnings, in field order (shown once when the save succeeds).
    pub warnings: Vec<PolicyWarning>,
}

impl PolicyValidation {
    /// True when the policy can be saved.
    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Upper bound of `reset_after` and `duration`: 99,999 minutes.
const MAX_WINDOW: u64 = 5_999_940;

/// Checks a duration with a production range `[min, max]` that also accepts lab values
/// `1..min` with a warning. `Ok(None)`: fine; `Ok(Some(w))`: lab value; `Err(())`: refused.
fn lab_range(field: &'static str, v: u64, min: u64, max: u64) -> Result<Option<PolicyWarning>, ()> {
    if v == 0 || v > max {
        Err(())
    } else if v < min {
        Ok(Some(PolicyWarning::BelowProductionMinimum { field, value: v, min }))
    } else {
        Ok(None)
    }
}

impl LockoutPolicy {
    /// Validates every parameter against 2.1 and returns the exact messages of 5.5, fields
    /// in order: threshold, reset_after, duration, source_threshold, unfamiliar_threshold,
    /// source_block_base, source_block_max, escalation_memory, familiar_ttl, familiar_max,
    /// lockout_loop_count, then `site.acc_refresh_interval`. Within a field the first
    /// failing check is reported; a check that compares two fields (L-DW, L-TSTU) runs only
    /// when both passed their own range check.
    pub fn validate(&self) -> PolicyValidation {
        let mut out = PolicyValidation::default();
        let lab = |out: &mut PolicyValidation,
                   field: &'static str,
                   v: u64,
                   min: u64,
                   max: u64,
                   err: PolicyError|
         -> bool {
            match lab_range(field, v, min, max) {
                Ok(w) => {
                    out.warnings.extend(w);
                    true
                }
                Err(()) => {
                    out.errors.push(err);
                    false
                }
            }
        };

        if self.threshold > 999 {
            out.errors.push(PolicyError::Threshold(self.threshold));
        } else if self.threshold > 100 {
            out.warnings.push(PolicyWarning::ThresholdAboveNist(self.threshold));
        }

        let w_ok = lab(
            &mut out,
            "lockout.reset_after",
            self.reset_after,
            60,
            MAX_WINDOW,
            PolicyError::ResetAfter(self.reset_after),
        );

        // Duration: 0 (until unlocked) is a production value; 1..60 is a lab value.
        if self.duration != 0 {
            let d_ok = lab(
                &mut out,
                "lockout.duration",
                self.duration,
                60,
                MAX_WINDOW,
                PolicyError::Duration(self.duration),
            );
            // The active threshold: T in classic mode, Tu (always > 0) in smart mode.
            let active_threshold = match self.mode {
                LockoutMode::Classic => self.threshold,
                LockoutMode::Smart => self.unfamiliar_threshold,
            };
            if d_ok && w_ok && active_threshold > 0 && self.duration < self.reset_after {
                out.errors.push(PolicyError::DurationBelowResetAfter {
                    duration: self.duration,
                    reset_after: self.reset_after,
                });
            }
        }

        let ts_ok = (1..=100).contains(&self.source_threshold);
        let tu_ok = (2..=100).contains(&self.unfamiliar_threshold);
        if !ts_ok {
            out.errors.push(PolicyError::SourceThreshold(self.source_threshold));
        } else if tu_ok && self.source_threshold >= self.unfamiliar_threshold {
            out.errors.push(PolicyError::SourceNotBelowUnfamiliar {
                ts: self.source_threshold,
                tu: self.unfamiliar_threshold,
            });
        }
        if !tu_ok {
            out.errors.push(PolicyError::UnfamiliarThreshold(self.unfamiliar_threshold));
        }

        let base_ok = lab(
            &mut out,
            "lockout.source_block_base",
            self.source_block_base,
            60,
            86_400,
            PolicyError::SourceBlockBase(self.source_block_base),
        );
        let max_err =
            PolicyError::SourceBlockMax { value: self.source_block_max, base: self.source_block_base };
        if base_ok && self.source_block_max < self.source_block_base {
            out.errors.push(max_err);
        } else {
            lab(&mut out, "lockout.source_block_max", self.source_block_max, 60, 86_400, max_err);
        }
        lab(
            &mut out,
            "lockout.escalation_memory",
            self.escalation_memory,
            3600,
            604_800,
            PolicyError::EscalationMemory(self.escalation_memory),
        );
        lab(
            &mut out,
            "lockout.familiar_ttl",
            self.familiar_ttl,
            86_400,
            7_776_000,
            PolicyError::FamiliarTtl(self.familiar_ttl),
        );
        if !(1000..=1_000_000).contains(&self.familiar_max) {
            out.errors.push(PolicyError::FamiliarMax(self.familiar_max));
        }
        if !(2..=100).contains(&self.lockout_loop_count) {
            out.errors.push(PolicyError::LockoutLoopCount(self.lockout_loop_count));
        }
        lab(
            &mut out,
            "site.acc_refresh_interval",
            self.acc_refresh_interval,
            60,
            1_209_600,
            PolicyError::RefreshInterval(self.acc_refresh_interval),
        );
        out
    }

    /// True when a lock set at `lock_time` is in force at `t` (T3: `D = 0` or
    /// `t <= lock_time + D`).
    pub fn lock_in_force(&self, lock_time: crate::time::Timestamp, t: crate::time::Timestamp) -> bool {
        self.duration == 0 || t <= lock_time.plus_secs(self.duration)
    }

    /// `retry_after` of a lock set at `lock_time`, seen at `t`; absent when `D = 0`.
    pub fn lock_retry_after(
        &self,
        lock_time: crate::time::Timestamp,
        t: crate::time::Timestamp,
    ) -> Option<u64> {
        (self.duration != 0).then(|| t.retry_after_secs(lock_time.plus_secs(self.duration)))
    }

    /// True when a failure at `earlier` still counts toward one at `t` (T3: `t - earlier <= W`).
    pub fn within_window(&self, earlier: crate::time::Timestamp, t: crate::time::Timestamp) -> bool {
        within(earlier, t, self.reset_after)
    }

    /// The length of a source block with escalation step `streak` (0 = first block):
    /// `min(source_block_base * 2^streak, source_block_max)`.
    pub fn block_len(&self, streak: u32) -> u64 {
        let factor = 1u64.checked_shl(streak).unwrap_or(u64::MAX);
        self.source_block_base.saturating_mul(factor).min(self.source_block_max)
    }
}

/// `t - earlier <= secs` seconds (an inclusive window, T3).
pub(crate) fn within(earlier: crate::time::Timestamp, t: crate::time::Timestamp, secs: u64) -> bool {
    t.millis_since(earlier) <= (secs as i64).saturating_mul(1000)
}
