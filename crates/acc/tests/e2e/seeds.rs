//! The seeds as end-to-end scenarios (issue 6), each a procedure an administrator follows,
//! run step by step with real processes on loopback. The mTLS seed (002, steps 1-9) is
//! `agent::the_seeds_openssl_path_connects_with_mtls_and_says_so_in_acc_log`.

use serde_json::Value;

use crate::agent::{AgentProc, credential_fleet, enroll_web01, log_when};
use crate::server::{STRONG, fleet, join_sites, sites_when};
use crate::util::wait_for;

/// `acc site events --id ID --json` of site `dir`.
fn site_events(f: &crate::server::Fleet, dir: &str, id: &str) -> Vec<Value> {
    let out = f.d.acc(&["site", "events", "--data-dir", dir, "--id", id, "--json"]).ok();
    serde_json::from_str(&out).unwrap()
}

/// Seed 000, "How to setup Agent Connectivity Credential (ACC) and Best Practices",
/// steps 1-6 through `acc ctl`, then an agent registering and downloading as the ACC.
#[test]
fn seed_000_sets_up_the_acc_step_by_step() {
    let f = fleet();
    let sites = join_sites(&f, &["SITE1", "SITE2"]);
    // Steps 1-2: "Use these credentials"; the UI is picky about complexity.
    let args =
        ["settings", "auth", "set", "--mode", "credential", "--username", "ACC_user", "--password-stdin"];
    let weak =
        f.ctl(&[&args[..], &["--password-policy", "complexity"]].concat(), "weakpassword\n").fails_with(1);
    assert!(
        weak.contains("missing an uppercase letter (A-Z), a digit (0-9) and a symbol"),
        "the missing classes are named: {weak}"
    );
    f.ctl(&[&args[..], &["--password-policy", "complexity"]].concat(), &format!("{STRONG}\n")).ok();
    // Steps 3-4: both Global Site Server Settings boxes (on by default: nothing to change).
    let boxes = f.ctl(&["settings", "site", "set", "--create-acc", "true", "--reenable", "true"], "");
    assert!(boxes.code() == 0 || boxes.stderr().contains("nothing changed"), "{}", boxes.stderr());
    let settings = f.json(&["settings", "show", "--json"]);
    assert_eq!(
        (
            settings["site"]["create_acc_on_site_servers"].as_bool(),
            settings["site"]["reenable_locked_local_account"].as_bool()
        ),
        (Some(true), Some(true)),
        "{settings}"
    );
    // Step 5: update the configuration of every site server: the local account exists.
    let sent = f.ctl(&["task", "send", "update-config", "--to", "all"], "").ok();
    assert!(sent.contains("2 site server(s)"), "{sent}");
    for dir in ["site1", "site2"] {
        wait_for(20, "ACC_user on every site server", || {
            let shown = f.d.acc(&["site", "accounts", "show", "ACC_user", "--data-dir", dir, "--json"]);
            (shown.code() == 0 && shown.stdout().contains("\"enabled\"")).then_some(())
        });
    }
    // Step 6: Read on the package sources (the save checked it); a package refresh as the
    // ACC succeeds on both sites.
    std::fs::create_dir_all(f.d.join("pkg")).unwrap();
    f.d.write("pkg/setup.sh", "echo hello\n");
    f.ctl(&["package", "add", "--share", "software-library", "--name", "hello", "--version", "1", "pkg"], "")
        .ok();
    f.ctl(&["package", "assign", "hello", "--all"], "").ok();
    for dir in ["site1", "site2"] {
        wait_for(20, "the package on every site", || {
            f.d.join(&format!("{dir}/shares/software-library/hello/setup.sh")).exists().then_some(())
        });
    }
    // A managed agent registers with a site server and downloads as ACC_user (4624).
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let _agent = AgentProc::start(&f.d, "agent/acc.yml");
    log_when(
        &f.d,
        "agent/acc.log",
        "registered as ACC_user",
        &format!("connected to {} using TLS 1.3 as ACC_user", sites[0].url),
    );
    let out = f.d.acc(&["agent", "download", "hello", "--config", "agent/acc.yml"]).ok();
    assert!(out.contains("hello@1"), "{out}");
    let logons = site_events(&f, "site1", "4624");
    assert!(
        logons.iter().any(|e| e["TargetUserName"] == "ACC_user" && e["WorkstationName"] == "WEB01"),
        "{logons:?}"
    );
}

/// Seed 000 best practice and KB 150951: in classic mode a locked ACC is re-enabled by
/// the site's refresh within its interval (4767 Reason reenable, seen on the server).
#[test]
fn re_enable_brings_a_locked_acc_back_within_the_interval() {
    let (f, sites) = credential_fleet(&["SITE1"]);
    let set = ["settings", "site", "set", "--lockout-mode", "classic", "--threshold", "3"];
    f.ctl(
        &[
            &set[..],
            &["--reset-after", "60s", "--duration", "1h", "--reenable", "true", "--refresh-interval", "2s"],
        ]
        .concat(),
        "",
    )
    .ok();
    let revision = f.json(&["settings", "show", "--json"])["revision"].as_i64().unwrap();
    sites_when(&f, "SITE1 applied the classic policy", |s| {
        s[0]["applied_revision"].as_i64() == Some(revision)
    });
    let register = |password: &str| {
        let user = format!("ACC_User_v1:{password}");
        let extra =
            ["--cacert", "site1/tls/ca.crt", "-u", user.as_str(), "-H", "Acc-Agent-Host: stale-laptop"];
        crate::site::curl(&f.d, &sites[0], &extra, "/v1/register", crate::site::REG)
    };
    for _ in 0..3 {
        assert_eq!(register("old-password").0, 401);
    }
    assert_eq!(register(STRONG).0, 403, "locked");
    let unlock = wait_for(20, "the re-enable 4767 on the server", || {
        let v = f.json(&["events", "--id", "4767", "--json"]);
        v.as_array()?.first().cloned()
    });
    assert_eq!(
        (unlock["Reason"].as_str(), unlock["TargetUserName"].as_str()),
        (Some("reenable"), Some("ACC_User_v1"))
    );
    assert_eq!(register(STRONG).0, 200, "back within the interval, long before the 1 h lock would end");
}

/// Seed 000 best practice 4: find the system that locked the ACC. The 4740 names the
/// stale machine and its IP; `acc ctl lockouts` points at it and at the old policy
/// revision its agent still runs.
#[test]
fn the_investigation_finds_the_stale_machine_and_its_old_revision() {
    let (f, sites) = credential_fleet(&["SITE1"]);
    // stale01 is an enrolled agent that last applied revision 1 (a legacy build that
    // never moved on), still presenting an old password.
    crate::site::agent_certificate(&f.d);
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    let (code, v) = crate::server::enroll(&f, &token, "stale01", "agent.csr");
    assert_eq!(code, 200, "{v}");
    f.d.write("stale.crt", v["certificate_pem"].as_str().unwrap());
    let extra = ["--cacert", "srv/tls/ca.crt", "--cert", "stale.crt", "--key", "agent.key"];
    let body =
        r#"{"seq":1,"revision":1,"auth_mode":"credential","user_name":"ACC_User_v0","version":"legacy"}"#;
    assert_eq!(crate::site::curl(&f.d, &f.server, &extra, "/v1/agent/checkin", body).0, 200);
    for _ in 0..5 {
        let extra = [
            "--cacert",
            "site1/tls/ca.crt",
            "-u",
            "ACC_User_v1:an-old-password",
            "-H",
            "Acc-Agent-Host: stale01",
        ];
        crate::site::curl(&f.d, &sites[0], &extra, "/v1/register", crate::site::REG);
    }
    let lock = wait_for(20, "the 4740 on the server", || {
        f.json(&["events", "--id", "4740", "--json"]).as_array()?.first().cloned()
    });
    assert_eq!(
        (lock["CallerComputerName"].as_str(), lock["IpAddress"].as_str()),
        (Some("STALE01"), Some("127.0.0.1")),
        "{lock}"
    );
    let lockouts = f.json(&["lockouts", "--json"]);
    assert_eq!(
        (lockouts[0]["caller"].as_str(), lockouts[0]["agent_revision"].as_i64()),
        (Some("STALE01"), Some(1)),
        "{lockouts}"
    );
    let text = f.ctl(&["lockouts"], "").ok();
    assert!(
        text.contains("STALE01")
            && text.contains("its agent runs policy revision 1")
            && text.contains("what to do"),
        "{text}"
    );
}
