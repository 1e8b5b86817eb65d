//! The management server nodes: `GET /v1/nodes` (viewer) and `DELETE /v1/nodes/{name}`
//! (admin), each answering the nodes as they now are ([`acc_proto::admin::NodeList`]);
//! `POST /v1/node-tokens` (admin: a one-use node token) and `POST /v1/nodes/join` (the
//! node token's secret is the credential).

use std::sync::Arc;

use acc_proto::admin::{CreatedToken, NodeList};
use acc_proto::{NodeJoinRequest, NodeJoinResponse, TokenKind};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};

use super::{ApiError, parse_json, require, token_routes};
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/nodes", get(list))
        .route("/v1/nodes/{name}", delete(remove))
        .route("/v1/node-tokens", post(create_token))
}

/// Routes the node token's secret authenticates.
pub fn open_routes() -> Router<Arc<Server>> {
    Router::new().route("/v1/nodes/join", post(join))
}

async fn create_token(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CreatedToken>, ApiError> {
    let terms = token_routes::terms(&caller, Role::Admin, &headers, &body)?;
    if terms.reenroll || terms.uses.is_some_and(|u| u != 1) {
        return Err(ApiError::malformed("a node token joins one node: give ttl_secs only"));
    }
    let token = server.create_node_token(terms.ttl_secs.unwrap_or(3600)).await?;
    Ok(token_routes::created(&caller, TokenKind::Node, token))
}

async fn join(
    State(server): Srv,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<NodeJoinResponse>, ApiError> {
    let req: NodeJoinRequest = parse_json(&headers, &body)?;
    token_routes::joined(
        server.join_node(&req).await,
        "the node token is unknown, expired or used up (or not a node token); create a new one with `acc ctl node-token create`",
    )
}

async fn list(State(server): Srv, Extension(caller): Extension<Caller>) -> Result<Json<NodeList>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(server.nodes().await?))
}

async fn remove(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<NodeList>, ApiError> {
    require(&caller, Role::Admin)?;
    server.remove_node(&name, &caller.name).await?;
    Ok(Json(server.nodes().await?))
}
