//! Issue 18's proof, as real processes: three management server nodes on one PostgreSQL
//! database of the test cluster (node 1 `acc server init --database`, nodes 2 and 3 `acc
//! server join` by node token), sites and agents whose tokens list all three. One node is
//! killed with SIGKILL in the middle of a credential rotation (the holder of the tick's
//! lease) and during an event storm (the node a site forwards its events to): the rotation
//! completes on the survivors once the lease expires, every site and agent reaches the
//! newest revision, `acc ctl` works through each survivor with the dead node listed first,
//! no rotation step and no event is stored twice, and nothing a site's forwarder had
//! acknowledged is lost.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::agent::{AgentProc, enroll_as};
use crate::server::{Fleet, STRONG, fleet_with, join_sites, phase_of};
use crate::util::{Run, SiteProc, wait_for};

/// How long after the kill the survivors have: the lease's time to live
/// (`acc_server::rules::LEASE_TTL_MS`) and a few seconds for the sites' and agents' failover.
const AFTER_LEASE: Duration = Duration::from_secs(acc_server::rules::LEASE_TTL_MS as u64 / 1000 + 15);

/// Three running nodes on one database; node 1 is `f.server`.
pub(crate) struct Ha {
    pub(crate) f: Fleet,
    /// Nodes 2 and 3.
    pub(crate) joined: Vec<SiteProc>,
    /// The database's URL (no password: the test cluster trusts its user).
    db: String,
    /// The node killed, by index (0 is node 1).
    dead: Option<usize>,
}

/// Node 1 initialised on a fresh database, nodes 2 and 3 joined by node tokens and running;
/// returns once `acc ctl node list` shows all three.
pub(crate) fn three_nodes() -> Ha {
    let db = crate::postgres::fresh_database();
    let f = fleet_with("127.0.0.1", &["--database", &db]);
    let joined = ["NODE2", "NODE3"]
        .iter()
        .map(|name| {
            let token = f.ctl(&["node-token", "create", "--ttl", "10m"], "").ok();
            let dir = name.to_lowercase();
            let listen = format!("127.0.0.1:{}", crate::cluster::free_port());
            let args = ["server", "join", "--token", token.trim(), "--data-dir", &dir, "--listen", &listen];
            f.d.acc(&[&args[..], &["--name", name]].concat()).ok();
            let log = f.d.join(&format!("{dir}.log"));
            SiteProc::start_at("server", &f.d.join(&dir), &listen, Some(&log))
        })
        .collect();
    let ha = Ha { f, joined, db, dead: None };
    let urls = ha.urls();
    wait_for(20, "three nodes in the node list", || {
        let v = ha.f.json(&["node", "list", "--json"]);
        let listed: Vec<&str> = v.as_array()?.iter().filter_map(|n| n["url"].as_str()).collect();
        urls.iter().all(|u| listed.contains(&u.as_str())).then_some(())
    });
    ha
}

impl Ha {
    fn node(&self, i: usize) -> &SiteProc {
        if i == 0 { &self.f.server } else { &self.joined[i - 1] }
    }

    /// Every node's URL, node 1 first.
    pub(crate) fn urls(&self) -> Vec<String> {
        (0..3).map(|i| self.node(i).url.clone()).collect()
    }

    /// Every node's name (its server.json), node 1 first.
    fn names(&self) -> Vec<String> {
        ["srv", "node2", "node3"]
            .iter()
            .map(|dir| {
                let config: Value =
                    serde_json::from_str(&self.f.d.read(&format!("{dir}/server.json"))).unwrap();
                config["name"].as_str().unwrap().to_string()
            })
            .collect()
    }

    /// Kills node `i` with SIGKILL.
    fn kill9(&mut self, i: usize) {
        if i == 0 {
            self.f.server.kill9()
        } else {
            self.joined[i - 1].kill9()
        }
        self.dead = Some(i);
    }

    /// The survivors' indexes.
    fn survivors(&self) -> Vec<usize> {
        (0..3).filter(|i| Some(*i) != self.dead).collect()
    }

    /// Every node's URL, the dead one first: each call fails over.
    fn server_list(&self) -> String {
        let urls = self.urls();
        let mut order: Vec<usize> = self.dead.into_iter().collect();
        order.extend(self.survivors());
        order.iter().map(|i| urls[*i].as_str()).collect::<Vec<_>>().join(",")
    }

    /// `acc ctl ARGS` through the node list, the dead node first.
    fn ctl(&self, args: &[&str]) -> Run {
        crate::failover::ctl_at(&self.f, &self.server_list(), args)
    }

    /// [`Ha::ctl`] with `stdin` as its standard input.
    fn ctl_in(&self, args: &[&str], stdin: &str) -> Run {
        let list = self.server_list();
        let base = ["ctl", "--server", &list, "--ca", "srv/tls/ca.crt", "--token-file", "srv/admin-token"];
        self.f.d.acc_with(&[&base[..], args].concat(), stdin, &[])
    }

    /// `credential status --json` once `check` holds for it.
    fn status_when(&self, what: &str, check: impl Fn(&Value) -> bool) -> Value {
        wait_for(AFTER_LEASE.as_secs(), what, || {
            let v = self.json(&["credential", "status", "--json"]);
            check(&v).then_some(v)
        })
    }

    fn json(&self, args: &[&str]) -> Value {
        serde_json::from_str(&self.ctl(args).ok()).expect("JSON output")
    }

    /// One `psql` query on the store, its rows unaligned (`|` between columns).
    fn sql(&self, query: &str) -> String {
        let psql = acc_server::store::test_cluster::bindir()
            .map(|b| b.join("psql"))
            .unwrap_or_else(|e| panic!("{e}"));
        let out = std::process::Command::new(&psql)
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-d", &self.db, "-c", query])
            .output()
            .unwrap_or_else(|e| panic!("{}: {e}", psql.display()));
        assert!(out.status.success(), "psql {query}: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// The index of the node holding the tick's lease (the leases table).
    fn tick_holder(&self) -> usize {
        let holder = self.sql("SELECT holder FROM leases WHERE job = 'tick'");
        self.names()
            .iter()
            .position(|n| *n == holder)
            .unwrap_or_else(|| panic!("tick lease held by '{holder}'"))
    }

    /// `(origin, seq)` pairs stored more than once.
    fn duplicate_events(&self) -> String {
        self.sql("SELECT origin, seq, count(*) FROM events GROUP BY origin, seq HAVING count(*) > 1")
    }

    /// The node whose port process `pid` has an established connection to (`ss`).
    fn node_in_use(&self, pid: u32) -> Option<usize> {
        let out = std::process::Command::new("ss")
            .args(["-tnpH", "state", "established"])
            .output()
            .expect("ss (iproute2)");
        let text = String::from_utf8_lossy(&out.stdout);
        let mine: Vec<&str> = text.lines().filter(|l| l.contains(&format!("pid={pid},"))).collect();
        self.survivors().into_iter().chain(self.dead).find(|i| {
            let peer = self.node(*i).addr();
            mine.iter().any(|l| l.split_whitespace().nth(3) == Some(peer.as_str()))
        })
    }
}

/// The acc.rotation steps `(user, to)` in `events`, asserting each was taken once.
fn each_step_once(events: &Value) -> BTreeMap<(String, String), usize> {
    let mut steps = BTreeMap::new();
    for e in events.as_array().unwrap() {
        let key = (e["UserName"].as_str().unwrap().to_string(), e["To"].as_str().unwrap().to_string());
        *steps.entry(key).or_insert(0) += 1;
    }
    assert!(steps.values().all(|n| *n == 1), "a rotation step was taken twice: {steps:?}");
    steps
}

#[test]
fn kill_9_of_the_tick_lease_holder_mid_rotation_leaves_the_survivors_to_complete_it() {
    let mut ha = three_nodes();
    let urls = ha.urls();
    let mut sites = join_sites(&ha.f, &["SITE1", "SITE2"]);
    let config: Value = serde_json::from_str(&ha.f.d.read("site1/management/server.json")).unwrap();
    let kept: Vec<&str> = config["urls"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(urls.iter().all(|u| kept.contains(&u.as_str())), "the site token lists every node: {config}");
    ha.f.set_credential("ACC_User_v1", STRONG).ok();
    ha.status_when("v1 active", |v| phase_of(v, "ACC_User_v1") == "active");

    let agents = ["web01", "web02", "web03"];
    let mut procs: Vec<AgentProc> = agents
        .iter()
        .map(|host| {
            let token = ha.f.ctl(&["enroll-token", "create"], "").ok();
            assert!(enroll_as(&ha.f, &token, host, host).ok().contains(&format!("enrolled as {host}")));
            let yml = ha.f.d.read(&format!("{host}/acc.yml"));
            assert!(urls.iter().all(|u| yml.contains(u.as_str())), "acc.yml lists every node: {yml}");
            AgentProc::start(&ha.f.d, &format!("{host}/acc.yml"))
        })
        .collect();
    let on_generation = |g: u32, rev: Option<i64>| {
        move |v: &Value| {
            let list = v.as_array().cloned().unwrap_or_default();
            (list.len() == 3
                && list
                    .iter()
                    .all(|a| a["generation"] == g && (rev.is_none() || a["revision"].as_i64() == rev)))
            .then_some(())
        }
    };
    let check = on_generation(1, None);
    wait_for(30, "three agents on generation 1", || check(&ha.json(&["agents", "--json"])));

    // SITE2 is offline: the rotation stays provisioning until it is back. web03 is offline
    // too: v1 cannot retire on every agent's adoption, only at its grace's deadline, which
    // is the tick's step.
    sites[1].kill9();
    drop(procs.pop());
    let rotate = ["credential", "rotate", "--username", "ACC_User_v2", "--password-stdin", "--grace", "3s"];
    ha.ctl_in(&rotate, "Second-Strong-Pass-2026\n").ok();
    ha.status_when("v2 provisioning, SITE2 pending", |v| {
        v["provisioning"]["pending_sites"] == serde_json::json!(["SITE2"])
    });

    // The node that runs the rotation's timed steps holds the tick's lease: kill it.
    let holder = ha.tick_holder();
    let names = ha.names();
    let site1_on = ha.node_in_use(sites[0].child.id()).map_or("none", |i| names[i].as_str()).to_string();
    eprintln!("killing {} (the tick's lease holder; SITE1 is on {site1_on}) mid-rotation", names[holder]);
    ha.kill9(holder);
    let killed = Instant::now();
    sites[1] = SiteProc::start(&ha.f.d.join("site2"));
    ha.status_when("v2 active, v1 retiring (SITE2 created v2 through a survivor)", |v| {
        phase_of(v, "ACC_User_v2") == "active"
    });
    // v1's grace ends 3 s after the switch, before the dead node's lease expires: its
    // removal waits for a survivor to take the tick over.
    let done = ha.status_when("v2 active and v1 removed on the survivors", |v| {
        phase_of(v, "ACC_User_v2") == "active" && phase_of(v, "ACC_User_v1") == "removed"
    });
    let completed = killed.elapsed();
    assert_eq!(done["phase"].as_str(), Some("steady"), "{done}");
    let new_holder = wait_for(AFTER_LEASE.as_secs(), "a survivor holding the tick's lease", || {
        let h = ha.tick_holder();
        (h != holder).then_some(h)
    });
    // web03 comes back and takes the newest policy.
    procs.push(AgentProc::start(&ha.f.d, "web03/acc.yml"));

    // Every site and agent at the newest revision, on the survivors.
    let newest = wait_for(AFTER_LEASE.as_secs(), "every site and agent at the newest revision", || {
        let rev = ha.json(&["settings", "show", "--json"])["revision"].as_i64()?;
        let sites = ha.json(&["sites", "--json"]);
        let at = sites.as_array()?.iter().all(|s| s["applied_revision"].as_i64() == Some(rev));
        (at && on_generation(2, Some(rev))(&ha.json(&["agents", "--json"])).is_some()).then_some(rev)
    });
    let converged = killed.elapsed();
    eprintln!(
        "after the kill: rotation complete in {:.1} s, all at revision {newest} in {:.1} s",
        completed.as_secs_f64(),
        converged.as_secs_f64()
    );
    let ttl = Duration::from_millis(acc_server::rules::LEASE_TTL_MS as u64);
    assert!(converged < ttl + Duration::from_secs(8), "within seconds of the lease's expiry: {converged:?}");

    // acc ctl through each survivor, the dead node first (ACC_SERVER).
    let dead = urls[holder].clone();
    for i in ha.survivors() {
        let list = format!("{dead},{}", urls[i]);
        let shown = ha.f.d.acc_with(
            &["ctl", "settings", "show", "--json"],
            "",
            &[
                ("ACC_SERVER", &list),
                ("ACC_CA_FILE", "srv/tls/ca.crt"),
                ("ACC_TOKEN_FILE", "srv/admin-token"),
            ],
        );
        let v: Value = serde_json::from_str(&shown.ok()).unwrap();
        assert_eq!(v["revision"].as_i64(), Some(newest), "through {}: {v}", names[i]);
    }

    // Each step once, the deadline's removal by the new holder of the lease; no event twice.
    let events = ha.json(&["events", "--id", "acc.rotation", "--json", "--limit", "1000"]);
    let steps = each_step_once(&events);
    for step in [("ACC_User_v2", "active"), ("ACC_User_v1", "retiring"), ("ACC_User_v1", "removed")] {
        assert!(steps.contains_key(&(step.0.to_string(), step.1.to_string())), "{step:?} in {steps:?}");
    }
    let removed = events.as_array().unwrap().iter().find(|e| e["To"] == "removed").unwrap();
    assert_eq!(removed["Reason"].as_str(), Some("deadline"), "{removed}");
    assert_eq!(removed["Computer"].as_str(), Some(names[new_holder].as_str()), "{removed}");
    assert_eq!(ha.duplicate_events(), "");
}

/// The event storm goes in bursts of this many refused logons (each a 4625 at the site)
/// until the kill, then [`BURSTS_AFTER`] more.
const BURST: usize = 250;
const BURSTS_AFTER: usize = 4;

/// The last `Seq` the site in `dir` recorded as acknowledged by the management server.
fn forwarded_seq(ha: &Ha, dir: &str) -> i64 {
    let out = std::process::Command::new("sqlite3")
        .arg(ha.f.d.join(&format!("{dir}/site.db")))
        .arg("SELECT value FROM meta WHERE key = 'forwarded_seq'")
        .output()
        .expect("sqlite3 (apt-get install -y sqlite3)");
    assert!(out.status.success(), "sqlite3: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or(0)
}

/// How many times each `Seq` of `site`'s events is in the store.
fn stored_seqs(ha: &Ha, site: &str) -> BTreeMap<i64, usize> {
    let rows = ha.sql(&format!("SELECT seq, count(*) FROM events WHERE site = '{site}' GROUP BY seq"));
    rows.lines()
        .map(|l| {
            let (seq, n) = l.split_once('|').unwrap();
            (seq.parse().unwrap(), n.parse().unwrap())
        })
        .collect()
}

#[test]
fn kill_9_of_the_node_a_site_forwards_to_during_an_event_storm_loses_nothing_acknowledged() {
    let mut ha = three_nodes();
    let sites = join_sites(&ha.f, &["SITE1"]);
    let site_pid = sites[0].child.id();
    let names = ha.names();
    wait_for(20, "SITE1 talking to a node", || ha.node_in_use(site_pid));

    let killed = std::sync::atomic::AtomicBool::new(false);
    let (acked_at_kill, victim, storm, at) = std::thread::scope(|s| {
        let storm = s.spawn(|| {
            let (mut sent, mut after) = (0, 0);
            while after < BURSTS_AFTER {
                if killed.load(std::sync::atomic::Ordering::SeqCst) {
                    after += 1;
                }
                crate::security_log::flood(&ha.f.d, &sites[0], "site1/tls/ca.crt", BURST, sent);
                sent += BURST;
            }
            sent
        });
        // Once part of the storm is acknowledged, SIGKILL the node SITE1 is connected to.
        let acked = wait_for(30, "part of the storm acknowledged", || {
            let n = forwarded_seq(&ha, "site1");
            (n >= 50).then_some(n)
        });
        let victim = ha.node_in_use(site_pid).expect("SITE1 connected to a node");
        let pid = ha.node(victim).child.id().to_string();
        assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
        let at = Instant::now();
        killed.store(true, std::sync::atomic::Ordering::SeqCst);
        (acked, victim, storm.join().unwrap(), at)
    });
    ha.kill9(victim);
    eprintln!(
        "killed {} with SITE1's forwarder at Seq {acked_at_kill}; {storm} events in the storm",
        names[victim]
    );

    // The forwarder resumes on a survivor and sends everything.
    let local_seqs = || -> Vec<i64> {
        let events = crate::security_log::site_events(&ha.f.d, "site1", &[]);
        events.iter().map(|e| e["Seq"].as_i64().unwrap()).collect()
    };
    let (local, stored) =
        wait_for(AFTER_LEASE.as_secs(), "every event of SITE1 stored via a survivor", || {
            let local = local_seqs();
            let stored = stored_seqs(&ha, "SITE1");
            (stored.keys().copied().collect::<Vec<_>>() == local).then_some((local, stored))
        });
    eprintln!("SITE1's {} events all stored {:.1} s after the kill", local.len(), at.elapsed().as_secs_f64());
    assert!(forwarded_seq(&ha, "site1") > acked_at_kill, "the forwarder went on");
    let now_on = wait_for(20, "SITE1 connected to a survivor", || ha.node_in_use(site_pid));
    assert_ne!(now_on, victim, "SITE1 left the dead node");

    // Every acknowledged event is stored exactly once, and so is every event of the site.
    let missing: Vec<i64> = (1..=acked_at_kill).filter(|s| !stored.contains_key(s)).collect();
    assert!(missing.is_empty(), "acknowledged but not stored: {missing:?}");
    let twice: Vec<_> = stored.iter().filter(|(_, n)| **n != 1).collect();
    assert!(twice.is_empty(), "stored more than once: {twice:?}");
    let refused = crate::security_log::site_events(&ha.f.d, "site1", &["--id", "4625"]).len();
    assert_eq!(refused, storm, "each refused logon of the storm is a 4625");
    assert_eq!(ha.duplicate_events(), "");
}
