//! Command-line habits of every `acc` command: a closed pipe ends quietly, tables line up
//! with times in one form, setting what is set is success, `--version`, completions and
//! the man page come from the clap definitions.

use std::process::{Command, Stdio};

use crate::server::{Fleet, fleet, join_sites, sites_when};
use crate::util::Dir;

/// Runs `acc ARGS` with its standard output's reading end closed before it writes: what
/// `acc … | true` and `acc … | head` do to it. Returns (exit code, stderr).
fn with_closed_stdout(d: &Dir, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_acc"))
        .args(args)
        .current_dir(d.path())
        .env_remove("ACC_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start acc");
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for acc");
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The `acc ctl` arguments that reach `f`'s server.
fn ctl_args<'a>(f: &'a Fleet, ca: &'a str, token: &'a str, args: &[&'a str]) -> Vec<&'a str> {
    let mut full = vec!["ctl", "--server", f.server.url.as_str(), "--ca", ca, "--token-file", token];
    full.extend_from_slice(args);
    full
}

/// Asserts that every row of `table` has its cells where the header's columns start (each
/// cell that starts a column follows a space): the columns line up whatever the contents.
#[track_caller]
fn assert_aligned(table: &str, columns: &[&str]) {
    let mut lines = table.lines();
    let header = lines.next().expect("a header line");
    let starts: Vec<usize> =
        columns.iter().map(|c| header.find(c).unwrap_or_else(|| panic!("no column {c}: {table}"))).collect();
    for line in lines {
        for (c, &p) in columns.iter().zip(&starts) {
            let before = line.get(p.saturating_sub(1)..p).unwrap_or("");
            let at = line.get(p..=p).unwrap_or("");
            assert!(
                (p == 0 || before == " ") && !at.trim().is_empty(),
                "column {c} (at {p}) out of line in {line:?}:\n{table}"
            );
        }
    }
}

/// `2026-11-23T04:05:03.188Z`: RFC 3339 UTC with milliseconds.
fn is_time_ms(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s[20..23].bytes().all(|c| c.is_ascii_digit())
}

#[test]
fn a_closed_pipe_ends_any_command_quietly() {
    let f = fleet();
    let (ca, token) = (f.d.join("srv/tls/ca.crt"), f.d.join("srv/admin-token"));
    let (ca, token) = (ca.to_str().unwrap(), token.to_str().unwrap());
    for args in
        [&["sites"][..], &["sites", "--json"], &["policy", "history"], &["settings", "show", "--json"]]
    {
        let (code, stderr) = with_closed_stdout(&f.d, &ctl_args(&f, ca, token, args));
        assert_eq!((code, stderr.as_str()), (Some(0), ""), "acc ctl {args:?} | true");
    }
    // The offline commands take the same way out.
    f.d.acc(&["site", "init", "--data-dir", "site", "--name", "S1", "--listen", "127.0.0.1:0"]).ok();
    let (code, stderr) = with_closed_stdout(&f.d, &["site", "accounts", "list", "--data-dir", "site"]);
    assert_eq!((code, stderr.as_str()), (Some(0), ""));
}

#[test]
fn tables_line_up_and_every_time_has_milliseconds() {
    let f = fleet();
    let _sites = join_sites(&f, &["SITE1"]);
    sites_when(&f, "SITE1 applied revision 1 with its CRL", |s| {
        s.len() == 1 && s[0]["applied_revision"] == 1 && s[0]["crl_this_update_ms"].is_i64()
    });
    let sites = f.ctl(&["sites"], "").ok();
    assert_aligned(&sites, &["site", "url", "revision", "last contact", "CRL age"]);
    let row = sites.lines().nth(1).expect("a row for SITE1");
    let contact = row.split_whitespace().nth(3).unwrap();
    assert!(is_time_ms(contact), "last contact with milliseconds: {row}");
    // The fleet CRL was signed a moment ago (its thisUpdate is backdated for clock skew).
    assert_eq!(row.split_whitespace().nth(4), Some("0m"), "CRL age from issuance: {row}");

    // Authors of different lengths in the "by" column.
    f.ctl(&["settings", "site", "set", "--threshold", "7"], "").ok();
    let other =
        f.ctl(&["token", "create", "--role", "admin", "--description", "a much longer author"], "").ok();
    let ca = f.d.join("srv/tls/ca.crt");
    let args =
        ctl_args(&f, ca.to_str().unwrap(), "/nonexistent", &["settings", "site", "set", "--threshold", "8"]);
    f.d.acc_with(&args, "", &[("ACC_TOKEN", other.trim())]).ok();
    let history = f.ctl(&["policy", "history"], "").ok();
    assert_aligned(&history, &["saved", "sites", "agents", "by", "summary"]);
    for line in history.lines().skip(1) {
        let saved = line.split_whitespace().nth(1).unwrap();
        assert!(is_time_ms(saved), "saved with milliseconds: {line}");
    }

    // A package assigned to one site names it plainly.
    f.d.write("pkg/readme.txt", "tools\n");
    f.ctl(
        &["package", "add", "--share", "software-library", "--name", "tools", "--version", "1.0", "pkg"],
        "",
    )
    .ok();
    f.ctl(&["package", "assign", "tools", "--site", "SITE1"], "").ok();
    let list = f.ctl(&["package", "list"], "").ok();
    assert_aligned(&list, &["package", "version", "share", "added", "assigned"]);
    let row = list.lines().nth(1).unwrap();
    assert_eq!(row.split_whitespace().nth(6), Some("SITE1"), "{list}");
    assert!(is_time_ms(row.split_whitespace().nth(5).unwrap()), "{list}");
}

#[test]
fn site_accounts_line_up_in_list_and_show() {
    let d = Dir::new();
    d.acc(&["site", "init", "--data-dir", "site", "--name", "S1", "--listen", "127.0.0.1:0"]).ok();
    for name in ["a", "a_much_longer_name"] {
        d.acc_with(
            &["site", "accounts", "add", name, "--password-stdin", "--data-dir", "site"],
            "Pw-1234567890\n",
            &[],
        )
        .ok();
    }
    d.acc(&["site", "accounts", "disable", "a", "--data-dir", "site"]).ok();
    let list = d.acc(&["site", "accounts", "list", "--data-dir", "site"]).ok();
    assert_aligned(&list, &["NAME", "STATE", "CREATED", "SID"]);
    assert_eq!(list.lines().count(), 3, "{list}");
    let show = d.acc(&["site", "accounts", "show", "a_much_longer_name", "--data-dir", "site"]).ok();
    assert_aligned(&show, &["NAME", "STATE", "CREATED", "SID"]);
}

#[test]
fn logs_carry_values_no_colours_in_files_and_json_lines_on_request() {
    use crate::agent::{AgentProc, credential_fleet, enroll_web01, log_when};
    let (f, _sites) = credential_fleet(&["SITE1"]);
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let _agent = AgentProc::start(&f.d, "agent/acc.yml");
    let log = log_when(&f.d, "agent/acc.log", "the policy applied", "Policy applied.");
    let applied = log.lines().find(|l| l.contains("Policy applied.")).unwrap();
    assert!(applied.contains("user=ACC_User_v1") && !applied.contains("Some("), "{applied}");
    let starting = log.lines().find(|l| l.contains("Agent starting.")).unwrap();
    let expires = starting.split("expires=").nth(1).and_then(|t| t.split_whitespace().next()).unwrap();
    assert!(is_time_ms(expires), "{starting}");
    for file in ["agent/acc.log", "agent.stderr", "server.log"] {
        let text = std::fs::read_to_string(f.d.join(file)).unwrap_or_default();
        assert!(!text.contains('\u{1b}'), "no ANSI escapes in {file}:\n{text}");
    }

    // ACC_LOG_FORMAT=json: one JSON object per line.
    f.d.acc(&["site", "init", "--data-dir", "json-site", "--name", "S9", "--listen", "127.0.0.1:0"]).ok();
    let err = std::fs::File::create(f.d.join("site.json.log")).unwrap();
    let mut site = Command::new(env!("CARGO_BIN_EXE_acc"))
        .args(["site", "run", "--data-dir", "json-site", "--listen", "127.0.0.1:0"])
        .current_dir(f.d.path())
        .env("ACC_LOG", "info")
        .env("ACC_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .unwrap();
    let text = log_when(&f.d, "site.json.log", "the site's start in JSON", "site started.");
    let _ = site.kill();
    let _ = site.wait();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(v["timestamp"].is_string() && v["level"].is_string(), "{line}");
    }
    assert!(text.contains(r#""message":"site started.""#), "{text}");
    let bad = f.d.acc_with(&["site", "show", "--data-dir", "json-site"], "", &[("ACC_LOG_FORMAT", "xml")]);
    assert_eq!(
        bad.fails_with(1).trim(),
        "error: ACC_LOG_FORMAT: 'xml' is not a log format; use text or json"
    );
}

#[test]
fn setting_what_is_already_set_is_success_and_says_unchanged() {
    let f = fleet();
    let defaults = ["settings", "site", "set", "--lockout-mode", "smart", "--refresh-interval", "6h"];
    assert_eq!(f.ctl(&defaults, "").ok().trim(), "unchanged");
    let saved = f.set_credential("ACC_user", crate::server::STRONG).ok();
    assert!(saved.contains("saved as policy revision 2"), "{saved}");
    assert_eq!(f.set_credential("ACC_user", crate::server::STRONG).ok().trim(), "unchanged");
    let grant = ["share", "grant", "software-library", "Agents", "read", "--level", "share"];
    assert_eq!(f.ctl(&grant, "").ok().trim(), "unchanged", "granted by default");
    let revoke = ["share", "revoke", "software-library", "Agents", "--level", "share"];
    assert!(f.ctl(&revoke, "").ok().contains("saved as policy revision"));
    assert_eq!(f.ctl(&revoke, "").ok().trim(), "unchanged");
    assert_eq!(
        f.json(&["settings", "show", "--json"])["revision"],
        3,
        "no revision for what changed nothing"
    );
    // A real mistake is still one.
    let bad = f.ctl(&["share", "grant", "printers", "Agents", "read", "--level", "share"], "").fails_with(1);
    assert!(bad.contains("not a package source"), "{bad}");

    // The site's own set-style commands.
    let d = &f.d;
    d.acc(&["site", "init", "--data-dir", "site", "--name", "S1", "--listen", "127.0.0.1:0"]).ok();
    let site = |args: &[&str]| d.acc(&[&["site"][..], args, &["--data-dir", "site"]].concat()).ok();
    assert_eq!(site(&["policy", "set", "--threshold", "7"]).trim(), "lockout policy saved");
    assert_eq!(site(&["policy", "set", "--threshold", "7", "--reset-after", "600"]).trim(), "unchanged");
    site(&["shares", "add", "tools"]);
    let grant = ["shares", "grant", "tools", "Agents", "read", "--level", "share"];
    assert!(site(&grant).starts_with("granted read to 'Agents'"));
    assert_eq!(site(&grant).trim(), "unchanged: 'Agents' already has read at the share level of 'tools'");
    let revoke = ["shares", "revoke", "tools", "Agents", "--level", "share"];
    assert!(site(&revoke).starts_with("revoked 'Agents'"));
    assert_eq!(site(&revoke).trim(), "unchanged: 'Agents' has no Allow at the share level of 'tools'");
}

#[test]
fn the_version_names_the_commit_and_completions_and_man_pages_come_from_the_command_line() {
    let d = Dir::new();
    let version = d.acc(&["--version"]).ok();
    let head = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(|| "unknown".to_string(), |o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    assert_eq!(version.trim(), format!("acc {} (commit {head})", env!("CARGO_PKG_VERSION")));
    assert!(d.acc(&["ctl", "sites", "--version"]).ok().contains(&head), "every subcommand says it");

    let bash = d.acc(&["completions", "bash"]).ok();
    assert!(bash.contains("complete -F _acc") && bash.contains("enroll-token"), "{bash}");
    assert!(d.acc(&["completions", "zsh"]).ok().starts_with("#compdef acc"));
    assert!(d.acc(&["completions", "fish"]).ok().contains("complete -c acc"));
    let wrong = d.acc(&["completions", "tcsh"]).fails_with(2);
    assert!(wrong.contains("possible values: bash"), "{wrong}");

    let page = d.acc(&["man"]).ok();
    assert!(page.contains(".TH acc 1") && page.contains(&head) && page.contains("ctl"), "{page}");
    d.acc(&["man", "--dir", "man1"]).ok();
    let sites = d.read("man1/acc-ctl-sites.1");
    assert!(sites.contains(".TH acc-ctl-sites 1") && sites.contains("\\-\\-json"), "{sites}");
}

#[test]
fn enrolling_with_another_fleet_starts_from_a_clean_state() {
    use crate::agent::{AgentProc, credential_fleet, log_when};
    let (first, sites) = credential_fleet(&["SITE1"]);
    let state = first.d.join("var-lib-acc");
    let enroll = |f: &Fleet| {
        let token = f.ctl(&["enroll-token", "create"], "").ok();
        f.d.acc(&[
            "agent",
            "enroll",
            "--token",
            token.trim(),
            "--config",
            "agent/acc.yml",
            "--host-name",
            "web01",
            "--log-file",
            "acc.log",
            "--state-dir",
            state.to_str().unwrap(),
        ])
        .ok()
    };
    let out = enroll(&first);
    assert!(!out.contains("cleared"), "nothing to clear the first time: {out}");
    let agent = AgentProc::start(&first.d, "agent/acc.yml");
    log_when(&first.d, "agent/acc.log", "the agent on SITE1", &format!("connected to {}", sites[0].url));
    let old = crate::util::wait_for(30, "the first fleet's site in the agent's state", || {
        let v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(state.join("agent.json")).ok()?).ok()?;
        (v["site_server"] == sites[0].url.as_str() && v["policy"].is_object()).then_some(v)
    });
    drop(agent);

    // The same machine (same state folder) enrolled with another management server.
    let second = fleet();
    let out = enroll(&second);
    let id = old["agent_id"].as_str().unwrap();
    assert!(out.contains(&format!("the state of the earlier enrollment (agent id {id}")), "{out}");
    assert!(!state.join("agent.json").exists(), "the old fleet's policy and site servers are gone");
    assert!(state.join("machine.key").exists());
}

#[test]
fn tokens_come_from_a_private_file_or_standard_input_and_bad_ones_are_one_line() {
    let d = Dir::new();
    let file = d.write("token", "accjoin1.xyz\n");
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let open = d.acc(&["site", "join", "--token-file", "token", "--data-dir", "site"]).fails_with(1);
    assert!(
        open.contains("mode 0644 lets others read this join token") && open.contains("chmod 0600"),
        "{open}"
    );
    let empty = d.acc_with(&["agent", "enroll", "--token", "-", "--config", "agent/acc.yml"], "\n", &[]);
    let err = empty.fails_with(1);
    assert!(err.contains("the enrollment token is empty"), "{err}");
    let both = d.acc(&["site", "join", "--token", "x", "--token-file", "token", "--data-dir", "site"]);
    assert!(both.fails_with(2).contains("cannot be used with"), "{}", both.stderr());
    let none = d.acc(&["agent", "enroll", "--config", "agent/acc.yml"]).fails_with(2);
    assert!(none.contains("--token") && none.contains("--token-file"), "{none}");
    // A token read from standard input reaches the join (which says what is wrong with it).
    let bad = d.acc_with(&["site", "join", "--token-file", "-", "--data-dir", "site"], "accjoin1.xyz\n", &[]);
    assert!(bad.fails_with(1).contains("join token: "), "{}", bad.stderr());
    assert!(!d.join("site").exists(), "nothing made");
}
