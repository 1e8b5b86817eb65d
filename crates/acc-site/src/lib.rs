//! The acc site server (task server + package server): the machine agents authenticate
//! to, register with and download packages from.
//!
//! - [`layout`], [`config`], [`init`]: the data directory and `acc site init`.
//! - [`store`], [`writer`]: the SQLite database and group commit.
//! - [`event_log`]: the security event log on disk: its size, the removal of its oldest
//!   events, paged searches; [`retention`]: keeping it under its maximum size.
//! - [`verifier`]: Argon2id off the async threads, with a verification cache.
//! - [`api`]: the agent-facing `/v1` routes.
//! - [`tasks`]: the task server (send, long-poll delivery, results).
//! - [`agents`]: agent identities: which agent each registered id belongs to.
//! - [`admin`]: local administration over a 0600 Unix socket, or offline.
//! - [`server`], [`tls`], [`crl_watch`]: `acc site run` on acc-net; trusted client CAs
//!   and CRLs, and the alert when a CRL expires.
//! - [`shares`]: shares, their ACLs (in-memory snapshot, persisted), files, digests.
//! - [`managed`], [`replicate`], [`directory`]: under a management server: join, policy
//!   long-poll, event forwarding, package replication, domain logons through its directory;
//!   [`management`]: what they share (the management server's nodes, the mTLS connection,
//!   the agent trust it sends).
//! - [`site`]: the running state — lockout engine, accounts, policy — behind one lock.

pub mod admin;
pub mod agents;
pub mod api;
pub mod config;
pub mod crl_watch;
pub mod directory;
pub mod error;
pub mod event_log;
pub mod init;
pub mod layout;
pub mod managed;
pub mod management;
pub mod metrics;
pub mod replicate;
pub mod retention;
pub mod server;
pub mod shares;
pub mod site;
pub mod store;
pub mod tasks;
pub mod tls;
pub mod verifier;
pub mod writer;

pub use error::SiteError;
pub use site::Site;
