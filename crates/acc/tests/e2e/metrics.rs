//! Metrics and health (issue 18): a real management server and a joined site server, each
//! with a metrics listener on 127.0.0.1:0 (the server by `--metrics-listen`, the site by
//! `ACC_METRICS_LISTEN`). The site answers `/readyz` 503 until its first
//! policy arrives (the management server is down when it starts), then 200; a logon, a
//! failed logon and an account lock move the site's counters; both `/metrics` are scraped
//! with curl and parsed with Prometheus' own Python parser (`prometheus_client`), which
//! must be installed (`.ci/run` installs it).

use std::collections::BTreeMap;

use crate::server::fleet;
use crate::util::{Dir, SiteProc, curl_with_status, wait_for};

const PW: &str = "Tr0ub4dor&3-horse-staple";

/// Prints one JSON array per sample: [name, {labels}, value]; fails without the parser.
const PARSE: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        out.append([s.name, s.labels, s.value])
print(json.dumps(out))
"#;

/// Parsed samples: name → [(labels, value)].
type Samples = BTreeMap<String, Vec<(BTreeMap<String, String>, f64)>>;

fn parse(text: &str) -> Samples {
    use std::io::Write;
    let mut child = std::process::Command::new("python3")
        .args(["-c", PARSE])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the Prometheus parser failed (pip install prometheus_client): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<(String, BTreeMap<String, String>, f64)> = serde_json::from_slice(&out.stdout).unwrap();
    let mut samples = Samples::new();
    for (name, labels, value) in rows {
        samples.entry(name).or_default().push((labels, value));
    }
    samples
}

/// The value of `name` with (at least) these labels, if scraped.
fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .get(name)?
        .iter()
        .find(|(l, _)| labels.iter().all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v)))
        .map(|(_, v)| *v)
}

/// `GET base+path` over plain HTTP: (status, body).
fn get(d: &Dir, base: &str, path: &str) -> (u16, String) {
    let (code, body, _) = curl_with_status(d, &["-s", &format!("{base}{path}")]);
    (code, body)
}

/// `GET url+path` over HTTPS with the role's CA.
fn get_tls(d: &Dir, ca: &str, base: &str, path: &str) -> (u16, String) {
    let (code, body, _) = curl_with_status(d, &["-s", "--cacert", ca, &format!("{base}{path}")]);
    (code, body)
}

fn scrape(d: &Dir, proc: &SiteProc) -> Samples {
    let base = proc.metrics.as_deref().expect("the metrics address");
    let (code, text) = get(d, base, "/metrics");
    assert_eq!(code, 200, "{text}");
    parse(&text)
}

/// One registration as ACC_user with `password`: the HTTP status.
fn register(d: &Dir, site: &SiteProc, password: &str) -> u16 {
    let user = format!("ACC_user:{password}");
    let url = format!("{}/v1/register", site.url);
    let body = r#"{"agent_id":"a1","host":"acclinux","os":"linux","version":"1.0"}"#;
    let args = ["-s", "--cacert", "site/tls/ca.crt", "-H", "content-type: application/json", "-u", &user];
    let args: Vec<&str> = args.iter().copied().chain(["-d", body, &url]).collect();
    curl_with_status(d, &args).0
}

#[test]
fn both_roles_expose_health_readiness_and_prometheus_metrics_that_move() {
    let mut f = fleet();
    let metrics_flag = ["--metrics-listen", "127.0.0.1:0"];
    // Classic lockout at 3 failures: the lock below is an account lock.
    f.ctl(&["settings", "site", "set", "--lockout-mode", "classic", "--threshold", "3"], "").ok();
    let token = f.ctl(&["site-token", "create", "--uses", "1"], "").ok();
    f.d.acc(&[
        "site",
        "join",
        "--token",
        token.trim(),
        "--data-dir",
        "site",
        "--name",
        "SITE1",
        "--listen",
        "127.0.0.1:0",
    ])
    .ok();
    f.d.acc_with(
        &["site", "accounts", "add", "ACC_user", "--password-stdin", "--data-dir", "site"],
        &format!("{PW}\n"),
        &[],
    )
    .ok();

    // The management server is down: the site starts without a policy and is not ready.
    let server_addr = f.server.addr();
    f.server.kill9();
    // The site's listener from the environment (systemd's EnvironmentFile), the server's
    // from the flag.
    let from_env = [("ACC_METRICS_LISTEN", "127.0.0.1:0")];
    let site = SiteProc::start_env("site", &f.d.join("site"), "127.0.0.1:0", None, &[], &from_env);
    let site_metrics = site.metrics.clone().expect("the site prints its metrics address");
    let site_ca = "site/tls/ca.crt";
    for (code, body) in [get(&f.d, &site_metrics, "/readyz"), get_tls(&f.d, site_ca, &site.url, "/readyz")] {
        assert_eq!(code, 503, "{body}");
        assert!(body.contains("no policy from the management server yet"), "{body}");
    }
    for (code, body) in [get(&f.d, &site_metrics, "/healthz"), get_tls(&f.d, site_ca, &site.url, "/healthz")]
    {
        assert_eq!((code, body.as_str()), (200, r#"{"status":"ok"}"#));
    }

    // Back up (same address, the one the site knows), now with a metrics listener.
    let server = SiteProc::start_with("server", &f.d.join("srv"), &server_addr, None, &metrics_flag);
    let server_metrics = server.metrics.clone().expect("the server prints its metrics address");
    wait_for(60, "the site ready after its first policy", || {
        (get(&f.d, &site_metrics, "/readyz").0 == 200).then_some(())
    });
    assert_eq!(get_tls(&f.d, site_ca, &site.url, "/readyz"), (200, r#"{"status":"ready"}"#.into()));
    let server_ca = "srv/tls/ca.crt";
    for (code, body) in [
        get(&f.d, &server_metrics, "/healthz"),
        get(&f.d, &server_metrics, "/readyz"),
        get_tls(&f.d, server_ca, &server.url, "/healthz"),
        get_tls(&f.d, server_ca, &server.url, "/readyz"),
    ] {
        assert_eq!(code, 200, "{body}");
    }
    assert_eq!(get(&f.d, &server_metrics, "/v1/health").0, 404, "the metrics listener serves three routes");

    // A logon, then wrong passwords until the account locks (threshold 3).
    assert_eq!(register(&f.d, &site, PW), 200);
    let codes: Vec<u16> = (0..4).map(|_| register(&f.d, &site, "wrong-password")).collect();
    assert_eq!(codes[..3], [401, 401, 401], "{codes:?}");

    let s = scrape(&f.d, &site);
    let at_least = |name: &str, labels: &[(&str, &str)], min: f64| {
        let v = value(&s, name, labels);
        assert!(v.is_some_and(|v| v >= min), "{name}{labels:?} = {v:?}, expected >= {min}: {s:?}");
    };
    at_least("acc_logons_total", &[("result", "success"), ("mode", "classic")], 1.0);
    at_least("acc_logons_total", &[("result", "failure"), ("mode", "classic")], 3.0);
    at_least("acc_account_locks_total", &[("scope", "account")], 1.0);
    at_least("acc_events_written_total", &[("event_id", "4740")], 1.0);
    at_least("acc_tls_handshakes_total", &[("result", "ok")], 5.0);
    at_least("acc_connections_total", &[("result", "accepted")], 5.0);
    at_least("acc_database_duration_seconds_count", &[("operation", "commit")], 1.0);
    assert_eq!(value(&s, "acc_policy_revision", &[]), Some(2.0), "the revision with the classic policy");
    assert!(value(&s, "acc_events_queued", &[]).is_some(), "{s:?}");
    assert!(value(&s, "acc_long_poll_waiters", &[("kind", "task")]).is_some(), "{s:?}");

    // The management server: the site's events arrive, its lag is 0, it long-polls.
    let s = wait_for(60, "the site's events stored and its policy acknowledged", || {
        let s = scrape(&f.d, &server);
        let stored = value(&s, "acc_events_written_total", &[("origin", "site")]).unwrap_or(0.0);
        let lag = value(&s, "acc_site_policy_revision_lag", &[("site", "SITE1")]);
        (stored >= 5.0 && lag == Some(0.0)).then_some(s)
    });
    assert_eq!(value(&s, "acc_policy_revision", &[]), Some(2.0));
    assert!(value(&s, "acc_long_poll_waiters", &[("kind", "site")]).is_some_and(|v| v >= 1.0), "{s:?}");
    assert!(value(&s, "acc_tls_handshakes_total", &[("result", "ok")]).is_some_and(|v| v >= 1.0), "{s:?}");
    assert!(value(&s, "acc_agents", &[("revision_lag", "0")]).is_some(), "{s:?}");
    assert!(
        value(&s, "acc_database_duration_seconds_count", &[("operation", "insert_events")]).is_some(),
        "{s:?}"
    );
    wait_for(10, "the site counting the events the server acknowledged", || {
        let s = scrape(&f.d, &site);
        value(&s, "acc_events_forwarded_total", &[]).is_some_and(|v| v >= 5.0).then_some(())
    });
}
