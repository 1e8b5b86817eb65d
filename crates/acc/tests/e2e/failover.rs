//! Every client knows every management server node and fails over (issue 18): a site
//! server and an agent whose token lists a dead node first still join, enroll, get their
//! policy and keep the node list the policy brings; `acc ctl --server DEAD,REAL` works and
//! a list of dead nodes fails in one line naming each.

use acc_proto::JoinToken;
use serde_json::Value;

use crate::agent::{AgentProc, enroll_as, log_when};
use crate::server::{Fleet, STRONG, fleet, phase_of, status_when};
use crate::util::{SiteProc, wait_for};

/// `https://127.0.0.1:PORT` where nothing listens (bound, then closed).
pub(crate) fn dead_node() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("https://127.0.0.1:{port}")
}

/// The token `acc ctl ARGS` prints, its node list made `nodes`.
fn token_with_nodes(f: &Fleet, args: &[&str], nodes: &[&str]) -> String {
    let mut token = JoinToken::decode(&f.ctl(args, "").ok()).unwrap();
    assert_eq!(token.urls, std::slice::from_ref(&f.server.url), "the token lists the server's nodes");
    token.urls = nodes.iter().map(ToString::to_string).collect();
    token.encode()
}

pub(crate) fn ctl_at(f: &Fleet, servers: &str, args: &[&str]) -> crate::util::Run {
    let ca = f.d.join("srv/tls/ca.crt");
    let token = f.d.join("srv/admin-token");
    let base =
        ["ctl", "--server", servers, "--ca", ca.to_str().unwrap(), "--token-file", token.to_str().unwrap()];
    f.d.acc_with(&[&base[..], args].concat(), "", &[])
}

#[test]
fn a_site_and_an_agent_whose_first_node_is_dead_join_get_their_policy_and_keep_the_policys_nodes() {
    let f = fleet();
    let real = f.server.url.clone();
    let dead = dead_node();

    let token = token_with_nodes(&f, &["site-token", "create"], &[&dead, &real]);
    let file = f.d.write("join-token", &token);
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let args = ["site", "join", "--token-file", "join-token", "--data-dir", "site1", "--name", "SITE1"];
    let out = f.d.acc(&[&args[..], &["--listen", "127.0.0.1:0"]].concat()).ok();
    assert!(out.contains(&format!("site SITE1 joined {real}")), "{out}");
    let config: Value = serde_json::from_str(&f.d.read("site1/management/server.json")).unwrap();
    assert_eq!(config["urls"], serde_json::json!([dead, real]), "the token's nodes are kept");

    // The site starts on the dead node, fails over, applies the policy (the credential
    // becomes active only once it created it) and keeps the policy's list.
    let _site = SiteProc::start_at("site", &f.d.join("site1"), "127.0.0.1:0", None);
    f.set_credential("ACC_User_v1", STRONG).ok();
    status_when(&f, "v1 active on the site", |v| phase_of(v, "ACC_User_v1") == "active");
    wait_for(20, "the policy's node list in server.json", || {
        let c: Value = serde_json::from_str(&f.d.read("site1/management/server.json")).ok()?;
        (c["urls"] == serde_json::json!([real])).then_some(())
    });

    let token = token_with_nodes(&f, &["enroll-token", "create"], &[&dead, &real]);
    let out = enroll_as(&f, &token, "web01", "agent").ok();
    assert!(out.contains("enrolled as web01"), "{out}");
    let yml = f.d.read("agent/acc.yml");
    assert!(yml.contains(&format!("{dead},{real}")), "acc.yml lists both nodes: {yml}");
    let _agent = AgentProc::start(&f.d, "agent/acc.yml");
    log_when(&f.d, "agent/acc.log", "the agent on the live node", &format!("connected to {real}"));
    wait_for(30, "web01 checked in", || {
        let v = f.json(&["agents", "--json"]);
        v.as_array()?.iter().find(|a| a["name"] == "web01" && a["generation"] == 1).cloned()
    });
    wait_for(20, "the policy's node list in the agent's state", || {
        let s: Value = serde_json::from_str(&f.d.read("agent/state/agent.json")).ok()?;
        (s["servers"] == serde_json::json!([real])).then_some(())
    });
}

#[test]
fn acc_ctl_goes_to_the_next_node_and_names_every_node_when_none_answers() {
    let f = fleet();
    let real = f.server.url.clone();
    let (dead1, dead2) = (dead_node(), dead_node());

    // A GET and a POST, the first node dead.
    let list = format!("{dead1}, {real}");
    let sites = ctl_at(&f, &list, &["sites", "--json"]).ok();
    assert_eq!(serde_json::from_str::<Value>(&sites).unwrap(), serde_json::json!([]));
    let token = ctl_at(&f, &list, &["site-token", "create"]).ok();
    assert!(token.trim().starts_with("accjoin1."), "{token}");

    let err = ctl_at(&f, &format!("{dead1},{dead2}"), &["sites", "--json"]).fails_with(1);
    let last = err.trim().lines().last().unwrap_or_default();
    assert!(
        last.contains("no management server node could be reached")
            && last.contains(&format!("cannot reach {dead1}"))
            && last.contains(&format!("cannot reach {dead2}")),
        "{err}"
    );
    let bad = ctl_at(&f, &format!("{real},http://x:1"), &["sites", "--json"]).fails_with(1);
    assert!(bad.contains("server URL 'http://x:1': must start with https://"), "{bad}");
}
