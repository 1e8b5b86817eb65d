//! The `/v1` API in process (tower `oneshot`, no socket): authentication outcomes of the
//! specification's 2.5, malformed input, limits, registration.

use std::net::SocketAddr;
use std::sync::Arc;

use acc_core::lockout::{LockoutMode, LockoutPolicy};
use acc_site::Site;
use acc_site::api::auth::TlsIdentity;
use acc_site::api::{ApiPeer, router};
use acc_site::layout::Layout;
use acc_site::site::SystemClock;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tower::ServiceExt;

mod support;

const PW: &str = "Tr0ub4dor&3-horse-staple";

async fn site() -> (tempfile::TempDir, Arc<Site>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    support::init_site(&dir);
    let site = Site::open(Layout::new(&dir), Arc::new(SystemClock)).await.unwrap();
    site.add_account("ACC_user", PW).await.unwrap();
    (tmp, site)
}

struct Call<'a> {
    site: &'a Arc<Site>,
    peer: ApiPeer,
}

impl Call<'_> {
    fn new(site: &Arc<Site>, ip: [u8; 4]) -> Call<'_> {
        Call {
            site,
            peer: ApiPeer {
                remote: SocketAddr::from((ip, 40000)),
                tls: TlsIdentity::Anonymous,
                session: Default::default(),
                admission: Default::default(),
                durability: Default::default(),
            },
        }
    }

    async fn send(
        &self,
        method: &str,
        uri: &str,
        auth: Option<String>,
        host: &str,
        body: impl Into<Body>,
    ) -> (StatusCode, Option<String>, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("acc-agent-host", host)
            .header("content-type", "application/json");
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let mut req = req.body(body.into()).unwrap();
        req.extensions_mut().insert(self.peer.clone());
        let resp = router(self.site.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let retry = resp.headers().get("retry-after").map(|v| v.to_str().unwrap().to_string());
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, retry, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

fn basic(user: &str, pw: &str) -> Option<String> {
    Some(format!("Basic {}", STANDARD.encode(format!("{user}:{pw}"))))
}

fn reg(id: &str) -> String {
    json!({ "agent_id": id, "host": "acclinux", "os": "linux", "version": "1.0.0" }).to_string()
}

#[tokio::test]
async fn registration_answers_every_authentication_outcome() {
    let (_tmp, site) = site().await;
    site.set_policy(LockoutPolicy { mode: LockoutMode::Classic, threshold: 2, ..LockoutPolicy::default() })
        .await
        .unwrap();
    let c = Call::new(&site, [10, 0, 0, 5]);

    let (s, _, v) = c.send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg("a1")).await;
    assert_eq!(
        (s, v["status"].as_str(), v["principal"].as_str()),
        (StatusCode::OK, Some("registered"), Some("ACC_user"))
    );
    assert_eq!(site.agents().await.unwrap()[0].row.host, "acclinux");

    let (s, _, v) = c.send("POST", "/v1/register", basic("ACC_user", "stale"), "stale01", reg("a2")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    c.send("POST", "/v1/register", basic("ACC_user", "stale"), "stale01", reg("a2")).await;
    let (s, retry, v) = c.send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg("a1")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::FORBIDDEN, Some("locked_out")));
    assert!(retry.unwrap().parse::<u64>().unwrap() > 0);

    let (s, _, v) = c.send("POST", "/v1/register", basic("CORP\\svc", "x"), "h", reg("a3")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
    assert!(v["message"].as_str().unwrap().contains("domain account"), "{v}");

    // The 4740 names the culprit machine and its address.
    let lock: Vec<String> = sqlx::query_scalar("SELECT body FROM events WHERE event_id = '4740'")
        .fetch_all(site.pool())
        .await
        .unwrap();
    let lock: Value = serde_json::from_str(&lock[0]).unwrap();
    assert_eq!(
        (lock["CallerComputerName"].as_str(), lock["IpAddress"].as_str()),
        (Some("STALE01"), Some("10.0.0.5"))
    );
}

#[tokio::test]
async fn disabled_accounts_and_bad_requests_are_refused_clearly() {
    let (_tmp, site) = site().await;
    let c = Call::new(&site, [10, 0, 0, 6]);
    let (s, _, v) = c.send("POST", "/v1/register", None, "h", reg("a")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("authentication_required")));
    let (s, _, v) = c.send("POST", "/v1/register", Some("Basic !!!".into()), "h", reg("a")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")));
    let (s, _, v) = c.send("POST", "/v1/register", basic("ACC_user", PW), "h", "{not json").await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")));
    let (s, _, v) = c
        .send(
            "POST",
            "/v1/register",
            basic("ACC_user", PW),
            "h",
            json!({"agent_id": "", "host": "h", "os": "l", "version": "1"}).to_string(),
        )
        .await;
    assert!(s == StatusCode::BAD_REQUEST && v["message"].as_str().unwrap().contains("agent_id"), "{v}");
    let big = format!("{{\"agent_id\": \"{}\"}}", "x".repeat(100_000));
    let (s, _, v) = c.send("POST", "/v1/register", basic("ACC_user", PW), "h", big).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")));
    let (s, _, v) = c.send("GET", "/v1/nothing", None, "h", "").await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")));

    site.disable("ACC_user").await.unwrap();
    let (s, _, v) = c.send("POST", "/v1/register", basic("ACC_user", PW), "h", reg("a")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::FORBIDDEN, Some("account_disabled")));
}

#[tokio::test]
async fn certificate_identities_register_without_a_password() {
    let (_tmp, site) = site().await;
    let mut c = Call::new(&site, [10, 0, 0, 7]);
    c.peer.tls = TlsIdentity::Certificate {
        cn: Some("acclinux".into()),
        subject: "CN=acclinux".into(),
        issuer: "CN=Lab CA".into(),
    };
    let (s, _, v) = c.send("POST", "/v1/register", None, "acclinux", reg("m1")).await;
    assert_eq!((s, v["principal"].as_str()), (StatusCode::OK, Some("cert:CN=acclinux")));
    c.peer.tls =
        TlsIdentity::Certificate { cn: None, subject: "O=Example".into(), issuer: "CN=Lab CA".into() };
    let (s, _, v) = c.send("POST", "/v1/register", None, "acclinux", reg("m1")).await;
    assert!(s == StatusCode::FORBIDDEN && v["message"].as_str().unwrap().contains("no common name"), "{v}");
}

async fn count_events(site: &Site, id: &str) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE event_id = ?")
        .bind(id)
        .fetch_one(site.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_connection_logs_on_once_and_the_session_ends_when_the_account_changes() {
    let (_tmp, site) = site().await;
    let conn = Call::new(&site, [10, 0, 0, 7]);
    for i in 0..3 {
        let (s, _, _) =
            conn.send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg(&format!("a{i}"))).await;
        assert_eq!(s, StatusCode::OK);
    }
    assert_eq!(count_events(&site, "4624").await, 1, "one logon per connection");

    // Another host name on the same connection is another logon, as is another connection.
    conn.send("POST", "/v1/register", basic("ACC_user", PW), "otherhost", reg("b")).await;
    Call::new(&site, [10, 0, 0, 8])
        .send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg("c"))
        .await;
    assert_eq!(count_events(&site, "4624").await, 3);

    // A wrong password on an established connection is a real attempt, and ends the session.
    let (s, _, _) = conn.send("POST", "/v1/register", basic("ACC_user", "stale"), "acclinux", reg("a")).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(count_events(&site, "4625").await, 1);
    conn.send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg("a")).await;
    assert_eq!(count_events(&site, "4624").await, 4);

    // Disabling the account ends every session at once.
    site.disable("ACC_user").await.unwrap();
    let (s, _, v) = conn.send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg("a")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::FORBIDDEN, Some("account_disabled")));
}

#[tokio::test]
async fn a_password_change_ends_the_sessions_of_the_old_password() {
    let (_tmp, site) = site().await;
    let conn = Call::new(&site, [10, 0, 0, 9]);
    let (s, _, _) = conn.send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg("a")).await;
    assert_eq!(s, StatusCode::OK);
    let epoch = site.session_epoch();
    site.set_password("ACC_user", "An0ther-long-passphrase!").await.unwrap();
    assert!(site.session_epoch() > epoch);
    let (s, _, v) = conn.send("POST", "/v1/register", basic("ACC_user", PW), "acclinux", reg("a")).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("invalid_credentials")));
}
