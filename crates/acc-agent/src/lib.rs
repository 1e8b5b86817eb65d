//! acc-agent: the endpoint side of both seeds.
//!
//! - [`config`]: `acc.yml`, checked whole, with the seed's default locations.
//! - [`identity`]: `key-file`/`cert-file` (owner, 0400, X.509 v3, validity) and the client TLS.
//! - [`state`]: `state-dir`: check-in counter, policy (credential sealed), health, packages.
//! - [`enroll`]: `acc agent enroll`; [`logfile`]: `acc.log` rotated by size.
//! - [`proxy`]: the HTTP proxy every connection goes through (`proxy-url`, `https_proxy`).
//! - [`run`]: `acc agent run`: the management-server session, the site sessions and the
//!   tasks (one module each); [`site`]: one site session; [`download`]: packages.

pub mod budget;
pub mod config;
pub mod download;
pub mod enroll;
pub mod identity;
pub mod logfile;
pub mod proxy;
pub mod renew;
pub mod run;
pub mod site;
pub mod state;
