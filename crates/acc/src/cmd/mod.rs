//! One module per top-level subcommand.

pub mod duration;
pub mod pki;
pub mod shares;
pub mod site;
