//! The web console, `https://SERVER/ui/`, served by `acc server run` on the API's listener:
//! server-rendered pages (askama templates in `templates/`, checked at compile time),
//! assets embedded in the binary (`assets`), a strict Content-Security-Policy on every
//! answer (no inline script, nothing from another host). Pages call the same `Server`
//! methods as the `/v1` API and respect the same roles.
//!
//! - [`session`]: cookies, idle and absolute timeouts (pure);
//! - [`limit`]: sign-in failures rate limited by acc-core's lockout engine (classic mode);
//! - [`signin`]: sign-in and sign-out; [`home`]: the overview and "Update agent configuration";
//! - [`settings_agents`], [`settings_sites`]: Global Agent Settings (Authentication) and
//!   Global Site Server Settings; [`site_servers`], [`agents`] (search,
//!   paging), [`policy_history`], [`lockouts`], [`events`] (search,
//!   paging): read-only lists;
//! - [`certificates`]: enrollment tokens, issued certificates (revoke), trusted CAs, CRLs;
//! - [`sources`]: the package sources' ACLs, the Read check, Grant Read;
//! - [`packages`]: packages, their upload (with a progress bar), assignment and replication;
//! - [`progress`]: Home's live revision progress and recent lockouts;
//! - [`rotation`]: Credential rotation (start, force-switch, cancel; its state live);
//! - [`assets`]: the style sheet and htmx.
//!
//! Every state-changing form carries the session's CSRF token (the sign-in form a cookie's
//! token), compared in constant time; the session cookie is `Secure`, `HttpOnly`,
//! `SameSite=Strict`.

pub mod agents;
pub mod assets;
pub mod certificates;
pub mod events;
pub mod home;
pub mod limit;
pub mod lockouts;
pub mod packages;
pub mod policy_history;
pub mod progress;
pub mod rotation;
pub mod session;
pub mod settings_agents;
pub mod settings_sites;
pub mod signin;
pub mod site_servers;
pub mod sources;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;

use crate::server::Server;
use crate::tokens::Role;
use session::Session;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "acc_session";

/// The sign-in form's CSRF cookie.
pub const SIGNIN_COOKIE: &str = "acc_signin";

/// The largest form body accepted, bytes.
pub const MAX_FORM: usize = 16 * 1024;

/// The Content-Security-Policy of every console answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The console's state next to the server's.
pub struct Console {
    /// The management server.
    pub server: Arc<Server>,
    pub(crate) limiter: tokio::sync::Mutex<limit::SignInLimiter>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

type Shared = Arc<Console>;

/// The signed-in user as templates see it.
#[derive(Debug, Clone)]
pub struct PageUser {
    /// The user name.
    pub name: String,
    /// The role, as a word.
    pub role: &'static str,
    /// The session's CSRF token, for the forms of the page.
    pub csrf: String,
}

impl From<&Session> for PageUser {
    fn from(s: &Session) -> Self {
        PageUser { name: s.user.clone(), role: s.role.as_str(), csrf: s.csrf.clone() }
    }
}

/// A refusal or failure: to the sign-in page, or shown as a page.
#[derive(Debug)]
pub enum PageError {
    /// Not signed in, or the session ended.
    SignIn,
    /// A page with a status and one sentence (a missing CSRF token, a role too low, a failure).
    Page {
        /// The answer's status.
        status: StatusCode,
        /// The sentence shown.
        text: String,
    },
}

impl PageError {
    /// A page with `status` and one sentence.
    pub fn new(status: StatusCode, text: impl Into<String>) -> PageError {
        PageError::Page { status, text: text.into() }
    }
}

impl From<crate::ServerError> for PageError {
    fn from(e: crate::ServerError) -> Self {
        match e {
            crate::ServerError::Invalid(m) => PageError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            other => {
                tracing::error!(error = %other, "A console request failed.");
                PageError::new(StatusCode::INTERNAL_SERVER_ERROR, "The server failed; see its log.")
            }
        }
    }
}

impl From<askama::Error> for PageError {
    fn from(e: askama::Error) -> Self {
        tracing::error!(error = %e, "A console page could not be rendered.");
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The page could not be rendered; see the server's log.",
        )
    }
}

#[derive(askama::Template)]
#[template(path = "message.html")]
struct MessagePage<'a> {
    user: Option<PageUser>,
    heading: &'a str,
    text: &'a str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let PageError::Page { status, text } = self else {
            return Redirect::to("/ui/signin").into_response();
        };
        let heading = status.canonical_reason().unwrap_or("Error");
        let page = MessagePage { user: None, heading, text: &text };
        match askama::Template::render(&page) {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, text).into_response(),
        }
    }
}

/// A state-changing form taken ([`Console::posted`]): its fields, the session that sent
/// it, and the peer's address.
#[derive(Debug)]
pub struct Posted {
    /// The form's fields.
    pub form: Form,
    /// The sender's live session, of at least the role asked.
    pub session: Session,
    /// The digest keying the session in the store.
    pub digest: String,
    /// The peer's address.
    pub ip: IpAddr,
}

/// A time in Unix milliseconds as `2026-12-06 08:59:12` (UTC).
pub fn utc(ms: i64) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "-".to_string())
}

/// Renders a template as an HTML answer.
pub fn render<T: askama::Template>(t: &T) -> Result<Response, PageError> {
    Ok(Html(t.render()?).into_response())
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value: `Secure; HttpOnly; SameSite=Strict; Path=/ui`, ending with the
/// browser session unless `max_age` (seconds; 0 deletes it).
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>) -> HeaderValue {
    let age = max_age.map(|s| format!("; Max-Age={s}")).unwrap_or_default();
    let text = format!("{name}={value}; Path=/ui; Secure; HttpOnly; SameSite=Strict{age}");
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Whether two tokens are equal, in constant time.
pub fn same_token(a: &str, b: &str) -> bool {
    !a.is_empty() && aws_lc_rs::constant_time::verify_slices_are_equal(a.as_bytes(), b.as_bytes()).is_ok()
}

/// The answer to a signed-out request for a live part: htmx (`HX-Request`) is told to
/// load the sign-in page in place of the whole page (`HX-Redirect`), not to swap it into
/// the part; any other client is redirected.
pub fn signed_out_live(headers: &HeaderMap) -> Response {
    if headers.contains_key("hx-request") {
        ([("hx-redirect", "/ui/signin")], StatusCode::OK).into_response()
    } else {
        Redirect::to("/ui/signin").into_response()
    }
}

/// The peer's address (the TLS connection's), or the unspecified address in tests
/// without a listener.
pub fn peer_ip(req_ext: &axum::http::Extensions) -> IpAddr {
    req_ext.get::<Arc<acc_net::PeerInfo>>().map(|p| p.remote_addr.ip()).unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

/// A parsed `application/x-www-form-urlencoded` body.
#[derive(Debug, Default)]
pub struct Form(Vec<(String, String)>);

impl Form {
    /// Reads the request's form body (at most [`MAX_FORM`] bytes).
    pub async fn read(body: axum::body::Body) -> Result<Form, PageError> {
        let bytes = axum::body::to_bytes(body, MAX_FORM)
            .await
            .map_err(|_| PageError::new(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large."))?;
        Ok(Form(form_urlencoded::parse(&bytes).into_owned().collect()))
    }

    /// The first value of field `name`, or "".
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of field `name` (ticked checkboxes sharing a name).
    pub fn values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// Whether checkbox `name` is ticked.
    pub fn ticked(&self, name: &str) -> bool {
        self.0.iter().any(|(k, _)| k == name)
    }
}

impl Console {
    /// The console over `server`.
    pub fn new(server: Arc<Server>) -> Console {
        Console { server, limiter: Default::default() }
    }

    /// The request's live session (its idle time restarted), with the cookie's digest.
    /// A session whose user was removed, changed role or had its password set since the
    /// sign-in ends here.
    pub async fn session(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        self.find_session(headers, true).await
    }

    /// The live session of a page's own refresh (htmx polling a live part): as
    /// [`Console::session`], but its idle time is not restarted, so a page left open
    /// still ends after the idle timeout.
    pub async fn watching(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        self.find_session(headers, false).await
    }

    async fn find_session(&self, headers: &HeaderMap, touch: bool) -> Option<(String, Session)> {
        let token = cookie(headers, SESSION_COOKIE)?;
        let digest = crate::tokens::digest_hex(&token);
        let pool = &self.server.pool;
        let now = self.server.now_ms();
        let s = crate::store::get_session(pool, &digest).await.ok()??;
        if !session::live(&s, now) {
            let _ = crate::store::delete_session(pool, &digest).await;
            return None;
        }
        let users = crate::store::users(pool).await.ok()?;
        let key = s.user.to_lowercase();
        let current = users
            .iter()
            .any(|u| u.name_key == key && u.role == s.role && u.password_changed_at <= s.created_ms);
        if !current {
            let _ = crate::store::delete_session(pool, &digest).await;
            return None;
        }
        if touch && session::due_touch(&s, now) {
            crate::store::touch_session(pool, &digest, now).await.ok()?;
        }
        Some((digest, s))
    }

    /// The session of a page view: signed in, any role; else [`PageError::SignIn`] (to the
    /// sign-in page).
    pub async fn viewing(&self, headers: &HeaderMap) -> Result<Session, PageError> {
        self.session(headers).await.map(|(_, s)| s).ok_or(PageError::SignIn)
    }

    /// The session of a state-changing form (with its digest): signed in, the form's CSRF
    /// token matching, and at least `role`.
    pub async fn form_session(
        &self,
        headers: &HeaderMap,
        form: &Form,
        role: Role,
    ) -> Result<(String, Session), PageError> {
        let Some((digest, s)) = self.session(headers).await else {
            return Err(PageError::SignIn);
        };
        if !same_token(form.get("csrf"), &s.csrf) {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                "The form's security token is missing or stale; reload the page and try again.",
            ));
        }
        if s.role < role {
            return Err(PageError::new(
                StatusCode::FORBIDDEN,
                format!("This needs the {} role; you are {}.", role.as_str(), s.role.as_str()),
            ));
        }
        Ok((digest, s))
    }

    /// The opening of every state-changing form: reads the request's form body and takes
    /// it only from a live session with the form's CSRF token and at least `role`.
    pub async fn posted(&self, req: Request, role: Role) -> Result<Posted, PageError> {
        let (parts, body) = req.into_parts();
        let form = Form::read(body).await?;
        let (digest, session) = self.form_session(&parts.headers, &form, role).await?;
        Ok(Posted { form, session, digest, ip: peer_ip(&parts.extensions) })
    }
}

/// Security headers on every console answer, and `Server-Timing: app;dur=MS`: the time the
/// server spent on the page (what `acc bench console` reports).
async fn headers(req: Request, next: Next) -> Response {
    let started = std::time::Instant::now();
    let mut resp = next.run(req).await;
    let spent = format!("app;dur={:.3}", started.elapsed().as_secs_f64() * 1000.0);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&spent) {
        h.insert("server-timing", v);
    }
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

/// The `/ui` routes.
pub fn router(server: Arc<Server>) -> Router {
    let console: Shared = Arc::new(Console::new(server));
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .merge(signin::routes())
        .merge(home::routes())
        .merge(settings_agents::routes())
        .merge(settings_sites::routes())
        .merge(site_servers::routes())
        .merge(agents::routes())
        .merge(policy_history::routes())
        .merge(lockouts::routes())
        .merge(events::routes())
        .merge(certificates::routes())
        .merge(sources::routes())
        .merge(packages::routes())
        .merge(rotation::routes())
        .merge(progress::routes())
        .merge(assets::routes())
        .route(
            "/ui/{*rest}",
            get(|| async { PageError::new(StatusCode::NOT_FOUND, "There is no such page in the console.") }),
        )
        .with_state(console)
        .layer(middleware::from_fn(headers))
}

#[cfg(test)]
mod tests;
