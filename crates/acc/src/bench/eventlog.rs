//! `acc bench event-log` and `acc bench event-query` (issue 14 §4): the security event log
//! under a flood, and the memory of searching a million events.
//!
//! - `event-log`: wrong-password requests from many connections for a while against a real
//!   site server whose event log has a maximum size, while good agents (familiar sources)
//!   keep registering; reports the database file's growth and peak, the site's memory, the
//!   good agents' success rate and what the log removed.
//! - `event-query`: N real 4625 events in a site's log and in the management server's store;
//!   `acc site events --all --json` and `acc ctl events --all --json` read them all while the
//!   peak resident memory of each command and each server is sampled.

use std::path::Path;
use std::process::{Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use acc_core::event::catalogue::{self, AuthPackage, FailureKind, LogonFailure, Network, Subject, Target};
use acc_core::event::retention::{MIB, format_size};
use acc_core::lockout::{LockoutMode, LockoutPolicy};
use acc_core::time::Timestamp;
use acc_net::client::{ClientTls as Tls, Connection};
use acc_site::admin::{EventPage, EventQuery, Request};
use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Value, json};

use super::site::{SiteUnderTest, status_kib};
use super::{ACC_PASSWORD, ACC_USER, basic, emit, registration};

#[derive(Debug, Args)]
pub struct EventLogArgs {
    /// How long the flood lasts, seconds.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Connections of the flood (each its own caller name, a wrong password).
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Good agents registering meanwhile (each once every 200 ms).
    #[arg(long, default_value_t = 20)]
    good: usize,
    /// Each flood request with a caller name of its own (no two refusals alike, so none is
    /// stored compactly: the log's worst case).
    #[arg(long)]
    rotate_names: bool,
    /// The site's event log maximum size (default: a site's default).
    #[arg(long, default_value = "128MiB", value_parser = crate::cmd::events::parse_max_size)]
    max_size: u64,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct EventQueryArgs {
    /// Events in the site's log and in the server's store.
    #[arg(long, default_value_t = 1_000_000)]
    events: u64,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<std::path::PathBuf>,
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// A database file and its WAL.
fn db_bytes(db: &Path) -> u64 {
    file_len(db) + file_len(&db.with_extension("db-wal"))
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / MIB as f64
}

/// Every event of `id` on the running site, a page at a time.
async fn site_events(site: &SiteUnderTest, id: &str) -> Result<Vec<Value>> {
    let mut q = EventQuery { id: Some(id.into()), all: true, ..Default::default() };
    let mut out = Vec::new();
    loop {
        let page: EventPage = serde_json::from_value(site.admin(&Request::Events(q.clone())).await?)?;
        out.extend(page.events);
        match page.next {
            Some(c) => q.cursor = Some(c),
            None => return Ok(out),
        }
    }
}

/// One flood connection until `stop`: wrong passwords as its own caller (a new name each
/// time with `rotate`); (401, 403, other).
async fn flood_on(
    tls: Tls,
    addr: std::net::SocketAddr,
    w: usize,
    rotate: bool,
    stop: Arc<AtomicBool>,
) -> Result<[u64; 3]> {
    let mut conn = Connection::open_addr(&tls, addr).await?;
    let auth = basic(ACC_USER, "a-wrong-password-0");
    let (mut host, body) = registration(w, "flood");
    let mut counts = [0u64; 3];
    while !stop.load(Ordering::Relaxed) {
        if rotate {
            host = format!("flood-{w}-{}", counts.iter().sum::<u64>());
        }
        let headers = [
            ("authorization", auth.as_str()),
            ("acc-agent-host", host.as_str()),
            ("content-type", "application/json"),
        ];
        let status = conn.send("POST", "/v1/register", &headers, body.clone()).await?.status.as_u16();
        counts[match status {
            401 => 0,
            403 => 1,
            _ => 2,
        }] += 1;
    }
    Ok(counts)
}

/// One good agent until `stop`: a registration every 200 ms; (succeeded, tried).
async fn good_on(
    tls: Tls,
    addr: std::net::SocketAddr,
    i: usize,
    token: String,
    stop: Arc<AtomicBool>,
) -> Result<(u64, u64)> {
    let mut conn = Connection::open_addr(&tls, addr).await?;
    let auth = basic(ACC_USER, ACC_PASSWORD);
    let (host, body) = registration(i, "good");
    let (mut ok, mut tried) = (0, 0);
    while !stop.load(Ordering::Relaxed) {
        let headers = [
            ("authorization", auth.as_str()),
            ("acc-agent-host", host.as_str()),
            ("content-type", "application/json"),
            (acc_proto::agent_site::HEADER_AGENT_TOKEN, token.as_str()),
        ];
        let status = conn.send("POST", "/v1/register", &headers, body.clone()).await?.status;
        tried += 1;
        ok += u64::from(status == 200);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok((ok, tried))
}

/// `acc bench event-log`.
pub async fn flood(a: EventLogArgs) -> Result<ExitCode> {
    let policy = LockoutPolicy { mode: LockoutMode::Smart, ..LockoutPolicy::default() };
    let site = SiteUnderTest::start(ACC_USER, ACC_PASSWORD, policy.clone()).await?;
    site.admin(&Request::PolicySet { policy, event_log_max_size: Some(a.max_size) }).await?;
    let tls = Tls::new(&site.ca_pem()?, None)?;
    let db = site.data_dir().join("site.db");
    let wal = site.data_dir().join("site.db-wal");
    // The good agents are familiar sources before the flood starts, as in a real fleet.
    let (_, errors, tokens) = super::register_on(
        tls.clone(),
        site.addr,
        (0..a.good).collect(),
        "good",
        basic(ACC_USER, ACC_PASSWORD),
        Arc::default(),
    )
    .await?;
    anyhow::ensure!(errors == 0, "{errors} good agents failed to register before the flood");
    let (db_start, pid) = (file_len(&db), site.pid());
    let stop = Arc::new(AtomicBool::new(false));
    let (db_peak, wal_peak) = (Arc::new(AtomicU64::new(db_start)), Arc::new(AtomicU64::new(0)));
    let sampler = {
        let (stop, db_peak, wal_peak, db, wal) =
            (stop.clone(), db_peak.clone(), wal_peak.clone(), db.clone(), wal.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                db_peak.fetch_max(file_len(&db), Ordering::Relaxed);
                wal_peak.fetch_max(file_len(&wal), Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let started = Instant::now();
    let floods: Vec<_> = (0..a.connections.max(1))
        .map(|w| tokio::spawn(flood_on(tls.clone(), site.addr, w, a.rotate_names, stop.clone())))
        .collect();
    let goods: Vec<_> = (0..a.good)
        .map(|i| {
            let token = tokens.get(&i).cloned().unwrap_or_default();
            tokio::spawn(good_on(tls.clone(), site.addr, i, token, stop.clone()))
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(a.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    let mut counts = [0u64; 3];
    for f in floods {
        for (c, n) in counts.iter_mut().zip(f.await??) {
            *c += n;
        }
    }
    let (mut good_ok, mut good_tried) = (0, 0);
    for g in goods {
        let (ok, tried) = g.await??;
        good_ok += ok;
        good_tried += tried;
    }
    let wall = started.elapsed().as_secs_f64();
    sampler.await?;
    let db_end = file_len(&db);
    let rss_peak = status_kib(pid, "VmHWM:");
    let requests: u64 = counts.iter().sum();
    let removals = site_events(&site, "acc.event_log").await?;
    // Removals take the oldest events (their own records too, in time): everything up to
    // the last one's LastSeq is gone.
    let removed = removals.last().and_then(|r| r["LastSeq"].as_u64()).unwrap_or(0);
    let newest = site.admin(&Request::Events(EventQuery { limit: Some(1), ..Default::default() })).await?;
    let written = newest["events"][0]["Seq"].as_u64().unwrap_or(0);
    let db_peak = db_peak.load(Ordering::Relaxed).max(db_end);
    let wal_peak = wal_peak.load(Ordering::Relaxed);
    let bound = a.max_size + 2 * MIB;
    let ok = good_tried > 0 && good_ok == good_tried && db_peak <= bound;
    let growth = db_end.saturating_sub(db_start) as f64 / wall;
    emit(
        &[
            (
                "scenario",
                format!(
                    "event log under a flood: {} connections of wrong passwords ({}) for {} s, {} good agents, maximum {}",
                    a.connections,
                    if a.rotate_names { "a new caller name each" } else { "one caller name each" },
                    a.seconds,
                    a.good,
                    format_size(a.max_size)
                ),
            ),
            (
                "flood requests",
                format!(
                    "{requests} ({:.0}/s): {} x 401, {} x 403, {} other",
                    requests as f64 / wall,
                    counts[0],
                    counts[1],
                    counts[2]
                ),
            ),
            ("good registrations", format!("{good_ok}/{good_tried} succeeded")),
            (
                "events written / removed",
                format!("{written} / {removed} (the oldest; {} acc.event_log records left)", removals.len()),
            ),
            (
                "database file start → end (peak)",
                format!(
                    "{:.1} → {:.1} MiB ({:.1} MiB), WAL peak {:.1} MiB",
                    mib(db_start),
                    mib(db_end),
                    mib(db_peak),
                    mib(wal_peak)
                ),
            ),
            ("database growth", format!("{:.2} MiB/s over the run", growth / MIB as f64)),
            ("site peak resident memory", format!("{:.1} MiB", rss_peak as f64 / 1024.0)),
            (
                "target (every good agent served, file under max + 2 MiB)",
                if ok { "met".into() } else { "NOT MET".into() },
            ),
        ],
        json!({ "scenario": "event-log", "seconds": a.seconds, "connections": a.connections, "good": a.good,
                "max_size": a.max_size, "rotate_names": a.rotate_names, "requests": requests, "requests_per_s": requests as f64 / wall,
                "unauthorized": counts[0], "locked_out": counts[1], "other": counts[2],
                "good_succeeded": good_ok, "good_tried": good_tried, "events_written": written,
                "events_removed": removed, "removals": removals.len(), "db_start": db_start, "db_end": db_end,
                "db_peak": db_peak, "wal_peak": wal_peak, "growth_bytes_per_s": growth,
                "site_peak_rss_kib": rss_peak, "target_met": ok }),
        a.json,
    )?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A real 4625 of `site` (about 840 bytes as JSON), at `t`.
fn refusal(t: Timestamp, site: &str, port: u16) -> acc_core::event::Event {
    let subject = Subject::site(site, "ACC");
    let failure = LogonFailure {
        subject: &subject,
        target: Target { user_name: ACC_USER, domain_name: site, sid: "S-1-5-21-1-2-3-1001" },
        failure: FailureKind::BadPassword,
        package: AuthPackage::Password,
        network: Network { workstation: "STALE01", ip: "10.0.0.7", port },
        lock_scope: None,
        verified: true,
        familiar: Some(false),
        generation: Some(1),
    };
    catalogue::logon_failure(t, LockoutMode::Smart, &failure)
}

/// What one read of every event printed, counted line by line as it went by.
struct Read {
    /// Peak resident memory, KiB.
    peak_kib: u64,
    /// Wall time, seconds.
    secs: f64,
    /// Events (each opens with a line `  {` in the pretty JSON).
    events: u64,
    /// Of them, 4625 (a line `    "EventID": 4625,`).
    refusals: u64,
}

/// Runs `acc ARGS` (pretty JSON), sampling its peak resident memory and counting the events
/// it prints without keeping them.
async fn peak_of(args: &[&str]) -> Result<Read> {
    use std::io::BufRead;
    let started = Instant::now();
    let mut child = Command::new(std::env::current_exe()?)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .context("run acc")?;
    let stdout = child.stdout.take().context("stdout")?;
    let counter = std::thread::spawn(move || {
        let (mut events, mut refusals) = (0, 0);
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            events += u64::from(line == "  {");
            refusals += u64::from(line == r#"    "EventID": 4625,"#);
        }
        (events, refusals)
    });
    let mut peak = 0;
    loop {
        peak = peak.max(status_kib(child.id(), "VmHWM:"));
        if let Some(status) = child.try_wait()? {
            anyhow::ensure!(status.success(), "acc {} failed", args.join(" "));
            let (events, refusals) = counter.join().unwrap_or((0, 0));
            return Ok(Read { peak_kib: peak, secs: started.elapsed().as_secs_f64(), events, refusals });
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `acc bench event-query`.
pub async fn query(a: EventQueryArgs) -> Result<ExitCode> {
    // The site: its log filled in-process (the real write path), then served.
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("site");
    acc_site::init::init(&acc_site::init::InitOptions {
        data_dir: dir.clone(),
        name: Some("BENCH-SITE".into()),
        listen: "127.0.0.1:0".parse()?,
        tls: None,
        hostname: "bench".into(),
        max_unauthenticated_per_address: None,
    })?;
    let fill_started = Instant::now();
    {
        let site =
            acc_site::Site::open(acc_site::layout::Layout::new(&dir), Arc::new(acc_site::site::SystemClock))
                .await?;
        site.set_event_log_max_size(64 * 1024 * MIB).await?;
        let mut written = 0;
        while written < a.events {
            let n = (a.events - written).min(1000);
            site.write_events(|t| (0..n).map(|i| refusal(t, "BENCH-SITE", 40_000 + i as u16)).collect())
                .await?;
            written += n;
        }
    }
    let site_fill = fill_started.elapsed().as_secs_f64();
    let site = SiteUnderTest::run(&dir).await?;
    let dir_arg = dir.to_string_lossy().to_string();
    let site_rss_before = status_kib(site.pid(), "VmRSS:");
    let site_read = peak_of(&["site", "events", "--data-dir", &dir_arg, "--all", "--json"]).await?;
    let site_peak = status_kib(site.pid(), "VmHWM:");
    let site_db = db_bytes(&dir.join("site.db"));
    drop(site);

    // The management server: its store filled through the store's own insert, then served.
    let server = super::server::ServerUnderTest::start().await?;
    let mut admin = server.admin().await?;
    admin.call("PUT", "/v1/settings/site", json!({ "event_store_max_size": 64 * 1024 * MIB })).await?;
    let layout = acc_server::layout::Layout::new(&server.dir);
    let config = acc_server::config::ServerConfig::load(&layout.config())?;
    let pool = acc_server::store::open(&config.store_target(&layout), false, &config.name).await?;
    let fill_started = Instant::now();
    let origin = acc_server::event_store::site_origin("BENCH");
    let mut seq = 0;
    while seq < a.events {
        let n = (a.events - seq).min(1000);
        let batch: Vec<acc_proto::ForwardedEvent> = (seq + 1..=seq + n)
            .map(|s| {
                let t = Timestamp(1_780_000_000_000 + s as i64);
                let e = refusal(t, "BENCH-SITE", 40_000).stamp(s, "BENCH-SITE", "bench-site-id");
                acc_proto::ForwardedEvent {
                    seq: s as i64,
                    event_id: "4625".into(),
                    time_ms: t.millis(),
                    target_user: Some(ACC_USER.to_lowercase()),
                    body: serde_json::to_value(&e).unwrap_or(Value::Null),
                }
            })
            .collect();
        acc_server::event_store::insert(&pool, &origin, "BENCH-SITE", &batch).await?;
        seq += n;
    }
    pool.close().await;
    let server_fill = fill_started.elapsed().as_secs_f64();
    let server_rss_before = server.rss_kib();
    let ca = acc_server::layout::Layout::new(&server.dir).ca_cert();
    let token = acc_server::layout::Layout::new(&server.dir).admin_token();
    let url = server.endpoint.to_string();
    let (ca, token) = (ca.to_string_lossy().to_string(), token.to_string_lossy().to_string());
    let ctl = ["ctl", "--server", &url, "--ca", &ca, "--token-file", &token, "events", "--all", "--json"];
    let ctl_read = peak_of(&ctl).await?;
    let server_peak = server.peak_rss_kib();
    let server_db = db_bytes(&acc_server::layout::Layout::new(&server.dir).database());
    let limit = 64 * 1024;
    let ok = [site_read.peak_kib, site_peak, ctl_read.peak_kib, server_peak].iter().all(|&k| k < limit)
        && site_read.refusals == a.events
        && ctl_read.refusals == a.events;
    let k = |kib: u64| format!("{:.1} MiB", kib as f64 / 1024.0);
    let read = |r: &Read| {
        format!(
            "{} ({} of them 4625) in {:.1} s, {:.0}/s",
            r.events,
            r.refusals,
            r.secs,
            r.events as f64 / r.secs
        )
    };
    emit(
        &[
            (
                "scenario",
                format!(
                    "{} real 4625 events read with --all --json, from a site and from the management server",
                    a.events
                ),
            ),
            ("site: database (with WAL), filled in", format!("{:.0} MiB, {site_fill:.0} s", mib(site_db))),
            ("acc site events --all --json read", read(&site_read)),
            ("acc site events peak memory", k(site_read.peak_kib)),
            ("site server memory before → peak", format!("{} → {}", k(site_rss_before), k(site_peak))),
            (
                "server: database (with WAL), filled in",
                format!("{:.0} MiB, {server_fill:.0} s", mib(server_db)),
            ),
            ("acc ctl events --all --json read", read(&ctl_read)),
            ("acc ctl events peak memory", k(ctl_read.peak_kib)),
            (
                "management server memory before → peak",
                format!("{} → {}", k(server_rss_before), k(server_peak)),
            ),
            (
                "target (each under 64 MiB, every event read once)",
                if ok { "met".into() } else { "NOT MET".into() },
            ),
        ],
        json!({ "scenario": "event-query", "events": a.events, "site_db": site_db, "server_db": server_db,
                "site_read": site_read.events, "site_refusals": site_read.refusals, "site_query_s": site_read.secs,
                "site_cli_peak_kib": site_read.peak_kib, "site_rss_before_kib": site_rss_before, "site_peak_kib": site_peak,
                "ctl_read": ctl_read.events, "ctl_refusals": ctl_read.refusals, "ctl_query_s": ctl_read.secs,
                "ctl_peak_kib": ctl_read.peak_kib, "server_rss_before_kib": server_rss_before, "server_peak_kib": server_peak,
                "target_met": ok }),
        a.json,
    )?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
