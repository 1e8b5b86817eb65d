//! Global Site Server Settings (`/ui/settings/site-servers`): the checkboxes "Create the
//! Agent Connectivity Credential on Site Servers" and "Re-enable the created local account
//! if it has been locked out", the lockout mode and parameters, the refresh interval.
//! Saving calls `Server::save_site`, as `PUT /v1/settings/site` does.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use serde_json::{Map, Value, json};

use super::session::Session;
use super::{Console, Form, PageError, PageUser, Posted, render};
use crate::server::SaveError;
use crate::tokens::Role;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/settings/site-servers", get(show).post(save))
}

#[derive(askama::Template, Default)]
#[template(path = "settings_sites.html")]
struct SitesPage {
    user: Option<PageUser>,
    can_change: bool,
    create_acc: bool,
    reenable: bool,
    lockout_mode: String,
    threshold: String,
    reset_after: String,
    duration: String,
    refresh: String,
    notices: Vec<String>,
    warnings: Vec<String>,
    errors: Vec<String>,
}

fn page(console: &Console, s: &Session) -> SitesPage {
    let site = console.server.current().1.site;
    SitesPage {
        user: Some(s.into()),
        can_change: s.role >= Role::Admin,
        create_acc: site.create_acc_on_site_servers,
        reenable: site.reenable_locked_local_account,
        lockout_mode: site.mode.as_str().to_string(),
        threshold: site.threshold.to_string(),
        reset_after: site.reset_after.to_string(),
        duration: site.duration.to_string(),
        refresh: site.acc_refresh_interval.to_string(),
        ..SitesPage::default()
    }
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    render(&page(&console, &s))
}

/// The form as the patch `PUT /v1/settings/site` takes; a number that does not parse is
/// refused naming its field.
fn patch(f: &Form) -> Result<Map<String, Value>, String> {
    let mut patch = Map::new();
    patch.insert("create_acc_on_site_servers".into(), json!(f.ticked("create_acc_on_site_servers")));
    patch.insert("reenable_locked_local_account".into(), json!(f.ticked("reenable_locked_local_account")));
    match f.get("mode") {
        m @ ("classic" | "smart") => {
            patch.insert("mode".into(), json!(m));
        }
        other => return Err(format!("lockout mode '{other}': choose classic or smart")),
    }
    for (field, label) in [
        ("threshold", "Lockout threshold"),
        ("reset_after", "Reset counter after"),
        ("duration", "Lockout duration"),
        ("acc_refresh_interval", "Refresh interval"),
    ] {
        let text = f.get(field).trim();
        let n: u64 = text.parse().map_err(|_| format!("{label}: '{text}' is not a whole number"))?;
        patch.insert(field.into(), json!(n));
    }
    Ok(patch)
}

async fn save(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let mut p = page(&console, &s);
    let refused = |mut p: SitesPage, errors: Vec<String>| -> Result<Response, PageError> {
        p.errors = errors;
        p.create_acc = f.ticked("create_acc_on_site_servers");
        p.reenable = f.ticked("reenable_locked_local_account");
        for (field, value) in [
            ("threshold", &mut p.threshold),
            ("reset_after", &mut p.reset_after),
            ("duration", &mut p.duration),
            ("acc_refresh_interval", &mut p.refresh),
        ] {
            *value = f.get(field).to_string();
        }
        let mut resp = render(&p)?;
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        Ok(resp)
    };
    let patch = match patch(&f) {
        Ok(patch) => patch,
        Err(e) => return refused(p, vec![e]),
    };
    match console.server.save_site(&patch, &format!("{} (console)", s.user)).await {
        Ok(saved) => {
            p = page(&console, &s);
            p.notices.push(format!("Saved as policy revision {}: {}", saved.revision, saved.summary));
            p.warnings = saved.warnings;
            render(&p)
        }
        Err(SaveError::Refused(problems)) => refused(p, problems.into_iter().map(|x| x.message).collect()),
        Err(SaveError::Server(e)) => Err(e.into()),
    }
}
