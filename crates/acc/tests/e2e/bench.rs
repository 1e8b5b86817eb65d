//! `acc bench` at a small scale: each benchmark starts its real `acc site run` or `acc server
//! run`, drives it, and writes JSON whose counts must be exact. The rates are not asserted
//! (a debug build on a shared machine); the correctness of what was measured is. A missed
//! target exits 1 with the JSON written; a failed run exits 1 without it.

use serde_json::Value;

use crate::util::Dir;

/// Runs `acc bench ARGS --json FILE` and returns the JSON, which must have been written.
fn bench(args: &[&str]) -> Value {
    let dir = Dir::new();
    let json = dir.join("out.json");
    let mut all = vec!["bench"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--json", json.to_str().unwrap()]);
    let run = dir.acc(&all);
    assert!(run.code() == 0 || run.code() == 1, "acc bench {args:?}: exit {}: {}", run.code(), run.stderr());
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| {
        panic!("acc bench {args:?} wrote no JSON ({e}): {}{}", run.stdout(), run.stderr())
    });
    serde_json::from_str(&text).expect("bench JSON")
}

#[test]
fn slow_bodies_from_two_addresses_at_their_cap_leave_every_normal_request_served() {
    // 300 slots from 2 addresses capped at 100 each: 100 per address refused at accept and
    // tried again, the rest held until their 408.
    let v = bench(&[
        "slowloris",
        "--connections",
        "300",
        "--sources",
        "2",
        "--max-unauthenticated-per-address",
        "100",
        "--requests",
        "30",
        "--interval-ms",
        "20",
    ]);
    assert_eq!(
        (v["requests"].as_u64(), v["served"].as_u64(), v["failed"].as_u64()),
        (Some(30), Some(30), Some(0)),
        "{v}"
    );
    assert!(v["attack_opened"].as_u64().unwrap() >= 200, "each address held its cap: {v}");
    assert!(v["attack_failed"].as_u64().unwrap() >= 100, "the rest were refused at the cap: {v}");
    assert!(v["rss_peak_kib"].as_u64().unwrap() >= v["rss_before_kib"].as_u64().unwrap(), "{v}");
}

#[test]
fn register_counts_every_agent_and_hashes_the_password_once() {
    let v = bench(&["register", "--agents", "200", "--connections", "8"]);
    assert_eq!(v["errors"], 0, "{v}");
    assert_eq!(v["argon2_hashes"], 1, "one hash for every logon of the same secret: {v}");
}

#[test]
fn a_smart_flood_leaves_every_good_agent_working_and_classic_locks_the_account() {
    let args = ["--stale-sources", "20", "--attempts", "20", "--good", "10", "--connections", "4"];
    let smart = bench(&[&["flood", "--mode", "smart"][..], &args].concat());
    assert_eq!(smart["good_succeeded"], 10, "{smart}");
    assert_eq!(
        smart["unauthorized"].as_u64().unwrap() + smart["locked_out"].as_u64().unwrap(),
        400,
        "{smart}"
    );
    assert!(smart["argon2_hashes"].as_u64().unwrap() <= smart["hash_budget"].as_u64().unwrap(), "{smart}");
    assert_eq!(smart["lock_scopes"]["account"], 0, "smart mode never locks the account: {smart}");
    assert_eq!(smart["target_met"], true, "{smart}");
    let classic = bench(&[&["flood", "--mode", "classic"][..], &args].concat());
    assert_eq!(classic["lock_scopes"]["account"], 1, "classic mode locks the account: {classic}");
}

#[test]
fn propagation_reaches_every_simulated_site_and_agent() {
    let v = bench(&["propagation", "--sites", "5", "--agents", "20", "--changes", "2"]);
    assert_eq!(v["agents"], 20, "{v}");
    assert_eq!(v["at_last_revision"], 5, "{v}");
    assert!(v["revision"].as_i64().unwrap() >= 3, "two changes after the first revision: {v}");
    assert!(v["max_ms"].as_f64().unwrap() > 0.0, "{v}");
    assert!(v["server_rss_kib"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn event_ingest_stores_each_event_once() {
    let v = bench(&["events", "--events", "3000", "--sites", "3", "--batch", "500"]);
    assert_eq!(v["stored"], 3000, "{v}");
    assert_eq!(v["events"], 3000, "{v}");
}

#[test]
fn propagation_and_ingest_across_two_nodes_on_postgres_reach_every_client() {
    let db = crate::postgres::fresh_database();
    let v = bench(&[
        "propagation",
        "--sites",
        "3",
        "--agents",
        "6",
        "--changes",
        "2",
        "--nodes",
        "2",
        "--database",
        &db,
    ]);
    assert_eq!((v["nodes"].as_u64(), v["backend"].as_str()), (Some(2), Some("postgres")), "{v}");
    assert_eq!(v["at_last_revision"], 3, "{v}");
    assert!(v["agents_max_ms"].as_f64().unwrap() > 0.0, "every agent got each change: {v}");
    // The same database again holds a store: refused with one line, nothing measured.
    let dir = Dir::new();
    let e = dir.acc(&["bench", "events", "--nodes", "2", "--database", &db]).fails_with(1);
    assert!(e.contains("already holds a management server's store") && e.trim().lines().count() == 1, "{e}");
    let e = dir.acc(&["bench", "events", "--nodes", "2"]).fails_with(1);
    assert!(e.contains("--database") && e.trim().lines().count() == 1, "{e}");

    let db = crate::postgres::fresh_database();
    let v = bench(&[
        "events",
        "--events",
        "600",
        "--sites",
        "3",
        "--batch",
        "100",
        "--nodes",
        "2",
        "--database",
        &db,
    ]);
    assert_eq!((v["stored"].as_u64(), v["events"].as_u64()), (Some(600), Some(600)), "{v}");
}

#[test]
fn failover_brings_the_dead_nodes_clients_to_a_survivor_with_the_new_change() {
    let db = crate::postgres::fresh_database();
    let v = bench(&["failover", "--nodes", "2", "--sites", "3", "--agents", "6", "--database", &db]);
    assert_eq!(v["killed_node"], 1, "node 1 has the most clients (round-robin): {v}");
    assert_eq!((v["clients"].as_u64(), v["clients_with_change"].as_u64()), (Some(9), Some(9)), "{v}");
    assert_eq!((v["sites_moved"].as_u64(), v["agents_moved"].as_u64()), (Some(2), Some(3)), "{v}");
    assert_eq!(v["moved_on_survivors"], 5, "{v}");
    assert!(v["agent_reconnect_max_ms"].as_f64().unwrap() > 0.0, "{v}");
}

#[test]
fn agents_long_polling_the_server_all_get_each_change() {
    let v = bench(&["agents", "--agents", "30", "--changes", "2"]);
    assert_eq!(v["waiting"], 30, "{v}");
    assert!(v["rss_waiting_kib"].as_u64().unwrap() > 0, "{v}");
}

#[test]
fn agents_long_polling_a_site_each_get_and_answer_their_task() {
    let v = bench(&["longpoll", "--agents", "40"]);
    assert_eq!(v["registered"], 40, "{v}");
    assert_eq!(v["waiting"], 40, "the site counts every long-poll: {v}");
    assert_eq!(v["delivered"], 40, "{v}");
    assert_eq!(v["completed"], 40, "{v}");
    assert_eq!(v["target_met"], true, "{v}");
}

#[test]
fn downloads_fetch_every_byte() {
    let v = bench(&["download", "--size-mib", "20", "--agents", "2"]);
    assert_eq!(v["bytes"], 2 * 20 * 1024 * 1024, "{v}");
}

#[test]
fn an_event_log_flood_stays_under_its_maximum_and_every_good_agent_is_served() {
    // A new caller name each time: no two refusals alike, the log's worst case.
    let args =
        ["--rotate-names", "--seconds", "6", "--max-size", "1MiB", "--connections", "4", "--good", "3"];
    let v = bench(&[&["event-log"][..], &args].concat());
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("{k}: {v}"));
    assert_eq!(n("requests"), n("unauthorized") + n("locked_out"), "every flood request refused: {v}");
    assert_eq!(n("other"), 0, "{v}");
    assert!(n("good_tried") > 0 && n("good_succeeded") == n("good_tried"), "{v}");
    assert!(n("events_written") >= n("requests"), "a 4625 each: {v}");
    assert!(n("events_removed") < n("events_written"), "{v}");
    assert!(n("removals") >= 1 && n("events_removed") > 0, "the log filled and was pruned: {v}");
    assert!(n("db_peak") <= 3 * 1024 * 1024, "{v}");
    assert_eq!(v["target_met"], true, "{v}");
}

#[test]
fn reading_every_event_of_a_site_and_the_server_reads_each_once() {
    let v = bench(&["event-query", "--events", "2500"]);
    assert_eq!(v["site_refusals"], 2500, "each 4625 of the site once: {v}");
    assert!(v["site_read"].as_u64().unwrap() >= 2500, "and the site's own events: {v}");
    assert_eq!(v["ctl_refusals"], 2500, "each 4625 on the server once: {v}");
    assert_eq!(v["ctl_read"], 2500, "{v}");
    assert!(
        v["site_cli_peak_kib"].as_u64().unwrap() > 0 && v["server_peak_kib"].as_u64().unwrap() > 0,
        "{v}"
    );
}

#[test]
fn console_pages_are_timed_signed_in_on_a_filled_store() {
    let v = bench(&["console", "--agents", "60", "--sites", "3", "--events", "3000", "--requests", "3"]);
    assert_eq!(v["stored_events"], 3000, "every event filled once: {v}");
    let pages = v["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 13, "{v}");
    for p in pages {
        assert!(p["server_p99_ms"].as_f64().unwrap() > 0.0, "a Server-Timing of {}: {v}", p["page"]);
        assert!(p["client_p99_ms"].as_f64().unwrap() >= p["server_p99_ms"].as_f64().unwrap(), "{v}");
    }
}
