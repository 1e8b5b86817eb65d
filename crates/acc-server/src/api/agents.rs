//! The routes an agent calls with its client certificate (fleet CA or an operator CA):
//! `GET /v1/agent/policy?after=REV&force=F&wait=S` (long-poll; 204 when nothing changed)
//! and `POST /v1/agent/checkin`; and `GET /v1/agents` (viewer), the inventory.

use std::sync::Arc;
use std::time::Duration;

use acc_net::{PeerIdentity, PeerInfo};
use acc_proto::AgentCheckIn;
use acc_proto::admin::AgentList;
use acc_proto::agent::CheckInAnswer;
use acc_proto::health::HealthStatus;
use axum::extract::{Request, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::{ApiError, query_param, require};
use crate::checkin::AgentIdentity;
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new().route("/v1/agents", get(list))
}

/// Routes agents call with their certificate.
pub fn open_routes() -> Router<Arc<Server>> {
    Router::new().route("/v1/agent/policy", get(policy)).route("/v1/agent/checkin", post(check_in))
}

/// The agent this connection's verified client certificate stands for.
fn agent_of(peer: Option<&Arc<PeerInfo>>, server: &Server) -> Result<AgentIdentity, ApiError> {
    let Some(peer) = peer else {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "no TLS peer"));
    };
    let PeerIdentity::Certificate { cn: Some(cn), serial_hex, issuer, not_after, .. } = &peer.identity else {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this route needs an agent's client certificate (acc agent enroll, or one from a CA added with acc ctl trust add)",
        ));
    };
    let id = AgentIdentity {
        name: cn.to_ascii_lowercase(),
        serial_hex: serial_hex.clone(),
        issuer: issuer.clone(),
        not_after_ms: i64::try_from(not_after.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
        address: peer.remote_addr.ip().to_string(),
    };
    server
        .admit_agent(&id)
        .map_err(|e| ApiError::new(StatusCode::FORBIDDEN, "certificate_refused", e.to_string()))?;
    peer.admission.authenticated();
    Ok(id)
}

async fn policy(State(server): Srv, uri: Uri, req: Request) -> Result<Response, ApiError> {
    let id = agent_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let number = |k: &str| -> Result<u64, ApiError> {
        match query_param(&uri, k) {
            None => Ok(0),
            Some(v) => v.parse().map_err(|_| ApiError::malformed(format!("{k} '{v}' is not a number"))),
        }
    };
    let after = i64::try_from(number("after")?).unwrap_or(i64::MAX);
    let wait = Duration::from_secs(number("wait")?);
    match server.wait_agent_policy(&id, after, number("force")?, wait).await? {
        Some(body) => Ok(([(axum::http::header::CONTENT_TYPE, "application/json")], body).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn check_in(State(server): Srv, req: Request) -> Result<Json<CheckInAnswer>, ApiError> {
    let id = agent_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let check_in: AgentCheckIn = super::read_json(req).await?;
    server.agent_check_in(&id, check_in).await?;
    Ok(Json(CheckInAnswer { status: HealthStatus::Ok, revision: server.revision() }))
}

async fn list(State(server): Srv, Extension(caller): Extension<Caller>) -> Result<Json<AgentList>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(AgentList { agents: server.agent_inventory().await? }))
}
