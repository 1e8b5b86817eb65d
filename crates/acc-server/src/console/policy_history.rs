//! Policy history (`/ui/policy`): the revisions, newest first, with who saved them, when,
//! and what changed (what `acc ctl policy history` lists). Read-only; any role.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::get;

use super::{Console, PageError, PageUser, render, utc};

/// The most revisions shown.
pub const SHOWN: i64 = 200;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/policy", get(show))
}

struct Row {
    number: i64,
    saved: String,
    author: String,
    summary: String,
}

#[derive(askama::Template)]
#[template(path = "policy_history.html")]
struct HistoryPage {
    user: Option<PageUser>,
    rows: Vec<Row>,
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    let revisions = crate::store::revisions(&console.server.pool, SHOWN).await?;
    let rows = revisions
        .into_iter()
        .map(|r| Row { number: r.number, saved: utc(r.created_at), author: r.author, summary: r.summary })
        .collect();
    render(&HistoryPage { user: Some((&s).into()), rows })
}
