//! Packages: `POST /v1/packages` (begin or resume an upload against a manifest),
//! `PUT /v1/packages/{name}/{version}/file?path=P&offset=N` (a chunk),
//! `POST /v1/packages/{name}/{version}/commit` (operator); `GET /v1/packages` (viewer);
//! `POST /v1/packages/{name}/assign` (admin, a revision); and for joined sites, with their
//! certificate: `GET /v1/site/packages/{name}/{version}/file?path=P&offset=N` (read as the
//! connectivity credential) and `POST /v1/site/packages` (their replication report).

use std::sync::Arc;

use acc_net::PeerInfo;
use acc_proto::admin::{
    ChunkReceived, PackageAssign, PackageCommitted, PackageList, SaveOutcome, UploadBegun,
};
use acc_proto::site::Recorded;
use acc_proto::{PackageManifest, PackageReport};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Json, Router};

use super::{ApiError, admin_change, parse_json, query_param, require};
use crate::packages::{MAX_CHUNK, PackageError};
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

impl From<PackageError> for ApiError {
    fn from(e: PackageError) -> Self {
        match e {
            PackageError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            PackageError::NotFound(m) => ApiError::not_found(m),
            PackageError::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "conflict", m),
            PackageError::Denied(d) => {
                ApiError::new(StatusCode::FORBIDDEN, "access_denied", d.package_refresh_message())
            }
            PackageError::Server(e) => e.into(),
        }
    }
}

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/packages", post(begin).get(list))
        .route("/v1/packages/{name}/{version}/file", put(chunk).layer(DefaultBodyLimit::max(MAX_CHUNK)))
        .route("/v1/packages/{name}/{version}/commit", post(commit))
        .route("/v1/packages/{name}/assign", post(assign))
}

/// Routes joined sites call with their certificate.
pub fn open_routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/site/packages/{name}/{version}/file", get(site_read))
        .route("/v1/site/packages", post(site_report))
}

fn offset_of(uri: &Uri) -> Result<u64, ApiError> {
    match query_param(uri, "offset") {
        None => Ok(0),
        Some(v) => v.parse().map_err(|_| ApiError::malformed(format!("offset '{v}' is not a number"))),
    }
}

fn path_of(uri: &Uri) -> Result<String, ApiError> {
    query_param(uri, "path").ok_or_else(|| ApiError::malformed("give the file as ?path=…"))
}

async fn begin(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<UploadBegun>, ApiError> {
    require(&caller, Role::Operator)?;
    let manifest: PackageManifest = parse_json(&headers, &body)?;
    Ok(Json(server.package_begin(manifest, &caller.name).await?))
}

async fn chunk(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path((name, version)): Path<(String, String)>,
    uri: Uri,
    body: Bytes,
) -> Result<Json<ChunkReceived>, ApiError> {
    require(&caller, Role::Operator)?;
    let received = server.package_chunk(&name, &version, &path_of(&uri)?, offset_of(&uri)?, body).await?;
    Ok(Json(ChunkReceived { received }))
}

async fn commit(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<PackageCommitted>, ApiError> {
    require(&caller, Role::Operator)?;
    let row = server.package_commit(&name, &version).await?;
    Ok(Json(PackageCommitted { name, version, files: row.manifest.files.len() }))
}

async fn list(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<PackageList>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(PackageList { packages: server.package_list() }))
}

async fn assign(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    let author = caller.name.as_str();
    admin_change(&caller, &headers, &body, |b: PackageAssign| async move {
        if b.all != b.sites.is_empty() {
            return Err(crate::server::SaveError::Refused(vec![crate::document::Problem::new(
                "package",
                "",
                "give the sites to assign to, or all (acc ctl package assign N --site S | --all)",
            )]));
        }
        let sites = b.sites.iter().map(|s| s.to_ascii_uppercase()).collect();
        server.package_assign(&name, b.version.as_deref(), sites, author).await
    })
    .await
}

async fn site_read(
    State(server): Srv,
    Path((name, version)): Path<(String, String)>,
    uri: Uri,
    req: Request,
) -> Result<Response, ApiError> {
    let site = super::fleet::site_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let (data, size) = server.package_read(&site, &name, &version, &path_of(&uri)?, offset_of(&uri)?).await?;
    let mut resp = data.into_response();
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/octet-stream"));
    resp.headers_mut().insert("acc-file-size", header::HeaderValue::from(size));
    Ok(resp)
}

async fn site_report(State(server): Srv, req: Request) -> Result<Json<Recorded>, ApiError> {
    let site = super::fleet::site_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let report: PackageReport = super::read_json(req).await?;
    server.package_report(&site, report).await?;
    Ok(Json(Recorded::OK))
}
