//! Credential rotation (`/ui/rotation`): start a rotation (a new user name, its password
//! and confirmation, the grace period), each generation's phase, the site servers still
//! provisioning, and which agents still use the old credential; **Force switch** and
//! **Cancel**, each after a confirmation step. Starting calls `Server::save_credential`,
//! force-switch and cancel `Server::rotation_action`, as `acc ctl credential rotate` and
//! the `/v1/credential/*` routes do, with the same role (admin); each refusal of the
//! specification is shown next to the field it is about. The state part of the page is
//! also served alone at `/ui/rotation/live`, which the page polls with htmx every 2 s.

use std::sync::Arc;

use acc_core::generation::GenerationPhase;
use acc_core::password::Secret;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};

use super::session::Session;
use super::{Console, PageError, PageUser, Posted, render, utc};
use crate::document::{AuthMode, AuthRequest, Problem};
use crate::rotation::RotationAction;
use crate::server::SaveError;
use crate::tokens::Role;

/// The most agents listed as still using the old credential.
pub const LISTED: usize = 100;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/ui/rotation", get(show).post(start))
        .route("/ui/rotation/live", get(live))
        .route("/ui/rotation/force-switch", post(force_switch))
        .route("/ui/rotation/cancel", post(cancel))
}

struct GenerationRow {
    number: u32,
    user_name: String,
    phase: &'static str,
    saved: String,
    deadline: String,
}

struct AgentRow {
    host: String,
    site: String,
    credential: String,
    last: String,
}

/// The state of the rotation: the page's live part.
#[derive(askama::Template)]
#[template(path = "rotation_live.html")]
pub struct RotationLive {
    revision: i64,
    phase: &'static str,
    grace: u64,
    generations: Vec<GenerationRow>,
    provisioning: Option<acc_proto::admin::Provisioning>,
    /// The generation agents should hold: the provisioning one, else the active one.
    target: Option<String>,
    agents: usize,
    old_total: usize,
    old: Vec<AgentRow>,
}

impl RotationLive {
    /// The rotation now, from `Server::credential_status` and the agent inventory.
    pub fn now(console: &Console) -> RotationLive {
        let server = &console.server;
        let status = server.credential_status();
        let (_, doc) = server.in_force();
        let target = doc
            .generation_in(GenerationPhase::Provisioning)
            .or_else(|| doc.generation_in(GenerationPhase::Active))
            .map(|g| (g.number, g.user_name.clone()));
        let generations = status
            .generations
            .iter()
            .rev()
            .map(|g| GenerationRow {
                number: g.generation,
                user_name: g.user_name.clone(),
                phase: g.phase.as_str(),
                saved: utc(g.saved_at),
                deadline: g.retire_deadline.map(utc).unwrap_or_default(),
            })
            .collect();
        let agents = server.inventory.agents();
        let old_agents = || {
            agents.values().filter(|a| {
                target.as_ref().is_some_and(|(n, _)| {
                    a.state.auth_mode != acc_proto::AuthMode::Certificate && a.state.generation < Some(*n)
                })
            })
        };
        let old_total = old_agents().count();
        let old = old_agents()
            .take(LISTED)
            .map(|a| AgentRow {
                host: a.name.clone(),
                site: a.state.site_server.clone().unwrap_or_default(),
                credential: match (&a.state.user_name, a.state.generation) {
                    (Some(u), Some(g)) => format!("{u} (generation {g})"),
                    (Some(u), None) => u.clone(),
                    (None, Some(g)) => format!("generation {g}"),
                    (None, None) => a.state.auth_mode.as_str().to_string(),
                },
                last: utc(a.last_check_in),
            })
            .collect();
        let total = agents.len();
        drop(agents);
        RotationLive {
            revision: status.revision,
            phase: status.phase.as_str(),
            grace: status.rotation_grace,
            generations,
            provisioning: status.provisioning,
            target: target.map(|(n, u)| format!("generation {n} ({u})")),
            agents: total,
            old_total,
            old,
        }
    }
}

/// A force-switch or cancel waiting for its confirmation.
struct Confirm {
    path: &'static str,
    button: &'static str,
    text: String,
}

#[derive(askama::Template, Default)]
#[template(path = "rotation.html")]
struct RotationPage {
    user: Option<PageUser>,
    can_change: bool,
    live: String,
    provisioning: bool,
    user_name: String,
    grace: String,
    confirm: Option<Confirm>,
    notices: Vec<String>,
    warnings: Vec<String>,
    user_name_errors: Vec<String>,
    password_errors: Vec<String>,
    grace_errors: Vec<String>,
    share_errors: Vec<String>,
    other_errors: Vec<String>,
    action_errors: Vec<String>,
}

/// The page with the rotation now.
fn page(console: &Console, s: &Session) -> Result<RotationPage, PageError> {
    let live = RotationLive::now(console);
    Ok(RotationPage {
        user: Some(s.into()),
        can_change: s.role >= Role::Admin,
        provisioning: live.provisioning.is_some(),
        grace: live.grace.to_string(),
        live: askama::Template::render(&live)?,
        ..RotationPage::default()
    })
}

/// `page` with a 422 status when it shows a refusal.
fn answer(p: &RotationPage, refused: bool) -> Result<Response, PageError> {
    let mut resp = render(p)?;
    if refused {
        *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    }
    Ok(resp)
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    render(&page(&console, &s)?)
}

/// `GET /ui/rotation/live`: the state part alone, for htmx to swap in.
async fn live(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    if console.watching(req.headers()).await.is_none() {
        return Ok(super::signed_out_live(req.headers()));
    }
    Ok(Html(askama::Template::render(&RotationLive::now(&console))?).into_response())
}

/// Sorts refusals to the field they are about.
fn place(p: &mut RotationPage, problems: Vec<Problem>) {
    for problem in problems {
        let list = match (problem.field.as_str(), problem.id.as_str()) {
            ("user name", _) => &mut p.user_name_errors,
            ("password", _) => &mut p.password_errors,
            (_, "L-GRACE") => &mut p.grace_errors,
            ("share access", _) => &mut p.share_errors,
            _ => &mut p.other_errors,
        };
        list.push(problem.message);
    }
}

async fn start(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let user_name = f.get("user_name").trim().to_string();
    let grace_text = f.get("grace").trim().to_string();
    let mut p = page(&console, &s)?;
    p.user_name = user_name.clone();
    p.grace = grace_text.clone();
    let grace = match acc_core::units::parse_secs(&grace_text) {
        Ok(g) => g,
        Err(e) => {
            p.grace_errors.push(format!("Grace: {e}"));
            return answer(&p, true);
        }
    };
    let req = AuthRequest {
        mode: AuthMode::Credential,
        user_name: Some(user_name),
        password: Secret::new(f.get("password")),
        confirmation: Secret::new(f.get("confirmation")),
        password_policy: None,
        grant_read: f.ticked("grant_read"),
        force: false,
    };
    let author = format!("{} (console)", s.user);
    match console.server.save_credential(req, Some(grace), &author).await {
        Ok(saved) => {
            let mut p = page(&console, &s)?;
            p.notices.push(format!("Saved as policy revision {}: {}", saved.revision, saved.summary));
            p.notices.extend(saved.granted.into_iter().map(|g| format!("Granted: {g}")));
            p.warnings = saved.warnings;
            render(&p)
        }
        Err(SaveError::Refused(problems)) => {
            place(&mut p, problems);
            answer(&p, true)
        }
        Err(SaveError::Server(e)) => Err(e.into()),
    }
}

/// Force-switch or cancel: the confirmation step without `confirm=yes`, then the action.
async fn act(console: &Console, req: Request, action: RotationAction) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let mut p = page(console, &s)?;
    if f.get("confirm") != "yes" {
        let status = console.server.credential_status();
        let Some(prov) = status.provisioning else {
            p.action_errors.push(
                "rotation: no generation is provisioning; there is nothing to force-switch or cancel".into(),
            );
            return answer(&p, true);
        };
        let pending = if prov.pending_sites.is_empty() {
            "every site server has created it".to_string()
        } else {
            format!("site servers that have not created it: {}", prov.pending_sites.join(", "))
        };
        p.confirm = Some(match action {
            RotationAction::ForceSwitch => Confirm {
                path: "/ui/rotation/force-switch",
                button: "Confirm force switch",
                text: format!(
                    "Force switch to generation {} ({}) now? Agents move to it whatever the site servers acknowledged; \
                     agents of a site server without the account cannot connect until it creates it ({pending}).",
                    prov.generation, prov.user_name
                ),
            },
            RotationAction::Cancel => Confirm {
                path: "/ui/rotation/cancel",
                button: "Confirm cancel",
                text: format!(
                    "Cancel generation {} ({})? It is removed: site servers delete its account and its name \
                     is never accepted again ({pending}).",
                    prov.generation, prov.user_name
                ),
            },
        });
        return render(&p);
    }
    let author = format!("{} (console)", s.user);
    match console.server.rotation_action(action, &author).await {
        Ok(saved) => {
            let mut p = page(console, &s)?;
            p.notices.push(format!("Saved as policy revision {}: {}", saved.revision, saved.summary));
            render(&p)
        }
        Err(SaveError::Refused(problems)) => {
            p.action_errors.extend(problems.into_iter().map(|x| x.message));
            answer(&p, true)
        }
        Err(SaveError::Server(e)) => Err(e.into()),
    }
}

async fn force_switch(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    act(&console, req, RotationAction::ForceSwitch).await
}

async fn cancel(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    act(&console, req, RotationAction::Cancel).await
}
