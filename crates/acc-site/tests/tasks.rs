//! The task server in process: `/v1/tasks` through the router (tower `oneshot`, an agent
//! with a client certificate), sends through the site as `acc site tasks send` makes
//! them, a real SQLite file, and a settable clock for leases.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use acc_core::time::{FixedClock, Timestamp};
use acc_site::Site;
use acc_site::api::auth::TlsIdentity;
use acc_site::layout::Layout;
use acc_site::tasks::{LEASE_SECS, MAX_DELIVERIES, TaskState};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

mod support;

struct Fixture {
    _tmp: tempfile::TempDir,
    layout: Layout,
    clock: Arc<FixedClock>,
    site: Arc<Site>,
}

impl Fixture {
    /// A site with agents `a1` and `a2` registered.
    async fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        support::init_site(&dir);
        let clock = Arc::new(FixedClock::at(Timestamp(1_780_000_000_000)));
        let layout = Layout::new(&dir);
        let site = Site::open(layout.clone(), clock.clone()).await.unwrap();
        for id in ["a1", "a2"] {
            // Each registers with its certificate (CN = its id), which binds the id to it.
            let body = json!({"agent_id": id, "host": format!("host-{id}"), "os": "linux", "version": "1.0"});
            let (s, v) = call(&site, "POST", "/v1/register", id, body.to_string()).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        Fixture { _tmp: tmp, layout, clock, site }
    }

    async fn reopen(&mut self) {
        self.site = Site::open(self.layout.clone(), self.clock.clone()).await.unwrap();
    }

    fn advance_secs(&self, secs: u64) {
        self.clock.advance_ms(i64::try_from(secs * 1000).unwrap());
    }

    async fn send(&self, agent: &str) -> String {
        self.site.send_task(agent, "inventory", Some(&json!({"full": true}))).await.unwrap().id
    }

    async fn state(&self, id: &str) -> TaskState {
        self.site.task(id).await.unwrap().state
    }
}

/// One request as agent `agent` (client certificate CN = agent, which the agent registered
/// with); `agent` empty sends no `Acc-Agent-Id`.
async fn call(
    site: &Arc<Site>,
    method: &str,
    uri: &str,
    agent: &str,
    body: impl Into<Body>,
) -> (StatusCode, Value) {
    let mut req = Request::builder().method(method).uri(uri).header("acc-agent-host", "host");
    if !agent.is_empty() {
        req = req.header("acc-agent-id", agent);
    }
    let req = req.body(body.into()).unwrap();
    let tls = TlsIdentity::Certificate {
        cn: Some(agent.to_string()),
        subject: format!("CN={agent}"),
        issuer: "CN=Test CA".into(),
    };
    support::send(site, req, SocketAddr::from(([10, 0, 0, 1], 40000)), tls).await
}

async fn poll(site: &Arc<Site>, agent: &str, wait: u64) -> Vec<Value> {
    let (s, v) = call(site, "GET", &format!("/v1/tasks?wait={wait}"), agent, "").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["tasks"].as_array().unwrap().clone()
}

async fn post_result(site: &Arc<Site>, agent: &str, id: &str, body: &str) -> (StatusCode, Value) {
    call(site, "POST", &format!("/v1/tasks/{id}/result"), agent, body.to_string()).await
}

const DONE: &str = r#"{"status":"completed","exit_code":0,"output":"8 CPUs"}"#;

#[tokio::test]
async fn a_sent_task_is_delivered_once() {
    let f = Fixture::new().await;
    let id = f.send("a1").await;
    assert_eq!(f.state(&id).await, TaskState::Pending);
    assert!(poll(&f.site, "a2", 0).await.is_empty(), "another agent's task is not delivered");
    let got = poll(&f.site, "a1", 0).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0]["id"], id);
    assert_eq!(got[0]["type"], "inventory");
    assert_eq!(got[0]["payload"], json!({"full": true}));
    assert_eq!(got[0]["delivery"], 1);
    assert!(poll(&f.site, "a1", 0).await.is_empty(), "delivered once");
    let shown = f.site.task(&id).await.unwrap();
    assert_eq!((shown.state, shown.deliveries), (TaskState::Delivered, 1));
}

#[tokio::test]
async fn a_waiting_long_poll_is_woken_by_a_send() {
    let f = Fixture::new().await;
    let site = f.site.clone();
    let started = Instant::now();
    let waiting = tokio::spawn(async move { poll(&site, "a1", 30).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while f.site.task_waiters() == 0 {
        assert!(Instant::now() < deadline, "the long-poll never started waiting");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let id = f.send("a1").await;
    let got = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("woken").unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["id"], id);
    assert!(started.elapsed() < Duration::from_secs(30), "answered by the send, not the timeout");
    assert_eq!(f.site.task_waiters(), 0, "the waiter is gone");
}

#[tokio::test]
async fn a_long_poll_with_nothing_to_do_answers_empty_when_its_wait_ends() {
    let f = Fixture::new().await;
    let started = Instant::now();
    assert!(poll(&f.site, "a1", 1).await.is_empty());
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert!(poll(&f.site, "a1", 0).await.is_empty(), "wait=0 answers at once");
}

#[tokio::test]
async fn polls_are_refused_without_an_agent_id_or_with_a_bad_wait() {
    let f = Fixture::new().await;
    let (s, v) = call(&f.site, "GET", "/v1/tasks?wait=1", "", "").await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")));
    assert!(v["message"].as_str().unwrap().contains("Acc-Agent-Id"), "{v}");
    for bad in ["wait=61", "wait=abc", "wait=-1", "since=0"] {
        let (s, v) = call(&f.site, "GET", &format!("/v1/tasks?{bad}"), "a1", "").await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{bad}: {v}");
    }
}

#[tokio::test]
async fn results_are_accepted_once_from_the_task_s_agent() {
    let f = Fixture::new().await;
    let id = f.send("a1").await;
    // Not delivered yet.
    let (s, v) = post_result(&f.site, "a1", &id, DONE).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{v}");
    poll(&f.site, "a1", 0).await;

    let (s, v) = post_result(&f.site, "a2", &id, DONE).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::FORBIDDEN, Some("access_denied")), "{v}");
    let unknown = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
    for bad_id in [unknown, "not-a-uuid", "..%2F..%2Fetc"] {
        let (s, v) = post_result(&f.site, "a1", bad_id, DONE).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{bad_id}: {v}");
    }
    for body in ["{not json", r#"{"status":"done"}"#, r#"{"status":"completed","extra":1}"#, ""] {
        let (s, v) = post_result(&f.site, "a1", &id, body).await;
        assert_eq!((s, v["error"].as_str()), (StatusCode::BAD_REQUEST, Some("malformed")), "{body}: {v}");
    }
    let big = json!({"status": "completed", "output": "x".repeat(100_000)}).to_string();
    let (s, v) = post_result(&f.site, "a1", &id, &big).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::PAYLOAD_TOO_LARGE, Some("too_large")), "{v}");
    let (s, _) = call(&f.site, "POST", &format!("/v1/tasks/{id}/result"), "", DONE).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "no Acc-Agent-Id");
    assert_eq!(f.state(&id).await, TaskState::Delivered, "refusals changed nothing");

    let (s, v) = post_result(&f.site, "a1", &id, DONE).await;
    assert_eq!((s, v["state"].as_str()), (StatusCode::OK, Some("completed")), "{v}");
    let (s, v) = post_result(&f.site, "a1", &id, DONE).await;
    assert_eq!((s, v["error"].as_str()), (StatusCode::CONFLICT, Some("conflict")), "{v}");
    let (s, _) = post_result(&f.site, "a2", &id, DONE).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "a final task still belongs to its agent");

    let shown = f.site.task(&id).await.unwrap();
    assert_eq!(shown.state, TaskState::Completed);
    assert_eq!(shown.result, Some(json!({"status": "completed", "exit_code": 0, "output": "8 CPUs"})));
    assert!(shown.completed_at.is_some());

    let failed = f.send("a1").await;
    poll(&f.site, "a1", 0).await;
    let (s, _) = post_result(&f.site, "a1", &failed, r#"{"status":"failed","exit_code":3}"#).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f.state(&failed).await, TaskState::Failed);
}

#[tokio::test]
async fn tasks_survive_a_reopen_and_are_redelivered_after_their_lease() {
    let mut f = Fixture::new().await;
    let delivered = f.send("a1").await;
    poll(&f.site, "a1", 0).await;
    let pending = f.send("a1").await;
    f.reopen().await;
    assert_eq!(f.state(&delivered).await, TaskState::Delivered);
    assert_eq!(f.state(&pending).await, TaskState::Pending);
    let got = poll(&f.site, "a1", 0).await;
    assert_eq!(got.iter().map(|t| t["id"].clone()).collect::<Vec<_>>(), [json!(pending)]);

    // The first task's lease runs out: delivered again, until MAX_DELIVERIES.
    f.advance_secs(LEASE_SECS);
    let got = poll(&f.site, "a1", 0).await;
    assert_eq!(got.len(), 2, "both leases ran out: {got:?}");
    assert_eq!(got[0]["id"], delivered);
    assert_eq!(got[0]["delivery"], 2);
    f.reopen().await;
    for n in 3..=MAX_DELIVERIES {
        f.advance_secs(LEASE_SECS);
        let got = poll(&f.site, "a1", 0).await;
        assert_eq!(got[0]["delivery"], n);
    }
    f.advance_secs(LEASE_SECS);
    assert!(poll(&f.site, "a1", 0).await.is_empty());
    assert_eq!(f.state(&delivered).await, TaskState::Expired);
    assert_eq!(f.state(&pending).await, TaskState::Expired);
    let (s, _) = post_result(&f.site, "a1", &delivered, DONE).await;
    assert_eq!(s, StatusCode::CONFLICT, "an expired task takes no result");
}

#[tokio::test]
async fn sends_are_refused_clearly_and_store_nothing() {
    let f = Fixture::new().await;
    let err = f.site.send_task("nobody", "inventory", None).await.unwrap_err().to_string();
    assert!(err.contains("agent 'nobody' has never registered"), "{err}");
    let err = f.site.send_task("a1", "run script", None).await.unwrap_err().to_string();
    assert!(err.starts_with("task type 'run script'"), "{err}");
    let big = json!("x".repeat(40_000));
    let err = f.site.send_task("a1", "inventory", Some(&big)).await.unwrap_err().to_string();
    assert!(err.contains("over the limit"), "{err}");
    assert!(f.site.tasks(&Default::default()).await.unwrap().is_empty());
    let err = f.site.task("nope").await.unwrap_err().to_string();
    assert_eq!(err, "no task with id 'nope'");
}
