//! Settings, policy revisions and API tokens: `GET /v1/settings`, `PUT
//! /v1/settings/auth`, `PUT /v1/settings/site`, `GET /v1/policy/revisions[/{n}]`, `GET
//! /v1/policy/diff`, `GET|POST /v1/tokens`.

use std::sync::Arc;

use acc_core::credential_check::GenerationPhase;
use acc_proto::admin::{
    ActiveCredential, ApiToken, ApiTokenRequest, AuthChange, CreatedApiToken, RevisionDiff, RevisionEntry,
    RevisionHistory, RevisionInfo, RevisionShown, SaveOutcome, SettingsView, SiteSettingsChange, TokenList,
};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::routing::get;
use axum::{Extension, Json, Router};
use serde_json::{Map, Value};

use super::{ApiError, admin_change, parse_json, query_param, require};
use crate::document::{self, AuthMode, AuthRequest, PolicyDocument};
use crate::server::{Caller, Server};
use crate::tokens::Role;

type Srv = State<Arc<Server>>;

/// The routes of this module (authenticated by the caller).
pub fn routes() -> Router<Arc<Server>> {
    Router::new()
        .route("/v1/settings", get(show))
        .route("/v1/settings/auth", axum::routing::put(set_auth))
        .route("/v1/settings/site", axum::routing::put(set_site))
        .route("/v1/policy/revisions", get(history))
        .route("/v1/policy/revisions/{number}", get(revision))
        .route("/v1/policy/diff", get(diff))
        .route("/v1/tokens", get(list_tokens).post(create_token))
}

/// The settings as `GET /v1/settings` and `acc ctl settings show` present them.
pub fn settings_view(server: &Server, revision: i64, doc: &PolicyDocument) -> SettingsView {
    let credential = doc
        .generation_in(GenerationPhase::Active)
        .map(|g| ActiveCredential { generation: g.number, user_name: g.user_name.clone() });
    let document = document::redacted(doc);
    SettingsView { revision, app_id: server.config().app_id_display(), credential, document }
}

async fn show(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<SettingsView>, ApiError> {
    require(&caller, Role::Viewer)?;
    let (revision, doc) = server.current();
    Ok(Json(settings_view(&server, revision, &doc)))
}

/// Parses an [`AuthChange`] and saves it; `mode` applies when the body names none.
pub(super) async fn save_auth_body(
    server: &Server,
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
    mode: Option<AuthMode>,
) -> Result<Json<SaveOutcome>, ApiError> {
    require(caller, Role::Admin)?;
    let body: AuthChange = parse_json(headers, body)?;
    let Some(mode) = body.mode.or(mode) else {
        return Err(ApiError::malformed("request body: give mode (application, credential or certificate)"));
    };
    let password = body.password.unwrap_or_default();
    let confirmation = body.confirmation.unwrap_or_else(|| password.clone());
    let req = AuthRequest {
        mode,
        user_name: body.user_name,
        password,
        confirmation,
        password_policy: body.password_policy,
        grant_read: body.grant_read,
        force: body.force,
    };
    Ok(Json(server.save_credential(req, body.grace_secs, &caller.name).await?))
}

async fn set_auth(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    save_auth_body(&server, &caller, &headers, &body, None).await
}

async fn set_site(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<SaveOutcome>, ApiError> {
    let author = caller.name.as_str();
    admin_change(&caller, &headers, &body, |change: SiteSettingsChange| async move {
        let patch = match serde_json::to_value(change) {
            Ok(Value::Object(patch)) => patch,
            _ => Map::new(),
        };
        server.save_site(&patch, author).await
    })
    .await
}

async fn history(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Result<Json<RevisionHistory>, ApiError> {
    require(&caller, Role::Viewer)?;
    let limit = match query_param(&uri, "limit") {
        None => 100,
        Some(v) => {
            v.parse::<i64>().map_err(|_| ApiError::malformed(format!("limit '{v}' is not a number")))?
        }
    };
    let rows = crate::store::revisions(server.pool(), limit.clamp(1, 10_000)).await?;
    // Acknowledgement progress: the sites and agents that run this revision or a later one.
    let applied: Vec<i64> = server.sites().iter().map(|s| s.applied_revision.unwrap_or(0)).collect();
    let agents = server.agents();
    let revisions = rows
        .into_iter()
        .map(|r| RevisionEntry {
            sites_acknowledged: applied.iter().filter(|a| **a >= r.number).count(),
            sites: applied.len(),
            agents_acknowledged: crate::agents::agents_at(&agents, r.number),
            agents: agents.len(),
            info: info(r),
        })
        .collect();
    Ok(Json(RevisionHistory { revisions }))
}

/// A stored revision's row as the API shows it.
fn info(r: crate::store::RevisionRow) -> RevisionInfo {
    RevisionInfo { number: r.number, created_at: r.created_at, author: r.author, summary: r.summary }
}

/// Revision `n`'s document, or 404 naming the range that exists.
async fn load(server: &Server, n: i64) -> Result<(crate::store::RevisionRow, PolicyDocument), ApiError> {
    let Some((row, text)) = crate::store::revision(server.pool(), n).await? else {
        let latest = server.revision();
        return Err(ApiError::not_found(format!("revision {n} does not exist; revisions are 1 to {latest}")));
    };
    let doc: PolicyDocument =
        serde_json::from_str(&text).map_err(|e| crate::ServerError::Invalid(format!("revision {n}: {e}")))?;
    Ok((row, doc))
}

async fn revision(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    Path(number): Path<String>,
) -> Result<Json<RevisionShown>, ApiError> {
    require(&caller, Role::Viewer)?;
    let n = parse_revision(&number)?;
    let (row, document) = load(&server, n).await?;
    Ok(Json(RevisionShown { info: info(row), document: document::redacted(&document) }))
}

fn parse_revision(text: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n >= 1)
        .ok_or_else(|| ApiError::malformed(format!("revision '{text}' is not a revision number (1, 2, 3 …)")))
}

async fn diff(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    uri: Uri,
) -> Result<Json<RevisionDiff>, ApiError> {
    require(&caller, Role::Viewer)?;
    let param = |k: &str| {
        query_param(&uri, k)
            .ok_or_else(|| ApiError::malformed(format!("give ?from=A&to=B; '{k}' is missing")))
    };
    let (a, b) = (parse_revision(&param("from")?)?, parse_revision(&param("to")?)?);
    let (_, da) = load(&server, a).await?;
    let (_, db) = load(&server, b).await?;
    Ok(Json(RevisionDiff { from: a, to: b, changes: document::diff_documents(&da, &db) }))
}

async fn create_token(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<CreatedApiToken>, ApiError> {
    require(&caller, Role::Admin)?;
    let body: ApiTokenRequest = parse_json(&headers, &body)?;
    let role = Role::parse(&body.role).map_err(crate::ServerError::from)?;
    let (token, row) = server.create_token(role, body.ttl_secs, &body.description).await?;
    tracing::info!(role = role.as_str(), description = %row.description, by = %caller.name, "API token created.");
    Ok(Json(CreatedApiToken { info: api_token(row), token }))
}

/// A stored token as the API shows it (never its digest).
fn api_token(t: crate::store::TokenRow) -> ApiToken {
    ApiToken { role: t.role, description: t.description, created_at: t.created_at, expires_at: t.expires_at }
}

async fn list_tokens(
    State(server): Srv,
    Extension(caller): Extension<Caller>,
) -> Result<Json<TokenList>, ApiError> {
    require(&caller, Role::Admin)?;
    Ok(Json(TokenList { tokens: server.tokens().into_iter().map(api_token).collect() }))
}
