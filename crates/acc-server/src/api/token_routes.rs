//! The openings the token routes share: creating a site join, agent enrollment or node
//! token from its terms (`POST /v1/site-tokens`, `/v1/enroll-tokens`, `/v1/node-tokens`),
//! and answering a join the token's secret authenticates (`POST /v1/sites/join`,
//! `/v1/agent/enroll`, `/v1/nodes/join`) with the token's errors as HTTP.

use acc_proto::TokenKind;
use acc_proto::admin::{CreatedToken, TokenTerms};
use axum::Json;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};

use super::{ApiError, parse_json, require};
use crate::fleet::JoinError;
use crate::server::Caller;
use crate::tokens::Role;

/// The terms of a token to create, once `caller` holds `role` (an empty body: the defaults).
pub(super) fn terms(
    caller: &Caller,
    role: Role,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<TokenTerms, ApiError> {
    require(caller, role)?;
    if body.is_empty() { Ok(TokenTerms::default()) } else { parse_json(headers, body) }
}

/// The answer to a created token of `kind`, logged with its creator (never its secret).
pub(super) fn created(caller: &Caller, kind: TokenKind, token: String) -> Json<CreatedToken> {
    tracing::info!(by = %caller.name, kind = kind.as_str(), "Token created.");
    Json(CreatedToken { token })
}

/// The answer to a join by token: an unusable token is 401 with `unusable` (which says
/// how to get a new one), a bad request 422, a conflict 409.
pub(super) fn joined<T>(result: Result<T, JoinError>, unusable: &str) -> Result<Json<T>, ApiError> {
    match result {
        Ok(resp) => Ok(Json(resp)),
        Err(JoinError::Token) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", unusable)),
        Err(JoinError::Invalid(m)) => Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m)),
        Err(JoinError::Conflict(m)) => Err(ApiError::new(StatusCode::CONFLICT, "conflict", m)),
        Err(JoinError::Server(e)) => Err(e.into()),
    }
}
