//! The lockout engine of local ACC accounts on a site server (specification 1–3): the
//! account records and their state machine, classic and smart lockout, account
//! administration, the ACC refresh with auto re-enable, and the events all of them write.
//!
//! Pure logic: every operation takes the wall time `now` and returns decisions and
//! events; the site server persists `SiteState` after each change, writes the events
//! (stamping them with `SiteState::stamp`) and answers the agent. Password hashing is
//! the caller's: see `SiteState::precheck` and `SiteState::complete`.

mod policy;
mod source;

pub use policy::{LockoutMode, LockoutPolicy, PolicyError, PolicyValidation, PolicyWarning};
pub use source::{Source, SourceError};
