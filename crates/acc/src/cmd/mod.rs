//! One module per top-level subcommand.

pub mod agent;
pub mod common;
pub mod ctl;
pub mod dev;
pub mod docs;
pub mod events;
pub mod pki;
pub mod server;
pub mod shares;
pub mod site;
