//! `acc bench`: load against real `acc` processes, reported as a table and JSON.
//!
//! - `register`: N distinct agents register with the ACC over HTTPS keep-alive
//!   (issue 3: at least 2,000 registrations/s, p99 under 50 ms, one site on 2 cores).
//! - `flood`: stale sources hammer the ACC with an old password while good agents
//!   register (issue 3: in smart mode every good registration succeeds, and the flood
//!   costs no Argon2 hash after each source's first rejections).
//! - `propagation`: a policy change acknowledged by M simulated site servers and received
//!   by N simulated agents (issue 4: 100 sites within 2 s).
//! - `events`: event ingest from simulated sites (issue 4: at least 20,000 events/s).
//! - `agents`: N simulated agents long-polling one management server (issue 4: 10,000
//!   agents under 500 MiB of server memory).
//! - `download`: download throughput of one site server to N agents (ranged requests).
//! - `longpoll`: N agents long-polling one site server's task server: its memory, and a
//!   task to every agent delivered and answered.
//! - `event-log`, `event-query`: the security event log under a flood (its maximum size
//!   holds, good agents keep working) and the memory of reading a million events (issue
//!   14 §4, see `eventlog.rs`).
//! - `slowloris`: slow request bodies from N connections while a normal client registers
//!   (issue 14 §1: every normal request served, p99 under 100 ms, see `slowloris.rs`).
//! - `propagation` and `events` take `--database postgres://…` and `--nodes N`: N
//!   management server nodes on one PostgreSQL database, the simulated clients spread
//!   across them (issue 18).
//! - `failover`: N nodes on PostgreSQL, one killed under S sites and A agents: the time
//!   until each is back on a survivor with a change saved after the kill (issue 18, see
//!   `failover.rs`).
//! - `console`: the console's pages with 10,000 agents, 100 sites and 1,000,000 events
//!   (issue 17: server time p99 under 50 ms per page, see `console.rs`).

mod agents;
pub mod console;
mod download;
mod eventlog;
mod failover;
mod longpoll;
mod server;
mod site;
mod slowloris;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use acc_core::lockout::LockoutPolicy;
use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::{Args, Subcommand};
use serde_json::json;

use acc_net::client::{ClientTls as Tls, Connection};
use site::SiteUnderTest;

const ACC_USER: &str = "ACC_user";
const ACC_PASSWORD: &str = "bench-Correct-horse-battery-staple";

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Registration storm: distinct agents register with the ACC over keep-alive HTTPS.
    Register(RegisterArgs),
    /// Lockout flood: stale sources with an old password while good agents register.
    Flood(FloodArgs),
    /// Policy propagation: a change acknowledged by N simulated site servers.
    Propagation(PropagationArgs),
    /// Event ingest: simulated sites forward security events in batches.
    Events(EventsArgs),
    /// Agents long-polling one management server: its memory, and a change reaching all.
    Agents(AgentsArgs),
    /// Download throughput: N agents fetch a file from one site server as the ACC.
    Download(DownloadArgs),
    /// Agents long-polling one site server's tasks: its memory, and a task to every agent.
    Longpoll(LongpollArgs),
    /// The security event log under a wrong-password flood: disk, memory, good agents.
    EventLog(eventlog::EventLogArgs),
    /// Memory of reading every one of a million events from a site and the server.
    EventQuery(eventlog::EventQueryArgs),
    /// Slow request bodies from N connections while a normal client registers agents.
    Slowloris(slowloris::SlowlorisArgs),
    /// The console's pages with a large fleet: server time per page, signed in over HTTPS.
    Console(ConsoleArgs),
    /// Failover: a node of several on PostgreSQL killed under sites and agents long-polling.
    Failover(failover::FailoverArgs),
}

#[derive(Debug, Args)]
pub struct ConsoleArgs {
    /// Agents in the inventory.
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Joined site servers.
    #[arg(long, default_value_t = 100)]
    sites: usize,
    /// Events in the store.
    #[arg(long, default_value_t = 1_000_000)]
    events: usize,
    /// Requests per page.
    #[arg(long, default_value_t = 200)]
    requests: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct LongpollArgs {
    /// Simulated agents (each its own TLS connection, authenticated as the ACC).
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// Size of the file, MiB.
    #[arg(long, default_value_t = 1024)]
    size_mib: u64,
    /// Agents downloading at once (one connection each).
    #[arg(long, default_value_t = 4)]
    agents: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct AgentsArgs {
    /// Simulated agents (each its own certificate and mTLS connection).
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Policy changes to time.
    #[arg(long, default_value_t = 3)]
    changes: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct PropagationArgs {
    /// Simulated site servers (each its own key, certificate and mTLS connection).
    #[arg(long, default_value_t = 100)]
    sites: usize,
    /// Simulated agents long-polling their policy too (each its own certificate and mTLS
    /// connection); the change counts as propagated when every site and agent has it.
    #[arg(long, default_value_t = 0)]
    agents: usize,
    /// Policy changes to time.
    #[arg(long, default_value_t = 5)]
    changes: usize,
    /// Management server nodes; more than 1 needs `--database`. Simulated sites and agents
    /// are spread across them (round-robin); changes are saved on node 1.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// The store on PostgreSQL: an empty database (`postgres://USER@HOST[:PORT]/DB`; the
    /// password from `PGPASSFILE`), which node 1 is initialised on; default: SQLite.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Events in all.
    #[arg(long, default_value_t = 200_000)]
    events: i64,
    /// Simulated sites sending at once.
    #[arg(long, default_value_t = 4)]
    sites: usize,
    /// Events per batch.
    #[arg(long, default_value_t = 1000)]
    batch: i64,
    /// Management server nodes; more than 1 needs `--database`. Simulated sites and agents
    /// are spread across them (round-robin); changes are saved on node 1.
    #[arg(long, default_value_t = 1)]
    nodes: usize,
    /// The store on PostgreSQL: an empty database (`postgres://USER@HOST[:PORT]/DB`; the
    /// password from `PGPASSFILE`), which node 1 is initialised on; default: SQLite.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RegisterArgs {
    /// Distinct agents.
    #[arg(long, default_value_t = 10_000)]
    agents: usize,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct FloodArgs {
    /// Stale sources (distinct agents holding an old password).
    #[arg(long, default_value_t = 1000)]
    stale_sources: usize,
    /// Wrong-password attempts per stale source.
    #[arg(long, default_value_t = 20)]
    attempts: usize,
    /// Good agents registering meanwhile.
    #[arg(long, default_value_t = 100)]
    good: usize,
    /// Lockout mode of the site (the target applies to smart mode; classic shows why).
    #[arg(long, value_enum, default_value = "smart")]
    mode: crate::cmd::common::ModeArg,
    /// Concurrent connections of the flood.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// Runs one benchmark.
pub fn run(command: BenchCommand) -> Result<ExitCode> {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(async {
        match command {
            BenchCommand::Register(a) => register(a).await,
            BenchCommand::Flood(a) => flood(a).await,
            BenchCommand::Propagation(a) => propagation(a).await,
            BenchCommand::Events(a) => event_ingest(a).await,
            BenchCommand::Download(a) => {
                let (table, value) = download::run(a.size_mib, a.agents).await?;
                emit(&table, value, a.json)?;
                Ok(ExitCode::SUCCESS)
            }
            BenchCommand::Agents(a) => {
                let (table, value, ok) = agents::run(a.agents, a.changes).await?;
                emit(&table, value, a.json)?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
            BenchCommand::EventLog(a) => eventlog::flood(a).await,
            BenchCommand::EventQuery(a) => eventlog::query(a).await,
            BenchCommand::Slowloris(a) => slowloris::slowloris(a).await,
            BenchCommand::Console(a) => {
                let fleet = console::Fleet { agents: a.agents, sites: a.sites, events: a.events };
                let (table, value, ok) = console::run(fleet, a.requests).await?;
                emit(&table, value, a.json)?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
            BenchCommand::Failover(a) => {
                let file = a.json.clone();
                let (table, value, ok) = failover::run(a).await?;
                emit(&table, value, file)?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
            BenchCommand::Longpoll(a) => {
                let (table, value, ok) = longpoll::run(a.agents).await?;
                emit(&table, value, a.json)?;
                Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
            }
        }
    })
}

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
}

fn registration(i: usize, prefix: &str) -> (String, Bytes) {
    let host = format!("{prefix}-{i:05}");
    let body = json!({ "agent_id": format!("{host}-id"), "host": host, "os": "linux", "version": "bench" })
        .to_string();
    (host, Bytes::from(body))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

/// Agents' tokens for their ids (from their registrations), by agent number.
type Tokens = std::collections::HashMap<usize, String>;

/// Registers agents `ids` on one connection, each presenting its token from `known` (a
/// registration again, as a running agent's); returns (latencies, non-200 count, the
/// tokens answered).
async fn register_on(
    tls: Tls,
    addr: std::net::SocketAddr,
    ids: Vec<usize>,
    prefix: &'static str,
    auth: String,
    known: std::sync::Arc<Tokens>,
) -> Result<(Vec<Duration>, usize, Tokens)> {
    let mut conn = Connection::open_addr(&tls, addr).await?;
    let mut lat = Vec::with_capacity(ids.len());
    let mut errors = 0;
    let mut tokens = Tokens::with_capacity(ids.len());
    for i in ids {
        let (host, body) = registration(i, prefix);
        let mut headers = vec![
            ("authorization", auth.as_str()),
            ("acc-agent-host", &host),
            ("content-type", "application/json"),
        ];
        if let Some(t) = known.get(&i) {
            headers.push((acc_proto::agent_site::HEADER_AGENT_TOKEN, t));
        }
        let started = Instant::now();
        let r = conn.send("POST", "/v1/register", &headers, body).await?;
        lat.push(started.elapsed());
        match serde_json::from_slice::<acc_proto::agent_site::Registered>(&r.body) {
            Ok(reg) if r.status == 200 => {
                tokens.insert(i, reg.agent_token.expose().to_string());
            }
            _ => errors += 1,
        }
    }
    Ok((lat, errors, tokens))
}

fn emit(table: &[(&str, String)], json_value: serde_json::Value, file: Option<PathBuf>) -> Result<()> {
    let width = table.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in table {
        outln!("{k:<width$}  {v}");
    }
    if let Some(f) = file {
        std::fs::write(&f, serde_json::to_string_pretty(&json_value)?)
            .with_context(|| format!("{}: cannot write", f.display()))?;
    }
    Ok(())
}

async fn register(a: RegisterArgs) -> Result<ExitCode> {
    let site = SiteUnderTest::start(ACC_USER, ACC_PASSWORD, LockoutPolicy::default()).await?;
    let tls = Tls::new(&site.ca_pem()?, None)?;
    let auth = basic(ACC_USER, ACC_PASSWORD);
    let connections = a.connections.max(1);
    let cpu_before = site.cpu_seconds()?;
    let hashes_before = site.stats().await?["password_hashes"].as_u64().unwrap_or(0);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..connections {
        let ids: Vec<usize> = (0..a.agents).filter(|i| i % connections == w).collect();
        tasks.push(tokio::spawn(register_on(
            tls.clone(),
            site.addr,
            ids,
            "agent",
            auth.clone(),
            Default::default(),
        )));
    }
    let mut lat = Vec::with_capacity(a.agents);
    let mut errors = 0;
    for t in tasks {
        let (l, e, _) = t.await??;
        lat.extend(l);
        errors += e;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = site.cpu_seconds()? - cpu_before;
    let hashes = site.stats().await?["password_hashes"].as_u64().unwrap_or(0) - hashes_before;
    lat.sort();
    let rate = a.agents as f64 / wall;
    let (p50, p99, max) =
        (percentile(&lat, 0.5), percentile(&lat, 0.99), lat.last().copied().unwrap_or_default());
    let ok = rate >= 2000.0 && p99 < Duration::from_millis(50) && errors == 0;
    emit(
        &[
            (
                "scenario",
                format!(
                    "registration storm: {} distinct agents, {connections} keep-alive connections, Basic ACC, smart mode",
                    a.agents
                ),
            ),
            ("registrations/s", format!("{rate:.0}")),
            ("latency p50 / p99 / max", format!("{:.1} / {:.1} / {:.1} ms", ms(p50), ms(p99), ms(max))),
            ("errors", errors.to_string()),
            ("server CPU per registration", format!("{:.0} µs ({cpu:.2} s)", cpu / a.agents as f64 * 1e6)),
            ("Argon2 hashes", hashes.to_string()),
            ("target (>= 2000/s, p99 < 50 ms)", if ok { "met".into() } else { "NOT MET".into() }),
        ],
        json!({ "scenario": "register", "agents": a.agents, "connections": connections, "registrations_per_s": rate,
                "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max), "errors": errors,
                "server_cpu_s": cpu, "server_cpu_us_per_registration": cpu / a.agents as f64 * 1e6, "argon2_hashes": hashes, "target_met": ok }),
        a.json,
    )?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One stale source's attempts on one connection: counts of 401 and 403.
async fn stale_on(
    tls: Tls,
    addr: std::net::SocketAddr,
    sources: Vec<usize>,
    attempts: usize,
) -> Result<(usize, usize)> {
    let mut conn = Connection::open_addr(&tls, addr).await?;
    let auth = basic(ACC_USER, "the-old-password-v0");
    let (mut unauthorized, mut locked) = (0, 0);
    for s in sources {
        let (host, body) = registration(s, "stale");
        for _ in 0..attempts {
            let status = conn
                .send(
                    "POST",
                    "/v1/register",
                    &[
                        ("authorization", &auth),
                        ("acc-agent-host", &host),
                        ("content-type", "application/json"),
                    ],
                    body.clone(),
                )
                .await?
                .status;
            match status.as_u16() {
                401 => unauthorized += 1,
                403 => locked += 1,
                _ => {}
            }
        }
    }
    Ok((unauthorized, locked))
}

async fn flood(a: FloodArgs) -> Result<ExitCode> {
    let policy = LockoutPolicy { mode: a.mode.into(), ..LockoutPolicy::default() };
    let smart = policy.mode == acc_core::lockout::LockoutMode::Smart;
    let site = SiteUnderTest::start(ACC_USER, ACC_PASSWORD, policy.clone()).await?;
    let tls = Tls::new(&site.ca_pem()?, None)?;
    let good_auth = basic(ACC_USER, ACC_PASSWORD);
    // The good agents are already in service: each has logged on before, so it is a familiar
    // source (spec 2.3), exactly as a fleet looks when the stale agents start hammering.
    let (_, warmup_errors, tokens) = register_on(
        tls.clone(),
        site.addr,
        (0..a.good).collect(),
        "good",
        good_auth.clone(),
        Default::default(),
    )
    .await?;
    anyhow::ensure!(warmup_errors == 0, "{warmup_errors} good agents failed to register before the flood");
    let hashes_before = site.stats().await?["password_hashes"].as_u64().unwrap_or(0);
    let cpu_before = site.cpu_seconds()?;
    let connections = a.connections.max(1);
    let started = Instant::now();
    let mut stale = Vec::new();
    for w in 0..connections {
        let sources: Vec<usize> = (0..a.stale_sources).filter(|i| i % connections == w).collect();
        stale.push(tokio::spawn(stale_on(tls.clone(), site.addr, sources, a.attempts)));
    }
    // The same agents register again, as running agents do: each with its token.
    let good = tokio::spawn(register_on(
        tls.clone(),
        site.addr,
        (0..a.good).collect(),
        "good",
        good_auth,
        std::sync::Arc::new(tokens),
    ));
    let (mut unauthorized, mut locked) = (0, 0);
    for t in stale {
        let (u, l) = t.await??;
        unauthorized += u;
        locked += l;
    }
    let (good_lat, good_errors, _) = good.await??;
    let wall = started.elapsed().as_secs_f64();
    let cpu = site.cpu_seconds()? - cpu_before;
    let hashes = site.stats().await?["password_hashes"].as_u64().unwrap_or(0) - hashes_before;
    let lockouts = events(&site, "4740").await?;
    let scope_counts = ["source", "address", "unfamiliar", "account"]
        .map(|scope| (scope, lockouts.iter().filter(|e| e["LockScope"] == scope).count()));
    let scopes = scope_counts.map(|(scope, n)| format!("{n} {scope}"));
    let total = a.stale_sources * a.attempts;
    // Each stale source may cost hashes until it is blocked (Ts failures); after that it is
    // refused before any hashing. The good agents' logons are served by the cache.
    let hash_budget = (a.stale_sources * policy.source_threshold as usize) as u64;
    let met = good_errors == 0 && good_lat.len() == a.good && hashes <= hash_budget;
    let verdict = match (smart, met) {
        (true, true) => "met",
        (true, false) => "NOT MET",
        (false, _) => "n/a in classic mode (shows the outage smart mode prevents)",
    };
    let ok = met || !smart;
    emit(
        &[
            (
                "scenario",
                format!(
                    "lockout flood: {} stale sources x {} wrong passwords, {} good agents, {} mode",
                    a.stale_sources,
                    a.attempts,
                    a.good,
                    policy.mode.as_str()
                ),
            ),
            ("good registrations", format!("{}/{} succeeded", good_lat.len() - good_errors, a.good)),
            (
                "stale attempts",
                format!("{total}: {unauthorized} x 401 invalid_credentials, {locked} x 403 locked_out"),
            ),
            ("lockouts (4740 by LockScope)", scopes.join(", ")),
            (
                "Argon2 hashes during the flood",
                format!(
                    "{hashes} (budget: {} sources x Ts {} = {hash_budget})",
                    a.stale_sources, policy.source_threshold
                ),
            ),
            ("attempts/s", format!("{:.0}", (total + a.good) as f64 / wall)),
            ("server CPU per attempt", format!("{:.0} µs", cpu / (total + a.good) as f64 * 1e6)),
            ("target (smart: every good one succeeds, hashes within budget)", verdict.into()),
        ],
        json!({ "scenario": "flood", "stale_sources": a.stale_sources, "attempts": a.attempts, "good": a.good,
                "good_succeeded": good_lat.len() - good_errors, "unauthorized": unauthorized, "locked_out": locked,
                "lockouts_4740": lockouts.len(), "lock_scopes": serde_json::Map::from_iter(scope_counts.map(|(k, n)| (k.to_string(), json!(n)))), "argon2_hashes": hashes, "attempts_per_s": (total + a.good) as f64 / wall,
                "server_cpu_us_per_attempt": cpu / (total + a.good) as f64 * 1e6, "hash_budget": hash_budget, "mode": policy.mode.as_str(), "target_met": smart && met }),
        a.json,
    )?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The events of one id, asked of the running site (admin socket), a page at a time.
async fn events(site: &SiteUnderTest, id: &str) -> Result<Vec<serde_json::Value>> {
    let mut q = acc_site::admin::EventQuery { id: Some(id.to_string()), all: true, ..Default::default() };
    let mut out = Vec::new();
    loop {
        let page: acc_site::admin::EventPage =
            serde_json::from_value(site.admin(&acc_site::admin::Request::Events(q.clone())).await?)?;
        out.extend(page.events);
        match page.next {
            Some(next) => q.cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Joins `n` simulated sites, spread across the `nodes` (round-robin).
async fn sim_sites(nodes: &std::sync::Arc<server::Nodes>, n: usize) -> Result<Vec<server::SimSite>> {
    let mut admin = nodes.first().admin().await?;
    let token = admin.call("POST", "/v1/site-tokens", json!({ "uses": n, "ttl_secs": 3600 })).await?;
    let token = token["token"].as_str().unwrap_or_default().to_string();
    let mut joins = tokio::task::JoinSet::new();
    for i in 0..n {
        let (nodes, token) = (nodes.clone(), token.clone());
        joins.spawn(async move {
            server::SimSite::join(nodes.for_client(i), &token, &format!("SIM-{i:04}")).await
        });
    }
    let mut sites = Vec::with_capacity(n);
    while let Some(r) = joins.join_next().await {
        sites.push(r??);
    }
    Ok(sites)
}

/// How the table names the nodes and their store.
fn nodes_line(n: usize, database: Option<&str>) -> String {
    match database {
        Some(_) => format!("{n} node(s) on PostgreSQL"),
        None => "1 node on SQLite".into(),
    }
}

async fn propagation(a: PropagationArgs) -> Result<ExitCode> {
    let server = std::sync::Arc::new(server::Nodes::start(a.database.as_deref(), a.nodes).await?);
    let mut sites = sim_sites(&server, a.sites).await?;
    for s in &mut sites {
        s.poll_and_ack(0).await?;
    }
    // The simulated agents run on a runtime of their own: real agents and sites are other
    // machines, and in one runtime the sites' acknowledgements would wait behind the
    // benchmark's own processing of 10,000 agent responses.
    let agents_rt = match a.agents {
        0 => None,
        _ => Some(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?),
    };
    let mut fleet = match &agents_rt {
        None => None,
        Some(rt) => {
            let (server, n) = (server.clone(), a.agents);
            Some(rt.spawn(async move { agents::Fleet::start(&server, n).await }).await??)
        }
    };
    if let Some(f) = &fleet {
        anyhow::ensure!(f.failures == 0, "{} of {} simulated agents failed to start", f.failures, a.agents);
    }
    let mut admin = server.first().admin().await?;
    let (mut times, mut agent_times) = (Vec::new(), Vec::new());
    for change in 0..a.changes {
        // Every site long-polls; the change is saved; each acknowledges what it got.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut polls = Vec::new();
        for mut s in sites.drain(..) {
            let tx = tx.clone();
            polls.push(tokio::spawn(async move {
                let got = s.poll_and_ack(30).await;
                let _ = tx.send(Instant::now());
                got.map(|_| s)
            }));
        }
        drop(tx);
        // Give the long-polls a moment to reach the server (they would be answered at once
        // otherwise, which only flatters the figure).
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let threshold = 3 + (change % 5) as u32;
        let saved = admin
            .call(
                "PUT",
                "/v1/settings/site",
                json!({ "mode": "classic", "threshold": threshold + 10 * (change as u32 % 2) }),
            )
            .await?;
        let mut last = started;
        while let Some(t) = rx.recv().await {
            last = last.max(t);
        }
        if let Some(f) = fleet.as_mut() {
            agent_times.push(f.reached(saved["revision"].as_i64().unwrap_or(0), started).await? - started);
        }
        for p in polls {
            sites.push(p.await??);
        }
        times.push(last - started);
    }
    drop(fleet);
    if let Some(rt) = agents_rt {
        rt.shutdown_background();
    }
    let revision = sites.first().map(|s| s.revision).unwrap_or(0);
    let at_last = sites.iter().filter(|s| s.revision == revision).count();
    let all_same = at_last == sites.len();
    times.sort();
    agent_times.sort();
    let (median, worst) = (percentile(&times, 0.5), times.last().copied().unwrap_or_default());
    let (agents_median, agents_worst) =
        (percentile(&agent_times, 0.5), agent_times.last().copied().unwrap_or_default());
    let ok = all_same && worst <= Duration::from_secs(2);
    let mut table = vec![
        (
            "scenario",
            format!(
                "policy propagation: {} simulated site servers and {} agents on mTLS long-polls, {} changes; {}",
                a.sites,
                a.agents,
                a.changes,
                nodes_line(a.nodes, a.database.as_deref())
            ),
        ),
        ("save → every site acknowledged, median / max", format!("{:.1} / {:.1} ms", ms(median), ms(worst))),
    ];
    if a.agents > 0 {
        table.push((
            "save → every agent has it, median / max",
            format!("{:.1} / {:.1} ms", ms(agents_median), ms(agents_worst)),
        ));
    }
    table.extend([
        ("sites at the last revision", format!("{at_last}/{} (revision {revision})", sites.len())),
        ("server resident memory (all nodes)", format!("{:.1} MiB", server.rss_kib() as f64 / 1024.0)),
        ("target (100 sites within 2 s)", if ok { "met".into() } else { "NOT MET".into() }),
    ]);
    emit(
        &table,
        json!({ "scenario": "propagation", "sites": a.sites, "agents": a.agents, "changes": a.changes, "median_ms": ms(median), "max_ms": ms(worst),
                "nodes": a.nodes, "backend": if a.database.is_some() { "postgres" } else { "sqlite" },
                "agents_median_ms": ms(agents_median), "agents_max_ms": ms(agents_worst),
                "at_last_revision": at_last, "revision": revision,
                "server_rss_kib": server.rss_kib(), "target_met": ok }),
        a.json,
    )?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

async fn event_ingest(a: EventsArgs) -> Result<ExitCode> {
    let server = std::sync::Arc::new(server::Nodes::start(a.database.as_deref(), a.nodes).await?);
    let sites = sim_sites(&server, a.sites.max(1)).await?;
    let per_site = a.events / sites.len() as i64;
    let batch = a.batch.clamp(1, 1000);
    let cpu_before = server.cpu_secs();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for mut s in sites {
        tasks.push(tokio::spawn(async move {
            let mut stored = 0;
            let mut seq = 1;
            while seq <= per_site {
                let n = batch.min(per_site - seq + 1);
                stored += s.send_events(seq, n).await?;
                seq += n;
            }
            anyhow::Ok(stored)
        }));
    }
    let mut stored = 0;
    for t in tasks {
        stored += t.await??;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = server.cpu_secs() - cpu_before;
    let total = per_site * a.sites.max(1) as i64;
    let rate = stored as f64 / wall;
    let ok = stored == total as u64 && rate >= 20_000.0;
    emit(
        &[
            (
                "scenario",
                format!(
                    "event ingest: {} simulated sites, batches of {batch}, {total} events; {}",
                    a.sites.max(1),
                    nodes_line(a.nodes, a.database.as_deref())
                ),
            ),
            ("events stored/s", format!("{rate:.0}")),
            ("stored", format!("{stored}/{total}")),
            (
                "server CPU per event (all nodes)",
                format!("{:.1} µs ({cpu:.2} s)", cpu / total.max(1) as f64 * 1e6),
            ),
            ("target (>= 20,000 events/s)", if ok { "met".into() } else { "NOT MET".into() }),
        ],
        json!({ "scenario": "events", "sites": a.sites, "events": total, "stored": stored, "events_per_s": rate,
                "nodes": a.nodes, "backend": if a.database.is_some() { "postgres" } else { "sqlite" },
                "server_cpu_s": cpu, "target_met": ok }),
        a.json,
    )?;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
