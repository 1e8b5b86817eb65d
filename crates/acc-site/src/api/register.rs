//! `POST /v1/register`: an agent registers with its task server (agent id, host name, OS,
//! version), authenticated like every request. The first registration of an id binds it
//! to the registering agent (`crate::agents`): the answer carries the agent's token
//! (`agent_token`), which every later request for the id presents as `Acc-Agent-Token`
//! (a certificate agent's certificate proves it too). Registering a bound id again needs
//! that token or certificate; otherwise 403 `agent_id_taken`.

use std::sync::Arc;

use acc_proto::agent_site::{ErrorCode, RegisterStatus, Registered, Registration};
use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};

use super::ApiPeer;
use super::auth;
use super::error::ApiError;
use super::field::check_field;
use super::principal::Principal;
use crate::agents::store::AgentRow;
use crate::agents::{RegisterError, Registering};
use crate::site::Site;

/// Reads a JSON body, mapping every rejection to the API's error shape.
pub fn json_body<T: serde::de::DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let bytes = body.map_err(|r| {
        if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!("request body larger than {} bytes", super::MAX_JSON_BODY),
            )
        } else {
            ApiError::malformed(format!("cannot read the request body: {r}"))
        }
    })?;
    serde_json::from_slice(&bytes).map_err(|e| ApiError::malformed(format!("request body: {e}")))
}

pub(super) async fn register(
    State(site): State<Arc<Site>>,
    Extension(peer): Extension<ApiPeer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Registered>, ApiError> {
    let principal = auth::authenticate(&site, &headers, &peer).await?;
    let reg: Registration = json_body(body)?;
    for (name, value) in
        [("agent_id", &reg.agent_id), ("host", &reg.host), ("os", &reg.os), ("version", &reg.version)]
    {
        check_field(name, value)?;
    }
    if let Some(id) = auth::named_agent(&headers)?
        && id != reg.agent_id
    {
        return Err(ApiError::malformed(format!(
            "Acc-Agent-Id '{id}' differs from the body's agent_id '{}'",
            reg.agent_id
        )));
    }
    let presented = auth::agent_token(&headers)?;
    let claim = auth::claim(&headers, &peer)?;
    let now = site.now_ms();
    let row = AgentRow {
        agent_id: reg.agent_id.clone(),
        host: reg.host,
        os: reg.os,
        version: reg.version,
        principal: principal.label(),
        ip: peer.remote.ip().to_string(),
        registered_at: now,
        last_seen: now,
    };
    let token = match site.register_agent(Registering { row, proof: claim.proof(), presented }).await {
        Ok(t) => t,
        Err(e @ RegisterError::Taken(_)) => {
            tracing::warn!(agent = %reg.agent_id, principal = %principal.label(), ip = %peer.remote.ip(),
                "Registration refused: the agent id is bound to another agent.");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                ErrorCode::AgentIdTaken.as_str(),
                e.to_string(),
            ));
        }
        Err(RegisterError::Site(e)) => {
            tracing::error!(error = %e, "Registration could not be stored.");
            return Err(ApiError::internal("the site server could not store the registration; retry later"));
        }
    };
    Ok(Json(Registered {
        status: RegisterStatus::Registered,
        agent_id: reg.agent_id,
        site: site.config().name.clone(),
        principal: principal.label(),
        agent_token: token,
        policy_stale: matches!(principal, Principal::Account { policy_stale: true, .. }),
    }))
}
