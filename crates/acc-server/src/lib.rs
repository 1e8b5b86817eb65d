//! acc-server: the management server (the seeds' Notification Server and console).
//!
//! - [`layout`], [`config`], [`init`]: the data directory, `server.json`, `acc server init`
//!   (fleet CA, TLS certificate, vault key, App ID, first admin token).
//! - [`backup`]: `acc server backup`/`restore`: the data directory in one passphrase-sealed file.
//! - [`vault`]: secrets encrypted at rest (AES-256-GCM under a 0600 master key file).
//! - [`store`]: the database (SQLite; SQL that PostgreSQL also accepts).
//! - [`event_store`]: every site's security events and the server's own, keyed by origin,
//!   kept under a maximum size, searched a page at a time; [`event_log`]: what the server
//!   writes there (its own events, the sites' batches) and the retention run.
//! - [`document`]: the policy document and its revisions: pure validation of settings
//!   changes with the messages of the specification, redaction and diffs.
//! - [`sites`], [`agents`], [`fleet`], [`checkin`]: the site server and agent inventories,
//!   joins, enrollment, policy long-polls and check-ins over mTLS.
//! - [`rules`]: the time rules (stalled rotation, retirement, backdating, CRL push, token expiry) as
//!   pure functions of the time read from the server's one clock.
//! - [`inventory`], [`policy`], [`catalog`]: the site servers and agents known, the
//!   revision in force with its save lock, and the package versions (held by the server;
//!   [`packages`] their operations).
//! - [`server`]: the running server's state; [`api`]: the REST API `/v1`; [`run`]: the
//!   HTTPS listener.
//! - [`console`]: the web console under `/ui/` (server-rendered pages, sessions, CSRF).
//! - [`users`]: the web console's users (names, roles, Argon2id hashes).
//! - [`nodes`]: the management server nodes on one store, their heartbeat and the list
//!   clients fail over along; [`node_join`]: node tokens and `acc server join`.

pub mod agents;
pub mod api;
pub mod backup;
pub mod catalog;
pub mod certs;
pub mod checkin;
pub mod cluster;
pub mod config;
pub mod console;
pub mod directory;
pub mod document;
pub mod error;
pub mod event_log;
pub mod event_store;
pub mod fleet;
pub mod impact;
pub mod init;
pub mod inventory;
pub mod layout;
pub mod lockouts;
pub mod metrics;
pub mod node_join;
pub mod nodes;
pub mod packages;
pub mod policy;
pub mod renew;
pub mod rotation;
pub mod rules;
pub mod run;
pub mod server;
pub mod sites;
pub mod sources;
pub mod store;
pub mod tokens;
pub mod users;
pub mod vault;
pub mod wake;

pub use error::ServerError;
