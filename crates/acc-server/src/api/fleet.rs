//! Site servers: `POST /v1/site-tokens` (operator), `POST /v1/sites/join` (the join
//! token's secret is the credential), `GET /v1/sites` (viewer), and the routes a joined
//! site calls with its fleet client certificate: `GET /v1/site/policy?after=REV&wait=S`
//! (long-poll; 204 when nothing changed), `POST /v1/site/ack` and `POST /v1/site/events`;
//! and the search of every site's events, `GET /v1/events` (viewer).

use std::sync::Arc;
use std::time::Duration;

use acc_net::{PeerIdentity, PeerInfo};
use acc_proto::admin::{CreatedToken, LockoutList, SiteList};
use acc_proto::site::{EventsStored, Recorded};
use acc_proto::task::{TaskKind, TaskRequest, TaskSent, TaskTarget};
use acc_proto::{EventBatch, JoinRequest, JoinResponse, SiteAck, TokenKind};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};

use super::{ApiError, parse_json, query_param, require, token_routes};
use crate::fleet::JoinError;
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// Largest event batch body (1000 events of a few hundred bytes).
pub(super) const MAX_EVENT_BODY: usize = 4 * 1024 * 1024;

/// Routes for bearer-token callers.
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/site-tokens", post(create_token))
        .route("/v1/sites", get(list))
        .route("/v1/events", get(search_events))
        .route("/v1/lockouts", get(lockouts))
        .route("/v1/tasks", post(send_task))
}

/// Routes that authenticate otherwise (join secret, site certificate).
pub fn open_routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/sites/join", post(join))
        .route("/v1/site/policy", get(policy))
        .route("/v1/site/ack", post(ack))
        .route("/v1/site/events", post(forward_events))
}

/// Creates a `site` join or `agent` enrollment token from `{ttl_secs?, uses?}` (operator).
pub(super) async fn join_token(
    server: &Server,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
    kind: TokenKind,
    default_ttl: u64,
) -> Result<Json<CreatedToken>, ApiError> {
    let body = token_routes::terms(caller, Role::Operator, headers, body)?;
    if body.reenroll && kind != TokenKind::Agent {
        return Err(ApiError::malformed("reenroll applies to agent enrollment tokens only"));
    }
    let ttl = body.ttl_secs.unwrap_or(default_ttl);
    let token = server.create_join_token(kind, ttl, body.uses.unwrap_or(1), body.reenroll).await?;
    Ok(token_routes::created(caller, kind, token))
}

async fn create_token(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CreatedToken>, ApiError> {
    join_token(&server, &caller, &headers, &body, TokenKind::Site, 3600).await
}

async fn list(State(server): Srv, Extension(caller): Extension<Caller>) -> Result<Json<SiteList>, ApiError> {
    require(&caller, Role::Viewer)?;
    let (revision, _) = server.current();
    Ok(Json(SiteList {
        revision,
        sites: server.sites().iter().map(crate::sites::SiteRecord::view).collect(),
    }))
}

async fn join(State(server): Srv, headers: HeaderMap, body: Bytes) -> Result<Json<JoinResponse>, ApiError> {
    let req: JoinRequest = parse_json(&headers, &body)?;
    token_routes::joined(server.join(&req).await, &JoinError::Token.to_string())
}

/// The joined site whose fleet certificate this connection presented.
pub(super) fn site_of(req_peer: Option<&Arc<PeerInfo>>, server: &Server) -> Result<String, ApiError> {
    let refuse = |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m.to_string());
    let Some(PeerIdentity::Certificate { cn: Some(cn), serial_hex, .. }) = req_peer.map(|p| &p.identity)
    else {
        return Err(refuse(
            "this route needs a site server's client certificate from the fleet CA (acc site join)",
        ));
    };
    let site = server.site_for(cn, serial_hex).ok_or_else(|| {
        refuse("this certificate is not a joined site server's current one; run acc site join again")
    })?;
    if let Some(peer) = req_peer {
        peer.admission.authenticated();
    }
    Ok(site)
}

async fn policy(State(server): Srv, uri: Uri, req: Request) -> Result<Response, ApiError> {
    let site = site_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let number = |k: &str, default: u64| -> Result<u64, ApiError> {
        match query_param(&uri, k) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| ApiError::malformed(format!("{k} '{v}' is not a number"))),
        }
    };
    let after = i64::try_from(number("after", 0)?).unwrap_or(i64::MAX);
    let force = number("force", 0)?;
    let wait = Duration::from_secs(number("wait", 0)?);
    match server.wait_policy(&site, after, force, wait).await {
        Some(p) => Ok(Json(p).into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

async fn ack(State(server): Srv, req: Request) -> Result<Json<Recorded>, ApiError> {
    let site = site_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let ack: SiteAck = super::read_json(req).await?;
    server.acknowledge(&site, ack).await?;
    Ok(Json(Recorded::OK))
}

async fn forward_events(State(server): Srv, req: Request) -> Result<Json<EventsStored>, ApiError> {
    let site = site_of(req.extensions().get::<Arc<PeerInfo>>(), &server)?;
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), MAX_EVENT_BODY).await.map_err(|e| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("event batch: {e}; send at most 1000 events per request"),
        )
    })?;
    let batch: EventBatch = parse_json(&headers, &body)?;
    let stored = server.store_site_events(&site, &batch.events).await?;
    let last_seq = batch.events.iter().map(|e| e.seq).max();
    Ok(Json(EventsStored { stored, last_seq }))
}

/// The search of `GET /v1/events` from its query: `id`, `site`, `user`, `machine`,
/// `address`, `since_ms`,
/// `before_seq` (with `site`), `limit` (the newest N, default 1000) or `all=true`, and
/// `cursor` (a page's `next`).
fn event_filter(uri: &Uri) -> Result<crate::event_store::EventFilter, ApiError> {
    let number = |k: &str| -> Result<Option<i64>, ApiError> {
        query_param(uri, k)
            .map(|v| v.parse().map_err(|_| ApiError::malformed(format!("{k} '{v}' is not a number"))))
            .transpose()
    };
    let site = query_param(uri, "site").map(|s| s.to_ascii_uppercase());
    let before_seq = number("before_seq")?;
    if before_seq.is_some() && site.is_none() {
        return Err(ApiError::malformed("before_seq: sequence numbers are per site; give site too"));
    }
    let all = match query_param(uri, "all").as_deref() {
        None | Some("false") => false,
        Some("true") => true,
        Some(v) => return Err(ApiError::malformed(format!("all '{v}': give true or false"))),
    };
    let cursor = query_param(uri, "cursor")
        .map(|c| c.parse::<acc_proto::EventCursor>().map_err(|e| ApiError::malformed(e.to_string())))
        .transpose()?;
    Ok(crate::event_store::EventFilter {
        id: query_param(uri, "id"),
        site,
        user: query_param(uri, "user"),
        machine: query_param(uri, "machine"),
        address: query_param(uri, "address"),
        since_ms: number("since_ms")?,
        before_seq,
        limit: number("limit")?.unwrap_or(1000).max(1),
        all,
        cursor,
    })
}

async fn search_events(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Result<Json<acc_proto::EventPage>, ApiError> {
    require(&caller, Role::Viewer)?;
    Ok(Json(crate::event_store::search(&server.pool, &event_filter(&uri)?).await?))
}

async fn lockouts(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Result<Json<LockoutList>, ApiError> {
    require(&caller, Role::Viewer)?;
    let since_ms = match query_param(&uri, "since_ms") {
        Some(v) => v.parse().map_err(|_| ApiError::malformed(format!("since_ms '{v}' is not a number")))?,
        None => server.now_ms() - crate::lockouts::DEFAULT_WINDOW_MS,
    };
    Ok(Json(LockoutList { lockouts: server.lockouts(since_ms).await? }))
}

async fn send_task(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<TaskSent>, ApiError> {
    require(&caller, Role::Operator)?;
    let body: TaskRequest = parse_json(&headers, &body)?;
    let TaskKind::UpdateConfig = body.kind;
    let (sites, agents) = match body.to {
        TaskTarget::Sites => (server.update_config_sites(), 0),
        TaskTarget::Agents => (0, server.update_config_agents()),
        TaskTarget::All => (server.update_config_sites(), server.update_config_agents()),
    };
    tracing::info!(to = body.to.as_str(), sites, by = %caller.name, "update-config sent.");
    Ok(Json(TaskSent { kind: body.kind, sites, agents }))
}
