//! The management server on PostgreSQL, as real processes: `acc server init --database
//! postgres://…` on a fresh database of the test cluster (acc_server's throwaway cluster,
//! which fails the test when PostgreSQL is not installed), `acc server run` from what
//! server.json keeps, a site joining and an enrolled agent registering at it; and the
//! one-line refusals of a malformed URL and of an unreachable database; two management
//! servers on one database, a save through one reaching a site long-polling the other.

use acc_server::store::test_cluster;

use crate::server::{enroll, fleet_with, join_sites, sites_when};
use crate::util::{Dir, SiteProc, wait_for};

/// A fresh database's URL on the test cluster.
pub(crate) fn fresh_database() -> String {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(test_cluster::fresh_database()).url
}

#[test]
fn a_management_server_on_postgres_serves_sites_and_agents() {
    let url = fresh_database();
    let f = fleet_with("127.0.0.1", &["--database", &url]);
    let config = f.d.read("srv/server.json");
    assert!(config.contains(&url), "server.json keeps the database: {config}");
    assert!(!f.d.join("srv/server.db").exists(), "no SQLite file beside a PostgreSQL store");

    let sites = join_sites(&f, &["SITE1"]);
    crate::site::agent_certificate(&f.d);
    let token = f.ctl(&["enroll-token", "create", "--ttl", "1h"], "").ok();
    let (code, v) = enroll(&f, &token, "WEB01.corp.local", "agent.csr");
    assert_eq!(code, 200, "{v}");
    f.d.write("fleet.crt", v["certificate_pem"].as_str().unwrap());
    let (code, body) = wait_for(20, "the site to register the enrolled agent", || {
        let r = crate::site::curl(
            &f.d,
            &sites[0],
            &["--cacert", "site1/tls/ca.crt", "--cert", "fleet.crt", "--key", "agent.key"],
            "/v1/register",
            &crate::site::reg("fleet.crt"),
        );
        (r.0 == 200).then_some(r)
    });
    assert_eq!(code, 200, "{body}");
    let listed = f.json(&["agents", "--json"]);
    assert_eq!(listed[0]["name"].as_str(), Some("web01.corp.local"), "{listed}");
    let joined = f.json(&["sites", "--json"]);
    assert_eq!(joined[0]["name"].as_str(), Some("SITE1"), "{joined}");

    // A second init on the same database is refused: it already holds a store.
    let again =
        f.d.acc(&["server", "init", "--data-dir", "srv2", "--domain", "CORP", "--database", &url])
            .fails_with(1);
    assert!(again.contains("already holds a management server's store"), "{again}");

    // `acc server backup` covers SQLite only: on PostgreSQL it says what to do instead.
    std::fs::write(f.d.join("pass.txt"), "correct horse battery staple\n").unwrap();
    let private = <std::fs::Permissions as std::os::unix::fs::PermissionsExt>::from_mode(0o600);
    std::fs::set_permissions(f.d.join("pass.txt"), private).unwrap();
    let backup =
        f.d.acc(&["server", "backup", "--data-dir", "srv", "out.accbak", "--passphrase-file", "pass.txt"]);
    let refused = backup.fails_with(1);
    assert!(
        refused.contains("its store is the PostgreSQL database") && refused.contains("pg_dump"),
        "{refused}"
    );
    assert!(!f.d.join("out.accbak").exists());
}

#[test]
fn a_malformed_or_unreachable_database_is_one_line_without_the_password() {
    let d = Dir::new();
    let init = |extra: &[&str]| {
        let mut args = vec!["server", "init", "--data-dir", "srv", "--domain", "CORP"];
        args.extend_from_slice(extra);
        d.acc(&args).fails_with(1)
    };
    let e = init(&["--database", "postgres://acc:hunter2@127.0.0.1/fleet"]);
    assert!(e.contains("holds a password") && !e.contains("hunter2"), "{e}");
    let e = init(&["--database", "postgres://acc@127.0.0.1/fleet?sslmode=sometimes"]);
    assert!(e.contains("sslmode 'sometimes'"), "{e}");
    d.write("pw", "hunter2\n");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("postgres://acc@127.0.0.1:{port}/fleet?sslmode=disable");
    let e = init(&["--database", &url, "--database-password-file", "pw"]);
    assert!(e.contains(&format!("cannot reach the database {url}")) && !e.contains("hunter2"), "{e}");
    assert_eq!(e.trim().lines().count(), 1, "{e}");
    assert!(!d.join("srv").exists(), "a refused init leaves nothing");
}

#[test]
fn a_sqlite_server_moves_to_postgres_with_its_revisions_and_tokens() {
    let d = Dir::new();
    d.acc(&["server", "init", "--data-dir", "srv", "--domain", "CORP", "--listen", "127.0.0.1:0"]).ok();
    let url = fresh_database();
    let out = d.acc(&["server", "migrate", "--data-dir", "srv", "--to", &url]).ok();
    assert!(out.contains("revisions") && out.contains("verified"), "{out}");
    assert!(d.read("srv/server.json").contains(&url), "server.json names the database");
    let again = d.acc(&["server", "migrate", "--data-dir", "srv", "--to", &url]).fails_with(1);
    assert!(again.contains("already"), "{again}");
    // The server runs on PostgreSQL with the admin token and revision 1 made by init.
    let server = crate::util::SiteProc::start_at("server", &d.join("srv"), "127.0.0.1:0", None);
    let ca = d.join("srv/tls/ca.crt");
    let token = d.join("srv/admin-token");
    let ctl = |args: &[&str]| {
        let mut full = vec!["ctl", "--server", &server.url, "--ca", ca.to_str().unwrap()];
        full.extend_from_slice(&["--token-file", token.to_str().unwrap()]);
        full.extend_from_slice(args);
        d.acc(&full).ok()
    };
    let history = ctl(&["policy", "history"]);
    assert!(history.contains("initial settings"), "{history}");
}

/// Copies a data directory (a second node's, until `acc server join` makes them).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn a_save_through_a_second_management_server_reaches_a_site_of_the_first() {
    let url = fresh_database();
    let f = fleet_with("127.0.0.1", &["--database", &url]);
    let _sites = join_sites(&f, &["SITE1"]);
    let before = f.json(&["settings", "show", "--json"])["revision"].as_i64().unwrap();
    sites_when(&f, "SITE1 at the revision in force", |s| s[0]["applied_revision"].as_i64() == Some(before));

    copy_dir(&f.d.join("srv"), &f.d.join("srv2"));
    let mut config: serde_json::Value = serde_json::from_str(&f.d.read("srv2/server.json")).unwrap();
    config["name"] = "MGMT02".into();
    f.d.write("srv2/server.json", serde_json::to_string_pretty(&config).unwrap());
    let log = f.d.join("server2.log");
    let node2 = SiteProc::start_at("server", &f.d.join("srv2"), "127.0.0.1:0", Some(&log));
    assert_ne!(node2.url, f.server.url);

    let ca = f.d.join("srv/tls/ca.crt");
    let token = f.d.join("srv/admin-token");
    let through_node2 = |args: &[&str]| {
        let mut full = vec![
            "ctl",
            "--server",
            &node2.url,
            "--ca",
            ca.to_str().unwrap(),
            "--token-file",
            token.to_str().unwrap(),
        ];
        full.extend_from_slice(args);
        f.d.acc_with(&full, "", &[])
    };
    through_node2(&["settings", "site", "set", "--threshold", "7"]).ok();
    // SITE1 long-polls node 1, which learns of node 2's revision from the change feed.
    let started = std::time::Instant::now();
    sites_when(&f, "SITE1 at node 2's revision", |s| s[0]["applied_revision"].as_i64() == Some(before + 1));
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", started.elapsed());
    let shown = f.json(&["settings", "show", "--json"]);
    assert_eq!(shown["revision"].as_i64(), Some(before + 1), "{shown}");
    // And back: a save through node 1 is in force on node 2.
    f.ctl(&["settings", "site", "set", "--threshold", "8"], "").ok();
    wait_for(10, "node 2 at node 1's revision", || {
        let v: serde_json::Value =
            serde_json::from_str(&through_node2(&["settings", "show", "--json"]).ok()).unwrap();
        (v["revision"].as_i64() == Some(before + 2)).then_some(())
    });
}
