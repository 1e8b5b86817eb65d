//! Several management server nodes on one PostgreSQL store, as real processes: node 1
//! `acc server init --database postgres://…` on the test cluster, a node token, node 2
//! `acc server join` (the CA pinned by the token, the bundle sealed under the token's
//! secret) and `acc server run`; `acc ctl` through node 2 reads what node 1 saved and lists
//! both nodes; a reused, expired or site token, a non-empty directory and a SQLite server
//! are refused with one line.

use std::os::unix::fs::PermissionsExt as _;
use std::time::{Duration, Instant};

use acc_server::store::test_cluster;
use serde_json::Value;

use crate::server::{STRONG, fleet, fleet_with};
use crate::util::{SiteProc, curl_with_status, wait_for};

fn fresh_database() -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(test_cluster::fresh_database()).url
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn a_second_node_joins_by_token_and_serves_the_same_fleet() {
    let f = fleet_with("127.0.0.1", &["--database", &fresh_database()]);
    f.set_credential("ACC_user", STRONG).ok();
    let token = f.ctl(&["node-token", "create", "--ttl", "10m"], "").ok().trim().to_string();
    assert!(token.starts_with("accjoin1."), "{token}");

    let listen = format!("127.0.0.1:{}", free_port());
    let join_as = |name: &str, token: &str, dir: &str| {
        let args =
            ["server", "join", "--token", token, "--data-dir", dir, "--listen", &listen, "--name", name];
        f.d.acc(&args)
    };
    let join = |token: &str, dir: &str| join_as("NODE2", token, dir);
    // A directory that is not empty is refused before the token is spent.
    f.d.write("busy/keep.txt", "mine");
    let busy = join(&token, "busy").fails_with(1);
    assert!(busy.contains("is not empty") && busy.trim().lines().count() == 1, "{busy}");
    assert_eq!(f.d.read("busy/keep.txt"), "mine");

    let out = join(&token, "node2").ok();
    assert!(out.contains("NODE2") && out.contains("acc server run --data-dir node2"), "{out}");
    let mode = |p: &str| std::fs::metadata(f.d.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!(
        (mode("node2/vault.key"), mode("node2/tls/ca.key"), mode("node2/tls/server.key")),
        (0o600, 0o400, 0o400)
    );
    assert_eq!(mode("node2"), 0o700);
    assert_eq!(
        std::fs::read(f.d.join("node2/vault.key")).unwrap(),
        std::fs::read(f.d.join("srv/vault.key")).unwrap()
    );
    assert_eq!(f.d.read("node2/tls/ca.crt"), f.d.read("srv/tls/ca.crt"));
    assert_ne!(f.d.read("node2/tls/server.crt"), f.d.read("srv/tls/server.crt"), "its own certificate");
    let verified = f.d.openssl(&["verify", "-CAfile", "node2/tls/ca.crt", "node2/tls/server.crt"]).ok();
    assert!(verified.contains("OK"), "{verified}");
    let config: Value = serde_json::from_str(&f.d.read("node2/server.json")).unwrap();
    let node1: Value = serde_json::from_str(&f.d.read("srv/server.json")).unwrap();
    assert_eq!((config["name"].as_str(), config["listen"].as_str()), (Some("NODE2"), Some(listen.as_str())));
    for shared in ["domain", "dns_domain", "app_id", "database"] {
        assert_eq!(config[shared], node1[shared], "{shared}");
    }
    assert!(!f.d.join("node2/admin-token").exists(), "the tokens are in the store");

    // NODE2 is taken now; the token was spent: a second join with it is refused, and
    // leaves nothing.
    let taken = join(&token, "node3").fails_with(1);
    assert!(taken.contains("node name 'NODE2' is in use"), "{taken}");
    let again = join_as("NODE3", &token, "node3").fails_with(1);
    assert!(again.contains("unknown, expired or used up") && again.trim().lines().count() == 1, "{again}");
    assert!(!f.d.join("node3").exists());

    // Node 2 serves the same fleet: acc ctl through it reads what node 1 saved.
    let node2 = SiteProc::start_at("server", &f.d.join("node2"), &listen, None);
    let ctl2 = |args: &[&str]| {
        let mut full =
            vec!["ctl", "--server", &node2.url, "--ca", "srv/tls/ca.crt", "--token-file", "srv/admin-token"];
        full.extend_from_slice(args);
        f.d.acc(&full)
    };
    let settings: Value = serde_json::from_str(&ctl2(&["settings", "show", "--json"]).ok()).unwrap();
    assert_eq!(settings["credential"]["user_name"], "ACC_user", "{settings}");
    let nodes = wait_for(20, "both nodes in node list", || {
        let v: Value = serde_json::from_str(&ctl2(&["node", "list", "--json"]).ok()).unwrap();
        let names: Vec<String> =
            v.as_array()?.iter().filter_map(|n| n["name"].as_str().map(String::from)).collect();
        (names.len() == 2 && names.contains(&"NODE2".to_string())).then_some(v)
    });
    let urls: Vec<&str> = nodes.as_array().unwrap().iter().filter_map(|n| n["url"].as_str()).collect();
    assert!(urls.contains(&node2.url.as_str()) && urls.contains(&f.server.url.as_str()), "{nodes}");
    let table = ctl2(&["node", "list"]).ok();
    assert!(table.contains("last seen") && table.contains("NODE2"), "{table}");
    // A running node is not forgotten (it would register again).
    let running = f.ctl(&["node", "remove", "NODE2"], "").fails_with(1);
    assert!(running.contains("seen running"), "{running}");

    // A site token and an expired node token are refused with one line each.
    let site = f.ctl(&["site-token", "create"], "").ok().trim().to_string();
    let e = join(&site, "node4").fails_with(1);
    assert!(e.contains("is a site token") && e.contains("acc ctl node-token create"), "{e}");
    let short = f.ctl(&["node-token", "create", "--ttl", "1s"], "").ok().trim().to_string();
    let made = Instant::now();
    wait_for(5, "the node token to expire", || (made.elapsed() > Duration::from_millis(1200)).then_some(()));
    let e = join_as("NODE5", &short, "node5").fails_with(1);
    assert!(e.contains("unknown, expired or used up") && e.trim().lines().count() == 1, "{e}");
    assert!(!f.d.join("node4").exists() && !f.d.join("node5").exists());
}

#[test]
fn a_sqlite_server_makes_no_node_token_and_takes_no_node() {
    let f = fleet();
    let e = f.ctl(&["node-token", "create"], "").fails_with(1);
    assert!(e.contains("SQLite") && e.contains("one node only") && e.trim().lines().count() == 1, "{e}");
    let (code, body, _) = curl_with_status(
        &f.d,
        &[
            "-sS",
            "--cacert",
            "srv/tls/ca.crt",
            "-H",
            "content-type: application/json",
            "-d",
            r#"{"secret":"node_x","name":"NODE2","url":"https://127.0.0.1:1"}"#,
            &format!("{}/v1/nodes/join", f.server.url),
        ],
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("SQLite"), "{body}");
    // The one node lists itself.
    let nodes = wait_for(20, "the node to register", || {
        let v = f.json(&["node", "list", "--json"]);
        (v.as_array()?.len() == 1).then_some(v)
    });
    assert_eq!(nodes[0]["url"].as_str(), Some(f.server.url.as_str()), "{nodes}");
}
