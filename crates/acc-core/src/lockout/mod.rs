//! The lockout engine of local ACC accounts on a site server (specification 1–3): the
//! account records and their state machine, classic and smart lockout, account
//! administration, the ACC refresh with auto re-enable, and the events all of them write.
//!
//! Pure logic: every operation takes the wall time `now` and returns decisions and
//! events; the site server persists [`SiteState`] after each change, writes the events
//! (stamping them with [`SiteState::stamp`]) and answers the agent. Password hashing is
//! the caller's: see [`SiteState::precheck`] and [`SiteState::complete`].

mod admin;
mod attempt;
mod familiar;
mod outcome;
mod policy;
mod record;
mod refresh;
mod serde_entries;
mod source;
mod state;

#[cfg(test)]
mod tests;

pub use admin::{AdminError, DisplayedState};
pub use attempt::{LOOP_TOP_CALLERS, LOOP_WINDOW_SECS};
pub use familiar::FamiliarSet;
pub use outcome::{AppIdName, Attempt, AttemptResult, Outcome, PendingVerify, Step, is_local_form};
pub use policy::{LockoutMode, LockoutPolicy, PolicyError, PolicyValidation, PolicyWarning};
pub use record::{
    AccountRecord, AddressShare, DisabledBy, FAILURE_LOG_CAP, FailureEntry, Lifecycle, LockScope,
    PasswordHash, SourceState,
};
pub use refresh::{
    AccPolicySnapshot, AckStatus, GenerationAck, GenerationPhase, ManagedGeneration, RefreshReport,
    RefreshTrigger, acc_policy_changed, conflict_message, is_domain_form,
};
pub use source::{Source, SourceError};
pub use state::{CLOCK_BACKWARDS_TOLERANCE_MS, FIRST_RID, SiteIdentity, SiteState, local_name};
