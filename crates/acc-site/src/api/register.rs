//! `POST /v1/register`: an agent registers with its task server (agent id, host name, OS,
//! version), authenticated like every request. Registering again updates the entry.

use std::sync::Arc;

use axum::Extension;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiPeer;
use super::auth::{self, HEADER_AGENT_ID, Principal};
use super::error::ApiError;
use crate::site::Site;
use crate::store::AgentRow;

/// Longest value of a registration field.
const MAX_FIELD: usize = 256;

#[derive(Debug, Deserialize)]
struct Registration {
    agent_id: String,
    host: String,
    os: String,
    version: String,
}

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

pub(super) fn check_field(name: &str, value: &str) -> Result<(), ApiError> {
    if value.trim().is_empty() {
        return Err(ApiError::malformed(format!("'{name}' is empty")));
    }
    if value.chars().count() > MAX_FIELD {
        return Err(ApiError::malformed(format!("'{name}' is longer than {MAX_FIELD} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::malformed(format!("'{name}' contains a control character")));
    }
    Ok(())
}

pub(super) async fn register(
    State(site): State<Arc<Site>>,
    Extension(peer): Extension<ApiPeer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let principal = auth::authenticate(&site, &headers, &peer).await?;
    let reg: Registration = json_body(body)?;
    for (name, value) in
        [("agent_id", &reg.agent_id), ("host", &reg.host), ("os", &reg.os), ("version", &reg.version)]
    {
        check_field(name, value)?;
    }
    if let Some(id) = headers.get(HEADER_AGENT_ID).and_then(|v| v.to_str().ok())
        && id != reg.agent_id
    {
        return Err(ApiError::malformed(format!(
            "Acc-Agent-Id '{id}' differs from the body's agent_id '{}'",
            reg.agent_id
        )));
    }
    let now = site.now_millis();
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
    site.register_agent(row).await.map_err(|e| {
        tracing::error!(error = %e, "Registration could not be stored.");
        ApiError::internal("the site server could not store the registration; retry later")
    })?;
    let stale = matches!(principal, Principal::Account { policy_stale: true, .. });
    let mut body = json!({
        "status": "registered",
        "agent_id": reg.agent_id,
        "site": site.config().name,
        "principal": principal.label(),
    });
    if stale {
        body["policy_stale"] = Value::Bool(true);
    }
    Ok(Json(body))
}
