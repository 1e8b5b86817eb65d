//! Site servers (`/ui/site-servers`): each site with the revision it applied, its last
//! contact and its last error (what `acc ctl sites` lists). Read-only; any role.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;

use super::{Console, PageError, PageUser, render, utc};

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/site-servers", get(show))
}

struct Row {
    name: String,
    applied: String,
    last_contact: String,
    error: String,
}

#[derive(askama::Template)]
#[template(path = "site_servers.html")]
struct SitesPage {
    user: Option<PageUser>,
    revision: i64,
    rows: Vec<Row>,
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    let rows = console
        .server
        .inventory
        .sites()
        .values()
        .map(|r| Row {
            name: r.name.clone(),
            applied: r.applied_revision.map_or_else(|| "none yet".to_string(), |n| n.to_string()),
            last_contact: utc(r.last_contact),
            error: r.error.clone().unwrap_or_default(),
        })
        .collect();
    render(&SitesPage { user: Some((&s).into()), revision: console.server.revision(), rows })
}
