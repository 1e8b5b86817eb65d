//! Starting, stopping and signalling the long-running roles: `acc site` commands and
//! `acc site run` wait for each other instead of failing; SIGTERM answers waiting
//! long-polls at once; SIGHUP reloads what can be reloaded and never stops a role; `acc
//! dev` says which of its processes exited and reaps it.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;

use crate::site::agent_certificate;
use crate::tasks::{long_poll, site_with_agents, waiters};
use crate::util::{Dir, SiteProc, wait_for};

/// Sends `signal` (`-TERM`, `-HUP`, `-KILL`) to `pid`.
fn kill(signal: &str, pid: u32) {
    let ok = Command::new("kill").args([signal, &pid.to_string()]).status().expect("kill").success();
    assert!(ok, "kill {signal} {pid}");
}

/// Waits for `child` to exit and returns its status.
fn exited(child: &mut Child, what: &str) -> std::process::ExitStatus {
    wait_for(60, what, || child.try_wait().unwrap())
}

/// Waits until `file` contains `needle`; returns the file.
fn log_has(d: &Dir, file: &str, needle: &str) -> String {
    wait_for(30, &format!("'{needle}' in {file}"), || {
        std::fs::read_to_string(d.join(file)).ok().filter(|t| t.contains(needle))
    })
}

#[test]
fn site_commands_and_restarts_wait_for_each_other() {
    let d = Dir::new();
    let mut site = site_with_agents(&d);
    let stop = Arc::new(AtomicBool::new(false));
    let worker = {
        let (stop, dir) = (stop.clone(), d.path().to_path_buf());
        std::thread::spawn(move || {
            let acc = |args: &[&str]| {
                Command::new(env!("CARGO_BIN_EXE_acc")).args(args).current_dir(&dir).output().unwrap()
            };
            let (mut sent, mut listed, mut failures) = (0, 0, Vec::new());
            while !stop.load(Ordering::SeqCst) {
                let send =
                    acc(&["site", "tasks", "send", "--agent", "a1", "--type", "ping", "--data-dir", "site"]);
                if send.status.success() {
                    sent += 1;
                } else {
                    failures.push(String::from_utf8_lossy(&send.stderr).into_owned());
                }
                let list = acc(&["site", "tasks", "list", "--limit", "1", "--data-dir", "site"]);
                if list.status.success() {
                    listed += 1;
                } else {
                    failures.push(String::from_utf8_lossy(&list.stderr).into_owned());
                }
            }
            (sent, listed, failures)
        })
    };
    for _ in 0..5 {
        // Some commands run against this server, then it stops and another starts.
        std::thread::sleep(std::time::Duration::from_millis(300));
        kill("-TERM", site.child.id());
        let status = exited(&mut site.child, "the site to stop");
        assert!(status.success(), "{status}");
        site = SiteProc::start(&d.join("site"));
    }
    stop.store(true, Ordering::SeqCst);
    let (sent, listed, failures) = worker.join().unwrap();
    assert!(failures.is_empty(), "{} of {} commands failed: {failures:?}", failures.len(), sent + listed);
    assert!(sent >= 5 && listed >= 5, "commands ran throughout: {sent} sends, {listed} lists");
    let out = d
        .acc(&["site", "tasks", "list", "--agent", "a1", "--limit", "1000", "--json", "--data-dir", "site"])
        .ok();
    let tasks: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(tasks.as_array().unwrap().len(), sent, "every acknowledged send is there, once");
}

#[test]
fn sigterm_answers_waiting_long_polls_and_exits() {
    let d = Dir::new();
    let mut site = site_with_agents(&d);
    let poll = long_poll(&d, &site, "a1", 60);
    wait_for(30, "the long-poll to wait", || (waiters(&d) == 1).then_some(()));
    kill("-TERM", site.child.id());
    // The poll is answered (no task, 200), not cut off when the grace period ends.
    let mut poll = poll;
    let done = exited(&mut poll, "the long-poll to be answered");
    let out = poll.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(done.success() && text.ends_with("\n200"), "curl {done}: {text:?}");
    let v: Value = serde_json::from_str(text.trim_end_matches("200")).unwrap();
    assert_eq!(v["tasks"], serde_json::json!([]), "{v}");
    let status = exited(&mut site.child, "the site to exit");
    assert!(status.success(), "{status}");
}

#[test]
fn sighup_reloads_the_site_and_the_server_and_stops_neither() {
    let d = Dir::new();
    crate::site::site_with_account(&d);
    let mut site = SiteProc::start_role("site", &d.join("site"), Some(&d.join("site.log")));
    d.acc(&["server", "init", "--data-dir", "server", "--domain", "CORP", "--listen", "127.0.0.1:0"]).ok();
    let mut server = SiteProc::start_role("server", &d.join("server"), Some(&d.join("server.log")));
    for _ in 0..2 {
        kill("-HUP", site.child.id());
        kill("-HUP", server.child.id());
    }
    let log = log_has(&d, "site.log", "trusted client CAs and CRLs reloaded");
    assert!(log.contains("SIGHUP received"), "{log}");
    let log = log_has(&d, "server.log", "fleet CA and trusted operator CAs reloaded");
    assert!(log.contains("SIGHUP received"), "{log}");
    assert!(site.child.try_wait().unwrap().is_none(), "the site runs on");
    assert!(server.child.try_wait().unwrap().is_none(), "the server runs on");
    // Both still serve: the site's admin socket and the server's HTTPS port answer.
    d.acc(&["site", "accounts", "list", "--data-dir", "site"]).ok();
    let health = Command::new("curl")
        .args(["-s", "--cacert", "server/tls/ca.crt", &format!("{}/v1/health", server.url)])
        .current_dir(d.path())
        .output()
        .expect("curl (apt-get install -y curl)");
    let health = String::from_utf8_lossy(&health.stdout).into_owned();
    assert_eq!(health, r#"{"status":"ok"}"#);
    for role in [&mut site, &mut server] {
        kill("-TERM", role.child.id());
        assert!(exited(&mut role.child, "a clean stop").success());
    }
}

#[test]
fn sighup_makes_the_agent_reread_its_log_level_and_never_stops_it() {
    let d = Dir::new();
    crate::site::site_with_account(&d);
    agent_certificate(&d);
    d.acc(&["site", "trust", "add", "lab/ca.crt", "--data-dir", "site"]).ok();
    let site = SiteProc::start(&d.join("site"));
    let config = |level: &str| {
        format!(
            "ca-file: site/tls/ca.crt\nkey-file: agent.key\ncert-file: agent.crt\nlog-file: agent.log\n\
             log-level: {level}\nstate-dir: state\nhost-name: acclinux\nsite-servers: [{}]\n",
            site.url
        )
    };
    d.write("acc.yml", config("info"));
    let mut agent = Command::new(env!("CARGO_BIN_EXE_acc"))
        .args(["agent", "run", "--config", "acc.yml"])
        .current_dir(d.path())
        .env_remove("ACC_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start acc agent run");
    log_has(&d, "agent.log", "connected to");
    d.write("acc.yml", config("debug"));
    kill("-HUP", agent.id());
    log_has(&d, "agent.log", "SIGHUP received: log level debug");
    // A file that no longer loads changes nothing, and stops nothing either.
    d.write("acc.yml", "log-level: loud\n");
    kill("-HUP", agent.id());
    let log = log_has(&d, "agent.log", "nothing reloaded");
    assert!(log.contains("the running configuration stays"), "{log}");
    assert!(agent.try_wait().unwrap().is_none(), "the agent runs on");
    kill("-TERM", agent.id());
    assert!(exited(&mut agent, "the agent to stop").success());
    drop(site);
}

#[test]
fn acc_dev_says_which_process_exited_and_reaps_it() {
    let d = Dir::new();
    let mut dev = Command::new(env!("CARGO_BIN_EXE_acc"))
        .args(["dev", "--agents", "0", "--sites", "1", "--data-dir", "dev"])
        .current_dir(d.path())
        .env_remove("ACC_LOG")
        .stdout(Stdio::from(std::fs::File::create(d.join("dev.out")).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(d.join("dev.err")).unwrap()))
        .spawn()
        .expect("start acc dev");
    wait_for(120, "acc dev to be ready", || {
        assert!(dev.try_wait().unwrap().is_none(), "acc dev exited: {}", d.read("dev.err"));
        std::fs::read_to_string(d.join("dev.out")).ok().filter(|t| t.contains("Ctrl-C stops everything"))
    });
    let site_dir = d.join("dev/site1").display().to_string();
    let pgrep =
        Command::new("pgrep").args(["-f", &format!("site run --data-dir {site_dir}")]).output().unwrap();
    let pid: u32 = String::from_utf8_lossy(&pgrep.stdout).trim().parse().expect("one site1 process");
    // A hang-up of the child changes nothing; its death is reported and it is reaped.
    kill("-HUP", pid);
    log_has(&d, "dev/logs/site1.log", "SIGHUP received");
    assert!(!d.read("dev.err").contains("exited"), "{}", d.read("dev.err"));
    kill("-KILL", pid);
    let err = log_has(&d, "dev.err", "dev: site1 exited");
    assert!(err.contains("SIGKILL") && err.contains("site1.log"), "{err}");
    wait_for(30, "site1 reaped (no zombie left)", || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    assert!(dev.try_wait().unwrap().is_none(), "acc dev runs on");
    kill("-INT", dev.id());
    assert!(exited(&mut dev, "acc dev to stop").success());
}
