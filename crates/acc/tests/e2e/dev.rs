//! `acc dev`: the whole system up with one command, usable with the commands it prints,
//! stopped cleanly by Ctrl-C (SIGINT), and resumed from the same folder.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::util::{Dir, wait_for};

/// Starts `acc dev` in `d` and returns it once it printed that it is ready, with its output.
fn start(d: &Dir) -> (std::process::Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_acc"))
        .args(["dev", "--agents", "2", "--sites", "1", "--data-dir", "dev"])
        .current_dir(d.path())
        .env_remove("ACC_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start acc dev");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            text.push_str(&line);
            text.push('\n');
            if line.starts_with("Ctrl-C") {
                let _ = tx.send(text.clone());
            }
        }
    });
    let text =
        rx.recv_timeout(std::time::Duration::from_secs(120)).expect("acc dev did not get ready in 120 s");
    (child, text)
}

fn interrupt(mut child: std::process::Child) {
    Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap();
    let status = wait_for(30, "acc dev to stop", || child.try_wait().unwrap());
    assert!(status.success(), "{status}");
}

#[test]
fn acc_dev_brings_up_a_fleet_that_works_stops_on_ctrl_c_and_resumes() {
    let d = Dir::new();
    let (child, text) = start(&d);
    assert!(text.contains("(ready)") && text.contains("acc ctl agents"), "{text}");
    let path = text.split_whitespace().find_map(|w| w.strip_prefix("PATH=")).expect("an export of PATH");
    let bin = path.split(':').next().unwrap();
    assert!(std::path::Path::new(bin).join("acc").is_file(), "the printed PATH holds the acc binary: {text}");
    let url = text.split_whitespace().find(|w| w.starts_with("https://")).unwrap().to_string();
    let ctl = |args: &[&str]| -> Value {
        let mut full = vec![
            "ctl",
            "--server",
            &url,
            "--ca",
            "dev/server/tls/ca.crt",
            "--token-file",
            "dev/server/admin-token",
        ];
        full.extend_from_slice(args);
        serde_json::from_str(&d.acc(&full).ok()).unwrap()
    };
    let agents = wait_for(30, "both agents current", || {
        let v = ctl(&["agents", "--json"]);
        (v.as_array()?.iter().filter(|a| a["status"] == "current" && a["user_name"] == "ACC_user").count()
            == 2)
            .then_some(v)
    });
    assert_eq!(agents[0]["auth_mode"], "credential");
    let settings = ctl(&["settings", "show", "--json"]);
    assert_eq!(settings["credential"]["user_name"], "ACC_user");
    wait_for(30, "the sample package on SITE1", || {
        let v = ctl(&["package", "list", "--json"]);
        (v[0]["replicas"][0]["status"] == "replicated").then_some(())
    });
    interrupt(child);
    let leftover = Command::new("pgrep").args(["-f", &d.join("dev").display().to_string()]).output().unwrap();
    assert!(
        leftover.stdout.is_empty(),
        "every process stopped: {}",
        String::from_utf8_lossy(&leftover.stdout)
    );

    let (child, text) = start(&d);
    assert!(text.contains("acc dev resumed") && text.contains(&url), "same ports: {text}");
    // The logs are appended, and ready means this run's agents connected (not the last's).
    let count = |file: &str, needle: &str| d.read(file).matches(needle).count();
    assert_eq!(count("dev/logs/site1.log", "listening on https://"), 2, "both runs' lines");
    for i in 1..=2 {
        assert!(
            count(&format!("dev/agents/agent{i}/acc.log"), "connected to") >= 2,
            "agent{i} connected again"
        );
    }
    interrupt(child);
}
