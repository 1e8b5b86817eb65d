//! Lockouts (`/ui/lockouts`): each lock or block of the last day with its culprit machine
//! and address, the revision its agent runs, the failures and what to do — the entries of
//! `acc ctl lockouts`, from the same [`Server::lockouts`](crate::server::Server::lockouts).
//! Read-only; any role.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;

use super::{Console, PageError, PageUser, render};
use crate::lockouts::{DEFAULT_WINDOW_MS, Lockout};

/// The most lockouts the page lists (the newest); `acc ctl lockouts` lists them all.
pub const SHOWN: usize = 200;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/lockouts", get(show))
}

#[derive(askama::Template)]
#[template(path = "lockouts.html")]
struct LockoutsPage {
    user: Option<PageUser>,
    revision: i64,
    rows: Vec<Lockout>,
    /// How many locks the day had (more than `rows` when the page shows only the newest).
    total: usize,
}

impl LockoutsPage {
    /// The revision the culprit's agent runs, as shown.
    fn agent_revision(l: &Lockout) -> String {
        l.agent_revision.map_or_else(|| "unknown agent".to_string(), |n| n.to_string())
    }
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    let server = &console.server;
    let (rows, total) = server.recent_lockouts(server.now_ms() - DEFAULT_WINDOW_MS, SHOWN).await?;
    render(&LockoutsPage { user: Some((&s).into()), revision: server.revision(), rows, total })
}
