//! The console's routes in-process (tower `oneshot`, no socket): the sign-in page's labels
//! and cookies, CSRF refusals, a wrong password, sessions and sign-out, the security headers.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use tower::ServiceExt;

use crate::init::init;
use crate::layout::Layout;
use crate::server::Server;
use crate::tokens::Role;

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn cookie(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(str::to_string)
    }
    fn cookie_value(&self, name: &str) -> String {
        let c = self.cookie(name).unwrap_or_default();
        c.split(';')
            .next()
            .unwrap_or_default()
            .split_once('=')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default()
    }
    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
    /// The value of the hidden `csrf` input of the page.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        self.body[at..].split('"').next().unwrap().to_string()
    }
}

async fn call(app: &axum::Router, method: &str, path: &str, cookie: &str, form: &str) -> Answer {
    call_with(app, method, path, cookie, form, &[]).await
}

/// [`call`] with further request headers.
async fn call_with(
    app: &axum::Router,
    method: &str,
    path: &str,
    cookie: &str,
    form: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut req = Request::builder().method(method).uri(path);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    if !cookie.is_empty() {
        req = req.header(header::COOKIE, cookie);
    }
    if method == "POST" {
        req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    }
    let resp = app.clone().oneshot(req.body(Body::from(form.to_string())).unwrap()).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = String::from_utf8_lossy(&body.collect().await.unwrap().to_bytes()).into_owned();
    Answer { status: parts.status, headers: parts.headers, body }
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn sign_in_sessions_csrf_and_sign_out() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server");
    init(&crate::init::tests::opts(&dir)).await.unwrap();
    let password = std::fs::read_to_string(Layout::new(&dir).admin_password()).unwrap();
    let password = password.trim_end();
    let server = Arc::new(Server::open(Layout::new(&dir)).await.unwrap());
    let app = super::router(server.clone());

    let home = call(&app, "GET", "/ui/", "", "").await;
    assert_eq!((home.status, home.location()), (StatusCode::SEE_OTHER, "/ui/signin"));
    assert_eq!(home.headers[header::CONTENT_SECURITY_POLICY], super::CSP);
    assert!(!super::CSP.contains("unsafe-inline") && !super::CSP.contains("http"));

    let page = call(&app, "GET", "/ui/signin", "", "").await;
    assert_eq!(page.status, StatusCode::OK);
    for label in [">User name</label>", ">Password</label>", ">Sign in</button>", "<label for=\"user\">"] {
        assert!(page.body.contains(label), "{label} in {}", page.body);
    }
    assert!(!page.body.contains("<script>") && !page.body.contains(" style="), "no inline script or style");
    let signin_cookie = page.cookie("acc_signin").unwrap();
    assert!(signin_cookie.contains("Secure; HttpOnly; SameSite=Strict"), "{signin_cookie}");
    let jar = format!("acc_signin={}", page.cookie_value("acc_signin"));
    let csrf = page.csrf();

    let forged =
        call(&app, "POST", "/ui/signin", "", &format!("user=admin&password={}", enc(password))).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "no form token: refused");
    assert!(forged.cookie("acc_session").is_none());

    let wrong =
        call(&app, "POST", "/ui/signin", &jar, &format!("csrf={csrf}&user=admin&password=nope")).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("The user name or password is incorrect."), "{}", wrong.body);

    let ok =
        call(&app, "POST", "/ui/signin", &jar, &format!("csrf={csrf}&user=admin&password={}", enc(password)))
            .await;
    assert_eq!((ok.status, ok.location()), (StatusCode::SEE_OTHER, "/ui/"), "{}", ok.body);
    let session = ok.cookie("acc_session").unwrap();
    assert!(session.contains("Path=/ui; Secure; HttpOnly; SameSite=Strict"), "{session}");
    let jar = format!("acc_session={}", ok.cookie_value("acc_session"));

    let home = call(&app, "GET", "/ui/", &jar, "").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Update agent configuration") && home.body.contains("admin (admin)"));
    let csrf = home.csrf();
    let no_token = call(&app, "POST", "/ui/tasks/update-config", &jar, "to=all").await;
    assert_eq!(no_token.status, StatusCode::FORBIDDEN, "a CSRF-less POST is refused");
    let sent = call(&app, "POST", "/ui/tasks/update-config", &jar, &format!("csrf={csrf}&to=all")).await;
    assert!(
        sent.body.contains("Update agent configuration sent to 0 site servers and 0 agents."),
        "{}",
        sent.body
    );

    let out = call(&app, "POST", "/ui/signout", &jar, &format!("csrf={csrf}")).await;
    assert_eq!((out.status, out.location()), (StatusCode::SEE_OTHER, "/ui/signin"));
    let after = call(&app, "GET", "/ui/", &jar, "").await;
    assert_eq!(after.status, StatusCode::SEE_OTHER, "the session ended");

    let events = crate::event_store::search(
        &server.pool,
        &crate::event_store::EventFilter { id: Some("acc.console".into()), all: true, ..Default::default() },
    )
    .await
    .unwrap();
    let actions: Vec<String> =
        events.events.iter().filter_map(|e| e["Action"].as_str().map(str::to_string)).collect();
    for a in ["sign_in_failed", "sign_in", "update_config", "sign_out"] {
        assert!(actions.iter().any(|x| x == a), "{a} in {actions:?}");
    }
}

/// A console on a fresh data directory, signed in as `admin`: the router and the cookie.
async fn signed_in(dir: &std::path::Path) -> (axum::Router, String, Arc<Server>) {
    init(&crate::init::tests::opts(dir)).await.unwrap();
    let password = std::fs::read_to_string(Layout::new(dir).admin_password()).unwrap();
    let server = Arc::new(Server::open(Layout::new(dir)).await.unwrap());
    let app = super::router(server.clone());
    let jar = sign_in(&app, "admin", password.trim_end()).await;
    (app, jar, server)
}

/// Signs `user` in through the sign-in form: the session cookie.
async fn sign_in(app: &axum::Router, user: &str, password: &str) -> String {
    let page = call(app, "GET", "/ui/signin", "", "").await;
    let jar = format!("acc_signin={}", page.cookie_value("acc_signin"));
    let form = format!("csrf={}&user={user}&password={}", page.csrf(), enc(password));
    let ok = call(app, "POST", "/ui/signin", &jar, &form).await;
    format!("acc_session={}", ok.cookie_value("acc_session"))
}

/// Seed 000 steps 1-4 through the pages: a weak password refused next to the field, the
/// App ID refused, `ACC_user` saved with Read granted, the two site server boxes ticked.
#[tokio::test]
async fn the_settings_pages_save_through_the_server_with_the_specification_messages() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let page = call(&app, "GET", "/ui/settings/agents", &jar, "").await;
    assert_eq!(page.status, StatusCode::OK);
    for label in [
        "> Use Application Credentials</label>",
        "> Use these credentials</label>",
        ">User name</label>",
        ">Password</label>",
        ">Confirm password</label>",
        "Grant Read",
        ">Save changes</button>",
        ">Authentication</",
    ] {
        assert!(page.body.contains(label), "{label}");
    }
    let csrf = page.csrf();
    let save = |user: &str, password: &str, extra: &str| {
        format!(
            "csrf={csrf}&mode=credential&user_name={}&password={p}&confirmation={p}&password_policy=complexity{extra}",
            enc(user),
            p = enc(password)
        )
    };
    let weak = call(&app, "POST", "/ui/settings/agents", &jar, &save("ACC_user", "weakpassword", "")).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = weak.body.find("id=\"password-errors\"").expect("the message next to Password");
    assert!(weak.body[at..].contains("password: missing an uppercase letter"), "{}", weak.body);
    let app_id = call(&app, "POST", "/ui/settings/agents", &jar, &save("CORP\\svc_acc_app", "x", "")).await;
    assert!(app_id.body.contains("is the App ID; do not enter it here"), "{}", app_id.body);
    assert_eq!(server.revision(), 1, "nothing refused is saved");

    let ok = call(
        &app,
        "POST",
        "/ui/settings/agents",
        &jar,
        &save("ACC_user", "Correct-Horse-Battery-42", "&grant_read=1"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert!(ok.body.contains("Saved as policy revision 2"), "{}", ok.body);
    let doc = server.current().1;
    assert_eq!(doc.generations.last().map(|g| g.user_name.as_str()), Some("ACC_user"));
    assert_eq!(doc.auth.mode.as_str(), "credential");

    let sites = call(&app, "GET", "/ui/settings/site-servers", &jar, "").await;
    for label in [
        "> Create the Agent Connectivity Credential on Site Servers</label>",
        "> Re-enable the created local account if it has been locked out</label>",
        ">Refresh interval (seconds)</label>",
    ] {
        assert!(sites.body.contains(label), "{label}");
    }
    let form = format!(
        "csrf={csrf}&create_acc_on_site_servers=1&reenable_locked_local_account=1&mode=classic&threshold=5&reset_after=600&duration=600&acc_refresh_interval=3600"
    );
    let saved = call(&app, "POST", "/ui/settings/site-servers", &jar, &form).await;
    assert!(saved.body.contains("Saved as policy revision 3"), "{}", saved.body);
    let site = server.current().1.site;
    assert!(site.create_acc_on_site_servers && site.reenable_locked_local_account);
    assert_eq!((site.mode.as_str(), site.threshold, site.acc_refresh_interval), ("classic", 5, 3600));
    let history = call(&app, "GET", "/ui/policy", &jar, "").await;
    assert_eq!(history.status, StatusCode::OK);
    assert!(
        history.body.contains("<td>3</td>") && history.body.contains("admin (console)"),
        "{}",
        history.body
    );
    let sites = call(&app, "GET", "/ui/site-servers", &jar, "").await;
    assert!(sites.body.contains("No site server has joined yet"), "{}", sites.body);
    let agents = call(&app, "GET", "/ui/agents?q=web&page=2", &jar, "").await;
    assert_eq!(agents.status, StatusCode::OK);
    assert!(
        agents.body.contains("0 of 0 agents.") && agents.body.contains("value=\"web\""),
        "{}",
        agents.body
    );
    assert!(agents.body.contains("Previous page") && !agents.body.contains("Next page"));
    let bad =
        call(&app, "POST", "/ui/settings/site-servers", &jar, &form.replace("threshold=5", "threshold=many"))
            .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.body.contains("Lockout threshold: &#39;many&#39; is not a whole number")
            || bad.body.contains("Lockout threshold: &#x27;many&#x27;"),
        "{}",
        bad.body
    );
}

/// A viewer sees the settings but cannot change them.
#[tokio::test]
async fn a_viewer_cannot_change_anything() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, admin, server) = signed_in(&tmp.path().join("server")).await;
    server
        .add_user(
            "vera",
            crate::tokens::Role::Viewer,
            &acc_core::password::Secret::new("tall blue giraffe walks"),
            "test",
        )
        .await
        .unwrap();
    drop(admin);
    let jar = sign_in(&app, "vera", "tall blue giraffe walks").await;
    let page = call(&app, "GET", "/ui/settings/site-servers", &jar, "").await;
    assert!(
        page.body.contains("Only an admin can change these settings.") && !page.body.contains("Save changes")
    );
    let form = format!(
        "csrf={}&mode=classic&threshold=5&reset_after=600&duration=600&acc_refresh_interval=3600",
        page.csrf()
    );
    let refused = call(&app, "POST", "/ui/settings/site-servers", &jar, &form).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("This needs the admin role; you are viewer."));
    let home = call(&app, "GET", "/ui/", &jar, "").await;
    assert!(!home.body.contains("Update agent configuration"), "viewers send no tasks");
    assert_eq!(server.revision(), 1);
    // Removing the user ends its open session.
    server.remove_user("vera", "test").await.unwrap();
    let gone = call(&app, "GET", "/ui/", &jar, "").await;
    assert_eq!((gone.status, gone.location()), (StatusCode::SEE_OTHER, "/ui/signin"));
}

#[tokio::test]
async fn assets_are_embedded_and_unknown_pages_are_404() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server");
    init(&crate::init::tests::opts(&dir)).await.unwrap();
    let app = super::router(Arc::new(Server::open(Layout::new(&dir)).await.unwrap()));
    let js = call(&app, "GET", "/ui/assets/htmx.min.js", "", "").await;
    assert_eq!(js.status, StatusCode::OK);
    assert!(js.body.starts_with("var htmx=function()"));
    assert_eq!(call(&app, "GET", "/ui/assets/../server.json", "", "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(call(&app, "GET", "/ui/nowhere", "", "").await.status, StatusCode::NOT_FOUND);
}

/// A stale agent's wrong passwords, decided by acc-core's lockout engine on a site and
/// stored as the site forwards them, show on the Lockouts page with the culprit, its
/// failures and the advice of `acc ctl lockouts`; a viewer sees it, and finds its events
/// on the Security events page.
#[tokio::test]
async fn a_stale_agents_lockout_is_on_the_lockouts_and_events_pages() {
    use acc_core::lockout::{Attempt, LockoutPolicy, PasswordHash, SiteIdentity, SiteState, Source};

    let tmp = tempfile::tempdir().unwrap();
    let (app, admin, server) = signed_in(&tmp.path().join("server")).await;
    let empty = call(&app, "GET", "/ui/lockouts", &admin, "").await;
    assert!(empty.body.contains("No lockout in the last 24 hours."), "{}", empty.body);

    let identity = SiteIdentity {
        computer: "SITE1".into(),
        site_id: "site1".into(),
        fleet_name: "fleet".into(),
        domain_sid: "S-1-5-21-0-0-1".into(),
    };
    let mut site = SiteState::new(identity);
    site.add_unmanaged_account("ACC_user", PasswordHash::new("-")).unwrap();
    let policy = LockoutPolicy::default();
    let stale = Source::new("10.0.0.7".parse().unwrap(), "STALE01");
    let mut written = Vec::new();
    for i in 0..policy.source_threshold {
        let now = acc_core::time::Timestamp(server.now_ms() - 60_000 + i64::from(i) * 1000);
        let r = site.authenticate(&policy, Attempt::password("ACC_user", stale.clone(), 0), now, |_| false);
        written.extend(r.events);
    }
    let failures = written.iter().filter(|e| e.id.to_string() == "4625").count();
    assert_eq!(failures, policy.source_threshold as usize);
    assert!(written.iter().any(|e| e.id.to_string() == "4740"), "the engine blocked the stale agent");
    let forwarded: Vec<acc_proto::ForwardedEvent> = site
        .stamp(written)
        .into_iter()
        .map(|s| acc_proto::ForwardedEvent {
            seq: i64::try_from(s.seq).unwrap(),
            event_id: s.event.id.to_string(),
            time_ms: s.event.time.millis(),
            target_user: Some("acc_user".into()),
            body: serde_json::to_value(&s).unwrap(),
        })
        .collect();
    crate::event_store::insert(&server.pool, &crate::event_store::site_origin("01"), "SITE1", &forwarded)
        .await
        .unwrap();

    server
        .add_user(
            "vera",
            crate::tokens::Role::Viewer,
            &acc_core::password::Secret::new("tall blue giraffe walks"),
            "test",
        )
        .await
        .unwrap();
    let viewer = sign_in(&app, "vera", "tall blue giraffe walks").await;
    let page = call(&app, "GET", "/ui/lockouts", &viewer, "").await;
    assert_eq!(page.status, StatusCode::OK);
    let found = server.lockouts(0).await.unwrap();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(server.recent_lockouts(0, 0).await.unwrap(), (vec![], 1), "none shown, one in all");
    assert_eq!(server.recent_lockouts(0, 5).await.unwrap(), (found.clone(), 1));
    assert!(!page.body.contains("lockouts-shown"), "all shown: no 'most recent of'");
    let advice =
        "the agent on STALE01 (10.0.0.7) presents a wrong or stale password for ACC_user".to_string();
    assert!(found[0].advice.starts_with(&advice), "{}", found[0].advice);
    for cell in [
        "<td>SITE1</td>".to_string(),
        "<td>ACC_user</td>".into(),
        "<td>source</td>".into(),
        "<td>STALE01</td>".into(),
        "<td>10.0.0.7</td>".into(),
        "<td>unknown agent</td>".into(),
        format!("<td>{failures}</td>"),
        "<td>locked</td>".into(),
        advice,
        "<a href=\"/ui/lockouts\">Lockouts</a>".into(),
    ] {
        assert!(page.body.contains(&cell), "{cell} in {}", page.body);
    }

    let events =
        call(&app, "GET", "/ui/events?id=4740&user=acc_USER&site=site1&since=1970-01-01T00:00", &viewer, "")
            .await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.body);
    for cell in [
        "<td>4740</td>",
        "<td>SITE1</td>",
        "<td>STALE01</td>",
        "<td>10.0.0.7</td>",
        "&#34;LockScope&#34;: &#34;source&#34;",
    ] {
        assert!(events.body.contains(cell), "{cell} in {}", events.body);
    }
    assert!(!events.body.contains("<td>4625</td>"), "only the event ID searched");
    let all = call(&app, "GET", "/ui/events?user=ACC_user", &viewer, "").await;
    assert_eq!(all.body.matches("<td>4625</td>").count(), failures, "{}", all.body);
    let none = call(&app, "GET", "/ui/events?site=SITE2", &viewer, "").await;
    assert!(none.body.contains("No event matches."), "{}", none.body);
    let bad = call(&app, "GET", "/ui/events?since=yesterday", &viewer, "").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Since &#39;yesterday&#39; is not a time"), "{}", bad.body);
}

/// The value inside the element with `id` (its text up to the next `<`).
fn element_text(body: &str, id: &str) -> String {
    let at = body.find(&format!("id=\"{id}\">")).unwrap_or_else(|| panic!("#{id} in {body}")) + id.len() + 6;
    body[at..].split('<').next().unwrap().to_string()
}

/// Certificates: an enrollment token created on the page (shown once, then listed by its
/// terms) enrolls a host; its certificate is revoked after a confirmation, a lab CA is
/// trusted and removed; a viewer sees all of it and changes none, a CSRF-less POST is
/// refused.
#[tokio::test]
async fn certificates_tokens_revoke_and_trust() {
    use acc_pki::key::{Curve, PrivateKey};
    use acc_pki::subject::Subject;

    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let page = call(&app, "GET", "/ui/certificates", &jar, "").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "No enrollment token yet.",
        "The fleet CA has issued no certificate yet.",
        "No operator CA is trusted.",
        ">Valid for</label>",
        ">Create enrollment token</button>",
        ">CA certificate (PEM)</label>",
    ] {
        assert!(page.body.contains(text), "{text} in {}", page.body);
    }
    let csrf = page.csrf();
    let bad =
        call(&app, "POST", "/ui/certificates/enroll-token", &jar, &format!("csrf={csrf}&ttl=soon&uses=1"))
            .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("Valid for: "), "{}", bad.body);
    let created =
        call(&app, "POST", "/ui/certificates/enroll-token", &jar, &format!("csrf={csrf}&ttl=2h&uses=1"))
            .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let token = element_text(&created.body, "created-token");
    let secret = acc_proto::JoinToken::decode(&token).unwrap().secret;
    assert!(created.body.contains("<td>1</td><td>no</td><td>valid</td>"), "{}", created.body);
    let again = call(&app, "GET", "/ui/certificates", &jar, "").await;
    assert!(!again.body.contains(&secret), "the token is shown once");

    let key = PrivateKey::generate(Curve::P256).unwrap();
    let csr = acc_pki::csr::build(&key, &Subject::parse("/CN=web01").unwrap(), &[]).unwrap();
    let req = acc_proto::EnrollRequest {
        secret,
        host_name: "web01".into(),
        csr_pem: acc_pki::pem::encode("CERTIFICATE REQUEST", &csr),
    };
    server.enroll(&req).await.unwrap();
    let serial = server.certificates().await.unwrap()[0].serial.clone();
    let listed = call(&app, "GET", "/ui/certificates", &jar, "").await;
    assert!(listed.body.contains("<td>agent</td><td>web01</td>"), "{}", listed.body);
    assert!(listed.body.contains("<td>0</td><td>no</td><td>used up</td>"), "{}", listed.body);
    assert!(listed.body.contains("aria-label=\"Revoke the certificate of agent web01\""));

    server
        .add_user("vera", Role::Viewer, &acc_core::password::Secret::new("tall blue giraffe walks"), "test")
        .await
        .unwrap();
    let viewer = sign_in(&app, "vera", "tall blue giraffe walks").await;
    let seen = call(&app, "GET", "/ui/certificates", &viewer, "").await;
    assert!(seen.body.contains("<td>web01</td>") && !seen.body.contains(">Revoke</button>"));
    assert!(seen.body.contains("Only an operator or an admin can create enrollment tokens."));
    let denied = call(
        &app,
        "POST",
        "/ui/certificates/revoke",
        &viewer,
        &format!("csrf={}&serial={serial}&confirm=yes", seen.csrf()),
    )
    .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(denied.body.contains("This needs the admin role; you are viewer."), "{}", denied.body);
    let forged =
        call(&app, "POST", "/ui/certificates/revoke", &jar, &format!("serial={serial}&confirm=yes")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a CSRF-less POST is refused");

    let ask =
        call(&app, "POST", "/ui/certificates/revoke", &jar, &format!("csrf={csrf}&serial={serial}")).await;
    assert!(ask.body.contains("Revoke the certificate of agent web01?"), "{}", ask.body);
    assert!(server.certificates().await.unwrap()[0].revoked_at.is_none(), "not before the confirmation");
    let done = call(
        &app,
        "POST",
        "/ui/certificates/revoke",
        &jar,
        &format!("csrf={csrf}&serial={serial}&confirm=yes"),
    )
    .await;
    assert!(done.body.contains("Saved as policy revision 2"), "{}", done.body);
    assert!(server.certificates().await.unwrap()[0].revoked_at.is_some());
    assert!(done.body.contains("revoked 20"), "{}", done.body);
    let twice = call(
        &app,
        "POST",
        "/ui/certificates/revoke",
        &jar,
        &format!("csrf={csrf}&serial={serial}&confirm=yes"),
    )
    .await;
    assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(twice.body.contains("is already revoked"), "{}", twice.body);

    let lab_key = PrivateKey::generate(Curve::P256).unwrap();
    let lab = acc_pki::x509::self_signed_ca(
        &lab_key,
        &Subject::parse("/CN=Lab CA").unwrap(),
        365,
        &[1],
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let pem = acc_pki::pem::encode("CERTIFICATE", &lab);
    let junk = call(&app, "POST", "/ui/certificates/trust", &jar, &format!("csrf={csrf}&pem=hello")).await;
    assert_eq!(junk.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(junk.body.contains("trust: "), "{}", junk.body);
    let trusted =
        call(&app, "POST", "/ui/certificates/trust", &jar, &format!("csrf={csrf}&pem={}", enc(&pem))).await;
    assert!(trusted.body.contains("Saved as policy revision 3"), "{}", trusted.body);
    assert!(trusted.body.contains("<td>CN=Lab CA</td>"), "{}", trusted.body);
    let fingerprint = server.current().1.trust[0].fingerprint.clone();
    let removed = call(
        &app,
        "POST",
        "/ui/certificates/trust/remove",
        &jar,
        &format!("csrf={csrf}&fingerprint={fingerprint}"),
    )
    .await;
    assert!(removed.body.contains("Saved as policy revision 4"), "{}", removed.body);
    assert!(server.current().1.trust.is_empty());
}

/// Package sources: the ACLs at both levels, the Read check of an ACC the seed's
/// administrator broke (no share-level Read on nscap), Grant Read fixing it in one
/// revision; the grant form; a viewer sees and cannot grant.
#[tokio::test]
async fn sources_read_check_and_grant_read() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let page = call(&app, "GET", "/ui/sources", &jar, "").await;
    assert_eq!(page.status, StatusCode::OK);
    for text in [
        "<caption>software-library</caption>",
        "<caption>nscap</caption>",
        "<caption>patch-downloads</caption>",
    ] {
        assert!(page.body.contains(text), "{text} in {}", page.body);
    }
    assert!(page.body.contains("<td>share</td><td>-</td><td>Allow</td><td>Agents</td>"), "{}", page.body);
    assert!(page.body.contains("<td>file</td><td>/</td><td>Allow</td><td>Agents</td>"), "{}", page.body);
    let target = acc_core::acl::AceTarget {
        share: "nscap".into(),
        principal: "Agents".into(),
        level: "share".into(),
        path: None,
    };
    server.share_revoke(&target, "test").await.unwrap();

    let check = call(&app, "GET", "/ui/sources?user=ACC_user", &jar, "").await;
    assert!(
        check.body.contains("<td>nscap</td><td>no Read</td><td>Read</td><td>cannot read</td>"),
        "{}",
        check.body
    );
    assert!(check.body.contains("<td>software-library</td><td>Read</td><td>Read</td><td>reads</td>"));
    assert!(check.body.contains(">Grant Read</button>"), "{}", check.body);
    let csrf = check.csrf();

    server
        .add_user("vera", Role::Viewer, &acc_core::password::Secret::new("tall blue giraffe walks"), "test")
        .await
        .unwrap();
    let viewer = sign_in(&app, "vera", "tall blue giraffe walks").await;
    let seen = call(&app, "GET", "/ui/sources?user=ACC_user", &viewer, "").await;
    assert!(seen.body.contains("cannot read") && !seen.body.contains(">Grant Read</button>"));
    assert!(seen.body.contains("Only an admin can change the package sources' ACLs."), "{}", seen.body);
    let denied =
        call(&app, "POST", "/ui/sources/grant-read", &viewer, &format!("csrf={}&user=ACC_user", seen.csrf()))
            .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let forged = call(&app, "POST", "/ui/sources/grant-read", &jar, "user=ACC_user").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a CSRF-less POST is refused");
    assert_eq!(server.revision(), 2, "nothing granted yet");

    let granted =
        call(&app, "POST", "/ui/sources/grant-read", &jar, &format!("csrf={csrf}&user=ACC_user")).await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    assert!(granted.body.contains("Saved as policy revision 3"), "{}", granted.body);
    assert!(
        granted.body.contains("Granted: allow Read to &#39;ACC_user&#39; on share nscap"),
        "{}",
        granted.body
    );
    assert!(granted.body.contains("'ACC_user' can read every package source."), "{}", granted.body);
    let again =
        call(&app, "POST", "/ui/sources/grant-read", &jar, &format!("csrf={csrf}&user=ACC_user")).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.body.contains("already reads every package source"), "{}", again.body);

    let form = format!(
        "csrf={csrf}&share=patch-downloads&principal={}&level=file&path=&right=change",
        enc("CORP\\packagers")
    );
    let grant = call(&app, "POST", "/ui/sources/grant", &jar, &form).await;
    assert!(grant.body.contains("Saved as policy revision 4"), "{}", grant.body);
    assert!(
        grant.body.contains("<td>file</td><td>/</td><td>Allow</td><td>CORP\\packagers</td><td>Modify"),
        "{}",
        grant.body
    );
    let bad =
        call(&app, "POST", "/ui/sources/grant", &jar, &form.replace("patch-downloads", "elsewhere")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("is not a package source"), "{}", bad.body);
}

/// A credential change the impact check refuses (grace 0 with an agent still on an older
/// revision) shows its counts on Global Agent Settings and is saved only once confirmed.
#[tokio::test]
async fn a_risky_save_shows_the_impact_counts_and_waits_for_a_confirmation() {
    use crate::document::{AuthMode, AuthRequest};
    use acc_core::password::Secret;

    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let first = AuthRequest {
        mode: AuthMode::Credential,
        user_name: Some("ACC_user".into()),
        password: Secret::new("Correct-Horse-Battery-42"),
        confirmation: Secret::new("Correct-Horse-Battery-42"),
        password_policy: None,
        grant_read: false,
        force: false,
    };
    server.save_credential(first, Some(0), "test").await.unwrap();
    let revision = server.revision();
    server
        .inventory
        .agents()
        .insert("web01".into(), crate::agents::AgentRecord::new("web01", "0A", "CN=x", 0, "10.0.0.9"));

    let page = call(&app, "GET", "/ui/settings/agents", &jar, "").await;
    let csrf = page.csrf();
    let save = format!(
        "csrf={csrf}&mode=credential&user_name=ACC_user2&password={p}&confirmation={p}&password_policy=nist",
        p = enc("Another-Horse-Battery-43")
    );
    let risky = call(&app, "POST", "/ui/settings/agents", &jar, &save).await;
    assert_eq!(risky.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", risky.body);
    let counts = element_text(&risky.body, "impact-counts");
    assert!(
        counts.starts_with("This change would leave 0 of 0 site servers and 1 of 1 agents unable to connect (web01: still on an older revision"),
        "{counts}"
    );
    assert!(!counts.contains("--force"), "{counts}");
    assert!(risky.body.contains("> Save even though they would be unable to connect</label>"));
    assert!(!risky.body.contains("Another-Horse-Battery-43"), "the password is not sent back");
    assert_eq!(server.revision(), revision, "not saved before the confirmation");

    let confirmed = call(&app, "POST", "/ui/settings/agents", &jar, &format!("{save}&force=1")).await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    assert!(
        confirmed.body.contains(&format!("Saved as policy revision {}", revision + 1)),
        "{}",
        confirmed.body
    );
    assert!(!confirmed.body.contains("id=\"impact\""));
}

/// A session lives in the store: the server opened again on the same store (a restart, or
/// another management server on it) takes the cookie; only its digest is stored; sign-out
/// deletes the row, and ended sessions are purged at the next sign-in.
#[tokio::test]
async fn a_session_survives_a_restart_and_only_its_digest_is_stored() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server");
    let (app, jar, server) = signed_in(&dir).await;
    assert_eq!(call(&app, "GET", "/ui/", &jar, "").await.status, StatusCode::OK);
    let token = jar.trim_start_matches("acc_session=").to_string();
    let digest = crate::tokens::digest_hex(&token);
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT digest, csrf FROM console_sessions").fetch_all(&server.pool).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(), [digest.as_str()]);
    assert!(rows.iter().all(|r| r.0 != token && r.1 != token), "the cookie itself is never stored");
    // A stale session of another browser, ended long ago.
    let stale = crate::store::SessionRow {
        user: "admin".into(),
        role: crate::tokens::Role::Admin,
        csrf: "c".into(),
        address: "127.0.0.1".into(),
        created_ms: 0,
        last_ms: 0,
    };
    crate::store::put_session(&server.pool, "stale", &stale).await.unwrap();
    drop(app);
    server.pool.close().await;
    drop(server);

    let server = Arc::new(Server::open(Layout::new(&dir)).await.unwrap());
    let app = super::router(server.clone());
    let home = call(&app, "GET", "/ui/", &jar, "").await;
    assert_eq!(home.status, StatusCode::OK, "the cookie of before the restart is still signed in");
    assert!(crate::store::get_session(&server.pool, "stale").await.unwrap().is_some());
    let password = std::fs::read_to_string(Layout::new(&dir).admin_password()).unwrap();
    let second = sign_in(&app, "admin", password.trim_end()).await;
    assert!(crate::store::get_session(&server.pool, "stale").await.unwrap().is_none(), "purged");
    let out = call(&app, "POST", "/ui/signout", &jar, &format!("csrf={}", home.csrf())).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert!(crate::store::get_session(&server.pool, &digest).await.unwrap().is_none(), "deleted");
    assert_eq!(call(&app, "GET", "/ui/", &jar, "").await.status, StatusCode::SEE_OTHER);
    assert_eq!(call(&app, "GET", "/ui/", &second, "").await.status, StatusCode::OK, "the other stays");
}
/// Credential rotation through the page: refusals next to their fields, a rotation that
/// waits for SITE1, web01 listed on the old credential, force-switch and cancel each after
/// a confirmation step, the live parts alone; a viewer reads and is refused; a CSRF-less
/// form is refused.
#[tokio::test]
async fn the_rotation_page_starts_force_switches_and_cancels_with_confirmation() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let first = crate::document::AuthRequest {
        mode: crate::document::AuthMode::Credential,
        user_name: Some("ACC_User_v1".into()),
        password: acc_core::password::Secret::new("Correct-Horse-Battery-42"),
        confirmation: acc_core::password::Secret::new("Correct-Horse-Battery-42"),
        password_policy: None,
        grant_read: true,
        force: false,
    };
    server.save_auth(first, "test").await.unwrap();
    let now = server.now_ms();
    server
        .inventory
        .sites()
        .insert("SITE1".into(), crate::sites::SiteRecord::new("SITE1", "https://site1:8444", "01", now));
    let mut web01 = crate::agents::AgentRecord::new("web01", "02", "CN=fleet", now, "10.0.0.5");
    web01.state.auth_mode = acc_proto::AuthMode::Credential;
    web01.state.user_name = Some("ACC_User_v1".into());
    web01.state.generation = Some(1);
    web01.state.site_server = Some("SITE1".into());
    server.inventory.agents().insert("web01".into(), web01);

    let page = call(&app, "GET", "/ui/rotation", &jar, "").await;
    assert_eq!(page.status, StatusCode::OK);
    for label in [
        "<h1>Credential rotation</h1>",
        ">New user name</label>",
        ">Password</label>",
        ">Confirm password</label>",
        "<label for=\"grace\">",
        ">Start rotation</button>",
        "hx-get=\"/ui/rotation/live\" hx-trigger=\"every 2s\"",
        "<a href=\"/ui/rotation\">Credential rotation</a>",
        "<td>ACC_User_v1</td><td class=\"phase-active\">active</td>",
    ] {
        assert!(page.body.contains(label), "{label} in {}", page.body);
    }
    assert!(!page.body.contains("Force switch</button>"), "nothing to force-switch yet");
    let csrf = page.csrf();
    let rotate = |user: &str, password: &str, grace: &str| {
        format!(
            "csrf={csrf}&user_name={}&password={p}&confirmation={p}&grace={}",
            enc(user),
            enc(grace),
            p = enc(password)
        )
    };
    let forged =
        call(&app, "POST", "/ui/rotation", &jar, "user_name=x&password=y&confirmation=y&grace=1").await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "a CSRF-less POST is refused");
    let weak = call(&app, "POST", "/ui/rotation", &jar, &rotate("ACC_User_v2", "short", "1h")).await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = weak.body.find("id=\"password-errors\"").expect("the message next to Password");
    assert!(weak.body[at..].contains("password:"), "{}", weak.body);
    let grace = call(&app, "POST", "/ui/rotation", &jar, &rotate("ACC_User_v2", STRONG2, "soon")).await;
    assert_eq!(grace.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = grace.body.find("id=\"grace-errors\"").expect("the message next to Grace");
    assert!(grace.body[at..].contains("Grace: &#39;soon&#39;: not a duration"), "{}", grace.body);
    let long = call(&app, "POST", "/ui/rotation", &jar, &rotate("ACC_User_v2", STRONG2, "100d")).await;
    let at = long.body.find("id=\"grace-errors\"").expect("L-GRACE next to Grace");
    assert!(long.body[at..].contains("rotation.grace: 8640000 s is out of range"), "{}", long.body);
    let reused = call(&app, "POST", "/ui/rotation", &jar, &rotate("ACC_User_v1", STRONG2, "1h")).await;
    let at = reused.body.find("id=\"password-errors\"").expect("the spec's message next to Password");
    assert!(reused.body[at..].contains("rotate to a new user name instead"), "{}", reused.body);
    assert_eq!(server.revision(), 2, "nothing refused is saved");

    let started = call(&app, "POST", "/ui/rotation", &jar, &rotate("ACC_User_v2", STRONG2, "1h")).await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.body);
    for text in [
        "Saved as policy revision 3",
        "id=\"rotation-phase\">provisioning<",
        "<li>SITE1</li>",
        "<strong>1</strong> of 1 agents do not use generation 2 (ACC_User_v2) yet.",
        "<td>web01</td><td>SITE1</td><td>ACC_User_v1 (generation 1)</td>",
        ">Force switch</button>",
        ">Cancel</button>",
    ] {
        assert!(started.body.contains(text), "{text} in {}", started.body);
    }
    let busy =
        call(&app, "POST", "/ui/rotation", &jar, &rotate("ACC_User_v3", "Third-Strong-Pass-2026", "1h"))
            .await;
    assert!(busy.body.contains("is still provisioning (pending: SITE1)"), "{}", busy.body);

    let live = call(&app, "GET", "/ui/rotation/live", &jar, "").await;
    assert_eq!(live.status, StatusCode::OK);
    assert!(live.body.starts_with("<section id=\"rotation-live\"") && !live.body.contains("<html"));
    assert!(live.body.contains("<td>web01</td>"), "{}", live.body);
    let anonymous = call(&app, "GET", "/ui/rotation/live", "", "").await;
    assert_eq!((anonymous.status, anonymous.location()), (StatusCode::SEE_OTHER, "/ui/signin"));

    let ask = call(&app, "POST", "/ui/rotation/force-switch", &jar, &format!("csrf={csrf}")).await;
    assert_eq!(ask.status, StatusCode::OK);
    assert!(
        ask.body.contains("Force switch to generation 2 (ACC_User_v2) now?")
            && ask.body.contains("site servers that have not created it: SITE1")
            && ask.body.contains(">Confirm force switch</button>"),
        "{}",
        ask.body
    );
    assert_eq!(server.revision(), 3, "nothing changes before the confirmation");
    let switched =
        call(&app, "POST", "/ui/rotation/force-switch", &jar, &format!("csrf={csrf}&confirm=yes")).await;
    assert!(switched.body.contains("Saved as policy revision 4"), "{}", switched.body);
    assert!(
        switched.body.contains("<td>ACC_User_v2</td><td class=\"phase-active\">active</td>")
            && switched.body.contains("<td>ACC_User_v1</td><td class=\"phase-retiring\">retiring</td>"),
        "{}",
        switched.body
    );
    let nothing = call(&app, "POST", "/ui/rotation/cancel", &jar, &format!("csrf={csrf}&confirm=yes")).await;
    assert_eq!(nothing.status, StatusCode::UNPROCESSABLE_ENTITY);
    let at = nothing.body.find("id=\"action-errors\"").expect("the refusal next to the buttons");
    assert!(nothing.body[at..].contains("no generation is provisioning"), "{}", nothing.body);

    // The home page shows the revision's progress, also alone for htmx.
    let home = call(&app, "GET", "/ui/", &jar, "").await;
    assert!(
        home.body.contains("<strong>0/1 sites, 0/1 agents</strong> run revision 4 or later.")
            && home.body.contains("hx-get=\"/ui/live/progress\" hx-trigger=\"every 2s\""),
        "{}",
        home.body
    );
    let progress = call(&app, "GET", "/ui/live/progress", &jar, "").await;
    assert!(progress.body.starts_with("<section id=\"progress-live\""), "{}", progress.body);
    assert!(progress.body.contains("No lockout in the last 24 hours."), "{}", progress.body);

    // A viewer reads the page and cannot act.
    server
        .add_user(
            "vera",
            crate::tokens::Role::Viewer,
            &acc_core::password::Secret::new("tall blue giraffe walks"),
            "test",
        )
        .await
        .unwrap();
    let viewer = sign_in(&app, "vera", "tall blue giraffe walks").await;
    let seen = call(&app, "GET", "/ui/rotation", &viewer, "").await;
    assert!(
        seen.body.contains("Only an admin can start, force-switch or cancel a rotation.")
            && !seen.body.contains("Start rotation"),
        "{}",
        seen.body
    );
    let vcsrf = call(&app, "GET", "/ui/", &viewer, "").await.csrf();
    let refused = call(
        &app,
        "POST",
        "/ui/rotation",
        &viewer,
        &rotate("ACC_User_v3", "Third-Strong-Pass-2026", "1h").replace(&csrf, &vcsrf),
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("This needs the admin role; you are viewer."));
    assert_eq!(server.revision(), 4);

    // Cancel: a third generation waits for SITE1, then is removed after the confirmation.
    let third =
        call(&app, "POST", "/ui/rotation", &jar, &rotate("ACC_User_v3", "Third-Strong-Pass-2026", "1h"))
            .await;
    assert!(third.body.contains("Saved as policy revision 5"), "{}", third.body);
    let ask = call(&app, "POST", "/ui/rotation/cancel", &jar, &format!("csrf={csrf}")).await;
    assert!(ask.body.contains("Cancel generation 3 (ACC_User_v3)?"), "{}", ask.body);
    let cancelled =
        call(&app, "POST", "/ui/rotation/cancel", &jar, &format!("csrf={csrf}&confirm=yes")).await;
    assert!(
        cancelled.body.contains("<td>ACC_User_v3</td><td class=\"phase-removed\">removed</td>"),
        "{}",
        cancelled.body
    );
}

/// A strong password for the rotation tests.
const STRONG2: &str = "Second-Strong-Pass-2026";

/// A page left open refreshing its live parts still ends after the idle timeout: the live
/// parts do not restart the idle time, a page does; a signed-out htmx refresh is sent to
/// the sign-in page as a whole (`HX-Redirect`), not swapped into the part.
#[tokio::test]
async fn live_refreshes_do_not_keep_a_session_alive() {
    use super::session::{IDLE_MS, TOUCH_MS};
    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let digest = crate::tokens::digest_hex(jar.trim_start_matches("acc_session="));
    let last = |server: Arc<Server>, digest: String| async move {
        crate::store::get_session(&server.pool, &digest).await.unwrap().unwrap().last_ms
    };
    let set_last = |server: Arc<Server>, at: i64| async move {
        sqlx::query("UPDATE console_sessions SET last_ms = ?").bind(at).execute(&server.pool).await.unwrap();
    };
    let earlier = server.now_ms() - 3 * TOUCH_MS;
    set_last(server.clone(), earlier).await;
    for live in ["/ui/live/progress", "/ui/rotation/live"] {
        assert_eq!(call(&app, "GET", live, &jar, "").await.status, StatusCode::OK, "{live}");
        assert_eq!(last(server.clone(), digest.clone()).await, earlier, "{live} touched the session");
    }
    assert_eq!(call(&app, "GET", "/ui/", &jar, "").await.status, StatusCode::OK);
    assert!(last(server.clone(), digest.clone()).await > earlier, "a page restarts the idle time");

    set_last(server.clone(), server.now_ms() - IDLE_MS - 1000).await;
    let hx = [("HX-Request", "true")];
    let ended = call_with(&app, "GET", "/ui/live/progress", &jar, "", &hx).await;
    assert_eq!(ended.status, StatusCode::OK);
    assert_eq!(ended.headers.get("hx-redirect").map(|v| v.to_str().unwrap()), Some("/ui/signin"));
    assert!(ended.body.is_empty(), "nothing is swapped into the part");
    let plain = call(&app, "GET", "/ui/rotation/live", &jar, "").await;
    assert_eq!((plain.status, plain.location()), (StatusCode::SEE_OTHER, "/ui/signin"));
}

/// The messages shown next to field `id` (`id-errors`), as HTML.
fn field_errors(body: &str, id: &str) -> String {
    let at = body.find(&format!("id=\"{id}-errors\">")).unwrap_or_else(|| panic!("#{id}-errors in {body}"));
    body[at..].split("</div>").next().unwrap().to_string()
}

/// A `multipart/form-data` POST of `fields` then `file` (file name, bytes), as a browser
/// sends the upload form.
async fn post_multipart(
    app: &axum::Router,
    path: &str,
    cookie: &str,
    fields: &[(&str, &str)],
    file: Option<(&str, &[u8])>,
) -> Answer {
    let boundary = "acc-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (k, v) in fields {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n").bytes(),
        );
    }
    if let Some((name, bytes)) = file {
        body.extend(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n")
                .bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend(b"\r\n");
    }
    body.extend(format!("--{boundary}--\r\n").bytes());
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(Body::from(body))
        .unwrap();
    let resp = app.clone().oneshot(req).await.unwrap();
    let (parts, body) = resp.into_parts();
    let body = String::from_utf8_lossy(&body.collect().await.unwrap().to_bytes()).into_owned();
    Answer { status: parts.status, headers: parts.headers, body }
}

/// The Packages page: a plain (no-JS) multipart upload stored through begin/chunk/commit
/// with the digest of the bytes sent, bad names and versions refused next to their field,
/// a duplicate version refused, assignment to a chosen site as a revision, the site's
/// replication report on the page, CSRF and roles.
#[tokio::test]
async fn the_packages_page_uploads_assigns_and_shows_replication() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let empty = call(&app, "GET", "/ui/packages", &jar, "").await;
    assert_eq!(empty.status, StatusCode::OK);
    for label in [
        "<a href=\"/ui/packages\">Packages</a>",
        "No package has been uploaded yet.",
        ">Package name</label>",
        ">Version</label>",
        "<progress id=\"upload-progress\"",
        "<script src=\"/ui/assets/packages.js\" defer></script>",
        "Assign a package",
    ] {
        assert!(empty.body.contains(label), "{label}");
    }
    let csrf = empty.csrf();
    // Three MiB and a bit: several chunks of the store's flow.
    let data: Vec<u8> = (0..3 * 1024 * 1024 + 17).map(|i: u32| (i % 251) as u8).collect();
    let file = Some(("C:\\Users\\ops\\tools.bin", data.as_slice()));
    let share = "software-library";

    let forged = post_multipart(
        &app,
        "/ui/packages/upload",
        &jar,
        &[("csrf", "x"), ("share", share), ("name", "tools"), ("version", "1.0")],
        file,
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(server.package_list().is_empty(), "nothing kept from a forged form");

    let unnamed = post_multipart(
        &app,
        "/ui/packages/upload",
        &jar,
        &[("csrf", &csrf), ("share", share), ("name", " "), ("version", "1.0")],
        file,
    )
    .await;
    assert_eq!(unnamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_errors(&unnamed.body, "upload-name").contains("package name: give a name"),
        "{}",
        unnamed.body
    );
    let bad_version = post_multipart(
        &app,
        "/ui/packages/upload",
        &jar,
        &[("csrf", &csrf), ("share", share), ("name", "tools"), ("version", "1 0")],
        file,
    )
    .await;
    assert_eq!(bad_version.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_errors(&bad_version.body, "upload-version")
            .contains("version &#39;1 0&#39;: use 1 to 64 letters"),
        "{}",
        bad_version.body
    );
    let no_file = post_multipart(
        &app,
        "/ui/packages/upload",
        &jar,
        &[("csrf", &csrf), ("share", share), ("name", "tools"), ("version", "1.0")],
        None,
    )
    .await;
    assert!(field_errors(&no_file.body, "upload-file").contains("file: choose the file to upload"));
    assert!(server.package_list().is_empty());

    let ok = post_multipart(
        &app,
        "/ui/packages/upload",
        &jar,
        &[("csrf", &csrf), ("share", share), ("name", "tools"), ("version", "1.0")],
        file,
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    let sha: String = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert!(
        ok.body.contains(&format!("Uploaded tools 1.0 (tools.bin, {} bytes, SHA-256 {sha})", data.len())),
        "{}",
        ok.body
    );
    let listed = server.package_list();
    assert_eq!(listed.len(), 1);
    assert!(
        listed[0].committed && listed[0].bytes == data.len() as u64 && listed[0].author == "admin (console)"
    );
    assert_eq!(server.package_manifest("tools", "1.0").unwrap().files[0].sha256, sha);
    let stored = std::fs::read(server.layout().package_dir("tools", "1.0").join("tools.bin")).unwrap();
    assert!(stored == data, "the stored file is the uploaded bytes");
    assert!(ok.body.contains(&format!("SHA-256 {sha}")) && ok.body.contains("admin (console)"));

    let mut other = data.clone();
    other[0] ^= 1;
    let dup = post_multipart(
        &app,
        "/ui/packages/upload",
        &jar,
        &[("csrf", &csrf), ("share", share), ("name", "tools"), ("version", "1.0")],
        Some(("tools.bin", &other)),
    )
    .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        field_errors(&dup.body, "upload-version").contains("already exists with other content"),
        "{}",
        dup.body
    );

    let now = server.now_ms();
    for name in ["SITE1", "SITE2"] {
        server
            .inventory
            .sites()
            .insert(name.into(), crate::sites::SiteRecord::new(name, "https://site:8444", "01", now));
    }
    let neither =
        call(&app, "POST", "/ui/packages/assign", &jar, &format!("csrf={csrf}&package=tools+1.0")).await;
    assert_eq!(neither.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(neither.body.contains("sites: tick All sites or the sites to assign to, not both"));
    let page = call(&app, "GET", "/ui/packages", &jar, "").await;
    assert!(page.body.contains("value=\"SITE1\"") && page.body.contains("value=\"SITE2\""));
    let before = server.revision();
    let assigned =
        call(&app, "POST", "/ui/packages/assign", &jar, &format!("csrf={csrf}&package=tools+1.0&site=site1"))
            .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.body);
    assert!(assigned.body.contains(&format!("Saved as policy revision {}", before + 1)), "{}", assigned.body);
    assert_eq!(server.current().1.assignments[0].sites, vec!["SITE1".to_string()]);
    assert!(
        assigned.body.contains("0/1 sites") && assigned.body.contains("<td>SITE1</td><td>pending</td>"),
        "{}",
        assigned.body
    );

    let state = |status, bytes, message: Option<&str>| acc_proto::PackageReport {
        packages: vec![acc_proto::package::PackageState {
            share: share.into(),
            name: "tools".into(),
            wanted: "1.0".into(),
            version: None,
            status,
            message: message.map(str::to_string),
            bytes,
        }],
    };
    server
        .package_report("SITE1", state(acc_proto::package::ReplicationStatus::Failed, 0, Some("disk full")))
        .await
        .unwrap();
    let failed = call(&app, "GET", "/ui/packages", &jar, "").await;
    assert!(
        failed.body.contains("<td>SITE1</td><td>failed</td>") && failed.body.contains("<td>disk full</td>"),
        "{}",
        failed.body
    );
    let size = data.len() as u64;
    server
        .package_report("SITE1", state(acc_proto::package::ReplicationStatus::Replicated, size, None))
        .await
        .unwrap();
    let done = call(&app, "GET", "/ui/packages", &jar, "").await;
    assert!(
        done.body.contains("1/1 sites")
            && done.body.contains(&format!("<td>replicated</td><td>{size}/{size}</td>")),
        "{}",
        done.body
    );
    let all =
        call(&app, "POST", "/ui/packages/assign", &jar, &format!("csrf={csrf}&package=tools+1.0&all=1"))
            .await;
    assert!(all.body.contains("all sites") && all.body.contains("1/2 sites"), "{}", all.body);

    // A viewer sees it all and changes nothing.
    server
        .add_user("vera", Role::Viewer, &acc_core::password::Secret::new("tall blue giraffe walks"), "test")
        .await
        .unwrap();
    let viewer = sign_in(&app, "vera", "tall blue giraffe walks").await;
    let seen = call(&app, "GET", "/ui/packages", &viewer, "").await;
    assert!(
        seen.body.contains("1/2 sites")
            && seen.body.contains("Only an operator or an admin can upload packages.")
    );
    assert!(!seen.body.contains("id=\"upload-form\"") && !seen.body.contains(">Assign</button>"));
    let vcsrf = seen.csrf();
    let refused = post_multipart(
        &app,
        "/ui/packages/upload",
        &viewer,
        &[("csrf", &vcsrf), ("share", share), ("name", "tools"), ("version", "2.0")],
        file,
    )
    .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.body.contains("This needs the operator role; you are viewer."));
    let refused =
        call(&app, "POST", "/ui/packages/assign", &viewer, &format!("csrf={vcsrf}&package=tools+1.0&all=1"))
            .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(server.package_list().len(), 1);
}

/// The upload route reads nothing for a client without a session, and never holds more
/// than a form's worth of a text field in memory, whoever sends it.
#[tokio::test]
async fn the_upload_route_refuses_before_reading_and_caps_its_text_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let (app, jar, server) = signed_in(&tmp.path().join("server")).await;
    let huge = "x".repeat(4 * super::MAX_FORM);
    let anonymous = post_multipart(&app, "/ui/packages/upload", "", &[("name", &huge)], None).await;
    assert_eq!((anonymous.status, anonymous.location()), (StatusCode::SEE_OTHER, "/ui/signin"));
    let signed = post_multipart(&app, "/ui/packages/upload", &jar, &[("name", &huge)], None).await;
    assert_eq!(signed.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", signed.body);
    assert!(signed.body.contains("The field name is too long."), "{}", signed.body);
    assert!(server.package_list().is_empty());
}
