//! The console's users: `GET /v1/users` (admin), `POST /v1/users` (admin: a new user),
//! `DELETE /v1/users/{name}` and `PUT /v1/users/{name}/password` (admin). Each answers the
//! users as they now are ([`acc_proto::users::UserList`]).

use std::sync::Arc;

use acc_proto::users::{UserAdd, UserList, UserPassword};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, put};
use axum::{Extension, Json, Router};

use super::{ApiError, parse_json, require};
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/users", get(list).post(add))
        .route("/v1/users/{name}", axum::routing::delete(remove))
        .route("/v1/users/{name}/password", put(set_password))
}

async fn list(State(server): Srv, Extension(caller): Extension<Caller>) -> Result<Json<UserList>, ApiError> {
    require(&caller, Role::Admin)?;
    Ok(Json(server.users().await?))
}

async fn add(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UserList>, ApiError> {
    require(&caller, Role::Admin)?;
    let b: UserAdd = parse_json(&headers, &body)?;
    let role = Role::parse(&b.role).map_err(crate::ServerError::from)?;
    server.add_user(&b.name, role, &b.password, &caller.name).await?;
    Ok(Json(server.users().await?))
}

async fn remove(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
) -> Result<Json<UserList>, ApiError> {
    require(&caller, Role::Admin)?;
    server.remove_user(&name, &caller.name).await?;
    Ok(Json(server.users().await?))
}

async fn set_password(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UserList>, ApiError> {
    require(&caller, Role::Admin)?;
    let b: UserPassword = parse_json(&headers, &body)?;
    server.set_user_password(&name, &b.password, &caller.name).await?;
    Ok(Json(server.users().await?))
}
