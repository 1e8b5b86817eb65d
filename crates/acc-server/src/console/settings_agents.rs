//! Global Agent Settings, tab Authentication (`/ui/settings/agents`): the radio buttons
//! "Use Application Credentials" / "Use these credentials", the credential and its
//! confirmation, the password policy, "Grant Read", "Save changes". Saving calls
//! `Server::save_auth`, as `PUT /v1/settings/auth` does; each refusal of the specification
//! is shown next to the field it is about. A save the impact check refuses (site servers or
//! agents left unable to connect) shows the check's counts and goes through only when
//! re-sent with the confirmation box ticked (`acc ctl settings auth set --force`).

use std::sync::Arc;

use acc_core::credential_check::GenerationPhase;
use acc_core::password::{PasswordMode, PasswordPolicy, Secret};
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use super::session::Session;
use super::{Console, PageError, PageUser, Posted, render};
use crate::document::{AuthMode, AuthRequest, Problem};
use crate::server::SaveError;
use crate::tokens::Role;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/settings/agents", get(show).post(save))
}

#[derive(askama::Template, Default)]
#[template(path = "settings_agents.html")]
struct AgentsPage {
    user: Option<PageUser>,
    can_change: bool,
    mode: String,
    user_name: String,
    policy: String,
    notices: Vec<String>,
    warnings: Vec<String>,
    user_name_errors: Vec<String>,
    password_errors: Vec<String>,
    share_errors: Vec<String>,
    other_errors: Vec<String>,
    /// The impact check's refusal (its counts and who): the save waits for a confirmation.
    impact: Option<String>,
}

/// The page with the settings in force.
fn page(console: &Console, s: &Session) -> AgentsPage {
    let (_, doc) = console.server.in_force();
    let user_name =
        doc.generation_in(GenerationPhase::Active).map(|g| g.user_name.clone()).unwrap_or_default();
    AgentsPage {
        user: Some(s.into()),
        can_change: s.role >= Role::Admin,
        mode: doc.auth.mode.as_str().to_string(),
        user_name,
        policy: doc.auth.password_policy.mode().as_str().to_string(),
        ..AgentsPage::default()
    }
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    render(&page(&console, &s))
}

/// Sorts refusals to the field they are about.
fn place(p: &mut AgentsPage, problems: Vec<Problem>) {
    for problem in problems {
        let list = match problem.field.as_str() {
            "user name" => &mut p.user_name_errors,
            "password" => &mut p.password_errors,
            "share access" => &mut p.share_errors,
            _ => &mut p.other_errors,
        };
        list.push(problem.message);
    }
}

async fn save(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let mode = match f.get("mode") {
        "credential" => AuthMode::Credential,
        "application" => AuthMode::Application,
        other => {
            return Err(PageError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("mode '{other}': choose Use Application Credentials or Use these credentials"),
            ));
        }
    };
    let policy = match f.get("password_policy") {
        "complexity" => Some(PasswordPolicy::for_mode(PasswordMode::Complexity)),
        "nist" => Some(PasswordPolicy::for_mode(PasswordMode::Nist)),
        _ => None,
    };
    let user_name = f.get("user_name").trim().to_string();
    let credential = mode == AuthMode::Credential && !f.get("password").is_empty();
    let req = AuthRequest {
        mode,
        user_name: credential.then(|| user_name.clone()),
        password: Secret::new(f.get("password")),
        confirmation: Secret::new(f.get("confirmation")),
        password_policy: policy,
        grant_read: f.ticked("grant_read"),
        force: f.ticked("force"),
    };
    let author = format!("{} (console)", s.user);
    let outcome = console.server.save_auth(req, &author).await;
    let mut p = page(&console, &s);
    match outcome {
        Ok(saved) => {
            p.notices.push(format!("Saved as policy revision {}: {}", saved.revision, saved.summary));
            p.notices.extend(saved.granted.into_iter().map(|g| format!("Granted: {g}")));
            p.warnings = saved.warnings;
            render(&p)
        }
        Err(SaveError::Refused(problems)) => {
            p.mode = mode.as_str().to_string();
            p.user_name = user_name;
            if let Some(policy) = policy {
                p.policy = policy.mode().as_str().to_string();
            }
            let (impact, problems): (Vec<Problem>, Vec<Problem>) =
                problems.into_iter().partition(|x| x.id == crate::impact::IMPACT_ID);
            p.impact = impact.into_iter().next().map(|x| {
                let text = x.message.strip_suffix(crate::impact::FORCE_HINT).unwrap_or(&x.message);
                text.strip_prefix("impact: this change would leave ").unwrap_or(text).to_string()
            });
            place(&mut p, problems);
            let mut resp = render(&p)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(SaveError::Server(e)) => Err(e.into()),
    }
}
