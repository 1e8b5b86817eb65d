//! Package sources and shares (`/ui/sources`): the three sources with their share-level
//! and file-level ACLs (`acc ctl share list`), the Read check of 3.2.3 for an ACC (the
//! check a credential save runs) with **Grant Read** (both levels where missing, one
//! revision, as the save's `--grant-read`), and a grant form (`acc ctl share grant`).
//! Viewers see; admins change, through the same `Server` methods as `/v1/shares`.

use std::sync::Arc;

use acc_core::acl::{GrantArgs, LevelVerdict};
use acc_core::credential_check::GenerationPhase;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};

use super::session::Session;
use super::{Console, PageError, PageUser, Posted, render};
use crate::server::{SaveError, SaveOutcome};
use crate::tokens::Role;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/ui/sources", get(show))
        .route("/ui/sources/grant-read", post(grant_read))
        .route("/ui/sources/grant", post(grant))
}

/// One ACE as listed.
struct AclRow {
    level: &'static str,
    object: String,
    kind: String,
    principal: String,
    right: String,
}

/// One package source with its ACEs at both levels.
struct SourceBlock {
    name: String,
    rows: Vec<AclRow>,
}

/// One source in the Read check.
struct CheckRow {
    source: &'static str,
    share_level: String,
    file_level: String,
    reads: bool,
}

/// The Read check's outcome for one ACC.
struct CheckView {
    principal: String,
    rows: Vec<CheckRow>,
    passes: bool,
}

#[derive(askama::Template, Default)]
#[template(path = "sources.html")]
struct SourcesPage {
    user: Option<PageUser>,
    can_admin: bool,
    check_user: String,
    check: Option<CheckView>,
    sources: Vec<SourceBlock>,
    notices: Vec<String>,
    errors: Vec<String>,
}

/// A level's verdict in words.
fn verdict(v: &LevelVerdict) -> String {
    match v {
        LevelVerdict::Granted => "Read".into(),
        LevelVerdict::NotGranted => "no Read".into(),
        LevelVerdict::Denied { on, principal } if on.is_root() => format!("Read denied to '{principal}'"),
        LevelVerdict::Denied { on, principal } => format!("Read denied to '{principal}' on '{on}'"),
    }
}

/// The page with the ACLs in force and the Read check for `check_user` (default: the
/// credential agents use now).
fn page(console: &Console, s: &Session, check_user: Option<&str>) -> SourcesPage {
    let server = &console.server;
    let doc = server.current().1;
    let check_user = check_user.map(str::trim).map(str::to_string).unwrap_or_else(|| {
        doc.generation_in(GenerationPhase::Active).map(|g| g.user_name.clone()).unwrap_or_default()
    });
    let mut errors = Vec::new();
    let check = if check_user.is_empty() {
        None
    } else {
        match server.read_check(&check_user) {
            Ok(c) => {
                let rows: Vec<CheckRow> = c
                    .sources
                    .iter()
                    .map(|(source, failure)| match failure {
                        None => CheckRow {
                            source: source.as_str(),
                            share_level: "Read".into(),
                            file_level: "Read".into(),
                            reads: true,
                        },
                        Some(f) => CheckRow {
                            source: source.as_str(),
                            share_level: verdict(&f.share_level),
                            file_level: verdict(&f.file_level),
                            reads: false,
                        },
                    })
                    .collect();
                let passes = rows.iter().all(|r| r.reads);
                Some(CheckView { principal: c.principal.to_string(), rows, passes })
            }
            Err(e) => {
                errors.push(e.to_string());
                None
            }
        }
    };
    let sources = server
        .share_views()
        .into_iter()
        .map(|v| {
            let ace = |level, object: &str, a: &acc_core::acl::AceView| AclRow {
                level,
                object: object.to_string(),
                kind: a.kind.clone(),
                principal: a.principal.clone(),
                right: format!("{} ({})", a.right, a.mask),
            };
            let mut rows: Vec<AclRow> = v.share_acl.iter().map(|a| ace("share", "-", a)).collect();
            for o in &v.file_acls {
                let object = if o.path.is_empty() { "/" } else { o.path.as_str() };
                rows.extend(o.aces.iter().map(|a| ace("file", object, a)));
            }
            SourceBlock { name: v.name, rows }
        })
        .collect();
    SourcesPage {
        user: Some(s.into()),
        can_admin: s.role >= Role::Admin,
        check_user,
        check,
        sources,
        errors,
        ..SourcesPage::default()
    }
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let check_user = crate::api::query_param(req.uri(), "user");
    let s = console.viewing(req.headers()).await?;
    render(&page(&console, &s, check_user.as_deref()))
}

/// The page after a change: its revision and what it granted, or the refusal (422).
fn after_save(
    console: &Console,
    s: &Session,
    check_user: &str,
    outcome: Result<SaveOutcome, SaveError>,
) -> Result<Response, PageError> {
    let mut p = page(console, s, Some(check_user));
    match outcome {
        Ok(saved) => {
            p.notices.push(format!("Saved as policy revision {}: {}", saved.revision, saved.summary));
            p.notices.extend(saved.granted.into_iter().map(|g| format!("Granted: {g}")));
            p.notices.extend(saved.warnings);
            render(&p)
        }
        Err(SaveError::Refused(problems)) => {
            p.errors.extend(problems.into_iter().map(|x| x.message));
            let mut resp = render(&p)?;
            *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
            Ok(resp)
        }
        Err(SaveError::Server(e)) => Err(e.into()),
    }
}

async fn grant_read(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let user = f.get("user").trim();
    let outcome = console.server.grant_acc_read(user, &format!("{} (console)", s.user)).await;
    after_save(&console, &s, user, outcome)
}

async fn grant(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let path = f.get("path").trim();
    let g = GrantArgs {
        target: acc_core::acl::AceTarget {
            share: f.get("share").to_string(),
            principal: f.get("principal").trim().to_string(),
            level: f.get("level").to_string(),
            path: (!path.is_empty()).then(|| path.to_string()),
        },
        right: f.get("right").to_string(),
    };
    let outcome = console.server.share_grant(&g, &format!("{} (console)", s.user)).await;
    after_save(&console, &s, f.get("check_user"), outcome)
}
