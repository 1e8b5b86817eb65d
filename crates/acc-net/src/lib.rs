//! acc-net: the HTTPS listener of acc's servers. Password agents and certificate agents
//! share one port: the TLS layer asks for, but does not require, a client certificate.
//!
//! - [`tls`]: the rustls configuration (aws-lc-rs only) from PEM/DER inputs, and
//!   [`LiveConfig`], which swaps it when trust anchors or CRLs change.
//! - `verifier`: webpki's client-certificate checks, with the verdict kept so that a
//!   refused certificate is reported with its reason instead of a bare handshake failure.
//! - [`identity`]: [`PeerIdentity`] and [`PeerInfo`], put into every request.
//! - [`datadir`]: what every server data directory has (TLS files, the role's
//!   configuration file read strictly).
//! - [`client`]: the HTTPS client of acc's own tools (CA-pinned, optional client certificate).
//!   [`endpoint`]: where a server is (host and port of an `https://` URL).
//! - [`proxy`]: which HTTP proxy a connection goes through (URL, credentials, `NO_PROXY`,
//!   file-over-environment precedence); [`tunnel`]: the HTTP CONNECT step before TLS.
//! - [`health`]: `/healthz` and `/readyz`, and the plain-HTTP metrics listener
//!   ([`health::serve_metrics`]) with `/metrics`.
//! - [`server`]: [`serve`], the accept loop with its [`Limits`] and graceful shutdown.
//! - `watchdog`, `service`: per-connection timeouts and the request wrapper; `body`:
//!   request bodies under a size limit, a deadline and a minimum rate (408, 413);
//!   `admission`: the per-address cap on unauthenticated connections, and which one to
//!   close when the listener is full.
//!
//! Authentication decisions above the TLS layer (Basic passwords, accounts, lockout,
//! events) belong to the site server; this crate only guarantees that a connection
//! whose certificate was refused never reaches it.

mod accept;
mod admission;
mod body;
pub mod client;
pub mod datadir;
pub mod endpoint;
pub mod error;
pub mod health;
pub mod identity;
pub mod proxy;
pub mod server;
mod service;
pub mod tls;
pub mod tunnel;
mod verifier;
mod watchdog;

pub use body::{BodyError, RequestBody};
pub use error::{NetError, Result};
pub use identity::{Admission, PeerIdentity, PeerInfo, PeerRejection, RejectReason, SessionSlot};
pub use server::{
    Limits, MAX_BODY_BYTES, MAX_CONNECTIONS, MAX_UNAUTHENTICATED_PER_ADDRESS, RejectionHook, ServeOptions,
    serve,
};
pub use service::{BodyLimit, BoxError, TrackedBody};
pub use tls::{LiveConfig, TlsGeneration, TlsInputs};
