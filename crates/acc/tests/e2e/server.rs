//! `acc server init|run` and `acc ctl` as real processes: the contract forms of issue 4
//! (`--server/--ca/--token-file` and their environment variables), settings refused with
//! the specification's messages, revisions, tokens and roles, and no secret in any output.

use serde_json::Value;

use crate::util::{Dir, Run, SiteProc};

pub(crate) const STRONG: &str = "Correct-Horse-Battery-42";

pub(crate) struct Fleet {
    pub(crate) d: Dir,
    pub(crate) server: SiteProc,
    log: std::path::PathBuf,
}

pub(crate) fn fleet() -> Fleet {
    fleet_on("127.0.0.1")
}

/// A management server listening on `ip` (another loopback address: the proxy tests).
pub(crate) fn fleet_on(ip: &str) -> Fleet {
    fleet_with(ip, &[])
}

/// A management server listening on `ip`, initialised with `extra` arguments too.
pub(crate) fn fleet_with(ip: &str, extra: &[&str]) -> Fleet {
    let d = Dir::new();
    let listen = format!("{ip}:0");
    let mut args = vec!["server", "init", "--data-dir", "srv", "--domain", "CORP", "--listen", &listen];
    args.extend_from_slice(extra);
    let out = d.acc(&args).ok();
    assert!(out.contains("admin token:") && out.contains("CORP\\svc_acc_app"), "{out}");
    let log = d.join("server.log");
    let server = SiteProc::start_at("server", &d.join("srv"), &listen, Some(&log));
    Fleet { d, server, log }
}

impl Fleet {
    pub(crate) fn ctl(&self, args: &[&str], stdin: &str) -> Run {
        let ca = self.d.join("srv/tls/ca.crt");
        let token = self.d.join("srv/admin-token");
        let mut full = vec![
            "ctl",
            "--server",
            self.server.url.as_str(),
            "--ca",
            ca.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        self.d.acc_with(&full, stdin, &[])
    }

    /// `settings auth set --mode credential --username USER --password-stdin --password-policy complexity`.
    pub(crate) fn set_credential(&self, user: &str, password: &str) -> Run {
        self.set_credential_with(user, password, &["--password-policy", "complexity"])
    }

    /// `settings auth set --mode credential --username USER --password-stdin EXTRA…`.
    pub(crate) fn set_credential_with(&self, user: &str, password: &str, extra: &[&str]) -> Run {
        let args =
            ["settings", "auth", "set", "--mode", "credential", "--username", user, "--password-stdin"];
        let args: Vec<&str> = args.iter().chain(extra).copied().collect();
        self.ctl(&args, &format!("{password}\n"))
    }

    pub(crate) fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ctl(args, "").ok()).expect("JSON output")
    }
}

#[test]
fn init_writes_the_fleet_ca_and_a_private_admin_token_once() {
    let f = fleet();
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &str| std::fs::metadata(f.d.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode("srv/admin-token"), 0o600);
    assert_eq!(mode("srv/vault.key"), 0o600);
    assert_eq!(mode("srv/tls/ca.key"), 0o400);
    let text = f.d.openssl(&["x509", "-in", "srv/tls/ca.crt", "-noout", "-subject"]).ok();
    assert!(text.contains("acc fleet CA"), "{text}");
    let again = f.d.acc(&["server", "init", "--data-dir", "srv", "--domain", "CORP"]).fails_with(1);
    assert!(again.contains("already initialised"), "{again}");
    let busy = f.d.acc(&["server", "run", "--data-dir", "srv", "--listen", "127.0.0.1:0"]).fails_with(1);
    assert!(busy.contains("another acc server is running"), "{busy}");
    let bad = f.d.acc(&["server", "init", "--data-dir", "x", "--domain", "not a domain"]).fails_with(1);
    assert!(bad.contains("--domain 'not a domain'") && !f.d.join("x").exists(), "{bad}");
    // The system curl, as an outside client, reads the API description.
    let out = std::process::Command::new("curl")
        .args(["-sS", "--cacert", f.d.join("srv/tls/ca.crt").to_str().unwrap()])
        .arg(format!("{}/v1/openapi.json", f.server.url))
        .output()
        .expect("curl");
    let doc: Value = serde_json::from_slice(&out.stdout).expect("openapi JSON");
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/v1/settings/auth"]["put"].is_object());
}

#[test]
fn settings_are_refused_with_the_specification_messages_and_saved_as_revisions() {
    let f = fleet();
    let v = f.json(&["settings", "show", "--json"]);
    assert_eq!((v["revision"].as_i64(), v["auth"]["mode"].as_str()), (Some(1), Some("application")));

    let weak = f.set_credential("ACC_user", "weakpassword");
    let err = weak.fails_with(1);
    assert_eq!(
        err.trim(),
        "error: password: missing an uppercase letter (A-Z), a digit (0-9) and a symbol (such as ! # % _); the complexity policy needs an uppercase letter, a lowercase letter, a digit and a symbol"
    );
    let appid = f.set_credential("CORP\\svc_acc_app", "x");
    assert!(appid.fails_with(1).contains("is the App ID; do not enter it here"));
    let no_stdin = f.ctl(&["settings", "auth", "set", "--mode", "credential", "--username", "ACC_user"], "");
    assert!(no_stdin.fails_with(1).contains("--password-stdin"));

    let saved = f.set_credential("ACC_user", STRONG).ok();
    assert!(saved.contains("saved as policy revision 2"), "{saved}");
    let v = f.json(&["settings", "show", "--json"]);
    assert_eq!(v["credential"]["user_name"], "ACC_user");
    assert_eq!(v["auth"]["password_policy"]["mode"], "complexity");

    let two = f
        .ctl(&["settings", "site", "set", "--threshold", "1000", "--reset-after", "7000000"], "")
        .fails_with(1);
    let lines: Vec<&str> = two.lines().collect();
    assert_eq!(lines.len(), 2, "one error line per problem: {two}");
    assert!(
        lines[0].starts_with("error: lockout.threshold: 1000")
            && lines[1].starts_with("error: lockout.reset_after: 7000000 s"),
        "{two}"
    );
    let lockout = f.ctl(&["settings", "site", "set", "--lockout-mode", "classic", "--threshold", "1000"], "");
    assert_eq!(
        lockout.fails_with(1).trim(),
        "error: lockout.threshold: 1000 is out of range; use 0 (never lock) to 999"
    );
    let ok = f.ctl(
        &[
            "settings",
            "site",
            "set",
            "--lockout-mode",
            "classic",
            "--threshold",
            "5",
            "--reset-after",
            "30s",
            "--duration",
            "30s",
            "--create-acc",
            "true",
        ],
        "",
    );
    assert!(ok.ok().contains("revision 3"));
    assert!(ok.stderr().contains("below the production minimum"), "lab values warn: {}", ok.stderr());

    let history = f.json(&["policy", "history", "--json"]);
    let numbers: Vec<i64> =
        history.as_array().unwrap().iter().map(|r| r["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [3, 2, 1]);
    let diff = f.json(&["policy", "diff", "2", "3", "--json"]);
    assert!(diff.as_array().unwrap().iter().any(|c| c["path"] == "site.threshold" && c["to"] == 5), "{diff}");
    let shown = f.ctl(&["policy", "show", "2"], "").ok();
    assert!(shown.contains("[REDACTED]") && shown.contains("ACC_user"), "{shown}");
    let missing = f.ctl(&["policy", "show", "9"], "").fails_with(1);
    assert!(missing.contains("revision 9 does not exist; revisions are 1 to 3"), "{missing}");

    // No secret anywhere: outputs, the server's debug log, the database file.
    drop(f.server);
    let log = std::fs::read_to_string(&f.log).unwrap();
    assert!(log.contains("Policy revision saved"), "the log is real: {log}");
    let db = std::fs::read(f.d.join("srv/server.db")).unwrap();
    for haystack in [log.as_bytes(), &db, saved.as_bytes(), shown.as_bytes()] {
        assert!(!haystack.windows(STRONG.len()).any(|w| w == STRONG.as_bytes()), "the password leaked");
    }
}

#[test]
fn tokens_roles_and_the_environment_forms() {
    let f = fleet();
    let viewer =
        f.ctl(&["token", "create", "--role", "viewer", "--description", "dashboard", "--ttl", "1h"], "").ok();
    let viewer = viewer.trim();
    assert!(viewer.starts_with("acc_") && !viewer.contains(' '), "the token alone on stdout: {viewer}");
    let file = f.d.write("viewer-token", format!("{viewer}\n"));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let ca = f.d.join("srv/tls/ca.crt");
    let env = [
        ("ACC_SERVER", f.server.url.as_str()),
        ("ACC_CA_FILE", ca.to_str().unwrap()),
        ("ACC_TOKEN_FILE", file.to_str().unwrap()),
    ];
    let shown = f.d.acc_with(&["ctl", "settings", "show"], "", &env).ok();
    assert!(shown.contains("authentication") && shown.contains("application"), "{shown}");
    let refused =
        f.d.acc_with(&["ctl", "settings", "site", "set", "--threshold", "5"], "", &env).fails_with(1);
    assert_eq!(refused.trim(), "error: this needs the admin role; the token 'dashboard' has viewer");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let open = f.d.acc_with(&["ctl", "settings", "show"], "", &env).fails_with(1);
    assert!(open.contains("chmod 0600"), "{open}");
    let list = f.ctl(&["token", "list"], "").ok();
    assert!(list.contains("dashboard") && !list.contains(viewer), "{list}");
    let wrong_ca = f.d.acc_with(
        &["ctl", "settings", "show"],
        "",
        &[("ACC_SERVER", f.server.url.as_str()), ("ACC_CA_FILE", "/etc/hostname"), ("ACC_TOKEN_FILE", "x")],
    );
    assert!(wrong_ca.fails_with(1).contains("no PEM certificate"));
    let no_server = f.d.acc_with(&["ctl", "settings", "show"], "", &[]).fails_with(1);
    assert!(no_server.contains("--server") && no_server.contains("ACC_SERVER"), "{no_server}");
}

/// `acc ctl sites --json`, once `check` holds for it.
pub(crate) fn sites_when(f: &Fleet, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    crate::util::wait_for(20, what, || {
        let v = f.json(&["sites", "--json"]);
        let sites = v.as_array().cloned().unwrap_or_default();
        check(&sites).then_some(sites)
    })
}

#[test]
fn site_servers_join_apply_the_policy_and_create_the_acc() {
    let f = fleet();
    let token = f.ctl(&["site-token", "create", "--uses", "2", "--ttl", "10m"], "").ok();
    let token = token.trim();
    assert!(
        token.starts_with("accjoin1.") && !token.contains(char::is_whitespace),
        "the token alone: {token}"
    );
    for (dir, name) in [("site", "SITE1"), ("site2", "SITE2")] {
        let out =
            f.d.acc(&[
                "site",
                "join",
                "--token",
                token,
                "--data-dir",
                dir,
                "--name",
                name,
                "--listen",
                "127.0.0.1:0",
            ])
            .ok();
        assert!(out.contains(&format!("site {name} joined {}", f.server.url)), "{out}");
    }
    let used_up =
        f.d.acc(&["site", "join", "--token", token, "--data-dir", "site3", "--listen", "127.0.0.1:0"])
            .fails_with(1);
    assert!(used_up.contains("the join token is unknown, expired or used up"), "{used_up}");
    let damaged = f.d.acc(&["site", "join", "--token", "accjoin1.xyz", "--data-dir", "site4"]).fails_with(1);
    assert!(damaged.contains("join token: "), "{damaged}");
    use std::os::unix::fs::PermissionsExt;
    let key_mode =
        std::fs::metadata(f.d.join("site/management/client.key")).unwrap().permissions().mode() & 0o777;
    assert_eq!(key_mode, 0o400);

    let site1 = SiteProc::start(&f.d.join("site"));
    let _site2 = SiteProc::start(&f.d.join("site2"));
    let sites = sites_when(&f, "both sites at revision 1", |s| {
        s.len() == 2 && s.iter().all(|x| x["applied_revision"] == 1)
    });
    assert_eq!(sites[0]["url"], site1.url.as_str(), "the site reports where agents reach it");
    let crl_age = sites[0]["crl_this_update_ms"].as_i64().expect("the site reports its CRL");
    assert!(
        sites[0]["crl_next_update_ms"].as_i64().unwrap() > crl_age + 6 * 86_400_000,
        "a week-long fleet CRL"
    );

    // The credential is saved in provisioning; the switch comes when both sites created it.
    let saved = f.set_credential("ACC_user", STRONG).ok();
    assert!(saved.contains("revision 2"), "{saved}");
    let sites = sites_when(&f, "the ACC on both sites", |s| {
        s.iter().all(|x| x["applied_revision"] == 3 && x["accounts"][0]["state"] == "enabled")
    });
    assert_eq!(sites[1]["accounts"][0]["name"], "ACC_user");
    let v = f.json(&["settings", "show", "--json"]);
    assert_eq!(v["generations"][0]["phase"], "active");
    let history = f.json(&["policy", "history", "--json"]);
    assert!(history[0]["author"].as_str().unwrap().starts_with("rotation"), "{history}");
    assert_eq!((history[0]["sites_acknowledged"].as_u64(), history[0]["sites"].as_u64()), (Some(2), Some(2)));
    let table = f.ctl(&["policy", "history"], "").ok();
    assert!(
        table.lines().any(|l| l.trim_start().starts_with("3  ") && l.contains("2/2")),
        "acknowledgement progress per revision: {table}"
    );
    let shown = f.d.acc(&["site", "accounts", "show", "ACC_user", "--data-dir", "site", "--json"]).ok();
    let account: Value = serde_json::from_str(&shown).unwrap();
    assert_eq!((account["created_by"].as_str(), account["generation"].as_i64()), (Some("policy"), Some(1)));

    // An agent authenticates to the site with the credential the server's vault holds.
    let (code, body) = crate::site::curl(
        &f.d,
        &site1,
        &["-u", &format!("ACC_user:{STRONG}"), "-H", "Acc-Agent-Host: web01"],
        "/v1/register",
        crate::site::REG,
    );
    assert_eq!(code, 200, "{body}");

    // A lockout change reaches both sites within seconds.
    f.ctl(&["settings", "site", "set", "--lockout-mode", "classic", "--threshold", "7"], "").ok();
    sites_when(&f, "revision 4 on both sites", |s| s.iter().all(|x| x["applied_revision"] == 4));
    let policy = f.d.acc(&["site", "policy", "show", "--data-dir", "site2"]).ok();
    let local = f.d.acc(&["site", "policy", "set", "--data-dir", "site2", "--threshold", "3"]).fails_with(1);
    assert!(local.contains("takes its lockout policy from its management server"), "{local}");
    assert!(policy.contains("classic") && policy.contains('7'), "{policy}");
    let table = f.ctl(&["sites"], "").ok();
    assert!(table.contains("SITE1") && table.contains("ACC_user enabled"), "{table}");

    // update-config: every site fetches and re-applies its policy now (a new acc.refresh).
    let refreshes = || {
        count(
            &serde_json::from_str(
                &f.d.acc(&["site", "events", "--data-dir", "site2", "--id", "acc.refresh", "--json"]).ok(),
            )
            .unwrap(),
        )
    };
    let before = refreshes();
    let sent = f.ctl(&["task", "send", "update-config", "--to", "sites"], "").ok();
    assert_eq!(sent.trim(), "update-config sent to 2 site server(s) and 0 agent(s)");
    crate::util::wait_for(20, "a policy refresh on SITE2", || (refreshes() > before).then_some(()));
    let bad = f.ctl(&["task", "send", "update-config", "--to", "printers"], "").fails_with(1);
    assert!(bad.contains("use sites, agents or all"), "{bad}");
}

/// Joins sites `names` (data directories named after them, lower case) and starts them.
pub(crate) fn join_sites(f: &Fleet, names: &[&str]) -> Vec<SiteProc> {
    join_sites_on(f, names, "127.0.0.1")
}

/// [`join_sites`], the sites listening on `ip`.
pub(crate) fn join_sites_on(f: &Fleet, names: &[&str], ip: &str) -> Vec<SiteProc> {
    let listen = format!("{ip}:0");
    let uses = names.len().to_string();
    let token = f.ctl(&["site-token", "create", "--uses", &uses], "").ok();
    // The token in a file of its own (0600), where `ps` does not show it.
    let token_file = f.d.write("join-token", &token);
    std::fs::set_permissions(&token_file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    names
        .iter()
        .map(|name| {
            let dir = name.to_lowercase();
            f.d.acc(&[
                "site",
                "join",
                "--token-file",
                "join-token",
                "--data-dir",
                &dir,
                "--name",
                name,
                "--listen",
                &listen,
            ])
            .ok();
            SiteProc::start_at("site", &f.d.join(&dir), &listen, None)
        })
        .collect()
}

/// `credential status --json`, once `check` holds for it.
pub(crate) fn status_when(f: &Fleet, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    crate::util::wait_for(20, what, || {
        let v = f.json(&["credential", "status", "--json"]);
        check(&v).then_some(v)
    })
}

pub(crate) fn phase_of(v: &Value, user: &str) -> String {
    v["generations"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["user_name"] == user)
        .map(|g| g["phase"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn a_rotation_waits_for_an_offline_site_can_be_cancelled_and_retires_the_old_name() {
    let f = fleet();
    let mut sites = join_sites(&f, &["SITE1", "SITE2"]);
    f.set_credential("ACC_User_v1", STRONG).ok();
    status_when(&f, "v1 active", |v| phase_of(v, "ACC_User_v1") == "active");

    sites[1].kill9();
    let rotate = |user: &str, password: &str, grace: &str| {
        f.ctl(
            &["credential", "rotate", "--username", user, "--password-stdin", "--grace", grace],
            &format!("{password}\n"),
        )
    };
    rotate("ACC_User_v2", "Second-Strong-Pass-2026", "1s").ok();
    let v = status_when(&f, "SITE1 created v2, SITE2 pending", |v| {
        v["provisioning"]["pending_sites"] == serde_json::json!(["SITE2"])
    });
    assert_eq!(
        (v["phase"].as_str(), v["provisioning"]["stalled"].as_bool()),
        (Some("provisioning"), Some(false))
    );
    let table = f.ctl(&["credential", "status"], "").ok();
    assert!(table.contains("pending sites") && table.contains("SITE2"), "{table}");
    let busy = rotate("ACC_User_v3", "Third-Strong-Pass-2026", "1s").fails_with(1);
    assert!(
        busy.contains("rotation: generation 2 ('ACC_User_v2') is still provisioning (pending: SITE2)"),
        "{busy}"
    );

    f.ctl(&["credential", "rotate", "--cancel"], "").ok();
    let v = f.json(&["credential", "status", "--json"]);
    assert_eq!((v["phase"].as_str(), phase_of(&v, "ACC_User_v2").as_str()), (Some("steady"), "removed"));
    let reused = rotate("ACC_User_v2", "Fourth-Strong-Pass-2026", "1s").fails_with(1);
    assert!(reused.contains("was already used by ACC generation 2"), "{reused}");
    let nothing = f.ctl(&["credential", "rotate", "--force-switch"], "").fails_with(1);
    assert!(nothing.contains("no generation is provisioning"), "{nothing}");

    // With SITE2 back, v3 is created everywhere, switches, and v1 retires after its grace.
    rotate("ACC_User_v3", "Third-Strong-Pass-2026", "1s").ok();
    sites[1] = SiteProc::start(&f.d.join("site2"));
    status_when(&f, "v3 active", |v| phase_of(v, "ACC_User_v3") == "active");
    status_when(&f, "v1 removed after its grace", |v| phase_of(v, "ACC_User_v1") == "removed");
    let accounts =
        f.d.acc(&["site", "accounts", "show", "ACC_User_v3", "--data-dir", "site2", "--json"]).ok();
    assert!(accounts.contains("\"enabled\""), "{accounts}");
    let history = f.ctl(&["policy", "history"], "").ok();
    assert!(history.contains("rotation (grace ended)"), "{history}");

    // Every step is an acc.rotation event in the server's event log.
    let events = f.json(&["events", "--id", "acc.rotation", "--json"]);
    let steps: Vec<(String, String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["UserName"].as_str().unwrap().into(),
                e["To"].as_str().unwrap().into(),
                e["Reason"].as_str().unwrap().into(),
            )
        })
        .collect();
    let has = |u: &str, to: &str, why: &str| steps.contains(&(u.into(), to.into(), why.into()));
    assert!(
        has("ACC_User_v2", "provisioning", "saved") && has("ACC_User_v2", "removed", "cancel"),
        "{steps:?}"
    );
    assert!(
        has("ACC_User_v3", "active", "all-sites-created")
            && has("ACC_User_v1", "retiring", "all-sites-created"),
        "{steps:?}"
    );
    assert!(has("ACC_User_v1", "removed", "deadline"), "{steps:?}");
    let retiring = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["To"] == "retiring" && e["UserName"] == "ACC_User_v1")
        .unwrap();
    assert!(retiring["RetireDeadline"].as_str().is_some_and(|t| t.ends_with('Z')), "{retiring}");
}

fn count(v: &Value) -> usize {
    v.as_array().map_or(0, Vec::len)
}

#[test]
fn events_from_every_site_reach_the_server_once_even_across_an_outage() {
    let mut f = fleet();
    let sites = join_sites(&f, &["SITE1", "SITE2"]);
    f.set_credential("ACC_user", STRONG).ok();
    status_when(&f, "the ACC active", |v| phase_of(v, "ACC_user") == "active");
    let bad_logons = |n: usize| {
        for _ in 0..n {
            let (code, _) = crate::site::curl(
                &f.d,
                &sites[0],
                &[
                    "--cacert",
                    "site1/tls/ca.crt",
                    "-u",
                    "ACC_user:wrong-password",
                    "-H",
                    "Acc-Agent-Host: stale01",
                ],
                "/v1/register",
                crate::site::REG,
            );
            assert_eq!(code, 401);
        }
    };
    bad_logons(3);
    let local = |dir: &str, id: &str| {
        count(
            &serde_json::from_str(
                &f.d.acc(&["site", "events", "--data-dir", dir, "--id", id, "--json"]).ok(),
            )
            .unwrap(),
        )
    };
    crate::util::wait_for(20, "three 4625 on the server", || {
        (count(&f.json(&["events", "--id", "4625", "--site", "SITE1", "--json"])) == 3).then_some(())
    });
    let table = f.ctl(&["events", "--id", "4625", "--user", "acc_user"], "").ok();
    assert!(table.contains("SITE1") && table.contains("STALE01"), "{table}");

    // The server goes away; the site keeps its events and sends them when it is back.
    let addr = f.server.addr();
    f.server.kill9();
    bad_logons(2);
    f.server = SiteProc::start_at("server", &f.d.join("srv"), &addr, None);
    crate::util::wait_for(30, "every event of both sites on the server", || {
        let all = f.json(&["events", "--json", "--limit", "100000"]);
        let on_server = |site: &str| all.as_array().unwrap().iter().filter(|e| e["Computer"] == site).count();
        let site1 = count(
            &serde_json::from_str(&f.d.acc(&["site", "events", "--data-dir", "site1", "--json"]).ok())
                .unwrap(),
        );
        let site2 = count(
            &serde_json::from_str(&f.d.acc(&["site", "events", "--data-dir", "site2", "--json"]).ok())
                .unwrap(),
        );
        (on_server("SITE1") == site1 && on_server("SITE2") == site2).then_some(())
    });
    assert_eq!(local("site1", "4625"), 5);
    assert_eq!(count(&f.json(&["events", "--id", "4625", "--json"])), 5, "each event exactly once");

    // Five failures from one machine blocked that source (smart mode): the investigation
    // names it, its IP and its failures.
    let lockouts = f.json(&["lockouts", "--json"]);
    assert_eq!(count(&lockouts), 1, "{lockouts}");
    let l = &lockouts[0];
    assert_eq!(
        (l["site"].as_str(), l["scope"].as_str(), l["caller"].as_str()),
        (Some("SITE1"), Some("source"), Some("STALE01"))
    );
    assert_eq!((l["ip"].as_str(), l["failures"].as_u64()), (Some("127.0.0.1"), Some(5)));
    let text = f.ctl(&["lockouts"], "").ok();
    assert!(
        text.contains("ACC_user on SITE1: source lock by STALE01 (127.0.0.1), 5 failed logons"),
        "{text}"
    );
    assert!(text.contains("what to do: the agent on STALE01"), "{text}");
}

/// POSTs an enrollment to the server with curl (the agent's side arrives with issue 5).
pub(crate) fn enroll(f: &Fleet, token: &str, host: &str, csr: &str) -> (u16, Value) {
    use base64::Engine as _;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim().trim_start_matches("accjoin1."))
        .unwrap();
    let token: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(token["kind"], "agent");
    let body = serde_json::json!({ "secret": token["secret"], "host_name": host, "csr_pem": f.d.read(csr) })
        .to_string();
    let out = std::process::Command::new("curl")
        .args(["-s", "-w", "\n%{http_code}", "--cacert", f.d.join("srv/tls/ca.crt").to_str().unwrap()])
        .args(["-H", "content-type: application/json", "-d", &body])
        .arg(format!("{}/v1/agent/enroll", f.server.url))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (code.parse().unwrap(), serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn enrolled_agents_and_operator_cas_are_trusted_by_sites_and_revocation_reaches_them() {
    let f = fleet();
    let sites = join_sites(&f, &["SITE1"]);
    crate::site::agent_certificate(&f.d); // lab CA, agent.key, agent.csr, lab-signed agent.crt
    let token = f.ctl(&["enroll-token", "create", "--ttl", "1h"], "").ok();
    let (code, v) = enroll(&f, &token, "WEB01.corp.local", "agent.csr");
    assert_eq!(code, 200, "{v}");
    f.d.write("fleet.crt", v["certificate_pem"].as_str().unwrap());
    let shown = f.d.acc(&["pki", "show", "fleet.crt"]).ok();
    assert!(
        shown.contains("CN=web01.corp.local") && shown.contains("TLS Web Client Authentication"),
        "{shown}"
    );
    let (code, v) = enroll(&f, &token, "web02", "agent.csr");
    assert_eq!((code, v["error"].as_str()), (401, Some("invalid_token")), "one use only: {v}");

    // Each certificate registers an agent id of its own (an id is bound to its registrant).
    let register = |cert: &str| {
        crate::site::curl(
            &f.d,
            &sites[0],
            &["--cacert", "site1/tls/ca.crt", "--cert", cert, "--key", "agent.key"],
            "/v1/register",
            &crate::site::reg(cert),
        )
    };
    let (code, body) = crate::util::wait_for(20, "the site trusts the fleet CA", || {
        let r = register("fleet.crt");
        (r.0 == 200).then_some(r)
    });
    assert_eq!(code, 200, "{body}");
    let (code, _) = register("agent.crt");
    assert_ne!(code, 200, "the lab CA is not trusted yet");

    let agents = f.json(&["agents", "--json"]);
    assert_eq!(agents[0]["name"], "web01.corp.local");
    let serial = agents[0]["serial"].as_str().unwrap().to_string();
    f.ctl(&["cert", "revoke", &serial], "").ok();
    let again = f.ctl(&["cert", "revoke", &serial], "").fails_with(1);
    assert!(again.contains("already revoked"), "{again}");
    crate::util::wait_for(20, "the revoked certificate refused", || {
        (register("fleet.crt").0 == 403).then_some(())
    });
    let list = f.ctl(&["cert", "list"], "").ok();
    assert!(list.contains("revoked") && list.contains("SITE1"), "{list}");

    // A rebuilt host enrolls again: refused with a plain token, accepted with --reenroll,
    // which revokes its previous certificate.
    let token = f.ctl(&["enroll-token", "create", "--uses", "2"], "").ok();
    assert_eq!(enroll(&f, &token, "web03", "agent.csr").0, 200);
    let (code, v) = enroll(&f, &token, "WEB03", "agent.csr");
    assert_eq!(code, 409, "{v}");
    assert!(v["message"].as_str().unwrap().contains("acc ctl enroll-token create --reenroll"), "{v}");
    let token = f.ctl(&["enroll-token", "create", "--reenroll"], "").ok();
    assert_eq!(enroll(&f, &token, "web03", "agent.csr").0, 200);
    let web03: Vec<Value> = f
        .json(&["agents", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "web03")
        .cloned()
        .collect();
    assert_eq!(web03.len(), 1, "one inventory entry per host: {web03:?}");
    let certs: Vec<Value> = f
        .json(&["cert", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "web03")
        .cloned()
        .collect();
    assert_eq!(certs.len(), 2);
    assert!(
        !certs[0]["revoked_at"].is_null() && certs[1]["revoked_at"].is_null(),
        "the old identity is revoked: {certs:?}"
    );
    assert_eq!(web03[0]["serial"], certs[1]["serial"], "the inventory shows the new certificate");

    // The seed's by-hand path: an operator (lab) CA added on the server reaches the site.
    let not_ca = f.ctl(&["trust", "add", "agent.crt"], "").fails_with(1);
    assert!(not_ca.contains("is not a CA certificate"), "{not_ca}");
    f.ctl(&["trust", "add", "lab/ca.crt"], "").ok();
    crate::util::wait_for(20, "the lab CA trusted", || (register("agent.crt").0 == 200).then_some(()));
}

#[test]
fn a_credential_without_read_on_the_package_sources_is_refused_unless_granted() {
    let f = fleet();
    let revoked = f.ctl(&["share", "revoke", "nscap", "Agents", "--level", "share"], "").ok();
    assert!(revoked.contains("saved as policy revision 2"), "{revoked}");
    let nothing = f.ctl(&["share", "revoke", "nscap", "Agents", "--level", "share"], "").ok();
    assert_eq!(nothing.trim(), "unchanged", "revoking what is not granted changes nothing");
    let unknown =
        f.ctl(&["share", "grant", "printers", "Agents", "read", "--level", "share"], "").fails_with(1);
    assert!(unknown.contains("share 'printers' is not a package source"), "{unknown}");

    let refused = f.set_credential("ACC_user", STRONG).fails_with(1);
    assert_eq!(
        refused.trim(),
        "error: share access: 'ACC_user' cannot read 1 package source: nscap (share level); grant Read or Full Control at both the share and the file level, then save again"
    );
    let granted = f.set_credential_with("ACC_user", STRONG, &["--grant-read"]).ok();
    assert!(
        granted.contains("granted: ")
            && granted.contains("nscap")
            && granted.contains("saved as policy revision 3"),
        "{granted}"
    );
    let list = f.ctl(&["share", "list"], "").ok();
    let nscap_share: Vec<&str> =
        list.lines().filter(|l| l.starts_with("nscap") && l.contains(" share ")).collect();
    assert!(nscap_share.iter().any(|l| l.contains("ACC_user") && l.contains("Read")), "{list}");
}

/// An enrolled agent's call to the management server with curl (the agent itself arrives
/// with issue 5): `fleet.crt`/`agent.key`, the server's CA.
fn as_agent(f: &Fleet, path: &str, body: &str) -> (u16, Value) {
    let extra =
        ["--cacert", "srv/tls/ca.crt", "--cert", "fleet.crt", "--key", "agent.key", "--max-time", "30"];
    let (code, text) = crate::site::curl(&f.d, &f.server, &extra, path, body);
    (code, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn check_in(f: &Fleet, seq: u64, revision: i64, generation: u32) -> u16 {
    let body = serde_json::json!({
        "seq": seq, "revision": revision, "auth_mode": "credential",
        "user_name": format!("ACC_User_v{generation}"), "generation": generation,
        "site_server": "SITE1", "site_reachable": true, "version": "test",
    });
    as_agent(f, "/v1/agent/checkin", &body.to_string()).0
}

#[test]
fn agents_long_poll_their_policy_check_in_and_their_adoption_retires_the_old_name() {
    let f = fleet();
    let sites = join_sites(&f, &["SITE1"]);
    crate::site::agent_certificate(&f.d);
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    let (code, v) = enroll(&f, &token, "web01", "agent.csr");
    assert_eq!(code, 200, "{v}");
    f.d.write("fleet.crt", v["certificate_pem"].as_str().unwrap());
    let listed = f.json(&["agents", "--json"]);
    assert_eq!((listed[0]["name"].as_str(), listed[0]["status"].as_str()), (Some("web01"), Some("enrolled")));

    // Without a client certificate, or with a site's, the agent routes refuse.
    let (code, text) =
        crate::site::curl(&f.d, &f.server, &["--cacert", "srv/tls/ca.crt"], "/v1/agent/policy", "");
    assert_eq!(code, 401, "{text}");
    assert!(text.contains("agent's client certificate"), "{text}");

    f.set_credential("ACC_User_v1", STRONG).ok();
    status_when(&f, "v1 active", |v| phase_of(v, "ACC_User_v1") == "active");
    let (code, p) = as_agent(&f, "/v1/agent/policy?after=0", "");
    assert_eq!(code, 200, "{p}");
    assert_eq!(p["auth"]["mode"], "credential");
    assert_eq!(
        (p["auth"]["user_name"].as_str(), p["auth"]["generation"].as_u64()),
        (Some("ACC_User_v1"), Some(1))
    );
    assert_eq!(p["auth"]["password"], STRONG, "agents get the secret over mTLS");
    assert_eq!(p["limits"]["threshold"].as_u64(), Some(5), "smart: the source threshold (2.5)");
    assert_eq!(p["site_servers"][0]["name"], "SITE1");
    assert!(p["site_servers"][0]["ca_pem"].as_str().is_some_and(|c| c.contains("BEGIN CERTIFICATE")), "{p}");
    let revision = p["revision"].as_i64().unwrap();
    // The site's first acknowledgement (its URL and CA) was already an update for agents.
    let force = p["force"].as_u64().unwrap();
    let (code, _) = as_agent(&f, &format!("/v1/agent/policy?after={revision}&force={force}&wait=0"), "");
    assert_eq!(code, 204, "nothing newer");

    // A long-poll returns as soon as an operator sends update-config to agents.
    let poll = {
        let d = f.d.path().to_path_buf();
        let url = format!("{}/v1/agent/policy?after={revision}&force={force}&wait=30", f.server.url);
        std::thread::spawn(move || {
            let out = std::process::Command::new("curl")
                .args(["-s", "-w", "\n%{http_code}", "--cacert", "srv/tls/ca.crt", "--cert", "fleet.crt"])
                .args(["--key", "agent.key", &url])
                .current_dir(d)
                .output()
                .unwrap();
            String::from_utf8_lossy(&out.stdout).into_owned()
        })
    };
    crate::util::wait_for(20, "the poll to arrive", || {
        let v = f.json(&["agents", "--json"]);
        (v[0]["status"] == "polling").then_some(())
    });
    let sent = f.ctl(&["task", "send", "update-config", "--to", "agents"], "").ok();
    assert!(sent.contains("1 agent(s)"), "{sent}");
    let answer = poll.join().unwrap();
    assert!(answer.ends_with("\n200") && answer.contains(&format!("\"force\":{}", force + 1)), "{answer}");

    assert_eq!(check_in(&f, 1, revision, 1), 200);
    // The machine with a stale password locks its source on SITE1: the lockout report
    // names the revision its agent runs.
    for _ in 0..5 {
        let extra = [
            "--cacert",
            "site1/tls/ca.crt",
            "-u",
            "ACC_User_v1:stale-password",
            "-H",
            "Acc-Agent-Host: web01",
        ];
        crate::site::curl(&f.d, &sites[0], &extra, "/v1/register", crate::site::REG);
    }
    let lockouts = crate::util::wait_for(20, "the lockout forwarded", || {
        let v = f.json(&["lockouts", "--json"]);
        v.as_array().is_some_and(|l| !l.is_empty()).then_some(v)
    });
    assert_eq!(lockouts[0]["agent_revision"].as_i64(), Some(revision), "{lockouts}");
    let v = f.json(&["agents", "--json"]);
    assert_eq!((v[0]["status"].as_str(), v[0]["generation"].as_u64()), (Some("current"), Some(1)));
    assert!(v[0]["cert_not_after"].as_i64().is_some() && v[0]["duplicate"].is_null(), "{v}");
    let history = f.ctl(&["policy", "history"], "").ok();
    assert!(history.contains("1/1"), "{history}");

    // A rotation with a long grace: the old name retires as soon as the agent holds the new one.
    f.ctl(
        &["credential", "rotate", "--username", "ACC_User_v2", "--password-stdin", "--grace", "7d"],
        "Second-Strong-Pass-2026\n",
    )
    .ok();
    status_when(&f, "v2 active, v1 retiring", |v| phase_of(v, "ACC_User_v1") == "retiring");
    let v = f.json(&["credential", "status", "--json"]);
    assert_eq!(
        (v["adoption"]["holding"].as_u64(), v["adoption"]["agents"].as_u64()),
        (Some(0), Some(1)),
        "{v}"
    );
    assert_eq!(v["adoption"]["pending"], serde_json::json!(["web01"]));
    let (_, p) = as_agent(&f, &format!("/v1/agent/policy?after={revision}"), "");
    assert_eq!(p["auth"]["user_name"], "ACC_User_v2");
    assert_eq!(check_in(&f, 2, p["revision"].as_i64().unwrap(), 2), 200);
    status_when(&f, "v1 removed once the agent adopted v2", |v| phase_of(v, "ACC_User_v1") == "removed");
    let events = f.json(&["events", "--id", "acc.rotation", "--json"]);
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["UserName"] == "ACC_User_v1" && e["Reason"] == "all-agents-acked"),
        "{events}"
    );

    // A second machine with the same identity (a cloned disk) sends an older counter.
    assert_eq!(check_in(&f, 2, p["revision"].as_i64().unwrap(), 2), 200);
    let v = f.json(&["agents", "--json"]);
    assert!(v[0]["duplicate"].as_str().is_some_and(|d| d.contains("two machines")), "{v}");
    let table = f.ctl(&["agents"], "").ok();
    assert!(table.contains("web01") && table.contains("two machines present this identity"), "{table}");

    // A revoked agent is refused with what to do.
    let serial = v[0]["serial"].as_str().unwrap().to_string();
    f.ctl(&["cert", "revoke", &serial], "").ok();
    let (code, v) = as_agent(&f, "/v1/agent/policy", "");
    assert_eq!(code, 403, "{v}");
    assert!(v["message"].as_str().unwrap().contains("acc agent enroll"), "{v}");
    assert!(!f.d.read("server.log").contains(STRONG), "no secret in the server's log");
}

/// `package list --json`, once `check` holds for it.
fn packages_when(f: &Fleet, what: &str, check: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    crate::util::wait_for(30, what, || {
        let v = f.json(&["package", "list", "--json"]);
        let list = v.as_array().cloned().unwrap_or_default();
        check(&list).then_some(list)
    })
}

fn replica<'a>(list: &'a [Value], version: &str, site: &str) -> Option<&'a Value> {
    list.iter()
        .find(|p| p["version"] == version)?
        .get("replicas")?
        .as_array()?
        .iter()
        .find(|r| r["site"] == site)
}

#[test]
fn packages_are_uploaded_resumably_assigned_and_replicated_by_sites_as_the_acc() {
    let f = fleet();
    let _sites = join_sites(&f, &["SITE1", "SITE2"]);
    let big: Vec<u8> = (0..9_000_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::create_dir_all(f.d.join("pkg/docs")).unwrap();
    std::fs::write(f.d.join("pkg/big.bin"), &big).unwrap();
    f.d.write("pkg/docs/readme.txt", "tools 1.0\n");
    let add = |version: &str| {
        f.ctl(
            &[
                "package",
                "add",
                "--share",
                "software-library",
                "--name",
                "tools",
                "--version",
                version,
                "pkg",
            ],
            "",
        )
    };

    // An upload cut after its first chunk resumes where the server stands.
    let manifest = serde_json::json!({
        "share": "software-library", "name": "tools", "version": "1.0",
        "files": [
            { "path": "big.bin", "size": big.len(), "sha256": acc_net::client::sha256_hex(&big) },
            { "path": "docs/readme.txt", "size": 10, "sha256": acc_net::client::sha256_hex(b"tools 1.0\n") },
        ],
    });
    let auth = format!("authorization: Bearer {}", f.d.read("srv/admin-token").trim());
    let (code, body) = crate::site::curl(
        &f.d,
        &f.server,
        &["--cacert", "srv/tls/ca.crt", "-H", &auth],
        "/v1/packages",
        &manifest.to_string(),
    );
    assert_eq!(code, 200, "{body}");
    std::fs::write(f.d.join("first.part"), &big[..1_000_000]).unwrap();
    let (code, body) = crate::site::curl(
        &f.d,
        &f.server,
        &[
            "--cacert",
            "srv/tls/ca.crt",
            "-H",
            &auth,
            "-X",
            "PUT",
            "-H",
            "content-type: application/octet-stream",
            "--data-binary",
            "@first.part",
        ],
        "/v1/packages/tools/1.0/file?path=big.bin&offset=0",
        "",
    );
    assert_eq!(code, 200, "{body}");
    let out = add("1.0").ok();
    assert!(out.contains("2 files, 8000010 bytes sent"), "resumed after the first 1,000,000 bytes: {out}");
    assert!(add("1.0").ok().contains("already on the server"));
    std::fs::write(f.d.join("pkg/docs/readme.txt"), "tools 1.0 changed\n").unwrap();
    let clash = add("1.0").fails_with(1);
    assert!(clash.contains("already exists with other content; give a new --version"), "{clash}");
    std::fs::write(f.d.join("pkg/docs/readme.txt"), "tools 1.0\n").unwrap();

    // Assigned to SITE1 only: SITE1 replicates it, byte for byte; SITE2 does not.
    let missing = f.ctl(&["package", "assign", "nothing", "--all"], "").fails_with(1);
    assert!(missing.contains("package 'nothing' does not exist"), "{missing}");
    f.ctl(&["package", "assign", "tools", "--site", "SITE1"], "").ok();
    packages_when(&f, "SITE1 replicated 1.0", |l| {
        replica(l, "1.0", "SITE1").is_some_and(|r| r["status"] == "replicated")
    });
    assert_eq!(std::fs::read(f.d.join("site1/shares/software-library/tools/big.bin")).unwrap(), big);
    assert_eq!(f.d.read("site1/shares/software-library/tools/docs/readme.txt"), "tools 1.0\n");
    assert!(!f.d.join("site2/shares/software-library/tools").exists());

    // The ACC may not read the source: 2.0 fails with the 5.6 refresh error, 1.0 stays.
    f.set_credential("ACC_User_v1", STRONG).ok();
    f.ctl(&["share", "revoke", "software-library", "Agents", "--level", "share"], "").ok();
    f.d.write("pkg/docs/readme.txt", "tools 2.0\n");
    add("2.0").ok();
    // SITE2 holds half of big.bin from an interrupted transfer: it resumes from there.
    std::fs::create_dir_all(f.d.join("site2/staging/software-library/tools/2.0")).unwrap();
    std::fs::write(f.d.join("site2/staging/software-library/tools/2.0/big.bin"), &big[..4_500_000]).unwrap();
    f.ctl(&["package", "assign", "tools", "--all"], "").ok();
    let refresh = "package refresh: access denied reading 'software-library/tools' as 'ACC_User_v1' (share level); grant Read or Full Control at both the share and the file level";
    packages_when(&f, "both sites report the denial", |l| {
        ["SITE1", "SITE2"].iter().all(|s| replica(l, "2.0", s).is_some_and(|r| r["message"] == refresh))
    });
    let table = f.ctl(&["package", "list"], "").ok();
    assert!(table.contains("SITE1 failed: package refresh: access denied"), "{table}");
    assert_eq!(f.d.read("site1/shares/software-library/tools/docs/readme.txt"), "tools 1.0\n", "1.0 stays");
    let events = f.json(&["events", "--id", "acc.package_access", "--json"]);
    let e = &events[0];
    assert_eq!(
        (e["Principal"].as_str(), e["Source"].as_str(), e["Level"].as_str()),
        (Some("ACC_User_v1"), Some("software-library"), Some("share")),
        "{e}"
    );
    assert_eq!(e["Message"], refresh);

    // Granting Read (a revision) lets both sites replicate 2.0 at once.
    f.ctl(&["share", "grant", "software-library", "ACC_User_v1", "read", "--level", "share"], "").ok();
    packages_when(&f, "both sites replicated 2.0", |l| {
        ["SITE1", "SITE2"].iter().all(|s| replica(l, "2.0", s).is_some_and(|r| r["status"] == "replicated"))
    });
    for site in ["site1", "site2"] {
        assert_eq!(f.d.read(&format!("{site}/shares/software-library/tools/docs/readme.txt")), "tools 2.0\n");
        assert_eq!(
            std::fs::read(f.d.join(&format!("{site}/shares/software-library/tools/big.bin"))).unwrap(),
            big
        );
    }

    // A package source added on the server: sites create the share when they replicate.
    f.ctl(&["share", "add", "drivers", "--agents-read"], "").ok();
    let again = f.ctl(&["share", "add", "drivers"], "").fails_with(1);
    assert!(again.contains("share 'drivers' is already a package source"), "{again}");
    f.ctl(&["package", "add", "--share", "drivers", "--name", "nic", "--version", "7", "pkg/docs"], "").ok();
    f.ctl(&["package", "assign", "nic", "--all"], "").ok();
    packages_when(&f, "both sites replicated nic", |l| {
        ["SITE1", "SITE2"].iter().all(|s| replica(l, "7", s).is_some_and(|r| r["status"] == "replicated"))
    });
    assert_eq!(f.d.read("site2/shares/drivers/nic/readme.txt"), "tools 2.0\n");
}

#[test]
fn connectivity_changes_are_refused_with_their_impact_unless_forced() {
    let f = fleet();
    let mut sites = join_sites(&f, &["SITE1"]);
    crate::site::agent_certificate(&f.d); // the by-hand path: agent.crt from the lab CA
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    let (_, v) = enroll(&f, &token, "web01", "agent.csr");
    f.d.write("fleet.crt", v["certificate_pem"].as_str().unwrap());
    assert_eq!(check_in(&f, 1, 1, 1), 200);

    // The server accepts an operator CA's agent certificates once trusted.
    let lab_check_in = || {
        let extra = ["--cacert", "srv/tls/ca.crt", "--cert", "agent.crt", "--key", "agent.key"];
        let body = r#"{"seq":1,"revision":1,"auth_mode":"application"}"#;
        crate::site::curl(&f.d, &f.server, &extra, "/v1/agent/checkin", body).0
    };
    assert_ne!(lab_check_in(), 200);
    f.ctl(&["trust", "add", "lab/ca.crt"], "").ok();
    crate::util::wait_for(20, "the server trusts the lab CA", || (lab_check_in() == 200).then_some(()));

    let refused = f.ctl(&["trust", "remove", "lab/ca.crt"], "").fails_with(1);
    assert!(
        refused.contains(
            "impact: this change would leave 0 of 1 site servers and 1 of 2 agents unable to connect (acclinux: certificate issued by the CA being removed); fix them first or give --force"
        ),
        "{refused}"
    );

    // A site that has not acknowledged the revision in force blocks a switch to certificates.
    sites_when(&f, "SITE1 applied the trust", |s| s[0]["applied_revision"].as_i64().is_some());
    sites[0].kill9();
    f.ctl(&["settings", "site", "set", "--threshold", "8"], "").ok();
    let refused = f.ctl(&["settings", "auth", "set", "--mode", "certificate"], "").fails_with(1);
    assert!(
        refused.contains("1 of 1 site servers") && refused.contains("SITE1: have not acknowledged revision"),
        "{refused}"
    );
    f.ctl(&["settings", "auth", "set", "--mode", "certificate", "--force"], "").ok();
    f.ctl(&["trust", "remove", "lab/ca.crt", "--force"], "").ok();
    let shown = f.json(&["settings", "show", "--json"]);
    assert_eq!(
        (shown["auth"]["mode"].as_str(), shown["trust"].as_array().map(Vec::len)),
        (Some("certificate"), Some(0)),
        "{shown}"
    );
    let unknown = f.ctl(&["trust", "remove", "abcd"], "").fails_with(1);
    assert!(unknown.contains("no trusted CA has fingerprint abcd; trusted: none"), "{unknown}");
}

#[test]
fn domain_accounts_are_verified_by_the_directory_which_locks_them_fleet_wide() {
    let mut f = fleet();
    let sites = join_sites(&f, &["SITE1"]);
    f.ctl(&["directory", "add", "acc_svc", "--password-stdin"], "Domain-Pass-2026\n").ok();
    let dup = f.ctl(&["directory", "add", "acc_svc", "--password-stdin"], "Domain-Pass-2026\n").fails_with(1);
    assert!(dup.contains("already exists"), "{dup}");
    // Each logon registers a new agent id (an id is bound to whoever registered it first).
    let probes = std::cell::Cell::new(0);
    let logon = |password: &str, host: &str| {
        let user = format!("CORP\\acc_svc:{password}");
        let host = format!("Acc-Agent-Host: {host}");
        let extra = ["--cacert", "site1/tls/ca.crt", "-u", &user, "-H", &host];
        probes.set(probes.get() + 1);
        crate::site::curl(
            &f.d,
            &sites[0],
            &extra,
            "/v1/register",
            &crate::site::reg(&format!("p{}", probes.get())),
        )
    };
    let (code, body) = logon("Domain-Pass-2026", "web01");
    assert_eq!(code, 200, "{body}");
    let site_events = |id: &str| -> Value {
        serde_json::from_str(&f.d.acc(&["site", "events", "--data-dir", "site1", "--id", id, "--json"]).ok())
            .unwrap()
    };
    let ok = site_events("4624");
    assert!(
        ok.as_array().unwrap().iter().any(|e| e["TargetDomainName"] == "CORP"
            && e["TargetUserName"] == "acc_svc"
            && e["WorkstationName"] == "WEB01"),
        "{ok}"
    );

    // A stale machine: ten failures lock the account in the directory (T = 10), for
    // every site; the directory's 4740 names the machine and the reporting site.
    for _ in 0..10 {
        assert_eq!(logon("old-password", "stale-laptop").0, 401);
    }
    let (code, body) = logon("Domain-Pass-2026", "web01");
    assert!(code == 403 && body.contains("locked_out"), "{code} {body}");
    let lockouts = f.json(&["events", "--id", "4740", "--json"]);
    let e = &lockouts[0];
    assert_eq!(
        (e["TargetUserName"].as_str(), e["CallerComputerName"].as_str(), e["ReportingSite"].as_str()),
        (Some("acc_svc"), Some("STALE-LAPTOP"), Some("SITE1")),
        "{e}"
    );
    let listed = f.json(&["directory", "list", "--json"]);
    let svc = listed.as_array().unwrap().iter().find(|a| a["name"] == "CORP\\acc_svc").unwrap().clone();
    assert_eq!(svc["state"], "locked", "{listed}");
    let failures = site_events("4625");
    assert!(
        failures
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["SubStatus"] == "0xC000006A" && e["WorkstationName"] == "STALE-LAPTOP"),
        "{failures}"
    );

    f.ctl(&["directory", "unlock", "CORP\\acc_svc"], "").ok();
    assert_eq!(logon("Domain-Pass-2026", "web01").0, 200);
    assert!(f.json(&["events", "--id", "4767", "--json"]).as_array().is_some_and(|v| !v.is_empty()));

    // D3: with the directory unreachable the site answers unavailable and counts nothing.
    f.server.kill9();
    let (code, body) = logon("Domain-Pass-2026", "web02");
    assert!(code == 503 && body.contains("directory_unavailable"), "{code} {body}");
    let failures = site_events("4625");
    assert!(failures.as_array().unwrap().iter().any(|e| e["Status"] == "0xC000005E"), "{failures}");
}

/// Issue 17: the console's users. `acc server init` made `admin` with its password in
/// `admin-password` (0600); users are added with the password rules of 5.5, listed without
/// any secret, given new passwords, removed, and the last admin stays.
#[test]
fn console_users_are_managed_with_acc_ctl_user() {
    let f = fleet();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f.d.join("srv/admin-password")).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let first = f.d.read("srv/admin-password");
    assert_eq!(first.trim_end().chars().count(), 20, "a 20-character first password");
    let users = f.json(&["user", "list", "--json"]);
    assert_eq!(users.as_array().map(Vec::len), Some(1), "{users}");
    assert_eq!((users[0]["name"].as_str(), users[0]["role"].as_str()), (Some("admin"), Some("admin")));

    let weak = f.ctl(&["user", "add", "alice", "--role", "operator", "--password-stdin"], "short\n");
    assert_eq!(
        weak.fails_with(1).trim(),
        "error: password: too short: 5 characters; the nist policy needs at least 15"
    );
    let bad = f.ctl(&["user", "add", "a b", "--role", "viewer", "--password-stdin"], "x\n");
    assert!(bad.fails_with(1).contains("user name 'a b'"));
    let ok = f.ctl(
        &["user", "add", "alice", "--role", "operator", "--password-stdin"],
        "tall blue giraffe walks\n",
    );
    assert_eq!(ok.ok().trim(), "user alice created (operator)");
    let again =
        f.ctl(&["user", "add", "Alice", "--role", "viewer", "--password-stdin"], "tall blue giraffe walks\n");
    assert!(again.fails_with(1).contains("user 'Alice' exists"));
    let table = f.ctl(&["user", "list"], "").ok();
    assert!(table.contains("alice") && table.contains("operator") && !table.contains("giraffe"), "{table}");

    let set = f.ctl(&["user", "set-password", "alice", "--password-stdin"], "green river under stone\n");
    assert_eq!(set.ok().trim(), "password of alice set");
    let last = f.ctl(&["user", "remove", "admin"], "");
    assert!(last.fails_with(1).contains("is the last admin"));
    assert_eq!(f.ctl(&["user", "remove", "alice"], "").ok().trim(), "user alice removed");
    assert!(f.ctl(&["user", "remove", "alice"], "").fails_with(1).contains("user 'alice' does not exist"));
    let events = f.json(&["events", "--id", "acc.console", "--json"]);
    let actions: Vec<&str> =
        events.as_array().into_iter().flatten().filter_map(|e| e["Action"].as_str()).collect();
    assert!(actions.contains(&"user_added") && actions.contains(&"user_removed"), "{events}");
}

/// Issue 17: the console on the real listener (TLS, the server's certificate), driven by
/// the system curl with a cookie jar: the sign-in page with its CSP, a wrong password
/// refused, the admin's first password signs in, and the home page answers.
#[test]
fn the_console_signs_in_over_the_real_listener() {
    let f = fleet();
    let url = |p: &str| format!("{}{p}", f.server.url);
    let base = ["-sS", "--cacert", "srv/tls/ca.crt", "-c", "jar.txt", "-b", "jar.txt"];
    let curl = |extra: &[&str]| crate::util::curl_with_status(&f.d, &[&base[..], extra].concat());
    let (code, page, err) = curl(&["-D", "headers.txt", &url("/ui/signin")]);
    assert_eq!(code, 200, "{err}");
    assert!(page.contains("<label for=\"user\">User name</label>") && page.contains(">Sign in</button>"));
    let headers = f.d.read("headers.txt").to_lowercase();
    assert!(headers.contains("content-security-policy: default-src 'none'; script-src 'self'"), "{headers}");
    // A refused form comes back with a fresh token in its body and its cookie.
    let csrf = |page: &str| {
        let token = page.split("name=\"csrf\" value=\"").nth(1).and_then(|r| r.split('"').next());
        format!("csrf={}&user=admin", token.unwrap())
    };
    let password = f.d.read("srv/admin-password");
    let form = |p: &str| format!("password={p}");
    let (code, page, _) = curl(&["--data", "user=admin", "--data-urlencode", &form("x"), &url("/ui/signin")]);
    assert_eq!(code, 403, "no form token: refused");
    let (code, body, _) =
        curl(&["--data", &csrf(&page), "--data-urlencode", &form("wrong password"), &url("/ui/signin")]);
    assert_eq!(code, 401);
    assert!(body.contains("The user name or password is incorrect."));
    let (code, _, _) =
        curl(&["--data", &csrf(&body), "--data-urlencode", &form(password.trim_end()), &url("/ui/signin")]);
    assert_eq!(code, 303);
    let (code, home, _) = curl(&[&url("/ui/")]);
    assert_eq!(code, 200);
    assert!(home.contains("Update agent configuration") && home.contains("admin (admin)"), "{home}");
    let events = f.json(&["events", "--id", "acc.console", "--json"]);
    let text = events.to_string();
    assert!(text.contains("sign_in_failed") && text.contains("\"IpAddress\":\"127.0.0.1\""), "{text}");
}
