//! `POST /v1/credential/rotate`, `POST /v1/credential/force-switch`, `POST
//! /v1/credential/cancel` (admin) and `GET /v1/credential/status` (viewer).

use std::sync::Arc;

use acc_proto::admin::{RotationStatus, SaveOutcome};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::{ApiError, require};
use crate::document::AuthMode;
use crate::rotation::RotationAction;
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// The routes of this module (authenticated by the caller).
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/credential/rotate", post(rotate))
        .route("/v1/credential/force-switch", post(force_switch))
        .route("/v1/credential/cancel", post(cancel))
        .route("/v1/credential/status", get(status))
}

async fn rotate(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    super::settings::save_auth_body(&server, &caller, &headers, &body, Some(AuthMode::Credential)).await
}

async fn action(
    server: &Server,
    caller: &Caller,
    action: RotationAction,
) -> Result<Json<SaveOutcome>, ApiError> {
    require(caller, Role::Admin)?;
    Ok(Json(server.rotation_action(action, &caller.name).await?))
}

async fn force_switch(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<SaveOutcome>, ApiError> {
    action(&server, &caller, RotationAction::ForceSwitch).await
}

async fn cancel(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<SaveOutcome>, ApiError> {
    action(&server, &caller, RotationAction::Cancel).await
}

async fn status(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<RotationStatus>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(server.credential_status()))
}
