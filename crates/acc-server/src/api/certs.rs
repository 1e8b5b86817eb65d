//! Agents and the fleet CA: `POST /v1/enroll-tokens` (operator), `POST /v1/agent/enroll`
//! (the token's secret is the credential), `POST /v1/agent/renew` (the CSR's signature by
//! the certificate's key is the credential), `GET /v1/certificates` (viewer), `POST /v1/certificates/{serial}/revoke`, `POST /v1/trust` and `POST /v1/trust/remove`
//! (admin).

use std::sync::Arc;

use acc_proto::admin::{CertificateList, CreatedToken, SaveOutcome, TrustAdd, TrustRemove};
use acc_proto::{EnrollRequest, JoinResponse, TokenKind};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;

use super::{ApiError, admin_change, parse_json, require};
use crate::fleet::JoinError;
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/enroll-tokens", post(create_token))
        .route("/v1/certificates", get(list))
        .route("/v1/certificates/{serial}/revoke", post(revoke))
        .route("/v1/trust", post(trust))
        .route("/v1/trust/remove", post(trust_remove))
}

/// Routes authenticated by the enrollment token.
pub fn open_routes() -> Router<Arc<Server>> {
    Router::new().route("/v1/agent/enroll", post(enroll)).route("/v1/agent/renew", post(renew))
}

async fn create_token(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CreatedToken>, ApiError> {
    super::fleet::join_token(&server, &caller, &headers, &body, TokenKind::Agent, 86_400).await
}

async fn enroll(State(server): Srv, headers: HeaderMap, body: Bytes) -> Result<Json<JoinResponse>, ApiError> {
    let req: EnrollRequest = parse_json(&headers, &body)?;
    super::token_routes::joined(
        server.enroll(&req).await,
        "the enrollment token is unknown, expired or used up; create a new one with `acc ctl enroll-token create`",
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RenewBody {
    certificate_pem: String,
    csr_pem: String,
}

async fn renew(State(server): Srv, headers: HeaderMap, body: Bytes) -> Result<Json<JoinResponse>, ApiError> {
    let b: RenewBody = parse_json(&headers, &body)?;
    match server.renew(&b.certificate_pem, &b.csr_pem).await {
        Ok(resp) => Ok(Json(resp)),
        Err(JoinError::Invalid(m)) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m)),
        Err(JoinError::Conflict(m)) => Err(ApiError::new(StatusCode::FORBIDDEN, "renewal_refused", m)),
        Err(JoinError::Token) => {
            Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", "renewal needs no token"))
        }
        Err(JoinError::Server(e)) => Err(e.into()),
    }
}

async fn list(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<CertificateList>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(CertificateList { certificates: server.certificates().await? }))
}

async fn revoke(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path(serial): Path<String>,
) -> Result<Json<SaveOutcome>, ApiError> {
    require(&caller, Role::Admin)?;
    Ok(Json(server.revoke(&serial, &caller.name).await?))
}

async fn trust(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    let author = caller.name.as_str();
    admin_change(
        &caller,
        &headers,
        &body,
        |b: TrustAdd| async move { server.trust_add(&b.pem, author).await },
    )
    .await
}

async fn trust_remove(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    let author = caller.name.as_str();
    admin_change(&caller, &headers, &body, |b: TrustRemove| async move {
        server.trust_remove(b.fingerprint.as_deref(), b.pem.as_deref(), b.force, author).await
    })
    .await
}
