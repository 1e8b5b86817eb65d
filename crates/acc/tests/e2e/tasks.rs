//! The task server as a real process: an agent (curl) long-polls `GET /v1/tasks`, the
//! administrator sends with `acc site tasks send` on the site's host, the send wakes the
//! waiting poll, the agent posts its result, and `acc site tasks show|list` see it; every
//! refusal is a JSON error with its status, and every bad command a one-line error.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::site::{PW, curl, reg, site_with_account};
use crate::util::{Dir, SiteProc, wait_for};

/// curl options of agent `agent` authenticating with the ACC, with the token its
/// registration answered (kept in `AGENT.token`), once it has one.
fn agent(d: &Dir, agent: &str) -> Vec<String> {
    let mut opts = vec![
        "-u".into(),
        format!("ACC_user:{PW}"),
        "-H".into(),
        "Acc-Agent-Host: acclinux".into(),
        "-H".into(),
        format!("Acc-Agent-Id: {agent}"),
    ];
    if let Ok(token) = std::fs::read_to_string(d.join(&format!("{agent}.token"))) {
        opts.extend(["-H".into(), format!("Acc-Agent-Token: {token}")]);
    }
    opts
}

/// One request as `who`: (HTTP status, JSON body).
fn call(d: &Dir, site: &SiteProc, who: &str, path: &str, body: &str) -> (u16, Value) {
    let opts = agent(d, who);
    let opts: Vec<&str> = opts.iter().map(String::as_str).collect();
    let (code, text) = curl(d, site, &opts, path, body);
    (code, serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {code} {text:?}: {e}")))
}

/// A started site with agents `a1` and `a2` registered.
pub(crate) fn site_with_agents(d: &Dir) -> SiteProc {
    let site = SiteProc::start(&site_with_account(d));
    for id in ["a1", "a2"] {
        let (code, v) = call(d, &site, id, "/v1/register", &reg(id));
        assert_eq!((code, v["agent_id"].as_str()), (200, Some(id)), "{v}");
        d.write(&format!("{id}.token"), v["agent_token"].as_str().unwrap());
    }
    site
}

/// Long-polls waiting in the running site, from its admin socket (`Stats`).
pub(crate) fn waiters(d: &Dir) -> u64 {
    let mut s = std::os::unix::net::UnixStream::connect(d.join("site/admin.sock")).expect("admin socket");
    s.write_all(b"{\"op\":\"stats\"}\n").unwrap();
    let mut line = String::new();
    BufReader::new(s).read_line(&mut line).unwrap();
    let v: Value = serde_json::from_str(&line).unwrap();
    v["result"]["task_waiters"].as_u64().unwrap_or_else(|| panic!("stats: {v}"))
}

/// `GET /v1/tasks?wait=SECS` as `who` in the background; stdout is the body, then the status.
pub(crate) fn long_poll(d: &Dir, site: &SiteProc, who: &str, secs: u64) -> Child {
    Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert", "site/tls/ca.crt"])
        .args(agent(d, who))
        .arg(format!("{}/v1/tasks?wait={secs}", site.url))
        .current_dir(d.path())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl (apt-get install -y curl)")
}

/// Waits (at most `secs`) for a background long-poll and returns its tasks.
fn tasks_of(mut child: Child, secs: u64) -> Vec<Value> {
    let waited = wait_for(secs, "the long-poll to answer", || child.try_wait().unwrap());
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(waited.success() && text.ends_with("\n200"), "{text}");
    let v: Value = serde_json::from_str(text.trim_end_matches("200")).unwrap();
    v["tasks"].as_array().unwrap_or_else(|| panic!("{v}")).clone()
}

/// `acc site tasks ARGS --data-dir site --json`, parsed.
fn tasks_json(d: &Dir, args: &[&str]) -> Value {
    let mut all = vec!["site", "tasks"];
    all.extend_from_slice(args);
    all.extend(["--data-dir", "site", "--json"]);
    serde_json::from_str(&d.acc(&all).ok()).unwrap()
}

const DONE: &str = r#"{"status":"completed","exit_code":0,"output":"8 CPUs","data":{"cpus":8}}"#;

#[test]
fn a_send_wakes_the_waiting_long_poll_and_the_result_is_recorded_once() {
    let d = Dir::new();
    let site = site_with_agents(&d);
    let poll = long_poll(&d, &site, "a1", 30);
    wait_for(10, "the long-poll to wait in the site", || (waiters(&d) == 1).then_some(()));

    let sent = Instant::now();
    let send = ["site", "tasks", "send", "--data-dir", "site", "--agent", "a1", "--type", "inventory"];
    let out = d.acc(&[&send[..], &["--payload", r#"{"full":true}"#]].concat()).ok();
    let id = out.trim().to_string();
    assert!(uuid_like(&id), "send prints the task id: {out:?}");
    // Woken by the send, not by the end of its 30 s wait.
    let got = tasks_of(poll, 10);
    assert!(sent.elapsed() < Duration::from_secs(10), "{:?}", sent.elapsed());
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (&got[0]["id"], &got[0]["type"], &got[0]["payload"], &got[0]["delivery"]),
        (&json!(id), &json!("inventory"), &json!({"full": true}), &json!(1))
    );
    assert_eq!(waiters(&d), 0, "the answered poll no longer waits");
    let shown = tasks_json(&d, &["show", &id]);
    assert_eq!((&shown["state"], &shown["deliveries"]), (&json!("delivered"), &json!(1)), "{shown}");

    // Refusals change nothing: another agent (403), a malformed body (400), too large (413).
    let path = format!("/v1/tasks/{id}/result");
    let (code, v) = call(&d, &site, "a2", &path, DONE);
    assert_eq!((code, v["error"].as_str()), (403, Some("access_denied")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("was not sent to agent 'a2'"), "{v}");
    for bad in ["{not json", r#"{"status":"done"}"#] {
        let (code, v) = call(&d, &site, "a1", &path, bad);
        assert_eq!((code, v["error"].as_str()), (400, Some("malformed")), "{bad}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with("request body: "), "{v}");
    }
    let big = json!({"status": "completed", "output": "x".repeat(70_000)}).to_string();
    let (code, v) = call(&d, &site, "a1", &path, &big);
    assert_eq!((code, v["error"].as_str()), (413, Some("too_large")), "{v}");
    assert_eq!(tasks_json(&d, &["show", &id])["state"], "delivered");

    let (code, v) = call(&d, &site, "a1", &path, DONE);
    assert_eq!((code, &v), (200, &json!({"id": id, "state": "completed"})));
    let shown = tasks_json(&d, &["show", &id]);
    assert_eq!(shown["state"], "completed", "{shown}");
    assert_eq!(shown["result"], serde_json::from_str::<Value>(DONE).unwrap());
    assert!(shown["completed_at"].is_string(), "{shown}");
    let text = d.acc(&["site", "tasks", "show", &id, "--data-dir", "site"]).ok();
    assert!(text.contains(r#"payload:    {"full":true}"#), "{text}");
    assert!(text.contains("state:      completed") && text.contains(r#""output":"8 CPUs""#), "{text}");

    // A result is accepted once; an unknown task is 404.
    let (code, v) = call(&d, &site, "a1", &path, DONE);
    assert_eq!((code, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("already completed"), "{v}");
    let unknown = "/v1/tasks/6f9619ff-8b86-d011-b42d-00c04fc964ff/result";
    let (code, v) = call(&d, &site, "a1", unknown, DONE);
    assert_eq!((code, v["error"].as_str()), (404, Some("not_found")), "{v}");

    // The list filters by agent and state.
    let listed = tasks_json(&d, &["list", "--agent", "a1"]);
    assert_eq!(listed.as_array().unwrap().iter().map(|t| &t["id"]).collect::<Vec<_>>(), [&json!(id)]);
    assert_eq!(tasks_json(&d, &["list", "--agent", "a2"]), json!([]));
    assert_eq!(tasks_json(&d, &["list", "--state", "pending"]), json!([]));
    let table = d.acc(&["site", "tasks", "list", "--agent", "a1", "--data-dir", "site"]).ok();
    assert!(
        table.lines().any(|l| l.starts_with(&id) && l.contains("completed") && l.ends_with("exit 0")),
        "{table}"
    );
}

#[test]
fn polls_and_sends_with_bad_input_are_refused_clearly() {
    let d = Dir::new();
    let site = site_with_agents(&d);
    let started = Instant::now();
    let (code, v) = call(&d, &site, "a1", "/v1/tasks?wait=0", "");
    assert_eq!((code, &v), (200, &json!({"tasks": []})));
    assert!(started.elapsed() < Duration::from_secs(5), "wait=0 answers at once: {:?}", started.elapsed());
    for (query, says) in [
        ("wait=abc", "wait: 'abc' is not a number; use a whole number of seconds from 0 to 60"),
        ("wait=61", "wait: 61 is out of range; use a whole number of seconds from 0 to 60"),
        ("colour=red", "unknown query parameter 'colour'"),
    ] {
        let (code, v) = call(&d, &site, "a1", &format!("/v1/tasks?{query}"), "");
        assert_eq!((code, v["error"].as_str()), (400, Some("malformed")), "{query}: {v}");
        assert!(v["message"].as_str().unwrap().starts_with(says), "{query}: {v}");
    }

    // A result for a task not yet received: 409, naming how to receive it.
    let id =
        d.acc(&["site", "tasks", "send", "--agent", "a2", "--type", "inventory", "--data-dir", "site"]).ok();
    let (code, v) = call(&d, &site, "a2", &format!("/v1/tasks/{}/result", id.trim()), DONE);
    assert_eq!((code, v["error"].as_str()), (409, Some("conflict")), "{v}");
    assert!(v["message"].as_str().unwrap().contains("has not been delivered yet"), "{v}");

    // Bad commands: exit 1 (2 for usage), one `error:` line naming the thing, nothing sent.
    let big = json!({"blob": "x".repeat(40_000)}).to_string();
    d.write("big.json", &big);
    let too_large = format!(
        "error: big.json: task payload: {} bytes of JSON is over the limit of 32768 bytes",
        big.len()
    );
    for (args, code, says) in [
        (&["--agent", "nobody", "--type", "inventory"][..], 1, "error: agent 'nobody' has never registered"),
        (&["--agent", "a1", "--type", "run script"], 1, "error: task type 'run script': use 1 to 64"),
        (
            &["--agent", "a1", "--type", "inventory", "--payload", "{bad"],
            1,
            "error: --payload: not valid JSON",
        ),
        (&["--agent", "a1", "--type", "inventory", "--payload-file", "big.json"], 1, too_large.as_str()),
        (
            &["--agent", "a1", "--type", "inventory", "--payload-file", "none.json"],
            1,
            "error: none.json: cannot read",
        ),
        (&["--agent", "a1"], 2, "error: the following required arguments were not provided"),
    ] {
        let mut all = vec!["site", "tasks", "send", "--data-dir", "site"];
        all.extend_from_slice(args);
        let err = d.acc(&all).fails_with(code);
        assert!(err.starts_with(says), "{args:?}: {err}");
        if code == 1 {
            assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err}");
        }
    }
    let err = d.acc(&["site", "tasks", "show", "not-a-task", "--data-dir", "site"]).fails_with(1);
    assert_eq!(err.trim_end(), "error: no task with id 'not-a-task'");
    let err = d.acc(&["site", "tasks", "list", "--state", "done", "--data-dir", "site"]).fails_with(2);
    assert!(err.contains("use pending, delivered, completed, failed or expired"), "{err}");
    assert_eq!(tasks_json(&d, &["list"]).as_array().unwrap().len(), 1, "only the good send was stored");
}

fn uuid_like(id: &str) -> bool {
    id.len() == 36 && id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit())
}
