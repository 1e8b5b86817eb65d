//! `GET|POST /ui/signin` and `POST /ui/signout`. The sign-in form carries the token of
//! its own cookie (no session yet); failures count in [`super::limit`] per user name and
//! per address; each sign-in, failure and sign-out is an `acc.console` event with the user
//! and the address.

use std::sync::Arc;

use acc_core::password::Secret;
use acc_core::time::Timestamp;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::json;

use super::limit::{self, Decision};
use super::session::{ABSOLUTE_MS, Session};
use super::{
    Console, Form, PageError, PageUser, Posted, SESSION_COOKIE, SIGNIN_COOKIE, cookie, peer_ip, render,
    same_token, set_cookie,
};

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/signin", get(page).post(sign_in)).route("/ui/signout", post(sign_out))
}

#[derive(askama::Template)]
#[template(path = "signin.html")]
struct SignInPage<'a> {
    user: Option<PageUser>,
    csrf: &'a str,
    name: &'a str,
    error: Option<String>,
}

/// The sign-in page with a fresh form token in its cookie.
fn form(status: StatusCode, name: &str, error: Option<String>) -> Result<Response, PageError> {
    let token = crate::tokens::new_token("f")?;
    let mut resp = render(&SignInPage { user: None, csrf: &token, name, error })?;
    *resp.status_mut() = status;
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(SIGNIN_COOKIE, &token, None));
    Ok(resp)
}

async fn page(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    if console.session(req.headers()).await.is_some() {
        return Ok(Redirect::to("/ui/").into_response());
    }
    form(StatusCode::OK, "", None)
}

async fn sign_in(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let (parts, body) = req.into_parts();
    let ip = peer_ip(&parts.extensions);
    let f = Form::read(body).await?;
    let expected = cookie(&parts.headers, SIGNIN_COOKIE).unwrap_or_default();
    if !same_token(f.get("csrf"), &expected) {
        return form(
            StatusCode::FORBIDDEN,
            "",
            Some("The sign-in form expired; enter your user name and password again.".into()),
        );
    }
    let (name, password) = (f.get("user").trim(), Secret::new(f.get("password")));
    let server = &console.server;
    let now = || Timestamp(server.now_ms());
    let verify = async {
        if name.is_empty() || password.is_empty() {
            Ok(None)
        } else {
            server.verify_user(name, &password).await
        }
    };
    let user = match limit::sign_in(&console.limiter, name, ip, now, verify).await? {
        Decision::SignedIn(user) => user,
        Decision::Refused(refusal) => {
            event(&console, "sign_in_refused", name, &ip.to_string(), "Audit Failure").await;
            return form(StatusCode::TOO_MANY_REQUESTS, name, Some(refusal.to_string()));
        }
        Decision::Failed(refusal) => {
            event(&console, "sign_in_failed", name, &ip.to_string(), "Audit Failure").await;
            let message =
                refusal.map_or_else(|| "The user name or password is incorrect.".into(), |r| r.to_string());
            return form(StatusCode::UNAUTHORIZED, name, Some(message));
        }
    };
    let token = crate::tokens::new_token("s")?;
    let at = server.now_ms();
    let session = Session {
        user: user.name.clone(),
        role: user.role,
        csrf: crate::tokens::new_token("c")?,
        address: ip.to_string(),
        created_ms: at,
        last_ms: at,
    };
    let (idle, created) = super::session::purge_bounds(at);
    crate::store::purge_sessions(&server.pool, idle, created).await?;
    crate::store::put_session(&server.pool, &crate::tokens::digest_hex(&token), &session).await?;
    event(&console, "sign_in", &user.name, &ip.to_string(), "Audit Success").await;
    let mut resp = Redirect::to("/ui/").into_response();
    let age = u64::try_from(ABSOLUTE_MS / 1000).unwrap_or(0);
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, &token, Some(age)));
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(SIGNIN_COOKIE, "", Some(0)));
    Ok(resp)
}

async fn sign_out(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { session, digest, ip, .. } = console.posted(req, crate::tokens::Role::Viewer).await?;
    crate::store::delete_session(&console.server.pool, &digest).await?;
    event(&console, "sign_out", &session.user, &ip.to_string(), "Audit Success").await;
    let mut resp = Redirect::to("/ui/signin").into_response();
    resp.headers_mut().append(header::SET_COOKIE, set_cookie(SESSION_COOKIE, "", Some(0)));
    Ok(resp)
}

/// One `acc.console` event about a sign-in.
async fn event(console: &Console, action: &str, user: &str, address: &str, keywords: &str) {
    let body = json!({ "Action": action, "TargetUserName": user, "IpAddress": address });
    let target = (!user.is_empty()).then_some(user);
    console.server.record_event("acc.console", keywords, target, body).await;
}
