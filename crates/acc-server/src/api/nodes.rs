//! The management server nodes: `GET /v1/nodes` (viewer) and `DELETE /v1/nodes/{name}`
//! (admin), each answering the nodes as they now are ([`acc_proto::admin::NodeList`]).

use std::sync::Arc;

use acc_proto::admin::NodeList;
use axum::extract::{Path, State};
use axum::routing::{delete, get};
use axum::{Extension, Json, Router};

use super::{ApiError, require};
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new().route("/v1/nodes", get(list)).route("/v1/nodes/{name}", delete(remove))
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
