//! The directory: `POST /v1/site/directory/logon` (a joined site forwards a domain-form
//! attempt, with its certificate); `GET /v1/directory` (viewer), `POST /v1/directory`
//! (admin: a new account) and `POST /v1/directory/{name}/unlock` (operator).

use std::sync::Arc;

use acc_net::PeerInfo;
use acc_proto::admin::{DirectoryAccountAdd, DirectoryAdded, DirectoryList, DirectoryUnlocked};
use acc_proto::{DirectoryAnswer, DirectoryLogon};
use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::{ApiError, parse_json, require};
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/directory", get(list).post(add))
        .route("/v1/directory/{name}/unlock", post(unlock))
}

/// Routes joined sites call with their certificate.
pub fn open_routes() -> Router<Arc<Server>> {
    Router::new().route("/v1/site/directory/logon", post(logon))
}

async fn logon(State(server): Srv, req: Request) -> Result<Json<DirectoryAnswer>, ApiError> {
    let site = super::fleet::site_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let logon: DirectoryLogon = super::read_json(req).await?;
    Ok(Json(server.directory_logon(&site, logon).await?))
}

async fn list(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<DirectoryList>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(DirectoryList { accounts: server.directory_list().await? }))
}

async fn add(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<DirectoryAdded>, ApiError> {
    require(&caller, Role::Admin)?;
    let b: DirectoryAccountAdd = parse_json(&headers, &body)?;
    server.directory_add(&b.name, b.password.expose(), &caller.name).await?;
    Ok(Json(DirectoryAdded { name: format!("{}\\{}", server.config().domain, b.name) }))
}

async fn unlock(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<DirectoryUnlocked>, ApiError> {
    require(&caller, Role::Operator)?;
    let unlocked = server.directory_unlock(&name, &caller.name).await?;
    Ok(Json(DirectoryUnlocked { name, unlocked }))
}
