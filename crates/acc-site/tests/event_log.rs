//! The security event log on a real SQLite file: its maximum size holds, the oldest events
//! go first and each removal is recorded, a joined site keeps what its management server
//! has not acknowledged until the hard limit, an older database is converted and shrinks,
//! and searches come back a page at a time.

mod support;

use std::sync::Arc;

use acc_core::event::retention::MIB;
use acc_core::event::{Event, EventId, Keywords};
use acc_site::Site;
use acc_site::admin::EventQuery;
use acc_site::event_log::{self, PAGE};
use acc_site::layout::Layout;
use acc_site::retention;
use acc_site::site::SystemClock;
use serde_json::Value;

async fn fresh() -> (tempfile::TempDir, Layout, Arc<Site>) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("site");
    support::init_site(&dir);
    let layout = Layout::new(&dir);
    let site = Site::open(layout.clone(), Arc::new(SystemClock)).await.unwrap();
    (tmp, layout, site)
}

/// Writes `n` refusals of about 900 bytes each, all different (nothing to share), 100 a
/// commit.
async fn fill(site: &Site, n: usize) {
    for chunk in 0..n / 100 {
        site.write_events(|t| {
            (0..100)
                .map(|i| {
                    Event::new(EventId::LOGON_FAILURE, t, Keywords::AuditFailure)
                        .with("TargetUserName", "nobody")
                        .with("Pad", format!("{chunk}.{i}.{}", "x".repeat(800)))
                })
                .collect()
        })
        .await
        .unwrap();
    }
}

async fn all(site: &Site, q: EventQuery) -> Vec<Value> {
    let mut q = EventQuery { all: true, ..q };
    let mut out = Vec::new();
    loop {
        let page = event_log::search(site.pool(), &q).await.unwrap();
        assert!(page.events.len() as i64 <= PAGE);
        out.extend(page.events);
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return out,
        }
    }
}

fn seqs(events: &[Value]) -> Vec<u64> {
    events.iter().map(|e| e["Seq"].as_u64().unwrap()).collect()
}

fn removals(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["EventID"] == "acc.event_log").collect()
}

#[tokio::test]
async fn a_full_log_loses_its_oldest_events_and_records_each_removal() {
    let (_tmp, _layout, site) = fresh().await;
    site.set_event_log_max_size(MIB).await.unwrap();
    fill(&site, 3000).await;
    let before = event_log::measure(site.pool()).await.unwrap();
    assert!(before.bytes > 2 * MIB, "{before:?}");
    let after = retention::enforce(&site).await.unwrap();
    assert!(after.bytes <= MIB, "the log is back under its maximum: {after:?}");
    assert!(after.file_bytes <= MIB + 256 * 1024, "and so is the file, but for the other tables: {after:?}");
    let events = all(&site, EventQuery::default()).await;
    let records = removals(&events);
    assert!(!records.is_empty());
    // The removals, in order, account for every event missing from the front.
    let mut expected_first = 1;
    for r in &records {
        assert_eq!(r["FirstSeq"], expected_first, "{r}");
        assert_eq!(r["Reason"], "max-size");
        assert_eq!(r["Keywords"], "Audit Success");
        assert_eq!(r["MaxSize"], MIB);
        assert!(r.get("Unforwarded").is_none(), "a standalone site forwards nothing: {r}");
        let (first, last) = (r["FirstSeq"].as_u64().unwrap(), r["LastSeq"].as_u64().unwrap());
        assert_eq!(r["Removed"].as_u64().unwrap(), last - first + 1);
        expected_first = last + 1;
    }
    let s = seqs(&events);
    assert_eq!(s[0], expected_first, "the oldest left follows the last removal");
    assert!(s.windows(2).all(|w| w[1] == w[0] + 1), "nothing removed from the middle");
    assert_eq!(*s.last().unwrap(), 3000 + records.len() as u64, "every event counted once");
}

#[tokio::test]
async fn a_joined_site_keeps_unacknowledged_events_until_the_hard_limit() {
    let (_tmp, layout, site) = fresh().await;
    site.set_event_log_max_size(MIB).await.unwrap();
    std::fs::create_dir_all(layout.management_config().parent().unwrap()).unwrap();
    std::fs::write(layout.management_config(), r#"{"url":"https://127.0.0.1:9"}"#).unwrap();
    fill(&site, 1500).await;
    let m = retention::enforce(&site).await.unwrap();
    assert!(m.bytes > MIB, "over the maximum, nothing acknowledged: {m:?}");
    assert_eq!(m.events, 1500, "nothing removed");
    // The management server acknowledges up to 200: only those may go.
    sqlx::query("INSERT INTO meta (key, value) VALUES ('forwarded_seq', '200')")
        .execute(site.pool())
        .await
        .unwrap();
    retention::enforce(&site).await.unwrap();
    let events = all(&site, EventQuery::default()).await;
    let r = removals(&events);
    assert_eq!(r.len(), 1, "{r:?}");
    assert_eq!((r[0]["FirstSeq"].as_u64(), r[0]["LastSeq"].as_u64()), (Some(1), Some(200)));
    assert_eq!(r[0]["Unforwarded"], 0);
    assert_eq!(seqs(&events)[0], 201, "every unacknowledged event survives");
    // Past twice the maximum the oldest unacknowledged go too, and the record says so.
    fill(&site, 1500).await;
    let m = retention::enforce(&site).await.unwrap();
    assert!(m.bytes <= 2 * MIB, "{m:?}");
    let events = all(&site, EventQuery::default()).await;
    let hard: Vec<&Value> = removals(&events).into_iter().filter(|e| e["Reason"] == "hard-limit").collect();
    assert!(!hard.is_empty(), "{:?}", removals(&events));
    assert_eq!(hard[0]["FirstSeq"], 201);
    assert_eq!(hard[0]["Keywords"], "Audit Failure");
    let lost: u64 = hard.iter().map(|e| e["Unforwarded"].as_u64().unwrap()).sum();
    let removed: u64 = hard.iter().map(|e| e["Removed"].as_u64().unwrap()).sum();
    assert_eq!(lost, removed, "nothing of them had been acknowledged");
    assert!(lost < 1500, "only the fewest that bring it under: {lost}");
}

#[tokio::test]
async fn an_older_database_is_converted_and_gives_back_what_the_log_no_longer_needs() {
    let (_tmp, layout, site) = fresh().await;
    fill(&site, 3000).await;
    drop(site);
    // A database as acc made it before: no auto-vacuum.
    {
        use sqlx::ConnectOptions;
        let mut c =
            sqlx::sqlite::SqliteConnectOptions::new().filename(layout.database()).connect().await.unwrap();
        sqlx::query("PRAGMA auto_vacuum = NONE").execute(&mut c).await.unwrap();
        sqlx::query("VACUUM").execute(&mut c).await.unwrap();
        let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(&mut c).await.unwrap();
        assert_eq!(mode, 0);
    }
    let site = Site::open(layout.clone(), Arc::new(SystemClock)).await.unwrap();
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(site.pool()).await.unwrap();
    assert_eq!(mode, 2, "incremental");
    let big = event_log::measure(site.pool()).await.unwrap();
    site.set_event_log_max_size(MIB).await.unwrap();
    let small = retention::enforce(&site).await.unwrap();
    assert!(small.file_bytes < big.file_bytes / 2, "{big:?} -> {small:?}");
    assert!(small.file_bytes <= MIB + 256 * 1024, "{small:?}");
}

#[tokio::test]
async fn searches_come_a_page_at_a_time_newest_first_by_default() {
    let (_tmp, _layout, site) = fresh().await;
    fill(&site, 2500).await;
    site.add_account("ACC_user", "Correct-horse-battery-9").await.unwrap();
    let newest =
        event_log::search(site.pool(), &EventQuery { limit: Some(5), ..Default::default() }).await.unwrap();
    assert_eq!(seqs(&newest.events).len(), 5);
    assert!(newest.next.is_none());
    let last = *seqs(&newest.events).last().unwrap();
    let before = EventQuery { limit: Some(3), before_seq: Some(10), ..Default::default() };
    assert_eq!(seqs(&event_log::search(site.pool(), &before).await.unwrap().events), [7, 8, 9]);
    // The newest 1500: a full page and a cursor, then the rest.
    let q = EventQuery { limit: Some(1500), ..Default::default() };
    let first = event_log::search(site.pool(), &q).await.unwrap();
    assert_eq!(first.events.len() as i64, PAGE);
    let rest = event_log::search(site.pool(), &EventQuery { cursor: first.next.clone(), ..q.clone() })
        .await
        .unwrap();
    let s: Vec<u64> = seqs(&first.events).into_iter().chain(seqs(&rest.events)).collect();
    assert_eq!(s.len(), 1500);
    assert_eq!((s[0], *s.last().unwrap()), (last - 1499, last));
    assert!(rest.next.is_none());
    // Filters, and every event with --all.
    let created = all(&site, EventQuery { id: Some("4720".into()), ..Default::default() }).await;
    assert_eq!(created.len(), 1);
    let mine = all(&site, EventQuery { user: Some("acc_USER".into()), ..Default::default() }).await;
    assert!(mine.len() >= 3 && mine.iter().all(|e| e["TargetUserName"] == "ACC_user"), "{mine:?}");
    assert_eq!(all(&site, EventQuery::default()).await.len() as u64, last);
    let bad = EventQuery { cursor: Some("x".into()), ..Default::default() };
    let e = event_log::search(site.pool(), &bad).await.unwrap_err().to_string();
    assert!(e.contains("cursor 'x' is malformed"), "{e}");
}

/// `n` refusals of one caller, each from its own port: identical but for Seq, time and port.
async fn refusals(site: &Site, n: u16) -> Vec<String> {
    use acc_core::event::catalogue::{
        self, AuthPackage, FailureKind, LogonFailure, Network, Subject, Target,
    };
    let mut written = Vec::new();
    for chunk in 0..n / 100 {
        site.write_events(|t| {
            let subject = Subject::site("SITE-01", "ACC");
            (0..100)
                .map(|i| {
                    let f = LogonFailure {
                        subject: &subject,
                        target: Target {
                            user_name: "ACC_user",
                            domain_name: "SITE-01",
                            sid: "S-1-5-21-1-2-3-1001",
                        },
                        failure: FailureKind::BadPassword,
                        package: AuthPackage::Password,
                        network: Network {
                            workstation: "STALE01",
                            ip: "10.0.0.7",
                            port: 40_000 + chunk * 100 + i,
                        },
                        lock_scope: None,
                        verified: true,
                        familiar: Some(false),
                        generation: Some(1),
                    };
                    catalogue::logon_failure(t, acc_core::lockout::LockoutMode::Smart, &f)
                })
                .collect()
        })
        .await
        .unwrap();
    }
    let all = all(site, EventQuery { id: Some("4625".into()), ..Default::default() }).await;
    for e in all {
        written.push(e.to_string());
    }
    written
}

#[tokio::test]
async fn repeated_refusals_are_stored_compactly_and_each_still_counts_once() {
    let (_tmp, _layout, site) = fresh().await;
    let before = event_log::measure(site.pool()).await.unwrap();
    let read = refusals(&site, 3000).await;
    let after = event_log::measure(site.pool()).await.unwrap();
    assert_eq!(read.len(), 3000, "each refusal is one event");
    let per_event = (after.bytes - before.bytes) / 3000;
    assert!(per_event < 150, "a repeated refusal takes {per_event} bytes (stored whole: about 870)");
    // Each comes back whole, with its own port, Seq and time, in order.
    let events: Vec<Value> = read.iter().map(|t| serde_json::from_str(t).unwrap()).collect();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["IpPort"], 40_000 + i as u64, "{e}");
        assert_eq!(e["WorkstationName"], "STALE01");
        assert_eq!(e["Keywords"], "Audit Failure");
        assert!(e["TimeCreated"].as_str().unwrap().ends_with('Z'));
    }
    assert!(seqs(&events).windows(2).all(|w| w[1] == w[0] + 1));
    // Forwarded whole too, one each.
    let batch = event_log::forward_batch(site.pool(), 0, 10_000).await.unwrap();
    let forwarded: Vec<&acc_proto::ForwardedEvent> = batch.iter().filter(|e| e.event_id == "4625").collect();
    assert_eq!(forwarded.len(), 3000);
    assert_eq!(forwarded[7].body, events[7]);
    assert_eq!(forwarded[7].seq, events[7]["Seq"].as_i64().unwrap());
    // A removal takes the shape with the last event that used it.
    site.set_event_log_max_size(MIB).await.unwrap();
    fill(&site, 1500).await;
    retention::enforce(&site).await.unwrap();
    let shapes: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM event_shapes").fetch_one(site.pool()).await.unwrap();
    assert_eq!(shapes, 0, "no refusal is left, nor its shape");
    assert!(
        all(&site, EventQuery { id: Some("4625".into()), ..Default::default() })
            .await
            .iter()
            .all(|e| e["Pad"].is_string())
    );
}
