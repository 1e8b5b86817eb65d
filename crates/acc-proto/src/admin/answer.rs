//! The admin API's answers: what the management server returns to `acc ctl` (and, next,
//! the console) for settings, revisions and their diffs, site servers, agents,
//! certificates, lockouts, the credential rotation, a saved change, packages, package
//! sources, the directory and API tokens; and [`ApiErrorBody`], every refusal. The server
//! answers `Json(T)` of these types and `acc ctl` reads them back, so both sides agree on
//! each field. Words from a closed set are enums.
//!
//! One module per area; every type is re-exported here (and from `admin`).

mod agents;
mod certificates;
mod directory;
mod errors;
mod lockouts;
mod packages;
mod revisions;
mod rotation;
mod sites;
mod tokens;

pub use agents::*;
pub use certificates::*;
pub use directory::*;
pub use errors::*;
pub use lockouts::*;
pub use packages::*;
pub use revisions::*;
pub use rotation::*;
pub use sites::*;
pub use tokens::*;
