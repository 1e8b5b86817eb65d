//! Two management servers in one process on one fresh database of the PostgreSQL test
//! cluster (the second's data directory a copy of the first's with another name): what one
//! saves or writes reaches the other through the change feed, saves on both are one at a
//! time, and a job's lease is held by one until it expires. Leases also on SQLite.

use std::sync::Arc;
use std::time::Duration;

use acc_core::time::{FixedClock, Timestamp};
use serde_json::{Map, Value, json};

use super::*;
use crate::layout::Layout;
use crate::store::test_cluster::on_both_backends;
use crate::wake::Audience;

const T0: i64 = 1_800_000_000_000;

/// A node: its server, its clock, and its change feed followed in the background.
struct Node {
    server: Arc<Server>,
    clock: Arc<FixedClock>,
    _feed: tokio::task::JoinHandle<()>,
}

async fn node(dir: &std::path::Path) -> Node {
    let clock = Arc::new(FixedClock::at(Timestamp(T0)));
    let server = Arc::new(Server::open_with_clock(Layout::new(dir), clock.clone()).await.unwrap());
    let feed = Feed::subscribe(&server).await.unwrap().expect("PostgreSQL has a change feed");
    let _feed = tokio::spawn(feed.follow(server.clone()));
    Node { server, clock, _feed }
}

/// Two nodes, MGMT01 and MGMT02, on one fresh PostgreSQL database.
async fn two_nodes(tmp: &std::path::Path) -> (Node, Node) {
    let first = tmp.join("node1");
    let mut opts = crate::init::tests::opts(&first);
    opts.database = Some(crate::store::test_cluster::fresh_database().await);
    crate::init::init(&opts).await.unwrap();
    let second = tmp.join("node2");
    crate::store::test_cluster::copy_node(&first, &second, "MGMT02");
    (node(&first).await, node(&second).await)
}

fn patch(key: &str, value: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(key.into(), value);
    m
}

/// Polls `check` every 20 ms until it holds or 10 s have passed.
async fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check() {
        assert!(tokio::time::Instant::now() < deadline, "{what}: not within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_save_on_one_node_wakes_a_long_poll_on_the_other() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = two_nodes(tmp.path()).await;
    let (before, _) = two.server.current();
    let waiting = {
        let server = two.server.clone();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let got = server.wait_change(before, 0, Duration::from_secs(30), Audience::Sites).await;
            (got, started.elapsed())
        })
    };
    let saved = one.server.save_site(&patch("source_threshold", json!(7)), "admin").await.unwrap();
    assert_eq!(saved.revision, before + 1);
    let (got, waited) = waiting.await.unwrap();
    let (revision, doc, _) = got.expect("the long-poll on node 2 answers with the new revision");
    assert_eq!(revision, before + 1);
    assert_eq!(doc.site.source_threshold, 7);
    assert!(waited < Duration::from_secs(5), "woken in {waited:?}");
    assert_eq!(two.server.revision(), before + 1, "node 2 has it in force");
}

#[tokio::test]
async fn saves_on_two_nodes_at_once_give_consecutive_revisions_each_on_its_predecessor() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = two_nodes(tmp.path()).await;
    let (before, _) = one.server.current();
    let mut saves = Vec::new();
    for i in 0..6u64 {
        let (a, b) = (one.server.clone(), two.server.clone());
        saves.push(tokio::spawn(async move {
            let (p, q) = (patch("source_threshold", json!(10 + i)), patch("familiar_max", json!(2000 + i)));
            let (x, y) = tokio::join!(a.save_site(&p, "node1"), b.save_site(&q, "node2"));
            (x.unwrap().revision, y.unwrap().revision)
        }));
    }
    let mut numbers = Vec::new();
    for s in saves {
        let (x, y) = s.await.unwrap();
        numbers.extend([x, y]);
    }
    numbers.sort();
    assert_eq!(numbers, (before + 1..=before + 12).collect::<Vec<_>>(), "none lost, none twice");
    let pool = one.server.pool();
    let rows = crate::store::revisions(pool, 100).await.unwrap();
    assert_eq!(rows[0].number, before + 12);
    // Each revision is its predecessor plus one change: one setting differs between them.
    for n in before + 1..=before + 12 {
        let doc = |n| async move {
            let (_, text) = crate::store::revision(pool, n).await.unwrap().unwrap();
            serde_json::from_str::<crate::document::PolicyDocument>(&text).unwrap().site
        };
        let (prev, this) = (doc(n - 1).await, doc(n).await);
        let changed = usize::from(prev.source_threshold != this.source_threshold)
            + usize::from(prev.familiar_max != this.familiar_max);
        assert_eq!(changed, 1, "revision {n} changes one setting of revision {}", n - 1);
    }
    eventually("both nodes on the last revision", || {
        one.server.revision() == before + 12 && two.server.revision() == before + 12
    })
    .await;
}

#[tokio::test]
async fn tokens_records_and_update_config_of_one_node_reach_the_other() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = two_nodes(tmp.path()).await;
    let (token, _) = one.server.create_token(crate::tokens::Role::Viewer, None, "ops").await.unwrap();
    eventually("the token known on node 2", || two.server.authenticate(&token).is_some()).await;

    let sites = two.server.long_polls().subscribe(Audience::Sites);
    let agents = two.server.long_polls().subscribe(Audience::Agents);
    one.server.update_config_sites();
    eventually("update-config to sites on node 2", || sites.has_changed().unwrap()).await;
    assert!(!agents.has_changed().unwrap());
    one.server.update_config_agents();
    eventually("update-config to agents on node 2", || agents.has_changed().unwrap()).await;

    let record = crate::sites::SiteRecord::new("SITE-A", "https://site-a:8444", "00ff", T0);
    let text = serde_json::to_string(&record).unwrap();
    crate::store::put_record(one.server.pool(), crate::store::Inventory::Sites, "SITE-A", &text)
        .await
        .unwrap();
    eventually("the site's record on node 2", || two.server.inventory.sites().contains_key("SITE-A")).await;
}

#[tokio::test]
async fn one_node_holds_a_job_until_its_lease_expires_then_the_other_takes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let (one, two) = two_nodes(tmp.path()).await;
    assert!(one.server.holds_lease(TICK_JOB).await);
    assert!(!two.server.holds_lease(TICK_JOB).await, "held by node 1");
    assert!(two.server.holds_lease(RETENTION_JOB).await, "another job, another lease");
    // Node 1 renews every second; node 2 waits.
    for s in 1..=20 {
        one.clock.set(Timestamp(T0 + s * 1000));
        two.clock.set(Timestamp(T0 + s * 1000));
        assert!(one.server.holds_lease(TICK_JOB).await);
        assert!(!two.server.holds_lease(TICK_JOB).await);
    }
    // Node 1 stops renewing (it died): node 2 takes over at the expiry, not before.
    two.clock.set(Timestamp(T0 + 20_000 + crate::rules::LEASE_TTL_MS - 1));
    assert!(!two.server.holds_lease(TICK_JOB).await);
    two.clock.set(Timestamp(T0 + 20_000 + crate::rules::LEASE_TTL_MS));
    assert!(two.server.holds_lease(TICK_JOB).await);
    one.clock.set(Timestamp(T0 + 20_000 + crate::rules::LEASE_TTL_MS + 1));
    assert!(!one.server.holds_lease(TICK_JOB).await, "node 1 back: the job stays with node 2");
}

on_both_backends! {
    async fn a_lease_is_taken_renewed_and_taken_over_by_compare_and_set(target: Target) {
        let pool = crate::store::open(&target, true, "MGMT").await.unwrap();
        let take = |holder: &'static str, at: i64| {
            let pool = pool.clone();
            async move { crate::store::take_lease(&pool, "tick", holder, at).await.unwrap() }
        };
        assert!(take("A", 0).await);
        assert!(!take("B", 1).await);
        assert!(take("A", 5_000).await, "renewed until 15 000");
        assert!(!take("B", 14_999).await);
        assert_eq!(crate::store::lease(&pool, "tick").await.unwrap(), Some(("A".into(), 15_000)));
        assert!(take("B", 15_000).await, "expired: taken over");
        assert!(!take("A", 15_001).await);
        assert_eq!(crate::store::lease(&pool, "tick").await.unwrap(), Some(("B".into(), 25_000)));
        // Two nodes deciding at once on the same expired lease: one wins.
        let (x, y) = tokio::join!(take("A", 40_000), take("C", 40_000));
        assert!(x ^ y, "exactly one of A ({x}) and C ({y})");
    }
}

on_both_backends! {
    async fn a_mark_is_recorded_once_and_a_periodic_turn_goes_to_one_node(target: Target) {
        let pool = crate::store::open(&target, true, "MGMT").await.unwrap();
        let mark = |holder: &'static str| {
            let pool = pool.clone();
            async move { crate::store::mark_once(&pool, "stalled:2", holder, 1).await.unwrap() }
        };
        let (x, y) = tokio::join!(mark("A"), mark("B"));
        assert!(x ^ y, "a stalled rotation is reported by exactly one of A ({x}) and B ({y})");
        assert!(!mark("A").await && !mark("C").await, "and never again, by any node");
        let turn = |holder: &'static str, at: i64| {
            let pool = pool.clone();
            let due = |last: i64, now: i64| now - last >= 100;
            async move { crate::store::take_turn(&pool, "crl-push", holder, at, due).await.unwrap() }
        };
        assert!(!turn("A", 1_000).await, "the first call starts the schedule");
        assert!(!turn("B", 1_099).await);
        assert!(turn("B", 1_100).await, "due: whichever node ticks");
        assert!(!turn("A", 1_150).await, "the schedule moved with B's turn");
        let (x, y) = tokio::join!(turn("A", 1_200), turn("C", 1_200));
        assert!(x ^ y, "one turn of two nodes deciding at once: A ({x}), C ({y})");
    }
}

on_both_backends! {
    async fn records_are_read_by_name_a_chunk_at_a_time(target: Target) {
        let pool = crate::store::open(&target, true, "MGMT").await.unwrap();
        let records: Vec<(String, String)> =
            (0..1200).map(|i| (format!("pc{i:04}.corp"), format!("{{\"n\":{i}}}"))).collect();
        crate::store::put_records(&pool, crate::store::Inventory::Agents, &records).await.unwrap();
        let mut names: Vec<String> = (0..1200).step_by(2).map(|i| format!("pc{i:04}.corp")).collect();
        names.push("gone.corp".into());
        names.extend((1..1200).step_by(2).map(|i| format!("pc{i:04}.corp")));
        let mut got = crate::store::records_named(&pool, crate::store::Inventory::Agents, &names).await.unwrap();
        got.sort();
        assert_eq!(got, records, "every record named, across three reads, none that does not exist");
        let none = crate::store::records_named(&pool, crate::store::Inventory::Sites, &names).await.unwrap();
        assert!(none.is_empty());
    }
}
