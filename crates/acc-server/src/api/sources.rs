//! `GET /v1/shares` (viewer), `POST /v1/shares` (a new source), `POST /v1/shares/grant`
//! and `POST /v1/shares/revoke` (admin): the package sources and their two-level ACLs.

use std::sync::Arc;

use acc_core::acl::{AceTarget, GrantArgs};
use acc_proto::admin::{SaveOutcome, ShareAdd, ShareList};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::{ApiError, admin_change, require};
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// The routes of this module (authenticated by the caller).
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/shares", get(list).post(add))
        .route("/v1/shares/grant", post(grant))
        .route("/v1/shares/revoke", post(revoke))
}

async fn list(State(server): Srv, Extension(caller): Extension<Caller>) -> Result<Json<ShareList>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(ShareList { shares: server.share_views() }))
}

async fn grant(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    let author = caller.name.as_str();
    admin_change(&caller, &headers, &body, |g: GrantArgs| async move { server.share_grant(&g, author).await })
        .await
}

async fn revoke(
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
        |t: AceTarget| async move { server.share_revoke(&t, author).await },
    )
    .await
}

async fn add(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    let author = caller.name.as_str();
    admin_change(&caller, &headers, &body, |b: ShareAdd| async move {
        server.share_add(&b.name, b.agents_read, author).await
    })
    .await
}
