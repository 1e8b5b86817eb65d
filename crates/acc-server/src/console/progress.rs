//! The Home page's live part, also served alone at `/ui/live/progress` for htmx to poll
//! every 2 s: how far the revision in force has gone ("97/100 sites, 9,812/10,000 agents")
//! and the most recent lockouts (from `Server::lockouts`, as the Lockouts page).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::{Console, PageError};
use crate::lockouts::{DEFAULT_WINDOW_MS, Lockout};

/// The most lockouts shown on Home.
pub const RECENT: usize = 5;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/live/progress", get(live))
}

/// `n` with a comma every three digits: `9,812`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The revision progress and recent lockouts.
#[derive(askama::Template)]
#[template(path = "progress_live.html")]
pub struct Progress {
    revision: i64,
    sites_done: String,
    sites: String,
    agents_done: String,
    agents: String,
    lockouts: Vec<Lockout>,
}

impl Progress {
    /// The progress now.
    pub async fn now(console: &Console) -> Result<Progress, PageError> {
        let server = &console.server;
        let revision = server.revision();
        let (sites_done, sites) = {
            let sites = server.inventory.sites();
            (sites.values().filter(|s| s.applied_revision >= Some(revision)).count(), sites.len())
        };
        let (agents_done, agents) = {
            let agents = server.inventory.agents();
            (agents.values().filter(|a| a.state.revision >= revision).count(), agents.len())
        };
        let (lockouts, _) = server.recent_lockouts(server.now_ms() - DEFAULT_WINDOW_MS, RECENT).await?;
        Ok(Progress {
            revision,
            sites_done: thousands(sites_done),
            sites: thousands(sites),
            agents_done: thousands(agents_done),
            agents: thousands(agents),
            lockouts,
        })
    }
}

async fn live(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    if console.watching(req.headers()).await.is_none() {
        return Ok(super::signed_out_live(req.headers()));
    }
    Ok(Html(askama::Template::render(&Progress::now(&console).await?)?).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn thousands_are_separated_by_commas() {
        for (n, s) in [(0, "0"), (100, "100"), (9812, "9,812"), (10_000, "10,000"), (1_000_000, "1,000,000")]
        {
            assert_eq!(super::thousands(n), s);
        }
    }
}
