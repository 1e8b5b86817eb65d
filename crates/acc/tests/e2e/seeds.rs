//! The seeds as end-to-end scenarios (issue 6), each a procedure an administrator follows,
//! run step by step with real processes on loopback. The mTLS seed (002, steps 1-9) is
//! `agent::the_seeds_openssl_path_connects_with_mtls_and_says_so_in_acc_log`.

use serde_json::Value;

use crate::agent::{AgentProc, credential_fleet, enroll_web01, log_when};
use crate::server::{STRONG, fleet, join_sites, sites_when};
use crate::util::wait_for;

/// Package `a` (one file, `a.txt`), added and assigned to every site.
fn assign_package_a(f: &crate::server::Fleet) {
    std::fs::create_dir_all(f.d.join("pkg")).unwrap();
    f.d.write("pkg/a.txt", "a\n");
    f.ctl(&["package", "add", "--share", "software-library", "--name", "a", "--version", "1", "pkg"], "")
        .ok();
    f.ctl(&["package", "assign", "a", "--all"], "").ok();
}

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

/// Why the ACC exists (seed 000's introduction): in `application` mode a stale agent locks
/// the App ID out of the directory, and every agent that depends on it fails; with a local
/// ACC in smart mode the same stale agent blocks only itself, on its site server.
#[test]
fn the_acc_contains_a_stale_agent_that_would_lock_out_the_app_id() {
    let f = fleet();
    let sites = join_sites(&f, &["SITE1"]);
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let agent = AgentProc::start(&f.d, "agent/acc.yml");
    log_when(&f.d, "agent/acc.log", "the good agent as the App ID", "as CORP\\svc_acc_app");
    let stale = |user: &str| {
        for _ in 0..10 {
            let creds = format!("{user}:an-old-password");
            let extra =
                ["--cacert", "site1/tls/ca.crt", "-u", creds.as_str(), "-H", "Acc-Agent-Host: stale01"];
            crate::site::curl(&f.d, &sites[0], &extra, "/v1/register", crate::site::REG);
        }
    };
    stale("CORP\\svc_acc_app");
    let app_id = |state: &str| {
        f.json(&["directory", "list", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["app_id"] == true && a["state"] == state)
    };
    assert!(app_id("locked"), "the App ID is locked domain-wide");
    // The site writes the App ID's logons with its own package (4.2): acc-app-id.
    let by_app_id: Vec<serde_json::Value> = ["4624", "4625"]
        .into_iter()
        .flat_map(|id| site_events(&f, "site1", id))
        .filter(|e| e["TargetUserName"].as_str().is_some_and(|n| n.contains("svc_acc_app")))
        .collect();
    assert!(by_app_id.iter().any(|e| e["EventID"] == 4624), "{by_app_id:?}");
    assert!(by_app_id.iter().any(|e| e["EventID"] == 4625), "{by_app_id:?}");
    assert!(by_app_id.iter().all(|e| e["AuthenticationPackageName"] == "acc-app-id"), "{by_app_id:?}");
    drop(agent);
    let down = f.d.acc(&["agent", "download", "anything", "--config", "agent/acc.yml"]).fails_with(1);
    assert!(down.contains("locked"), "the good agent fails with it: {down}");
    f.ctl(&["directory", "unlock", "svc_acc_app"], "").ok();

    // Seed 000: a local ACC (smart mode by default). The same stale agent now blocks only
    // its own source on SITE1; the good agent and the App ID are untouched.
    f.set_credential("ACC_user", STRONG).ok();
    let _agent = AgentProc::start(&f.d, "agent/acc.yml");
    log_when(&f.d, "agent/acc.log", "the good agent as ACC_user", "as ACC_user");
    stale("ACC_user");
    let blocks = site_events(&f, "site1", "4740");
    assert!(
        blocks.iter().all(|e| e["LockScope"] == "source" && e["CallerComputerName"] == "STALE01"),
        "{blocks:?}"
    );
    assert!(!blocks.is_empty());
    assign_package_a(&f);
    wait_for(20, "the package on SITE1", || {
        f.d.join("site1/shares/software-library/a/a.txt").exists().then_some(())
    });
    let out = f.d.acc(&["agent", "download", "a", "--config", "agent/acc.yml"]).ok();
    assert!(out.contains("a@1"), "the good agent still works: {out}");
    assert!(app_id("enabled"), "the App ID is untouched");
}

/// Seed 000 best practice 3: never change the ACC's password, move to a new name. With one
/// agent offline for the whole rotation nothing locks, it moves to v2 when it returns, and
/// v1 is removed once every agent holds v2.
#[test]
fn a_rotation_with_an_agent_offline_throughout_locks_nothing() {
    let (f, _sites) = credential_fleet(&["SITE1"]);
    let token = f.ctl(&["enroll-token", "create", "--uses", "2"], "").ok();
    crate::agent::enroll_as(&f, &token, "web01", "online").ok();
    crate::agent::enroll_as(&f, &token, "web02", "offline").ok();
    let laptop = AgentProc::start(&f.d, "offline/acc.yml");
    log_when(&f.d, "offline/acc.log", "web02 on v1", "as ACC_User_v1");
    drop(laptop);
    let _online = AgentProc::start(&f.d, "online/acc.yml");
    log_when(&f.d, "online/acc.log", "web01 on v1", "as ACC_User_v1");

    f.ctl(
        &["credential", "rotate", "--username", "ACC_User_v2", "--password-stdin", "--grace", "7d"],
        "Second-Strong-Pass-2026\n",
    )
    .ok();
    log_when(&f.d, "online/acc.log", "web01 on v2", "as ACC_User_v2");
    let status = crate::server::status_when(&f, "v1 retiring while web02 is away", |v| {
        v["adoption"]["pending"] == serde_json::json!(["web02"])
    });
    assert_eq!(crate::server::phase_of(&status, "ACC_User_v1"), "retiring");

    let _back = AgentProc::start(&f.d, "offline/acc.yml");
    log_when(&f.d, "offline/acc.log", "web02 on v2", "as ACC_User_v2");
    crate::server::status_when(&f, "v1 removed", |v| crate::server::phase_of(v, "ACC_User_v1") == "removed");
    assert!(site_events(&f, "site1", "4740").is_empty(), "no lockout anywhere");
    assert!(f.json(&["events", "--id", "4740", "--json"]).as_array().unwrap().is_empty());
}

/// Seed 000 best practice 2: the ACC needs Read on the package sources. Without it the
/// save is refused; `--grant-read` grants it; a package refresh as a principal without
/// Read fails with an Access Denied naming principal, share and level.
#[test]
fn missing_read_is_refused_before_saving_and_fails_a_refresh_with_access_denied() {
    let f = fleet();
    let _sites = join_sites(&f, &["SITE1"]);
    f.ctl(&["share", "revoke", "software-library", "Agents", "--level", "share"], "").ok();
    let refused = f.set_credential("ACC_user", STRONG).fails_with(1);
    assert!(
        refused.contains("share access: 'ACC_user' cannot read 1 package source: software-library (share level); grant Read or Full Control at both the share and the file level, then save again"),
        "{refused}"
    );
    let saved = f.set_credential_with("ACC_user", STRONG, &["--grant-read"]).ok();
    assert!(saved.contains("allow Read to 'ACC_user' on share software-library"), "{saved}");
    // Read taken away again: the package refresh fails on the site as the ACC.
    f.ctl(&["share", "revoke", "software-library", "ACC_user", "--level", "share"], "").ok();
    assign_package_a(&f);
    let failed = wait_for(20, "the refresh error", || {
        let v = f.json(&["package", "list", "--json"]);
        v[0]["replicas"][0]["message"].as_str().map(str::to_string)
    });
    assert_eq!(
        failed,
        "package refresh: access denied reading 'software-library/a' as 'ACC_user' (share level); grant Read or Full Control at both the share and the file level"
    );
}

/// The management server down for a while: agents keep downloading from their site
/// server, and every event the site wrote meanwhile reaches the server afterwards.
#[test]
fn with_the_server_down_agents_keep_downloading_and_every_event_arrives_later() {
    let (mut f, _sites) = credential_fleet(&["SITE1"]);
    assign_package_a(&f);
    wait_for(20, "the package on SITE1", || {
        f.d.join("site1/shares/software-library/a/a.txt").exists().then_some(())
    });
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let _agent = AgentProc::start(&f.d, "agent/acc.yml");
    log_when(&f.d, "agent/acc.log", "the agent on SITE1", "as ACC_User_v1");

    let addr = f.server.addr();
    f.server.kill9();
    for _ in 0..3 {
        let _ = std::fs::remove_dir_all(f.d.join("agent/state/packages"));
        let out = f.d.acc(&["agent", "download", "a", "--config", "agent/acc.yml"]).ok();
        assert!(out.contains("every SHA-256 verified"), "{out}");
    }
    f.server = crate::util::SiteProc::start_at("server", &f.d.join("srv"), &addr, None);
    let on_site = site_events(&f, "site1", "4624").len();
    assert!(on_site >= 4, "the downloads logged on: {on_site}");
    wait_for(30, "every 4624 on the server", || {
        let v = f.json(&["events", "--id", "4624", "--site", "SITE1", "--json"]);
        (v.as_array()?.len() == site_events(&f, "site1", "4624").len()).then_some(())
    });
}
