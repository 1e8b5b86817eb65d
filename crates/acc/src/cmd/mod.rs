//! One module per top-level subcommand. The server roles (`site`, `server`, `dev`) are
//! built on Unix only; `unix_only` answers for them on Windows.

pub mod agent;
pub mod common;
pub mod ctl;
#[cfg(unix)]
pub mod dev;
pub mod docs;
pub mod events;
pub mod pki;
#[cfg(unix)]
pub mod server;
pub mod shares;
#[cfg(unix)]
pub mod site;
#[cfg(not(unix))]
pub mod unix_only;
