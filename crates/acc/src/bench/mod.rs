//! `acc bench`: load against real `acc` processes, reported as a table and JSON.
//!
//! - `register`: N distinct agents register with the ACC over HTTPS keep-alive
//!   (issue 3: at least 2,000 registrations/s, p99 under 50 ms, one site on 2 cores; see
//!   `register.rs`).
//! - `flood`: stale sources hammer the ACC with an old password while good agents
//!   register (issue 3: in smart mode every good registration succeeds, and the flood
//!   costs no Argon2 hash after each source's first rejections; see `flood.rs`).
//! - `propagation`: a policy change acknowledged by M simulated site servers and received
//!   by N simulated agents (issue 4: 100 sites within 2 s; see `propagation.rs`).
//! - `events`: event ingest from simulated sites (issue 4: at least 20,000 events/s; see
//!   `ingest.rs`).
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
//!
//! This module holds the command line, the dispatch and what the benchmarks share: the
//! ACC's credential, registrations, percentiles, the table and JSON output, simulated sites.

mod agents;
pub mod console;
mod download;
mod eventlog;
mod failover;
mod flood;
mod ingest;
mod longpoll;
mod propagation;
mod register;
mod server;
mod site;
mod slowloris;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use clap::{Args, Subcommand};
use serde_json::json;

use acc_net::client::{ClientTls as Tls, Connection};

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
            BenchCommand::Register(a) => register::run(a).await,
            BenchCommand::Flood(a) => flood::run(a).await,
            BenchCommand::Propagation(a) => propagation::run(a).await,
            BenchCommand::Events(a) => ingest::run(a).await,
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

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
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
