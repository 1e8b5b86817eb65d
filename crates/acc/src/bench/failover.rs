//! `acc bench failover`: N management server nodes on one PostgreSQL database, S simulated
//! site servers and A simulated agents long-polling their policy, spread across the nodes
//! (round-robin). The node with the most clients is killed (SIGKILL, as a machine that
//! dies), a change is saved through a survivor, and every client reconnects as the real
//! ones do: the node in use, then the others in list order (`acc_core::failover`), paced
//! by the site's and the agent's retry policies (`acc_site::managed::RETRY`,
//! `acc_agent::run::MGMT_RETRY`), jittered. Measured from the kill: when each client of
//! the dead node is connected to a survivor again, and when every client has the change.

use std::time::{Duration, Instant};

use acc_core::failover::{NodeList, jittered, random_unit};
use acc_core::retry::{Ended, Retry, RetryPolicy};
use acc_net::client::{ClientTls, Connection};
use acc_pki::key::{Curve, PrivateKey};
use acc_proto::{AgentPolicy, SiteAck, SitePolicy};
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Args;
use serde_json::json;
use tokio::sync::mpsc;

use super::server::Nodes;
use super::{ms, percentile};

/// The long-poll's wait, seconds.
const WAIT: u64 = 25;
/// How long every client may take to have the change saved after the kill.
const DEADLINE: Duration = Duration::from_secs(120);
/// The propagation target a client's first wait is added to.
const PROPAGATION: Duration = Duration::from_secs(2);

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// Management server nodes (at least 2).
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Simulated site servers.
    #[arg(long, default_value_t = 100)]
    sites: usize,
    /// Simulated agents.
    #[arg(long, default_value_t = 1000)]
    agents: usize,
    /// The store: an empty PostgreSQL database (`postgres://USER@HOST[:PORT]/DB`; the
    /// password from `PGPASSFILE`).
    #[arg(long, value_name = "URL")]
    database: String,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    pub json: Option<std::path::PathBuf>,
}

/// A site server or an agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Site,
    Agent,
}

impl Kind {
    fn policy_path(self) -> &'static str {
        match self {
            Kind::Site => "/v1/site/policy",
            Kind::Agent => "/v1/agent/policy",
        }
    }

    /// Its retry policy, the real client's.
    fn retry(self) -> RetryPolicy {
        match self {
            Kind::Site => acc_site::managed::RETRY,
            Kind::Agent => acc_agent::run::MGMT_RETRY,
        }
    }
}

/// What a client reports, and when.
enum Seen {
    /// Connected to the node at this URL.
    Connected(String),
    /// Has this revision.
    Revision(i64),
}

/// How a session ended.
struct End {
    progressed: bool,
    /// The status of a refusal.
    refused: Option<u16>,
}

/// One simulated client: connects, long-polls and (a site) acknowledges, for ever; after a
/// connection ends it waits as the real client would and connects again.
async fn follow(
    client: usize,
    kind: Kind,
    tls: ClientTls,
    mut nodes: NodeList,
    tx: mpsc::UnboundedSender<(usize, Instant, Seen)>,
) {
    let mut retry = Retry::new(kind.retry());
    let mut revision = 0;
    loop {
        let end = match Connection::open_first(&tls, &nodes.order()).await {
            Ok((mut conn, url)) => {
                nodes.answered(&url);
                if tx.send((client, Instant::now(), Seen::Connected(url))).is_err() {
                    return;
                }
                session(&mut conn, client, kind, &mut revision, &tx).await
            }
            Err(_) => End { progressed: false, refused: None },
        };
        if tx.is_closed() {
            return;
        }
        let ended = match end.refused {
            Some(status) => {
                if acc_net::client::node_unavailable(status) {
                    nodes.skip();
                }
                Ended::Refused
            }
            None if end.progressed => Ended::AfterProgress,
            None => Ended::Unreachable,
        };
        tokio::time::sleep(jittered(retry.after(ended), random_unit())).await;
    }
}

/// One connection's long-polls until it ends.
async fn session(
    conn: &mut Connection,
    client: usize,
    kind: Kind,
    revision: &mut i64,
    tx: &mpsc::UnboundedSender<(usize, Instant, Seen)>,
) -> End {
    let mut progressed = false;
    loop {
        let path = format!("{}?after={revision}&wait={WAIT}", kind.policy_path());
        let Ok(r) = conn.send("GET", &path, &[], Bytes::new()).await else {
            return End { progressed, refused: None };
        };
        match r.status.as_u16() {
            204 => {
                progressed = true;
                continue;
            }
            200 => {}
            status => return End { progressed, refused: Some(status) },
        }
        let got = match kind {
            Kind::Site => serde_json::from_slice::<SitePolicy>(&r.body).map(|p| p.revision),
            Kind::Agent => serde_json::from_slice::<AgentPolicy>(&r.body).map(|p| p.revision),
        };
        let Ok(got) = got else { return End { progressed, refused: Some(200) } };
        if kind == Kind::Site {
            let ack =
                serde_json::to_vec(&SiteAck { revision: got, ..Default::default() }).unwrap_or_default();
            let headers = [("content-type", "application/json")];
            match conn.send("POST", "/v1/site/ack", &headers, Bytes::from(ack)).await {
                Ok(r) if r.status.is_success() => {}
                Ok(r) => return End { progressed, refused: Some(r.status.as_u16()) },
                Err(_) => return End { progressed, refused: None },
            }
        }
        progressed = true;
        *revision = got;
        if tx.send((client, Instant::now(), Seen::Revision(got))).is_err() {
            return End { progressed, refused: None };
        }
    }
}

/// What the benchmark learnt of one client.
#[derive(Default, Clone)]
struct Track {
    kind: Option<Kind>,
    /// Whether it was connected to the node killed when it was killed (a client whose
    /// first connection failed under load may have started on the next node).
    on_dead: bool,
    revision: i64,
    /// The node it was connected to last.
    url: String,
    /// First connection after the kill.
    reconnected: Option<Instant>,
    /// When it had the change saved after the kill.
    changed: Option<Instant>,
}

/// Median and max of `times` after `since`, in ms.
fn spread(times: impl Iterator<Item = Instant>, since: Instant) -> (f64, f64, usize) {
    let mut d: Vec<Duration> = times.map(|t| t.saturating_duration_since(since)).collect();
    d.sort();
    (ms(percentile(&d, 0.5)), ms(d.last().copied().unwrap_or_default()), d.len())
}

/// Runs the benchmark; returns its table, JSON and whether the target was met.
pub async fn run(a: FailoverArgs) -> Result<(Vec<(&'static str, String)>, serde_json::Value, bool)> {
    if a.nodes < 2 {
        bail!("--nodes {}: failover needs at least 2 nodes", a.nodes);
    }
    let nodes = std::sync::Arc::new(Nodes::start(Some(&a.database), a.nodes).await?);
    let urls = nodes.urls();
    let sites = super::sim_sites(&nodes, a.sites).await?;
    let key = PrivateKey::generate(Curve::P256)?;
    let key_pem = key.to_pkcs8_pem()?;
    let certs =
        tokio::task::block_in_place(|| super::agents::agent_certificates(nodes.first(), &key, a.agents))?;
    // Each client starts on its node (sites and agents round-robin), the others after it.
    let mut clients: Vec<(Kind, usize, ClientTls)> =
        sites.into_iter().enumerate().map(|(i, s)| (Kind::Site, i % a.nodes, s.tls)).collect();
    for (i, cert) in certs.iter().enumerate() {
        let tls = ClientTls::new(&nodes.first().ca_pem, Some((cert.as_bytes(), key_pem.as_bytes())))?;
        clients.push((Kind::Agent, i % a.nodes, tls));
    }
    let mut per_node = vec![0usize; a.nodes];
    for (_, home, _) in &clients {
        per_node[*home] += 1;
    }
    let dead = (0..a.nodes).max_by_key(|&k| (per_node[k], std::cmp::Reverse(k))).unwrap_or(0);
    let survivor = (dead + 1) % a.nodes;

    // The clients run on a runtime of their own, as other machines would.
    let clients_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut track = vec![Track::default(); clients.len()];
    for (c, (kind, home, tls)) in clients.into_iter().enumerate() {
        let mut list = NodeList::new(urls.clone()).context("no node")?;
        list.answered(&urls[home]);
        track[c] = Track { kind: Some(kind), ..Default::default() };
        clients_rt.spawn(follow(c, kind, tls, list, tx.clone()));
    }
    drop(tx);
    // Every client connected and holding its first policy.
    let mut ready = 0;
    let setup_deadline = Instant::now() + DEADLINE;
    while ready < track.len() {
        let left = setup_deadline.saturating_duration_since(Instant::now());
        let Ok(Some((c, _, seen))) = tokio::time::timeout(left, rx.recv()).await else {
            bail!("only {ready} of {} clients had their policy within {DEADLINE:?}", track.len());
        };
        match seen {
            Seen::Connected(url) => track[c].url = url,
            Seen::Revision(r) => {
                if track[c].revision == 0 {
                    ready += 1;
                }
                track[c].revision = r;
            }
        }
    }
    // Give the long-polls a moment to reach the servers (as `propagation` does).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut admin = nodes.nodes[survivor].admin().await?;

    let mut nodes = std::sync::Arc::into_inner(nodes).context("the nodes are still shared")?;
    for t in &mut track {
        t.on_dead = t.url == urls[dead];
    }
    let killed = Instant::now();
    nodes.nodes[dead].kill()?;
    let saved = admin.call("PUT", "/v1/settings/site", json!({ "mode": "classic", "threshold": 7 })).await?;
    let saved_at = Instant::now();
    let revision = saved["revision"].as_i64().context("the save answered no revision")?;
    let mut changed = 0;
    let deadline = killed + DEADLINE;
    while changed < track.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let Ok(Some((c, at, seen))) = tokio::time::timeout(left, rx.recv()).await else { break };
        let t = &mut track[c];
        match seen {
            Seen::Connected(url) => {
                if t.reconnected.is_none() {
                    t.reconnected = Some(at);
                }
                t.url = url;
            }
            Seen::Revision(r) => {
                t.revision = r;
                if r >= revision && t.changed.is_none() {
                    t.changed = Some(at);
                    changed += 1;
                }
            }
        }
    }
    clients_rt.shutdown_background();

    let dead_url = &urls[dead];
    let moved = |kind: Kind| track.iter().filter(move |t| t.kind == Some(kind) && t.on_dead);
    let of = |kind: Kind| track.iter().filter(move |t| t.kind == Some(kind));
    let (site_back, agent_back) = (
        spread(moved(Kind::Site).filter_map(|t| t.reconnected), killed),
        spread(moved(Kind::Agent).filter_map(|t| t.reconnected), killed),
    );
    let (site_change, agent_change) = (
        spread(of(Kind::Site).filter_map(|t| t.changed), killed),
        spread(of(Kind::Agent).filter_map(|t| t.changed), killed),
    );
    let (moved_site_change, moved_agent_change) = (
        spread(moved(Kind::Site).filter_map(|t| t.changed), killed),
        spread(moved(Kind::Agent).filter_map(|t| t.changed), killed),
    );
    let moved_total = moved(Kind::Site).count() + moved(Kind::Agent).count();
    let on_survivors = track.iter().filter(|t| t.on_dead && t.url != *dead_url).count();
    // The bound: a client's first wait after a connection that worked (its retry policy's
    // first unreachable wait; jittered, never more) plus the propagation target.
    let bound = |kind: Kind| ms(kind.retry().unreachable_first + PROPAGATION);
    let ok = changed == track.len()
        && on_survivors == moved_total
        && site_change.1 <= bound(Kind::Site)
        && (a.agents == 0 || agent_change.1 <= bound(Kind::Agent));
    let figures = |(median, max, n): (f64, f64, usize)| format!("{median:.0} / {max:.0} ms ({n})");
    let table = vec![
        (
            "scenario",
            format!(
                "failover: {} nodes on PostgreSQL, {} simulated sites and {} agents long-polling (round-robin); node {} ({} clients) killed with SIGKILL, a change saved through node {}",
                a.nodes,
                a.sites,
                a.agents,
                dead + 1,
                per_node[dead],
                survivor + 1
            ),
        ),
        ("change saved after the kill", format!("{:.0} ms (revision {revision})", ms(saved_at - killed))),
        ("kill → sites of the dead node on a survivor, median / max", figures(site_back)),
        ("kill → agents of the dead node on a survivor, median / max", figures(agent_back)),
        ("kill → every site has the change, median / max", figures(site_change)),
        ("kill → every agent has the change, median / max", figures(agent_change)),
        ("  of them the dead node's sites", figures(moved_site_change)),
        ("  of them the dead node's agents", figures(moved_agent_change)),
        ("clients with the change", format!("{changed}/{}", track.len())),
        ("clients of the dead node on a survivor", format!("{on_survivors}/{moved_total}")),
        (
            "target (first retry wait + 2 s: sites 2.2 s, agents 3 s)",
            if ok { "met".into() } else { "NOT MET".into() },
        ),
    ];
    let json = json!({ "scenario": "failover", "nodes": a.nodes, "sites": a.sites, "agents": a.agents,
        "killed_node": dead + 1, "killed_node_clients": per_node[dead], "revision": revision,
        "saved_after_kill_ms": ms(saved_at - killed),
        "site_reconnect_median_ms": site_back.0, "site_reconnect_max_ms": site_back.1, "sites_moved": site_back.2,
        "agent_reconnect_median_ms": agent_back.0, "agent_reconnect_max_ms": agent_back.1, "agents_moved": agent_back.2,
        "site_change_median_ms": site_change.0, "site_change_max_ms": site_change.1,
        "agent_change_median_ms": agent_change.0, "agent_change_max_ms": agent_change.1,
        "moved_site_change_max_ms": moved_site_change.1, "moved_agent_change_max_ms": moved_agent_change.1,
        "clients": track.len(), "clients_with_change": changed, "moved_on_survivors": on_survivors,
        "moved": moved_total, "target_met": ok });
    drop(nodes);
    Ok((table, json, ok))
}
