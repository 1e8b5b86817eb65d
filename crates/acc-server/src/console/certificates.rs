//! Certificates (`/ui/certificates`): agent enrollment tokens (created with a lifetime and
//! shown once, then listed by their terms), the certificates the fleet CA issued with
//! **Revoke** behind a confirmation, the trusted operator CAs (paste a PEM, remove one) and
//! the CRL each site server enforces with its age — what `acc ctl enroll-token create`,
//! `acc ctl cert list|revoke`, `acc ctl trust add|remove` and `acc ctl sites` do, through
//! the same `Server` methods and roles (tokens: operator; revoke and trust: admin).

use std::sync::Arc;

use acc_proto::TokenKind;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::json;

use super::session::Session;
use super::{Console, PageError, PageUser, Posted, render, utc};
use crate::server::{SaveError, SaveOutcome};
use crate::tokens::Role;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/ui/certificates", get(show))
        .route("/ui/certificates/enroll-token", post(create_token))
        .route("/ui/certificates/revoke", post(revoke))
        .route("/ui/certificates/trust", post(trust_add))
        .route("/ui/certificates/trust/remove", post(trust_remove))
}

/// An enrollment token as listed.
struct TokenRow {
    id: String,
    created: String,
    expires: String,
    uses_left: i64,
    reenroll: bool,
    state: &'static str,
}

/// An issued certificate as listed.
struct CertRow {
    serial: String,
    kind: &'static str,
    name: String,
    issued: String,
    expires: String,
    /// Empty when in force.
    revoked: String,
}

/// A trusted operator CA.
struct TrustRow {
    subject: String,
    fingerprint: String,
}

/// The CRL a site server enforces.
struct CrlRow {
    site: String,
    age: String,
    next_update: String,
}

/// The revocation awaiting confirmation.
struct Confirm {
    serial: String,
    name: String,
    kind: &'static str,
}

#[derive(askama::Template, Default)]
#[template(path = "certificates.html")]
struct CertificatesPage {
    user: Option<PageUser>,
    can_operate: bool,
    can_admin: bool,
    /// A token just created: shown this once.
    created_token: Option<String>,
    ttl: String,
    uses: String,
    tokens: Vec<TokenRow>,
    certs: Vec<CertRow>,
    trust: Vec<TrustRow>,
    crls: Vec<CrlRow>,
    confirm: Option<Confirm>,
    notices: Vec<String>,
    errors: Vec<String>,
}

/// The page as it stands.
async fn page(console: &Console, s: &Session) -> Result<CertificatesPage, PageError> {
    let server = &console.server;
    let now = server.now_ms();
    let tokens = server
        .enrollment_tokens()
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id,
            created: utc(t.terms.created_at),
            expires: utc(t.terms.expires_at),
            uses_left: t.terms.uses,
            reenroll: t.terms.supersede,
            state: if t.terms.expires_at <= now {
                "expired"
            } else if t.terms.uses <= 0 {
                "used up"
            } else {
                "valid"
            },
        })
        .collect();
    let certs = server
        .certificates()
        .await?
        .into_iter()
        .rev()
        .map(|c| CertRow {
            serial: c.serial,
            kind: c.kind.as_str(),
            name: c.name,
            issued: utc(c.issued_at),
            expires: utc(c.not_after),
            revoked: c.revoked_at.map(utc).unwrap_or_default(),
        })
        .collect();
    let doc = server.current().1;
    let trust = doc
        .trust
        .iter()
        .map(|t| TrustRow { subject: t.subject.clone(), fingerprint: t.fingerprint.clone() })
        .collect();
    let crls = server
        .inventory
        .sites()
        .values()
        .map(|r| {
            let v = r.view();
            CrlRow {
                site: v.name.clone(),
                age: v.crl_age(now),
                next_update: v.crl_next_update_ms.map_or_else(|| "-".to_string(), utc),
            }
        })
        .collect();
    Ok(CertificatesPage {
        user: Some(s.into()),
        can_operate: s.role >= Role::Operator,
        can_admin: s.role >= Role::Admin,
        ttl: "24h".into(),
        uses: "1".into(),
        tokens,
        certs,
        trust,
        crls,
        ..CertificatesPage::default()
    })
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    render(&page(&console, &s).await?)
}

/// The page with `errors`, answered 422.
fn refused(mut p: CertificatesPage, errors: Vec<String>) -> Result<Response, PageError> {
    p.errors = errors;
    let mut resp = render(&p)?;
    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(resp)
}

/// The page after a policy change: its revision, or the refusal.
async fn after_save(
    console: &Console,
    s: &Session,
    outcome: Result<SaveOutcome, SaveError>,
) -> Result<Response, PageError> {
    match outcome {
        Ok(saved) => {
            let mut p = page(console, s).await?;
            p.notices.push(format!("Saved as policy revision {}: {}", saved.revision, saved.summary));
            p.notices.extend(saved.warnings);
            render(&p)
        }
        Err(SaveError::Refused(problems)) => {
            refused(page(console, s).await?, problems.into_iter().map(|p| p.message).collect())
        }
        Err(SaveError::Server(e)) => Err(e.into()),
    }
}

async fn create_token(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, ip, .. } = console.posted(req, Role::Operator).await?;
    let mut p = page(&console, &s).await?;
    p.ttl = f.get("ttl").trim().to_string();
    p.uses = f.get("uses").trim().to_string();
    let ttl = match acc_core::units::parse_secs(&p.ttl) {
        Ok(0) => return refused(p, vec!["Valid for: the lifetime must be above 0".into()]),
        Ok(t) => t,
        Err(e) => return refused(p, vec![format!("Valid for: {e}")]),
    };
    let uses = match p.uses.parse::<u32>() {
        Ok(n) if n > 0 => n,
        _ => {
            let e = format!("Uses: '{}' is not a whole number above 0", p.uses);
            return refused(p, vec![e]);
        }
    };
    let reenroll = f.ticked("reenroll");
    let token = console.server.create_join_token(TokenKind::Agent, ttl, uses, reenroll).await?;
    let body = json!({
        "Action": "enroll_token_create", "SubjectUserName": s.user, "IpAddress": ip.to_string(),
        "TtlSecs": ttl, "Uses": uses, "Reenroll": reenroll,
    });
    console.server.record_event("acc.console", "Audit Success", None, body).await;
    let mut p = page(&console, &s).await?;
    p.created_token = Some(token);
    render(&p)
}

async fn revoke(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let serial = f.get("serial").trim().to_string();
    if f.get("confirm") != "yes" {
        let mut p = page(&console, &s).await?;
        let wanted = serial.replace(':', "").to_ascii_uppercase();
        let Some(c) = p.certs.iter().find(|c| c.serial == wanted) else {
            return refused(
                p,
                vec![format!("certificate {serial}: the fleet CA issued no certificate with this serial")],
            );
        };
        p.confirm = Some(Confirm { serial: c.serial.clone(), name: c.name.clone(), kind: c.kind });
        return render(&p);
    }
    let outcome = console.server.revoke(&serial, &format!("{} (console)", s.user)).await;
    after_save(&console, &s, outcome).await
}

async fn trust_add(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let outcome = console.server.trust_add(f.get("pem"), &format!("{} (console)", s.user)).await;
    after_save(&console, &s, outcome).await
}

async fn trust_remove(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let author = format!("{} (console)", s.user);
    let outcome =
        console.server.trust_remove(Some(f.get("fingerprint")), None, f.ticked("force"), &author).await;
    after_save(&console, &s, outcome).await
}
