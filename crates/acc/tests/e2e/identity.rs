//! Agent identities with real processes (issue 14 §2): an agent id belongs to the agent
//! that registered it. An attacker holding the ACC, or another certificate (another CA's
//! with the same subject, or one of its own), cannot read, answer or re-register another
//! agent's tasks or id; the real `acc agent` keeps working through a site restart and
//! after `acc site agents forget`, and says what happened when its id is refused.

use serde_json::Value;

use crate::agent::{AgentProc, credential_fleet, enroll_web01, log_when};
use crate::server::STRONG;
use crate::site::{PW, agent_certificate, curl, reg, site_with_account};
use crate::util::{Dir, SiteProc, wait_for};

/// A second lab CA (`lab2/`) and `twin.crt`/`twin.key`: the same subject as `agent.crt`
/// (`/O=Example/CN=acclinux`), another issuer.
fn twin_certificate(d: &Dir) {
    d.acc(&["pki", "ca", "init", "--out-dir", "lab2", "--cn", "Other Lab CA"]).ok();
    d.acc(&["pki", "key", "--out", "twin.key"]).ok();
    d.acc(&["pki", "csr", "--key", "twin.key", "--subj", "/O=Example/CN=acclinux", "--out", "twin.csr"]).ok();
    let sign = ["pki", "sign", "--csr", "twin.csr", "--ca-cert", "lab2/ca.crt", "--ca-key", "lab2/ca.key"];
    d.acc(&[&sign[..], &["--days", "30", "--profile", "client", "--out", "twin.crt"]].concat()).ok();
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
}

/// `acc site tasks show ID --json` of the standalone site in `site/`.
fn task_state(d: &Dir, id: &str) -> String {
    let v = json(&d.acc(&["site", "tasks", "show", id, "--data-dir", "site", "--json"]).ok());
    v["state"].as_str().unwrap().to_string()
}

#[test]
fn an_attacker_with_the_acc_or_another_certificate_cannot_act_for_another_agent() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    agent_certificate(&d);
    twin_certificate(&d);
    for ca in ["lab/ca.crt", "lab2/ca.crt"] {
        d.acc(&["site", "trust", "add", ca, "--data-dir", "site"]).ok();
    }
    let site = SiteProc::start(&dir);
    let acc_user = format!("ACC_user:{PW}");
    let acc: &[&str] = &["-u", &acc_user, "-H", "Acc-Agent-Host: victim"];
    let lab: &[&str] = &["--cert", "agent.crt", "--key", "agent.key", "-H", "Acc-Agent-Host: acclinux"];
    let twin: &[&str] = &["--cert", "twin.crt", "--key", "twin.key", "-H", "Acc-Agent-Host: acclinux"];

    // victim01 registers with the ACC, victim02 with its lab certificate.
    let (code, body) = curl(&d, &site, acc, "/v1/register", &reg("victim01"));
    assert_eq!(code, 200, "{body}");
    let token = json(&body)["agent_token"].as_str().unwrap().to_string();
    assert_eq!(curl(&d, &site, lab, "/v1/register", &reg("victim02")).0, 200);
    let mut tasks = Vec::new();
    for victim in ["victim01", "victim02"] {
        let send = ["site", "tasks", "send", "--data-dir", "site", "--agent", victim, "--type", "inventory"];
        let out = d.acc(&[&send[..], &["--payload", r#"{"secret":"payload-7c1"}"#]].concat()).ok();
        tasks.push(out.trim().to_string());
    }
    let before = d.acc(&["site", "agents", "--data-dir", "site", "--json"]).ok();

    // The attacker: the ACC (no token, a made-up one), a certificate of another CA with the
    // victim's subject, and its own certificate naming the other victim.
    let guessed = "-HAcc-Agent-Token: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let attacks: Vec<(&str, Vec<&str>)> = vec![
        ("victim01", acc.to_vec()),
        ("victim01", [acc, &[guessed]].concat()),
        ("victim01", lab.to_vec()),
        ("victim02", acc.to_vec()),
        ("victim02", twin.to_vec()),
    ];
    for (i, (victim, who)) in attacks.iter().enumerate() {
        let named = format!("Acc-Agent-Id: {victim}");
        let opts: Vec<&str> = who.iter().copied().chain(["-H", named.as_str()]).collect();
        let (code, body) = curl(&d, &site, &opts, "/v1/tasks?wait=0", "");
        assert!(code == 403 && body.contains("agent_not_bound"), "attack {i}: {code} {body}");
        assert!(body.contains(&format!("agent id '{victim}'")) && !body.contains("payload-7c1"), "{body}");
        let task = &tasks[usize::from(*victim == "victim02")];
        let forged = r#"{"status":"completed","output":"forged"}"#;
        let (code, body) = curl(&d, &site, &opts, &format!("/v1/tasks/{task}/result"), forged);
        assert!(code == 403 && body.contains("agent_not_bound") && !body.contains(task), "{code} {body}");
        let (code, body) = curl(&d, &site, who, "/v1/register", &reg(victim));
        assert!(code == 403 && body.contains("agent_id_taken"), "attack {i}: {code} {body}");
        assert!(body.contains(&format!("acc site agents forget {victim}")), "{body}");
    }
    assert_eq!(
        d.acc(&["site", "agents", "--data-dir", "site", "--json"]).ok(),
        before,
        "nothing re-registered"
    );
    assert_eq!(task_state(&d, &tasks[0]), "pending", "nothing read, nothing answered");

    // The victims themselves: the token (with the ACC), the certificate.
    let with_token = format!("Acc-Agent-Token: {token}");
    let victim01 = [acc, &["-H", "Acc-Agent-Id: victim01", "-H", &with_token]].concat();
    let (code, body) = curl(&d, &site, &victim01, "/v1/tasks?wait=0", "");
    assert!(code == 200 && body.contains("payload-7c1"), "{code} {body}");
    let victim02 = [lab, &["-H", "Acc-Agent-Id: victim02"]].concat();
    let (code, body) = curl(&d, &site, &victim02, "/v1/tasks?wait=0", "");
    assert!(code == 200 && body.contains("payload-7c1"), "{code} {body}");
    let table = d.acc(&["site", "agents", "--data-dir", "site"]).ok();
    assert!(table.contains("BOUND TO") && table.contains("token+certificate"), "{table}");
}

/// The agent's id, from `acc agent status`.
fn agent_id(d: &Dir) -> String {
    let status = json(&d.acc(&["agent", "status", "--config", "agent/acc.yml", "--json"]).ok());
    status["agent_id"].as_str().unwrap().to_string()
}

/// Sends an `update-config` task to `id` on `site1/` and waits until the agent completed it.
fn task_completes(d: &Dir, id: &str) {
    let sent = d
        .acc(&["site", "tasks", "send", "--data-dir", "site1", "--agent", id, "--type", "update-config"])
        .ok();
    let task = sent.trim().to_string();
    wait_for(40, "the agent to complete its task", || {
        let v = json(&d.acc(&["site", "tasks", "show", &task, "--data-dir", "site1", "--json"]).ok());
        (v["state"] == "completed").then_some(())
    });
}

fn count(d: &Dir, file: &str, needle: &str) -> usize {
    std::fs::read_to_string(d.join(file)).unwrap_or_default().matches(needle).count()
}

const BOUND: &str = "The site server bound this agent id to this agent";

#[test]
fn the_real_agent_keeps_its_id_through_a_site_restart_and_after_forget() {
    let (f, mut sites) = credential_fleet(&["SITE1"]);
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let agent = AgentProc::start(d, "agent/acc.yml");
    let connected = format!("connected to {} using TLS 1.3 as ACC_User_v1", sites[0].url);
    log_when(d, "agent/acc.log", "the agent on SITE1", &connected);
    let id = agent_id(d);
    task_completes(d, &id);
    assert_eq!(count(d, "agent/acc.log", BOUND), 1, "bound once");
    let state = std::fs::read_to_string(d.join("agent/state/agent.json")).unwrap();
    assert!(state.contains("\"site_tokens\"") && state.contains("\"sealed\""), "{state}");

    // Someone else with the ACC cannot take the running agent's id.
    let acc_user = format!("ACC_User_v1:{STRONG}");
    let attacker = ["--cacert", "site1/tls/ca.crt", "-u", &acc_user, "-H", "Acc-Agent-Host: evil"];
    let (code, body) = curl(d, &sites[0], &attacker, "/v1/register", &reg(&id));
    assert!(code == 403 && body.contains("agent_id_taken"), "{code} {body}");

    // A site restart: the binding is in its database; the agent carries on with its token.
    let addr = sites[0].addr();
    sites[0].kill9();
    sites[0] = SiteProc::start_at("site", &d.join("site1"), &addr, None);
    task_completes(d, &id);
    assert_eq!(count(d, "agent/acc.log", BOUND), 1, "the same binding after the restart");

    // forget: the agent's waiting long-poll is refused, it registers again and is bound anew.
    let out = d.acc(&["site", "agents", "forget", &id, "--data-dir", "site1"]).ok();
    assert!(out.contains(&format!("agent '{id}' forgotten")), "{out}");
    log_when(d, "agent/acc.log", "the agent registering again", "no longer holds this agent's binding");
    wait_for(30, "the second binding", || (count(d, "agent/acc.log", BOUND) == 2).then_some(()));
    task_completes(d, &id);

    // Forgotten while the agent is stopped, and taken by someone else: the agent says it
    // is refused (not unreachable), with the status and the reason, and backs off.
    drop(agent);
    d.acc(&["site", "agents", "forget", &id, "--data-dir", "site1"]).ok();
    let (code, body) = curl(d, &sites[0], &attacker, "/v1/register", &reg(&id));
    assert_eq!(code, 200, "a forgotten id is free: {body}");
    let _agent = AgentProc::start(d, "agent/acc.yml");
    let log = log_when(d, "agent/acc.log", "the refusal backing off", "trying them again in 10 s");
    let refusal = format!("refused with 403 Forbidden: agent id '{id}' is registered to another agent");
    assert!(log.contains(&refusal), "{log}");
    assert!(log.contains("Site server reachable but it refused this agent"), "{log}");
    assert!(log.contains("trying them again in 5 s"), "{log}");
    // The operator releases it again: the agent gets its id back by itself.
    d.acc(&["site", "agents", "forget", &id, "--data-dir", "site1"]).ok();
    wait_for(40, "the agent bound again", || (count(d, "agent/acc.log", BOUND) == 3).then_some(()));
    task_completes(d, &id);
}
