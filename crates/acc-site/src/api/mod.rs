//! The agent-facing HTTPS API, `/v1`, JSON. Every route authenticates (see [`auth`]);
//! refusals are [`error::ApiError`]s. The transport puts an [`ApiPeer`] in each request's
//! extensions (the socket's address and what TLS verified).

pub mod auth;
pub mod error;
mod register;
pub mod session;
mod shares;
mod tasks;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};

use crate::site::Site;
use auth::TlsIdentity;
use error::ApiError;

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// What the transport tells the API about a request's connection.
#[derive(Debug, Clone)]
pub struct ApiPeer {
    /// The socket's remote address (the `IpAddress` of events).
    pub remote: SocketAddr,
    /// What TLS verified.
    pub tls: TlsIdentity,
    /// The connection's logon session (see [`session`]).
    pub session: acc_net::SessionSlot,
}

/// The `/v1` routes.
pub fn router(site: Arc<Site>) -> Router {
    Router::new()
        .route("/v1/register", post(register::register))
        .route("/v1/tasks", get(tasks::poll))
        .route("/v1/tasks/{id}/result", post(tasks::result))
        .route("/v1/shares/{*path}", get(shares::get_file))
        .fallback(|| async {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such API route; see /v1/register, /v1/tasks, /v1/packages",
            )
        })
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .with_state(site)
}
