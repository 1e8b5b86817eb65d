//! Agent identities in process (tower `oneshot`, a real SQLite file): an agent id belongs to
//! the agent that registered it. A password agent's token, a certificate agent's
//! certificate, what an attacker with the ACC or another certificate gets (nothing about
//! the task), `forget`, and registrations made before binding existed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acc_site::Site;
use acc_site::admin::{self, Request as AdminRequest};
use acc_site::api::auth::TlsIdentity;
use acc_site::layout::Layout;
use acc_site::site::SystemClock;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

const PW: &str = "Tr0ub4dor&3-horse-staple";

mod support;

async fn site() -> (tempfile::TempDir, Layout, Arc<Site>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    support::init_site(&dir);
    let layout = Layout::new(&dir);
    let site = Site::open(layout.clone(), Arc::new(SystemClock)).await.unwrap();
    site.add_account("ACC_user", PW).await.unwrap();
    (tmp, layout, site)
}

/// Who calls: the ACC or a certificate (issuer, CN), and the agent headers.
#[derive(Clone, Default)]
struct Caller {
    acc: bool,
    cert: Option<(&'static str, &'static str)>,
    agent: Option<&'static str>,
    token: Option<String>,
}

fn acc(agent: &'static str) -> Caller {
    Caller { acc: true, agent: Some(agent), ..Caller::default() }
}

fn cert(issuer: &'static str, cn: &'static str, agent: &'static str) -> Caller {
    Caller { cert: Some((issuer, cn)), agent: Some(agent), ..Caller::default() }
}

impl Caller {
    fn with_token(mut self, token: &str) -> Caller {
        self.token = Some(token.to_string());
        self
    }

    async fn send(&self, site: &Arc<Site>, method: &str, uri: &str, body: &str) -> (StatusCode, Value) {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("acc-agent-host", "host")
            .header("content-type", "application/json");
        if self.acc {
            req = req.header("authorization", format!("Basic {}", STANDARD.encode(format!("ACC_user:{PW}"))));
        }
        if let Some(a) = self.agent {
            req = req.header("acc-agent-id", a);
        }
        if let Some(t) = &self.token {
            req = req.header("acc-agent-token", t.as_str());
        }
        let req = req.body(Body::from(body.to_string())).unwrap();
        let tls = match self.cert {
            Some((issuer, cn)) => TlsIdentity::Certificate {
                cn: Some(cn.into()),
                subject: format!("O=acc, OU=agent, CN={cn}"),
                issuer: format!("CN={issuer}"),
            },
            None => TlsIdentity::Anonymous,
        };
        support::send(site, req, SocketAddr::from(([10, 0, 0, 9], 40000)), tls).await
    }

    async fn register(&self, site: &Arc<Site>) -> (StatusCode, Value) {
        let id = self.agent.unwrap_or("none");
        let body = json!({"agent_id": id, "host": "host", "os": "linux", "version": "1.0"});
        self.send(site, "POST", "/v1/register", &body.to_string()).await
    }

    async fn poll(&self, site: &Arc<Site>, wait: u64) -> (StatusCode, Value) {
        self.send(site, "GET", &format!("/v1/tasks?wait={wait}"), "").await
    }
}

/// The token of a successful registration.
fn token(answer: &(StatusCode, Value)) -> String {
    assert_eq!(answer.0, StatusCode::OK, "{}", answer.1);
    answer.1["agent_token"].as_str().unwrap_or_else(|| panic!("no token: {}", answer.1)).to_string()
}

#[track_caller]
fn refused(answer: &(StatusCode, Value), code: &str, id: &str) {
    assert_eq!((answer.0, answer.1["error"].as_str()), (StatusCode::FORBIDDEN, Some(code)), "{}", answer.1);
    assert!(answer.1["message"].as_str().unwrap().contains(&format!("agent id '{id}'")), "{}", answer.1);
}

const DONE: &str = r#"{"status":"completed","output":"forged"}"#;

#[tokio::test]
async fn a_password_agent_s_token_binds_its_id_and_the_acc_alone_gets_nothing() {
    let (_tmp, layout, site) = site().await;
    let first = acc("victim01").register(&site).await;
    let t = token(&first);
    assert_eq!(t.len(), 43, "256 bits, base64url");
    let victim = acc("victim01").with_token(&t);
    let id =
        site.send_task("victim01", "inventory", Some(&json!({"secret": "payload-xyz"}))).await.unwrap().id;

    // The attacker holds the ACC, names the victim's id, has no token or a wrong one.
    for attacker in
        [acc("victim01"), acc("victim01").with_token("guessed"), acc("victim01").with_token(&t[1..])]
    {
        let polled = attacker.poll(&site, 0).await;
        refused(&polled, "agent_not_bound", "victim01");
        assert!(!polled.1.to_string().contains("payload-xyz"), "{}", polled.1);
        refused(&attacker.register(&site).await, "agent_id_taken", "victim01");
    }
    let got = victim.poll(&site, 0).await;
    assert_eq!(got.1["tasks"][0]["payload"], json!({"secret": "payload-xyz"}), "{}", got.1);
    // A forged result is refused before the task is looked at: nothing said about it.
    let forged = acc("victim01").send(&site, "POST", &format!("/v1/tasks/{id}/result"), DONE).await;
    refused(&forged, "agent_not_bound", "victim01");
    assert!(!forged.1["message"].as_str().unwrap().contains(&id), "{}", forged.1);
    assert_eq!(site.task(&id).await.unwrap().state, acc_site::tasks::TaskState::Delivered);
    let (s, v) = victim.send(&site, "POST", &format!("/v1/tasks/{id}/result"), DONE).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("completed")), "{v}");

    // Downloads attributed to the id need its binding too; without an id they are not.
    refused(&acc("victim01").send(&site, "GET", "/v1/packages", "").await, "agent_not_bound", "victim01");
    assert_eq!(victim.send(&site, "GET", "/v1/packages", "").await.0, StatusCode::OK);
    assert_eq!(
        Caller { acc: true, ..Caller::default() }.send(&site, "GET", "/v1/packages", "").await.0,
        StatusCode::OK
    );

    // Registering again with the token keeps it; the registration still shows the victim.
    assert_eq!(token(&victim.register(&site).await), t, "the token stands");
    let agents = site.agents().await.unwrap();
    assert_eq!((agents.len(), agents[0].bound_to), (1, "token"));

    // The site keeps only the token's SHA-256.
    drop(site);
    let db = std::fs::read(layout.database()).unwrap();
    let wal = std::fs::read(format!("{}-wal", layout.database().display())).unwrap_or_default();
    for bytes in [&db, &wal] {
        assert!(!bytes.windows(t.len()).any(|w| w == t.as_bytes()), "the token is in the database");
    }
}

#[tokio::test]
async fn a_certificate_agent_is_bound_to_its_certificate_identity() {
    let (_tmp, _layout, site) = site().await;
    let owner = cert("Fleet CA", "web01", "w1");
    let t = token(&owner.register(&site).await);
    assert_eq!(owner.poll(&site, 0).await.0, StatusCode::OK, "its certificate proves it");
    assert_eq!(site.agents().await.unwrap()[0].bound_to, "token+certificate");
    for attacker in [cert("Lab CA", "web01", "w1"), cert("Fleet CA", "web02", "w1"), acc("w1")] {
        refused(&attacker.poll(&site, 0).await, "agent_not_bound", "w1");
        refused(&attacker.register(&site).await, "agent_id_taken", "w1");
    }
    // Moving to the ACC (a policy change), the agent presents its token.
    assert_eq!(acc("w1").with_token(&t).poll(&site, 0).await.0, StatusCode::OK);
    // Its certificate proves it even when its token is lost: a new token, the old one ends.
    let renewed = token(&owner.register(&site).await);
    assert_ne!(renewed, t);
    refused(&acc("w1").with_token(&t).poll(&site, 0).await, "agent_not_bound", "w1");
    assert_eq!(acc("w1").with_token(&renewed).poll(&site, 0).await.0, StatusCode::OK);
}

#[tokio::test]
async fn forget_releases_an_id_and_ends_the_long_poll_waiting_under_it() {
    let (_tmp, _layout, site) = site().await;
    let t = token(&acc("a1").register(&site).await);
    let waiting = {
        let site = site.clone();
        let agent = acc("a1").with_token(&t);
        tokio::spawn(async move { agent.poll(&site, 30).await })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while site.task_waiters() == 0 {
        assert!(Instant::now() < deadline, "the long-poll never started waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let forgot = admin::handle(&site, AdminRequest::AgentsForget { agent_id: "a1".into() }).await.unwrap();
    assert_eq!(forgot, json!({"forgotten": "a1"}));
    let ended = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("ended").unwrap();
    refused(&ended, "agent_not_bound", "a1");
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(site.agents().await.unwrap().is_empty());
    let err = site.send_task("a1", "inventory", None).await.unwrap_err().to_string();
    assert!(err.contains("has never registered"), "{err}");
    let err = admin::handle(&site, AdminRequest::AgentsForget { agent_id: "a1".into() }).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "agent 'a1' is not registered with this site server; `acc site agents` lists the registered ids"
    );

    // The agent registers again with its old token, which the site no longer has: bound anew.
    let again = token(&acc("a1").with_token(&t).register(&site).await);
    assert_ne!(again, t);
    assert_eq!(acc("a1").with_token(&again).poll(&site, 0).await.0, StatusCode::OK);
    refused(&acc("a1").with_token(&t).poll(&site, 0).await, "agent_not_bound", "a1");
}

#[tokio::test]
async fn registrations_from_before_binding_are_bound_by_the_next_registration() {
    let (_tmp, layout, site) = site().await;
    // The previous version's table (no binding columns) with two of its registrations.
    sqlx::raw_sql("ALTER TABLE agents DROP COLUMN token_sha256; ALTER TABLE agents DROP COLUMN certificate;")
        .execute(site.pool())
        .await
        .unwrap();
    for (id, principal) in [("old-pw", "ACC_user"), ("old-cert", "cert:CN=web01")] {
        sqlx::query("INSERT INTO agents (agent_id, host, os, version, principal, ip, registered_at, last_seen) VALUES (?, 'h', 'linux', '0.9', ?, '10.0.0.1', 1, 1)")
            .bind(id)
            .bind(principal)
            .execute(site.pool())
            .await
            .unwrap();
    }
    drop(site);
    let site = Site::open(layout, Arc::new(SystemClock)).await.unwrap();
    let agents = site.agents().await.unwrap();
    assert!(agents.iter().all(|a| a.bound_to == "unbound"), "{agents:?}");
    assert!(agents.iter().any(|a| a.binding.contains("the next registration with CN=web01 binds it")));
    // Unbound ids act only once registered again.
    refused(&acc("old-pw").poll(&site, 0).await, "agent_not_bound", "old-pw");
    let t = token(&acc("old-pw").register(&site).await);
    assert_eq!(acc("old-pw").with_token(&t).poll(&site, 0).await.0, StatusCode::OK);
    refused(&acc("old-pw").register(&site).await, "agent_id_taken", "old-pw");
    // A certificate registration binds only to a certificate with the CN it recorded.
    refused(&acc("old-cert").register(&site).await, "agent_id_taken", "old-cert");
    refused(&cert("Fleet CA", "web02", "old-cert").register(&site).await, "agent_id_taken", "old-cert");
    token(&cert("Fleet CA", "web01", "old-cert").register(&site).await);
    refused(&cert("Lab CA", "web01", "old-cert").poll(&site, 0).await, "agent_not_bound", "old-cert");
}
