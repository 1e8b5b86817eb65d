//! The agent-facing HTTPS API, `/v1`, JSON. Every route but `GET /v1/health` (for load
//! balancers and `acc dev`, as on the management server) authenticates (see [`auth`]);
//! refusals are [`error::ApiError`]s. The transport puts an [`ApiPeer`] in each request's
//! extensions (the socket's address and what TLS verified).

pub mod auth;
pub mod error;
mod field;
mod openapi;
mod packages;
pub mod principal;
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
    /// The connection's standing with the listener's cap on unauthenticated connections.
    pub admission: acc_net::Admission,
    /// This request's writes that must be durable before its response (see [`Durability`]).
    pub durability: Durability,
}

/// Writes a request queued without waiting for them: its response is held until every
/// one is durable (the layer of [`router`]). A request can so queue its logon event and
/// wait once, at its last write, instead of once per write: the writer commits in queue
/// order, so the later write's commit carries the earlier one or follows it.
#[derive(Clone, Default)]
pub struct Durability(Arc<std::sync::Mutex<Vec<crate::writer::Pending>>>);

impl Durability {
    /// Holds the response until `pending` is durable.
    pub fn defer(&self, pending: crate::writer::Pending) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(pending);
    }

    /// Waits for every deferred write; the first failure.
    async fn settle(&self) -> Result<(), crate::writer::WriteError> {
        let pending = std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()));
        for p in pending {
            p.durable().await?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Durability")
    }
}

/// Holds each response until the request's deferred writes are durable; a failed write
/// turns the response into a 500 and ends the connection's logon session (nothing is
/// acknowledged, or reused, that was not recorded).
async fn durable_before_response(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let peer = req.extensions().get::<ApiPeer>().map(|p| (p.durability.clone(), p.session.clone()));
    let response = next.run(req).await;
    if let Some((durability, session)) = peer
        && let Err(e) = durability.settle().await
    {
        // A logon whose event was not recorded must not be reused either.
        session::forget(&session);
        tracing::error!(error = %e, "A request's events could not be recorded; it is answered with 500.");
        return ApiError::internal("the site server could not record the request; retry later")
            .into_response();
    }
    response
}

/// The `/v1` routes.
pub fn router(site: Arc<Site>) -> Router {
    Router::new()
        .route("/v1/health", get(|| async { axum::Json(acc_proto::Health::OK) }))
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1/register", post(register::register))
        .route("/v1/tasks", get(tasks::poll))
        .route("/v1/tasks/{id}/result", post(tasks::result))
        .route("/v1/shares/{*path}", get(shares::get_file))
        .route("/v1/packages", get(packages::list))
        .route("/v1/packages/{name}", get(packages::manifest))
        .fallback(|| async {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such API route; see /v1/openapi.json")
        })
        .layer(axum::middleware::from_fn(durable_before_response))
        .layer(DefaultBodyLimit::max(MAX_JSON_BODY))
        .with_state(site)
}
