//! `GET /ui/`: the overview (revision in force, site servers, agents, the live progress of
//! [`super::progress`]) and the button
//! "Update agent configuration" (`POST /ui/tasks/update-config`, operator), which calls
//! the same `Server` methods as `POST /v1/tasks`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::{Console, PageError, PageUser, Posted, render};
use crate::tokens::Role;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/", get(home)).route("/ui/tasks/update-config", post(update_config))
}

#[derive(askama::Template)]
#[template(path = "home.html")]
struct HomePage {
    user: Option<PageUser>,
    revision: i64,
    sites: usize,
    agents: usize,
    can_operate: bool,
    notice: Option<String>,
    /// The live part ([`super::progress`]), rendered.
    progress: String,
}

async fn page(
    console: &Console,
    user: &super::session::Session,
    notice: Option<String>,
) -> Result<Response, PageError> {
    let server = &console.server;
    let progress = askama::Template::render(&super::progress::Progress::now(console).await?)?;
    render(&HomePage {
        user: Some(user.into()),
        revision: server.revision(),
        sites: server.inventory.sites().len(),
        agents: server.inventory.agents().len(),
        can_operate: user.role >= Role::Operator,
        notice,
        progress,
    })
}

async fn home(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    page(&console, &s, None).await
}

async fn update_config(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, ip, .. } = console.posted(req, Role::Operator).await?;
    let server = &console.server;
    let (sites, agents) = match f.get("to") {
        "sites" => (Some(server.update_config_sites()), None),
        "agents" => (None, Some(server.update_config_agents())),
        _ => (Some(server.update_config_sites()), Some(server.update_config_agents())),
    };
    let body = json!({
        "Action": "update_config", "SubjectUserName": s.user, "IpAddress": ip.to_string(),
        "Sites": sites, "Agents": agents,
    });
    server.record_event("acc.console", "Audit Success", None, body).await;
    let notice = match (sites, agents) {
        (Some(s), Some(a)) => format!("Update agent configuration sent to {s} site servers and {a} agents."),
        (Some(s), None) => format!("Update agent configuration sent to {s} site servers."),
        (_, a) => format!("Update agent configuration sent to {} agents.", a.unwrap_or(0)),
    };
    page(&console, &s, Some(notice)).await
}
