//! `acc agent` as a real process against a real management server and site server: the
//! seed's openssl path (its exact commands, the v1 trap, the key mode), enrollment, and a
//! rotation followed by a running agent.

use std::path::Path;

use serde_json::Value;

use crate::pki_openssl::{SEED_STEP3, openssl_agent_csr, openssl_lab_ca};
use crate::server::{Fleet, STRONG, fleet, join_sites, phase_of, sites_when, status_when};
use crate::util::{Dir, wait_for};

/// A running `acc agent run`, killed when dropped.
pub(crate) struct AgentProc(std::process::Child);

impl AgentProc {
    pub(crate) fn start(d: &Dir, config: &str) -> AgentProc {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_acc"))
            .args(["agent", "run", "--config", config])
            .current_dir(d.path())
            .env_remove("ACC_LOG")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::from(std::fs::File::create(d.join("agent.stderr")).unwrap()))
            .spawn()
            .expect("start acc agent run");
        AgentProc(child)
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub(crate) fn log_when(d: &Dir, file: &str, what: &str, needle: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let log = std::fs::read_to_string(d.join(file)).unwrap_or_default();
        if log.contains(needle) {
            return log;
        }
        if std::time::Instant::now() >= deadline {
            let tail: Vec<&str> = log.lines().rev().take(15).collect();
            panic!(
                "timed out waiting for {what}; the end of {file}:\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Waits until `file` has `n` lines containing `marker`, and returns the log and the waits
/// those lines announce ("retrying in 1 s", "0.7 s": jittered, so read, not matched).
pub(crate) fn retries_when(d: &Dir, file: &str, what: &str, marker: &str, n: usize) -> (String, Vec<f64>) {
    let waits = |log: &str| -> Vec<f64> {
        log.lines()
            .filter(|l| l.contains(marker))
            .filter_map(|l| l.split("retrying in ").nth(1)?.split(" s").next()?.parse().ok())
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    loop {
        let log = std::fs::read_to_string(d.join(file)).unwrap_or_default();
        let seen = waits(&log);
        if seen.len() >= n {
            return (log, seen);
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what} ({seen:?}):\n{log}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Backoff with equal jitter: each wait is at least the one before (half of a doubled wait
/// or more), the first at most `first`.
pub(crate) fn assert_backs_off(waits: &[f64], first: f64) {
    assert!(waits[0] <= first, "the first wait is at most {first} s: {waits:?}");
    assert!(waits.windows(2).all(|w| w[1] >= w[0]), "the waits grow: {waits:?}");
    assert!(waits[waits.len() - 1] > waits[0], "the waits grow: {waits:?}");
}

/// A fleet with `names` joined and the ACC `ACC_User_v1` active on them.
pub(crate) fn credential_fleet(names: &[&str]) -> (Fleet, Vec<crate::util::SiteProc>) {
    let f = fleet();
    let sites = join_sites(&f, names);
    f.set_credential("ACC_User_v1", STRONG).ok();
    status_when(&f, "v1 active", |v| phase_of(v, "ACC_User_v1") == "active");
    (f, sites)
}

/// `acc agent enroll` of host `web01` into `agent/` (log and state beside acc.yml).
pub(crate) fn enroll_web01(f: &Fleet, token: &str) -> crate::util::Run {
    enroll_as(f, token, "web01", "agent")
}

/// `acc agent enroll` of host `host` into `dir/` (log and state beside acc.yml).
pub(crate) fn enroll_as(f: &Fleet, token: &str, host: &str, dir: &str) -> crate::util::Run {
    let config = format!("{dir}/acc.yml");
    // The token on standard input, where `ps` does not show it.
    let args = ["agent", "enroll", "--token", "-", "--config", &config, "--host-name", host];
    f.d.acc_with(&[&args[..], &["--log-file", "acc.log", "--state-dir", "state"]].concat(), token, &[])
}

fn agent_when(f: &Fleet, name: &str, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    wait_for(30, what, || {
        let v = f.json(&["agents", "--json"]);
        v.as_array()?.iter().find(|a| a["name"] == name && check(a)).cloned()
    })
}

#[test]
fn the_seeds_openssl_path_connects_with_mtls_and_says_so_in_acc_log() {
    let f = fleet();
    let sites = join_sites(&f, &["SITE1"]);
    let d = &f.d;
    // The lab CA and the seed's steps 1-3, exactly.
    openssl_lab_ca(d);
    openssl_agent_csr(d);
    d.openssl(&SEED_STEP3).ok();
    // Step 4: the files into the agent's config folder, with acc.yml's four keys.
    std::fs::create_dir_all(d.join("etc-acc")).unwrap();
    std::fs::copy(d.join("labacc/acc.key"), d.join("etc-acc/acc.key")).unwrap();
    std::fs::copy(d.join("labacc/acc.crt"), d.join("etc-acc/acc.crt")).unwrap();
    std::fs::copy(d.join("srv/tls/ca.crt"), d.join("etc-acc/ca.crt")).unwrap();
    chmod(&d.join("etc-acc/acc.key"), 0o400);
    d.write(
        "etc-acc/acc.yml",
        format!(
            "server-url: {}\nca-file: ca.crt\nkey-file: \"{}\"\ncert-file: \"{}\"\nlog-file: acc.log\nstate-dir: state\n",
            f.server.url,
            d.join("etc-acc/acc.key").display(),
            d.join("etc-acc/acc.crt").display()
        ),
    );
    // The trap: step 3 made an X.509 v1 certificate, refused with how to re-sign it.
    let v1 = d.acc(&["agent", "run", "--config", "etc-acc/acc.yml"]).fails_with(1);
    assert!(v1.contains("X.509 v1") && v1.contains("acc.crt"), "{v1}");
    let ext = d.acc(&["pki", "openssl-ext", "--profile", "client"]).ok();
    d.write("client.cnf", &ext);
    let mut fixed = SEED_STEP3.to_vec();
    fixed.splice(13..13, ["-extfile", "client.cnf"]);
    d.openssl(&fixed).ok();
    chmod(&d.join("etc-acc/acc.crt"), 0o644);
    std::fs::copy(d.join("labacc/acc.crt"), d.join("etc-acc/acc.crt")).unwrap();
    // A key others may read is refused with the commands of step 6.
    chmod(&d.join("etc-acc/acc.key"), 0o644);
    let open = d.acc(&["agent", "run", "--config", "etc-acc/acc.yml"]).fails_with(1);
    assert!(open.contains("mode 0644") && open.contains("chmod 0400") && open.contains("chown"), "{open}");
    chmod(&d.join("etc-acc/acc.key"), 0o400);

    // The lab CA trusted fleet-wide, certificate mode: the agent connects by certificate.
    f.ctl(&["trust", "add", "labca/labcacert.pem"], "").ok();
    let revision = f.json(&["settings", "show", "--json"])["revision"].as_i64().unwrap();
    sites_when(&f, "SITE1 trusts the lab CA", |s| s[0]["applied_revision"].as_i64() == Some(revision));
    f.ctl(&["settings", "auth", "set", "--mode", "certificate"], "").ok();
    let _agent = AgentProc::start(d, "etc-acc/acc.yml");
    let log = log_when(
        d,
        "etc-acc/acc.log",
        "the site connection in acc.log",
        &format!(
            "connected to {} using TLS 1.3, client certificate CN=acclinux (issuer CN=Lab CA)",
            sites[0].url
        ),
    );
    assert!(
        log.contains(&format!("connected to {} using TLS 1.3, client certificate CN=acclinux", f.server.url)),
        "{log}"
    );
    let a = agent_when(&f, "acclinux", "acclinux checked in", |a| {
        a["status"] == "current" && a["site_reachable"] == true
    });
    assert_eq!(a["issuer"], "C=US, O=ServiceNow, CN=Lab CA", "{a}");
    let status: Value =
        serde_json::from_str(&d.acc(&["agent", "status", "--config", "etc-acc/acc.yml", "--json"]).ok())
            .unwrap();
    assert_eq!(
        (status["auth_mode"].as_str(), status["site_reachable"].as_bool()),
        (Some("certificate"), Some(true)),
        "{status}"
    );
    assert_eq!(status["certificate"]["subject"], "CN=acclinux");
    let table = d.acc(&["agent", "status", "--config", "etc-acc/acc.yml"]).ok();
    assert!(table.contains("CN=acclinux (issuer CN=Lab CA), expires"), "{table}");
}

#[test]
fn an_enrolled_agent_follows_a_rotation_without_a_restart_and_never_logs_a_secret() {
    let (f, sites) = credential_fleet(&["SITE1"]);
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    let out = enroll_web01(&f, &token).ok();
    assert!(out.contains("enrolled as web01"), "{out}");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("agent/acc.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o400);
    let again =
        d.acc(&["agent", "enroll", "--token", token.trim(), "--config", "agent/acc.yml"]).fails_with(1);
    assert!(again.contains("already enrolled"), "{again}");

    let _agent = AgentProc::start(d, "agent/acc.yml");
    log_when(
        d,
        "agent/acc.log",
        "the agent on SITE1 as v1",
        &format!("connected to {} using TLS 1.3 as ACC_User_v1", sites[0].url),
    );
    agent_when(&f, "web01", "web01 on generation 1", |a| a["generation"] == 1 && a["status"] == "current");

    f.ctl(
        &["credential", "rotate", "--username", "ACC_User_v2", "--password-stdin", "--grace", "7d"],
        "Second-Strong-Pass-2026\n",
    )
    .ok();
    log_when(d, "agent/acc.log", "the agent on SITE1 as v2", "as ACC_User_v2");
    status_when(&f, "v1 removed once the agent holds v2", |v| phase_of(v, "ACC_User_v1") == "removed");
    agent_when(&f, "web01", "web01 on generation 2", |a| a["generation"] == 2);

    for file in ["agent/acc.log", "agent/state/agent.json", "agent.stderr", "server.log"] {
        let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
        assert!(!text.contains(STRONG) && !text.contains("Second-Strong-Pass-2026"), "a secret in {file}");
    }
}

#[test]
fn packages_download_by_task_and_by_hand_resume_verify_and_survive_the_server_going_away() {
    let (mut f, sites) = credential_fleet(&["SITE1"]);
    let d = &f.d;
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(d.join("pkg/docs")).unwrap();
    std::fs::write(d.join("pkg/big.bin"), &big).unwrap();
    d.write("pkg/docs/readme.txt", "tools 1.0\n");
    f.ctl(
        &["package", "add", "--share", "software-library", "--name", "tools", "--version", "1.0", "pkg"],
        "",
    )
    .ok();
    f.ctl(&["package", "assign", "tools", "--all"], "").ok();
    wait_for(30, "SITE1 replicated tools", || {
        d.join("site1/shares/software-library/tools/big.bin").exists().then_some(())
    });
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let agent = AgentProc::start(d, "agent/acc.yml");
    log_when(
        d,
        "agent/acc.log",
        "the agent on SITE1",
        &format!("connected to {} using TLS 1.3 as ACC_User_v1", sites[0].url),
    );
    let status: Value =
        serde_json::from_str(&d.acc(&["agent", "status", "--config", "agent/acc.yml", "--json"]).ok())
            .unwrap();
    let id = status["agent_id"].as_str().unwrap().to_string();

    // The download-package task, then verify-package, through the site's task server.
    let task = |kind: &str| {
        let sent = d
            .acc(&[
                "site",
                "tasks",
                "send",
                "--data-dir",
                "site1",
                "--agent",
                &id,
                "--type",
                kind,
                "--payload",
                r#"{"name":"tools"}"#,
            ])
            .ok();
        let task_id = sent.split_whitespace().next().unwrap().to_string();
        wait_for(30, kind, || {
            let v: Value = serde_json::from_str(
                &d.acc(&["site", "tasks", "show", &task_id, "--data-dir", "site1", "--json"]).ok(),
            )
            .ok()?;
            (v["state"] == "completed" || v["state"] == "failed").then_some(v)
        })
    };
    let done = task("download-package");
    assert_eq!(done["state"], "completed", "{done}");
    assert!(done["result"]["output"].as_str().unwrap().contains("tools@1.0"), "{done}");
    assert_eq!(std::fs::read(d.join("agent/state/packages/tools/big.bin")).unwrap(), big);
    assert_eq!(task("verify-package")["state"], "completed");
    agent_when(&f, "web01", "web01 reports its cache", |a| a["packages"] == serde_json::json!(["tools@1.0"]));
    std::fs::write(d.join("agent/state/packages/tools/docs/readme.txt"), "tampered\n").unwrap();
    let verify = task("verify-package");
    assert!(
        verify["state"] == "failed"
            && verify["result"]["output"].as_str().unwrap().contains("docs/readme.txt (changed)"),
        "{verify}"
    );
    drop(agent);

    // Cut half-way: the next download resumes with Range from what is there.
    std::fs::remove_dir_all(d.join("agent/state/packages")).unwrap();
    std::fs::create_dir_all(d.join("agent/state/downloads/tools")).unwrap();
    std::fs::write(d.join("agent/state/downloads/tools/big.bin"), &big[..4_500_000]).unwrap();
    let out = d.acc(&["agent", "download", "tools", "--config", "agent/acc.yml"]).ok();
    assert!(out.contains("tools@1.0: 9000010 bytes") && out.contains("(4500010 fetched now)"), "{out}");

    // With the management server gone, the agent downloads with its cached policy.
    f.server.kill9();
    std::fs::remove_dir_all(d.join("agent/state/packages")).unwrap();
    let out = d.acc(&["agent", "download", "tools", "--config", "agent/acc.yml"]).ok();
    assert!(out.contains("every SHA-256 verified"), "{out}");
    let status = d.acc(&["agent", "status", "--config", "agent/acc.yml"]).ok();
    assert!(status.contains("tools@1.0"), "{status}");
}

/// Re-signs `agent/acc.crt` for the agent's own key with the fleet CA: valid from
/// `start_days_ago` days back, for `days` days.
fn fleet_cert(d: &Dir, start_days_ago: i64, days: u32) -> String {
    let start = time::OffsetDateTime::now_utc() - time::Duration::days(start_days_ago);
    let start = start.format(&time::format_description::well_known::Rfc3339).unwrap();
    d.acc(&["pki", "csr", "--key", "agent/acc.key", "--subj", "/CN=web01", "--out", "renew.csr"]).ok();
    let _ = std::fs::remove_file(d.join("agent/acc.crt"));
    let days = days.to_string();
    let sign =
        ["pki", "sign", "--csr", "renew.csr", "--ca-cert", "srv/tls/ca.crt", "--ca-key", "srv/tls/ca.key"];
    d.acc(
        &[
            &sign[..],
            &["--days", &days, "--not-before", &start, "--profile", "client", "--out", "agent/acc.crt"],
        ]
        .concat(),
    )
    .ok();
    let _ = std::fs::remove_file(d.join("renew.csr"));
    d.read("agent/acc.crt")
}

#[test]
fn certificates_renew_at_two_thirds_and_within_the_grace_after_expiry() {
    let f = fleet();
    let _sites = join_sites(&f, &["SITE1"]);
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();

    // A laptop in a drawer for 40 days past expiry: refused with how to re-enroll.
    fleet_cert(d, 50, 10);
    let late = d.acc(&["agent", "run", "--config", "agent/acc.yml"]).fails_with(1);
    assert!(late.contains("more than 30 days ago") && late.contains("acc agent enroll"), "{late}");

    // Expired 10 days ago: renewed at start by proving the key, then it connects.
    let expired = fleet_cert(d, 20, 10);
    let agent = AgentProc::start(d, "agent/acc.yml");
    log_when(d, "agent/acc.log", "renewed at start", "Certificate renewed at start");
    assert_ne!(d.read("agent/acc.crt"), expired);
    agent_when(&f, "web01", "web01 checked in with its new certificate", |a| {
        a["cert_not_after"]
            .as_i64()
            .is_some_and(|t| t > 1000 * time::OffsetDateTime::now_utc().unix_timestamp())
    });
    drop(agent);

    // Two thirds of the lifetime gone: renewed at check-in, without a restart.
    let old = fleet_cert(d, 20, 29);
    let _agent = AgentProc::start(d, "agent/acc.yml");
    log_when(d, "agent/acc.log", "renewed at two thirds", "Certificate renewed.");
    let renewed = d.read("agent/acc.crt");
    assert_ne!(renewed, old);
    let shown: Value =
        serde_json::from_str(&d.acc(&["pki", "show", "agent/acc.crt", "--json"]).ok()).unwrap();
    assert!(shown["subject"].as_str().unwrap().contains("CN=web01"), "{shown}");
}

#[test]
fn the_agent_fails_over_between_site_servers_and_catches_up_with_the_server_without_a_restart() {
    let (mut f, mut sites) = credential_fleet(&["SITE1", "SITE2"]);
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let _agent = AgentProc::start(d, "agent/acc.yml");
    log_when(
        d,
        "agent/acc.log",
        "the agent on SITE1",
        &format!("connected to {} using TLS 1.3 as ACC_User_v1", sites[0].url),
    );

    // SITE1 goes away: the agent moves to SITE2.
    sites[0].kill9();
    log_when(
        d,
        "agent/acc.log",
        "the agent on SITE2",
        &format!("connected to {} using TLS 1.3 as ACC_User_v1", sites[1].url),
    );

    // The management server goes away and comes back on its address: the agent keeps its
    // site session meanwhile and checks in again by itself.
    let addr = f.server.addr();
    f.server.kill9();
    f.server = crate::util::SiteProc::start_at("server", &d.join("srv"), &addr, Some(&d.join("server2.log")));
    let a = agent_when(&f, "web01", "web01 checked in after the outage, on SITE2", |a| {
        a["site_server"] == sites[1].url.as_str() && a["site_reachable"] == true
    });
    assert_eq!(a["status"], "current", "{a}");
}

#[test]
fn a_revision_that_would_strand_the_agent_is_kept_back_and_reported_as_policy_failed() {
    let (f, _sites) = credential_fleet(&["SITE1"]);
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let _agent = AgentProc::start(d, "agent/acc.yml");
    log_when(d, "agent/acc.log", "the agent on SITE1", "as ACC_User_v1");
    // SITE1's own operator revokes the agent's certificate locally (the server does not
    // know): a switch to certificate mode would strand the agent there.
    let serial: Value =
        serde_json::from_str(&d.acc(&["pki", "show", "agent/acc.crt", "--json"]).ok()).unwrap();
    let crl =
        ["pki", "crl", "--ca-cert", "srv/tls/ca.crt", "--ca-key", "srv/tls/ca.key", "--out", "site1.crl"];
    d.acc(&[&crl[..], &["--revoke", serial["serial"].as_str().unwrap()]].concat()).ok();
    d.acc(&["site", "trust", "add", "srv/tls/ca.crt", "--data-dir", "site1"]).ok();
    d.acc(&["site", "crl", "set", "site1.crl", "--data-dir", "site1"]).ok();
    let revision = f.json(&["settings", "show", "--json"])["revision"].as_i64().unwrap();
    sites_when(&f, "SITE1 at the revision in force", |s| s[0]["applied_revision"].as_i64() == Some(revision));
    f.ctl(&["settings", "auth", "set", "--mode", "certificate"], "").ok();

    let a = agent_when(&f, "web01", "policy_failed reported", |a| a["status"] == "policy_failed");
    assert_eq!(
        (a["revision"].as_i64(), a["failed_revision"].as_i64()),
        (Some(revision), Some(revision + 1)),
        "{a}"
    );
    assert!(a["failure"].as_str().unwrap().contains("revoked"), "{a}");
    let table = f.ctl(&["agents"], "").ok();
    assert!(table.contains(&format!("policy_failed (revision {})", revision + 1)), "{table}");
    // The old settings keep working meanwhile.
    let status: Value =
        serde_json::from_str(&d.acc(&["agent", "status", "--config", "agent/acc.yml", "--json"]).ok())
            .unwrap();
    assert_eq!(
        (status["auth_mode"].as_str(), status["site_reachable"].as_bool()),
        (Some("credential"), Some(true)),
        "{status}"
    );
}

#[test]
fn a_refused_credential_is_retried_once_then_waits_for_a_new_policy_and_locks_nothing() {
    let (f, _sites) = credential_fleet(&["SITE1"]);
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    // SITE1's account gets another password behind the server's back: the agent's secret
    // is now stale there.
    d.acc_with(
        &["site", "accounts", "set-password", "ACC_User_v1", "--password-stdin", "--data-dir", "site1"],
        "Other-Local-Pass-2026\n",
        &[],
    )
    .ok();
    let _agent = AgentProc::start(d, "agent/acc.yml");
    log_when(d, "agent/acc.log", "the agent gives up on the secret", "waiting for a new policy");
    let events = |id: &str| -> Vec<Value> {
        let out = d.acc(&["site", "events", "--data-dir", "site1", "--id", id, "--json"]).ok();
        serde_json::from_str::<Vec<Value>>(&out)
            .unwrap()
            .into_iter()
            .filter(|e| e["WorkstationName"] == "WEB01" || e["CallerComputerName"] == "WEB01")
            .collect()
    };
    assert_eq!(events("4625").len(), 2, "one attempt and one retry with the same secret and revision");
    assert!(events("4740").is_empty(), "nothing locked");
}

#[test]
fn an_agent_that_started_before_its_site_reaches_it_once_the_site_reports_in() {
    // The site is joined but not started: the agent's first policy names it without its
    // URL's port or its TLS CA, which only the site's first acknowledgement brings. That
    // acknowledgement makes no revision, so the agents must be told of it all the same.
    let f = fleet();
    let token = f.ctl(&["site-token", "create"], "").ok();
    f.d.acc(&[
        "site",
        "join",
        "--token",
        token.trim(),
        "--data-dir",
        "site1",
        "--name",
        "SITE1",
        "--listen",
        "127.0.0.1:0",
    ])
    .ok();
    let enroll = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &enroll).ok();
    let _agent = AgentProc::start(&f.d, "agent/acc.yml");
    agent_when(&f, "web01", "web01 checked in", |a| a["status"] == "current");
    let site = crate::util::SiteProc::start(&f.d.join("site1"));
    log_when(&f.d, "agent/acc.log", "the agent on SITE1", &format!("connected to {} using TLS", site.url));
}
