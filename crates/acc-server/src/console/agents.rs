//! Agents (`/ui/agents?q=TEXT&page=N`): the inventory, searched by host name and paged
//! ([`PAGE`] per page): site server, revision, auth mode, credential generation,
//! certificate expiry, `policy_failed`, cloned identities, last check-in. Read-only.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;

use super::{Console, PageError, PageUser, render, utc};

/// Agents per page.
pub const PAGE: usize = 50;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/agents", get(show))
}

struct Row {
    host: String,
    site: String,
    revision: i64,
    mode: &'static str,
    generation: String,
    expires: String,
    failed: String,
    cloned: String,
    last: String,
}

#[derive(askama::Template)]
#[template(path = "agents.html")]
struct AgentsPage {
    user: Option<PageUser>,
    query: String,
    total: usize,
    matched: usize,
    first: usize,
    last: usize,
    rows: Vec<Row>,
    previous: Option<String>,
    next: Option<String>,
}

/// The link to page `page` of the search `query`.
fn link(query: &str, page: usize) -> String {
    let q: String = form_urlencoded::byte_serialize(query.as_bytes()).collect();
    format!("/ui/agents?q={q}&page={page}")
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    let uri = req.uri();
    let query = crate::api::query_param(uri, "q").unwrap_or_default().trim().to_lowercase();
    let page = crate::api::query_param(uri, "page").and_then(|p| p.parse::<usize>().ok()).unwrap_or(1).max(1);
    let agents = console.server.inventory.agents();
    let total = agents.len();
    let matching = || agents.values().filter(|a| a.name.contains(&query));
    let matched = matching().count();
    let rows: Vec<Row> = matching()
        .skip((page - 1).saturating_mul(PAGE))
        .take(PAGE)
        .map(|a| Row {
            host: a.name.clone(),
            site: a.state.site_server.clone().unwrap_or_default(),
            revision: a.state.revision,
            mode: a.state.auth_mode.as_str(),
            generation: a.state.generation.map(|g| g.to_string()).unwrap_or_default(),
            expires: a.cert_not_after.map(utc).unwrap_or_default(),
            failed: a.state.failed_revision.map(|r| format!("revision {r}")).unwrap_or_default(),
            cloned: a.duplicate.clone().unwrap_or_default(),
            last: utc(a.last_check_in),
        })
        .collect();
    drop(agents);
    let first = (page - 1) * PAGE + 1;
    let last = first + rows.len().saturating_sub(1);
    let page_view = AgentsPage {
        user: Some((&s).into()),
        previous: (page > 1).then(|| link(&query, page - 1)),
        next: (page * PAGE < matched).then(|| link(&query, page + 1)),
        query,
        total,
        matched,
        first,
        last,
        rows,
    };
    render(&page_view)
}
