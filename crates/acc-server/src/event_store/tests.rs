//! Tests of the event store: keyed by origin (a site and the server with one name both keep
//! their sequence 1), the conversion of a store keyed by name, paged searches, and the
//! maximum size with the record of each removal.

use std::sync::Arc;

use acc_core::event::retention::MIB;
use serde_json::{Value, json};

use super::*;
use crate::init::init;
use crate::layout::Layout;
use crate::server::Server;
use crate::sites::SiteRecord;
use crate::store::test_cluster::on_both_backends;
use crate::store::{Pool, Target};

fn ev(seq: i64, id: &str, user: &str, body: Value) -> ForwardedEvent {
    ForwardedEvent { seq, event_id: id.into(), time_ms: seq * 10, target_user: Some(user.into()), body }
}

fn plain(seq: i64, id: &str, user: &str) -> ForwardedEvent {
    ev(seq, id, user, json!({ "Seq": seq, "EventID": id }))
}

async fn fresh(target: &Target) -> Pool {
    let pool = crate::store::open(target, true, "VM").await.unwrap();
    open(&pool).await.unwrap();
    pool
}

async fn all(pool: &Pool, f: EventFilter) -> Vec<Value> {
    let mut f = EventFilter { all: true, ..f };
    let mut out = Vec::new();
    loop {
        let page = search(pool, &f).await.unwrap();
        out.extend(page.events);
        match page.next {
            Some(c) => f.cursor = Some(c.parse().unwrap()),
            None => return out,
        }
    }
}

on_both_backends! {
async fn events_are_keyed_by_origin_so_one_name_never_hides_another(target: Target) {
    let pool = fresh(&target).await;
    let site = site_origin("0A1B");
    // The site VM's 4720 and the server VM's own acc.rotation, both sequence 1.
    assert_eq!(insert(&pool, &site, "VM", &[plain(1, "4720", "acc_user")]).await.unwrap(), 1);
    assert_eq!(
        insert(&pool, &own_origin("VM"), "VM", &[plain(1, "acc.rotation", "acc_user")]).await.unwrap(),
        1
    );
    let batch = [plain(1, "4720", "acc_user"), plain(2, "4740", "acc_user"), plain(3, "4624", "other")];
    assert_eq!(insert(&pool, &site, "VM", &batch).await.unwrap(), 2, "a resent event is stored once");
    assert_eq!(insert(&pool, &site_origin("FF"), "SITE2", &batch[..1]).await.unwrap(), 1);
    assert_eq!(all(&pool, EventFilter::default()).await.len(), 5);
    let vm = all(&pool, EventFilter { site: Some("VM".into()), ..Default::default() }).await;
    let ids: Vec<&str> = vm.iter().map(|e| e["EventID"].as_str().unwrap()).collect();
    assert_eq!(ids, ["4720", "acc.rotation", "4740", "4624"], "nothing dropped, in arrival order");
    let f = EventFilter { id: Some("4740".into()), user: Some("ACC_USER".into()), ..Default::default() };
    assert_eq!(all(&pool, f).await, [json!({ "Seq": 2, "EventID": "4740" })]);
    assert_eq!(max_seq(&pool, &site).await.unwrap(), 3);
    assert_eq!(max_seq(&pool, &own_origin("VM")).await.unwrap(), 1);
}

async fn events_are_searched_by_machine_and_address_filled_at_ingest(target: Target) {
    let pool = fresh(&target).await;
    let batch: Vec<ForwardedEvent> = (1..=2100)
        .map(|s| {
            let ws = if s % 2 == 0 { "WS-EVEN" } else { "ws-odd" };
            ev(s, "4625", "acc_user", json!({ "Seq": s, "WorkstationName": ws, "IpAddress": format!("10.0.{}.{}", s % 3, s % 7) }))
        })
        .collect();
    insert(&pool, &site_origin("01"), "SITE1", &batch).await.unwrap();
    let f = EventFilter { machine: Some("ws-even".into()), ..Default::default() };
    assert_eq!(all(&pool, f).await.len(), 1050, "every page, any case");
    let f = EventFilter { machine: Some("WS-ODD".into()), address: Some("10.0.1.1".into()), ..Default::default() };
    let found = all(&pool, f).await;
    assert!(found.iter().all(|e| e["Seq"].as_i64().unwrap() % 2 == 1 && e["IpAddress"] == "10.0.1.1"));
    assert_eq!(found.len(), (1..=2100).filter(|s| s % 2 == 1 && s % 3 == 1 && s % 7 == 1).count());
    let f = EventFilter { address: Some("10.0.2.3".into()), limit: 2, ..Default::default() };
    let newest = search(&pool, &f).await.unwrap().events;
    let seqs: Vec<i64> = newest.iter().map(|e| e["Seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, [2075, 2096], "the newest two at that address");
}

async fn searches_page_newest_first_with_before_seq_per_site(target: Target) {
    let pool = fresh(&target).await;
    let batch: Vec<ForwardedEvent> = (1..=2500).map(|s| plain(s, "4625", "acc_user")).collect();
    insert(&pool, &site_origin("01"), "SITE1", &batch).await.unwrap();
    let newest = search(&pool, &EventFilter { limit: 3, ..Default::default() }).await.unwrap();
    let seqs = |v: &[Value]| v.iter().map(|e| e["Seq"].as_i64().unwrap()).collect::<Vec<_>>();
    assert_eq!(seqs(&newest.events), [2498, 2499, 2500]);
    assert!(newest.next.is_none());
    let f = EventFilter { site: Some("SITE1".into()), before_seq: Some(11), limit: 2, ..Default::default() };
    assert_eq!(seqs(&search(&pool, &f).await.unwrap().events), [9, 10]);
    let f = EventFilter { limit: 1200, ..Default::default() };
    let first = search(&pool, &f).await.unwrap();
    assert_eq!(first.events.len(), 1000);
    let next = EventFilter { cursor: Some(first.next.unwrap().parse().unwrap()), ..f };
    let rest = search(&pool, &next).await.unwrap();
    assert_eq!(seqs(&rest.events).first(), Some(&2301));
    assert_eq!(seqs(&rest.events).len(), 200);
    assert_eq!(all(&pool, EventFilter::default()).await.len(), 2500);
}

}

/// A SQLite store keyed by site name (before origins, schema version 1) is converted by
/// migration 2 without losing a row.
#[tokio::test]
async fn a_store_keyed_by_site_name_is_converted_without_losing_a_row() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("s.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new().filename(&path).create_if_missing(true);
    let old = sqlx::SqlitePool::connect_with(options).await.unwrap();
    sqlx::raw_sql(crate::store::migrations::SQLITE[0].sql).execute(&old).await.unwrap();
    sqlx::query("PRAGMA user_version = 1").execute(&old).await.unwrap();
    sqlx::query(
        "CREATE TABLE events (site TEXT NOT NULL, seq BIGINT NOT NULL, event_id TEXT NOT NULL, time_ms BIGINT NOT NULL,
         target_user TEXT, body TEXT NOT NULL, PRIMARY KEY (site, seq))",
    )
    .execute(&old)
    .await
    .unwrap();
    sqlx::query("CREATE INDEX events_by_time ON events (time_ms)").execute(&old).await.unwrap();
    let rows = [
        ("VM", 1, "acc.rotation", json!({ "EventID": "acc.rotation", "Seq": 1 })),
        ("VM", 2, "4740", json!({ "EventID": "4740", "Seq": 2, "SiteId": "VM" })),
        ("VM", 3, "4724", json!({ "EventID": "4724", "Seq": 3, "SiteId": "0f5e-uuid" })),
        ("SITE2", 1, "4720", json!({ "EventID": "4720", "Seq": 1, "SiteId": "9a9a-uuid" })),
        ("GONE", 1, "4625", json!({ "EventID": "4625", "Seq": 1, "SiteId": "7b7b-uuid" })),
    ];
    for (site, seq, id, body) in &rows {
        sqlx::query("INSERT INTO events (site, seq, event_id, time_ms, target_user, body) VALUES ($1, $2, $3, $4, NULL, $5)")
            .bind(site)
            .bind(seq)
            .bind(id)
            .bind(seq * 10)
            .bind(body.to_string())
            .execute(&old)
            .await
            .unwrap();
    }
    for (name, serial) in [("VM", "AA"), ("SITE2", "BB")] {
        let mut r = SiteRecord::new(name, "https://h:1", serial, 0);
        r.origin = String::new();
        sqlx::query("INSERT INTO sites (name, record) VALUES ($1, $2)")
            .bind(name)
            .bind(serde_json::to_string(&r).unwrap())
            .execute(&old)
            .await
            .unwrap();
    }
    old.close().await;
    let target = Target::Sqlite(path);
    let pool = fresh(&target).await;
    pool.close().await;
    let pool = fresh(&target).await; // once only
    let origins: Vec<(String, i64)> =
        sqlx::query_as("SELECT origin, seq FROM events ORDER BY n").fetch_all(&pool).await.unwrap();
    let expect = [("server:VM", 1), ("server:VM", 2), ("site:AA", 3), ("site:BB", 1), ("site-name:GONE", 1)];
    let mut got: Vec<(&str, i64)> = origins.iter().map(|(o, s)| (o.as_str(), *s)).collect();
    got.sort();
    let mut want = expect.to_vec();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(max_seq(&pool, "server:VM").await.unwrap(), 2, "the server's own sequence goes on from there");
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(&pool).await.unwrap();
    assert_eq!(mode, 2);
}

on_both_backends! {
async fn a_full_store_removes_its_oldest_rows_and_records_each_removal(target: Target) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("server");
    let mut opts = crate::init::tests::opts(&dir);
    if let Target::Postgres(pg) = target {
        opts.database = Some(pg);
    }
    init(&opts).await.unwrap();
    let server = Arc::new(Server::open(Layout::new(&dir)).await.unwrap());
    let mut patch = serde_json::Map::new();
    patch.insert("event_store_max_size".into(), json!(MIB));
    server.save_site(&patch, "test").await.unwrap();
    assert_eq!(server.current().1.event_store_max_size, MIB);
    let pad = "x".repeat(800);
    let batch: Vec<ForwardedEvent> = (1..=3000)
        .map(|s| ev(s, "4625", "nobody", json!({ "Seq": s, "EventID": "4625", "Pad": pad })))
        .collect();
    insert(&server.pool, &site_origin("01"), "SITE1", &batch).await.unwrap();
    let m = server.enforce_event_store().await.unwrap();
    assert!(m.bytes <= MIB, "{m:?}");
    let events = all(&server.pool, EventFilter::default()).await;
    let records: Vec<&Value> = events.iter().filter(|e| e["EventID"] == "acc.event_log").collect();
    assert!(!records.is_empty());
    let removed: u64 = records.iter().map(|r| r["Removed"].as_u64().unwrap()).sum();
    let left = events.iter().filter(|e| e["EventID"] == "4625").count() as u64;
    assert_eq!(removed + left, 3000, "each removed row counted once");
    assert_eq!(records[0]["FirstSeq"], 1);
    assert_eq!(records[0]["Computer"], server.config().name);
    assert_eq!(
        events.iter().find(|e| e["EventID"] == "4625").unwrap()["Seq"],
        removed + 1,
        "the oldest went"
    );
}
}

#[test]
fn the_searched_machine_and_address_come_from_the_event() {
    let f = |v: Value| search_fields(&v);
    assert_eq!(
        f(json!({ "WorkstationName": "WS-7", "CallerComputerName": "X", "IpAddress": "10.0.0.7" })),
        (Some("ws-7".into()), Some("10.0.0.7".into()))
    );
    assert_eq!(
        f(json!({ "WorkstationName": "-", "CallerComputerName": "WS-8" })),
        (Some("ws-8".into()), None)
    );
    assert_eq!(f(json!({ "WorkstationName": "", "IpAddress": "-" })), (None, None));
}

#[test]
fn a_multi_row_insert_numbers_its_placeholders_row_by_row() {
    assert_eq!(crate::store::value_rows(1, 2), "($1, $2)");
    assert_eq!(crate::store::value_rows(3, 2), "($1, $2), ($3, $4), ($5, $6)");
}

/// The index SQLite walks for a count of one machine's failed logons at one site.
async fn count_plan(pool: &Pool) -> String {
    let rows: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT COUNT(*) FROM events WHERE event_id = '4625' AND site = 'SITE1' \
         AND target_user = 'acc_user' AND machine = 'host-7' AND time_ms >= 0",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.3).collect::<Vec<_>>().join("; ")
}

#[tokio::test]
async fn statistics_make_a_count_walk_the_most_selective_index() {
    let tmp = tempfile::tempdir().unwrap();
    let target = Target::Sqlite(tmp.path().join("s.db"));
    let pool = fresh(&target).await;
    // Two sites, 500 machines: a site matches half the events, a machine one in 500.
    for site in ["SITE1", "SITE2"] {
        let batch: Vec<ForwardedEvent> = (1..=10_000)
            .map(|s| {
                let body = json!({ "Seq": s, "WorkstationName": format!("host-{}", s % 500), "IpAddress": "10.0.0.1" });
                ev(s, "4625", "acc_user", body)
            })
            .collect();
        insert(&pool, &site_origin(site), site, &batch).await.unwrap();
    }
    let before = count_plan(&pool).await;
    assert!(!before.contains("events_by_machine"), "without statistics: {before}");
    // A server started on this store: each connection brings the statistics up to date.
    pool.close().await;
    let pool = crate::store::open(&target, false, "VM").await.unwrap();
    let after = count_plan(&pool).await;
    assert!(after.contains("events_by_machine"), "with statistics: {after}");
    let f = EventFilter {
        id: Some("4625".into()),
        site: Some("SITE1".into()),
        user: Some("acc_user".into()),
        machine: Some("host-7".into()),
        ..Default::default()
    };
    assert_eq!(count(&pool, &f).await.unwrap(), 20, "the same answer along the other index");
}
