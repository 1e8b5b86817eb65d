//! `acc site` as a real process: curl and openssl s_client as outside clients, passwords
//! and client certificates on one port, lockouts found through the event log, and no
//! acknowledged logon lost to a kill -9.

use crate::util::{Dir, SiteProc};

pub(crate) const PW: &str = "Tr0ub4dor&3-horse-staple";

pub(crate) fn site_with_account(d: &Dir) -> std::path::PathBuf {
    let dir = d.join("site");
    d.acc(&["site", "init", "--data-dir", "site", "--name", "SITE-01", "--listen", "127.0.0.1:0"]).ok();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_acc"))
        .args(["site", "accounts", "add", "ACC_user", "--password-stdin", "--data-dir"])
        .arg(&dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(format!("{PW}\n").as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    dir
}

/// A lab CA (`lab/ca.crt`, `lab/ca.key`) and an agent certificate `agent.crt`/`agent.key`
/// for `/O=Example/CN=acclinux` signed by it with the client profile.
pub(crate) fn agent_certificate(d: &Dir) {
    d.acc(&["pki", "ca", "init", "--out-dir", "lab", "--cn", "Lab CA"]).ok();
    d.acc(&["pki", "key", "--out", "agent.key"]).ok();
    d.acc(&["pki", "csr", "--key", "agent.key", "--subj", "/O=Example/CN=acclinux", "--out", "agent.csr"])
        .ok();
    d.acc(&[
        "pki",
        "sign",
        "--csr",
        "agent.csr",
        "--ca-cert",
        "lab/ca.crt",
        "--ca-key",
        "lab/ca.key",
        "--days",
        "30",
        "--profile",
        "client",
        "--out",
        "agent.crt",
    ])
    .ok();
}

/// `curl` against the site: returns (HTTP status, body).
pub(crate) fn curl(d: &Dir, site: &SiteProc, extra: &[&str], path: &str, body: &str) -> (u16, String) {
    let url = format!("{}{path}", site.url);
    let mut args = vec!["-s", "--cacert", "site/tls/ca.crt", "-H", "content-type: application/json"];
    args.extend_from_slice(extra);
    if !body.is_empty() {
        args.extend(["-d", body]);
    }
    args.push(&url);
    let (code, body, _) = crate::util::curl_with_status(d, &args);
    (code, body)
}

pub(crate) const REG: &str = r#"{"agent_id":"a1","host":"acclinux","os":"linux","version":"1.0"}"#;

/// A registration body for agent id `id` (an id belongs to the agent that registered it
/// first: probes that register again as someone else use ids of their own).
pub(crate) fn reg(id: &str) -> String {
    REG.replace("\"a1\"", &format!("\"{id}\""))
}

pub(crate) fn events(d: &Dir, id: &str) -> Vec<serde_json::Value> {
    let out = d.acc(&["site", "events", "--data-dir", "site", "--id", id, "--json"]).ok();
    serde_json::from_str(&out).unwrap()
}

#[test]
fn passwords_and_certificates_share_one_https_port() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    agent_certificate(&d);
    d.acc(&["site", "trust", "add", "lab/ca.crt", "--data-dir", "site"]).ok();
    let site = SiteProc::start(&dir);

    let (code, body) = curl(
        &d,
        &site,
        &["-u", &format!("ACC_user:{PW}"), "-H", "Acc-Agent-Host: acclinux"],
        "/v1/register",
        REG,
    );
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"principal\":\"ACC_user\""), "{body}");
    // The id is the password agent's now: a certificate cannot take it, but registers its own.
    let (code, body) = curl(&d, &site, &["--cert", "agent.crt", "--key", "agent.key"], "/v1/register", REG);
    assert!(code == 403 && body.contains("agent_id_taken"), "{code} {body}");
    let (code, body) =
        curl(&d, &site, &["--cert", "agent.crt", "--key", "agent.key"], "/v1/register", &reg("m1"));
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("cert:CN=acclinux"), "{body}");
    let (code, body) = curl(&d, &site, &[], "/v1/register", REG);
    assert!(code == 401 && body.contains("authentication_required"), "{code} {body}");

    // Revoked after a CRL is set on the running server: refused, with a 4625 naming why.
    let serial = d.acc(&["pki", "show", "agent.crt", "--json"]).ok();
    let serial: serde_json::Value = serde_json::from_str(&serial).unwrap();
    d.acc(&[
        "pki",
        "crl",
        "--ca-cert",
        "lab/ca.crt",
        "--ca-key",
        "lab/ca.key",
        "--revoke",
        serial["serial"].as_str().unwrap(),
        "--out",
        "lab.crl",
    ])
    .ok();
    d.acc(&["site", "crl", "set", "lab.crl", "--data-dir", "site"]).ok();
    let (code, body) = curl(&d, &site, &["--cert", "agent.crt", "--key", "agent.key"], "/v1/register", REG);
    assert!(code == 403 && body.contains("revoked"), "{code} {body}");
    let refused = crate::util::wait_for(10, "the 4625 of the revoked certificate", || {
        events(&d, "4625").into_iter().find(|e| e["AuthenticationPackageName"] == "acc-mtls")
    });
    assert!(refused["FailureReason"].as_str().unwrap().contains("revoked"), "{refused}");
    assert_eq!((&refused["Status"], &refused["SubStatus"]), (&"0xC000006D".into(), &"0xC0000389".into()));

    // TLS 1.2 and 1.3 accepted, 1.1 refused.
    for (flag, ok) in [("-tls1_3", true), ("-tls1_2", true), ("-tls1_1", false)] {
        let o =
            d.openssl(&["s_client", "-connect", &site.addr(), flag, "-CAfile", "site/tls/ca.crt", "-brief"]);
        assert_eq!(o.code() == 0, ok, "{flag}: {}", o.stderr());
    }
}

#[test]
fn a_lockout_names_the_culprit_machine_in_event_4740() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    d.acc(&[
        "site",
        "policy",
        "set",
        "--data-dir",
        "site",
        "--mode",
        "classic",
        "--threshold",
        "3",
        "--reset-after",
        "60s",
        "--duration",
        "60s",
    ])
    .ok();
    let site = SiteProc::start(&dir);
    for _ in 0..3 {
        let (code, _) = curl(
            &d,
            &site,
            &["-u", "ACC_user:old-password", "-H", "Acc-Agent-Host: stale-laptop"],
            "/v1/register",
            REG,
        );
        assert_eq!(code, 401);
    }
    let out = std::process::Command::new("curl")
        .args([
            "-s",
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--cacert",
            "site/tls/ca.crt",
            "-u",
            &format!("ACC_user:{PW}"),
            "-d",
            REG,
        ])
        .arg(format!("{}/v1/register", site.url))
        .current_dir(d.path())
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(head.starts_with("http/1.1 403") || head.starts_with("http/2 403"), "{head}");
    assert!(head.contains("retry-after:"), "{head}");
    let lock = events(&d, "4740");
    assert_eq!(lock.len(), 1, "{lock:?}");
    assert_eq!(lock[0]["CallerComputerName"], "STALE-LAPTOP");
    assert_eq!(lock[0]["IpAddress"], "127.0.0.1");
    assert_eq!(lock[0]["TargetUserName"], "ACC_user");
    let shown = d.acc(&["site", "accounts", "show", "ACC_user", "--data-dir", "site", "--json"]).ok();
    assert!(shown.contains("\"state\": \"locked_out\""), "{shown}");
    // An administrator unlocks it on the running server: 4767, and the good agent is back.
    d.acc(&["site", "accounts", "unlock", "ACC_user", "--data-dir", "site"]).ok();
    assert_eq!(events(&d, "4767").len(), 1);
    let (code, body) = curl(&d, &site, &["-u", &format!("ACC_user:{PW}")], "/v1/register", REG);
    assert_eq!(code, 200, "{body}");
}

#[test]
fn kill_9_during_a_burst_loses_no_acknowledged_failure() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    // Threshold 0: never lock, but the counter is kept (C7), so every failure counts.
    d.acc(&["site", "policy", "set", "--data-dir", "site", "--mode", "classic", "--threshold", "0"]).ok();
    let mut site = SiteProc::start(&dir);
    let url = format!("{}/v1/register", site.url);
    // Eight clients hammer the site with wrong passwords; each counts the 401s it received.
    let acknowledged = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..8)
        .map(|i| {
            let (acknowledged, stop, url, cwd) =
                (acknowledged.clone(), stop.clone(), url.clone(), d.path().to_path_buf());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                    let out = std::process::Command::new("curl")
                        .args([
                            "-s",
                            "-o",
                            "/dev/null",
                            "-w",
                            "%{http_code}",
                            "--cacert",
                            "site/tls/ca.crt",
                            "-u",
                            "ACC_user:stale",
                            "-H",
                        ])
                        .arg(format!("Acc-Agent-Host: burst{i}"))
                        .args(["-d", "{}", &url])
                        .current_dir(&cwd)
                        .output();
                    match out {
                        Ok(o) if o.stdout == b"401" => {
                            acknowledged.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                        _ => break,
                    }
                }
            })
        })
        .collect();
    crate::util::wait_for(60, "40 acknowledged failures", || {
        (acknowledged.load(std::sync::atomic::Ordering::SeqCst) >= 40).then_some(())
    });
    site.kill9();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    for w in workers {
        w.join().unwrap();
    }
    let acked = acknowledged.load(std::sync::atomic::Ordering::SeqCst);
    // Offline now: the data directory is read directly.
    let failures = events(&d, "4625").len();
    assert!(failures >= acked, "{acked} failures were acknowledged but only {failures} 4625 events survived");
    let shown: serde_json::Value = serde_json::from_str(
        &d.acc(&["site", "accounts", "show", "ACC_user", "--data-dir", "site", "--json"]).ok(),
    )
    .unwrap();
    assert!(shown["bad_count"].as_u64().unwrap() as usize >= acked, "counter {shown} < acknowledged {acked}");
    // Sequence numbers have no gaps and the site starts again on the same directory.
    let all = events(&d, "4625");
    let seqs: Vec<u64> = all.iter().map(|e| e["Seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    let _again = SiteProc::start(&dir);
}

#[test]
fn a_locked_acc_is_reenabled_by_the_refresh_within_the_interval() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    let warned = d
        .acc(&[
            "site",
            "policy",
            "set",
            "--data-dir",
            "site",
            "--mode",
            "classic",
            "--threshold",
            "3",
            "--reset-after",
            "60s",
            "--duration",
            "60s",
            "--reenable",
            "true",
            "--refresh-interval",
            "2s",
        ])
        .output;
    assert!(String::from_utf8_lossy(&warned.stderr).contains("below the production minimum"));
    let site = SiteProc::start(&dir);
    for _ in 0..3 {
        curl(
            &d,
            &site,
            &["-u", "ACC_user:old-password", "-H", "Acc-Agent-Host: stale-laptop"],
            "/v1/register",
            REG,
        );
    }
    let (code, _) = curl(&d, &site, &["-u", &format!("ACC_user:{PW}")], "/v1/register", REG);
    assert_eq!(code, 403, "locked");
    let unlock = crate::util::wait_for(15, "the re-enable 4767", || events(&d, "4767").into_iter().next());
    assert_eq!(unlock["Reason"], "reenable");
    assert_eq!(unlock["SubjectUserName"], "SITE-01$");
    let refreshes = events(&d, "acc.refresh");
    assert!(
        refreshes
            .iter()
            .any(|e| e["Actions"].as_array().is_some_and(|a| a.iter().any(|x| x == "unlock ACC_user"))),
        "{refreshes:?}"
    );
    let (code, body) = curl(&d, &site, &["-u", &format!("ACC_user:{PW}")], "/v1/register", REG);
    assert_eq!(code, 200, "{body}");
}

/// A CRL past its nextUpdate, made by the system openssl, revoking `serial` (hex).
fn expired_crl(d: &Dir, serial: &str) {
    d.write(
        "ca.cnf",
        "[ca]\ndefault_ca = lab\n[lab]\ndatabase = index.txt\ncrlnumber = crlnumber\ndefault_md = sha256\n",
    );
    d.write("index.txt", format!("R\t301231000000Z\t240101000000Z\t{serial}\tunknown\t/CN=acclinux\n"));
    d.write("crlnumber", "01\n");
    let o = d.openssl(&[
        "ca",
        "-gencrl",
        "-config",
        "ca.cnf",
        "-keyfile",
        "lab/ca.key",
        "-cert",
        "lab/ca.crt",
        "-out",
        "expired.crl",
        "-crl_lastupdate",
        "20240101000000Z",
        "-crl_nextupdate",
        "20240102000000Z",
    ]);
    assert_eq!(o.code(), 0, "{}", o.stderr());
}

#[test]
fn an_expired_crl_keeps_refusing_what_it_lists_accepts_the_rest_and_raises_an_alert() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    agent_certificate(&d);
    let sign = ["pki", "sign", "--csr", "agent.csr", "--ca-cert", "lab/ca.crt", "--ca-key", "lab/ca.key"];
    d.acc(&[&sign[..], &["--days", "30", "--profile", "client", "--out", "other.crt"]].concat()).ok();
    let shown: serde_json::Value =
        serde_json::from_str(&d.acc(&["pki", "show", "agent.crt", "--json"]).ok()).unwrap();
    expired_crl(&d, shown["serial"].as_str().unwrap());
    d.acc(&["site", "trust", "add", "lab/ca.crt", "--data-dir", "site"]).ok();
    d.acc(&["site", "crl", "set", "expired.crl", "--data-dir", "site"]).ok();
    let site = SiteProc::start(&dir);

    let alert = crate::util::wait_for(20, "the acc.crl alert", || events(&d, "acc.crl").into_iter().next());
    assert_eq!(
        (alert["Kind"].as_str(), alert["Source"].as_str(), alert["Keywords"].as_str()),
        (Some("expired"), Some("operator"), Some("Audit Failure")),
        "{alert}"
    );
    assert!(
        alert["Message"].as_str().unwrap().contains("keeps refusing the 1 certificates it lists"),
        "{alert}"
    );
    let (code, body) = curl(&d, &site, &["--cert", "agent.crt", "--key", "agent.key"], "/v1/register", REG);
    assert!(code == 403 && body.contains("revoked"), "the listed certificate stays refused: {code} {body}");
    let (code, body) = curl(&d, &site, &["--cert", "other.crt", "--key", "agent.key"], "/v1/register", REG);
    assert_eq!(code, 200, "every other certificate is accepted: {body}");
    assert_eq!(events(&d, "acc.crl").len(), 1, "one alert per expired CRL");
}

#[test]
fn the_site_answers_health_without_credentials_as_the_server_does() {
    let d = Dir::new();
    d.acc(&["site", "init", "--data-dir", "site", "--name", "S1", "--listen", "127.0.0.1:0"]).ok();
    let site = SiteProc::start(&d.join("site"));
    let (code, body) = curl(&d, &site, &[], "/v1/health", "");
    assert_eq!((code, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (code, _) = curl(&d, &site, &[], "/v1/packages", "");
    assert_eq!(code, 401, "the other routes still authenticate");

    // The API document is the checked-in one, and every operation in it is a route: the
    // public ones answer, the others ask for credentials, none is the router's 404.
    let (code, body) = curl(&d, &site, &[], "/v1/openapi.json", "");
    assert_eq!(code, 200);
    let served: serde_json::Value = serde_json::from_str(&body).unwrap();
    let checked_in =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi/site.json"))
            .unwrap();
    assert_eq!(served, serde_json::from_str::<serde_json::Value>(&checked_in).unwrap());
    for (path, ops) in served["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let concrete =
                path.replace("{id}", "t1").replace("{name}", "tools").replace("{path}", "Packages/a.txt");
            let (code, body) = curl(&d, &site, &["-X", &method.to_uppercase()], &concrete, "");
            let public = op["security"].as_array().unwrap().is_empty();
            assert_eq!(code, if public { 200 } else { 401 }, "{method} {path}: {body}");
        }
    }
    let (code, _) = curl(&d, &site, &[], "/v1/nothing", "");
    assert_eq!(code, 404, "an unknown route is the router's 404");
}
