//! `acc bench agents`: N simulated agents check in with one real `acc server run` and hold
//! a policy long-poll each, over their own mTLS connection with their own certificate of
//! the fleet CA (issued here with the CA key of the benchmark's server: issuing is the
//! CA benchmark's subject, not this one's). Measures the server's resident memory with
//! every agent waiting, and how long a saved change takes to reach all of them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acc_core::time::{Clock as _, SystemClock};
use acc_net::client::{ClientTls, Connection};
use acc_pki::key::{Curve, PrivateKey};
use acc_pki::x509::{Ca, Profile};
use acc_proto::AgentPolicy;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use serde_json::json;
use tokio::sync::{Semaphore, mpsc};

use super::server::{Nodes, ServerUnderTest};

/// The long-poll's wait, seconds.
const WAIT: u64 = 55;

/// Issues `n` agent certificates `CN=bench-agent-NNNNN` for one key.
pub(super) fn agent_certificates(
    server: &ServerUnderTest,
    key: &PrivateKey,
    n: usize,
) -> Result<Vec<String>> {
    let layout = acc_server::layout::Layout::new(&server.dir);
    let ca_key = PrivateKey::from_bytes(&std::fs::read(layout.ca_key())?)?;
    let ca = Ca::new(&std::fs::read(layout.ca_cert())?, ca_key)?;
    let spki = key.public_key_der()?;
    let now = SystemClock.now_utc() - time::Duration::minutes(5);
    (0..n)
        .map(|i| {
            let subject =
                acc_pki::subject::Subject::parse(&format!("/O=acc/OU=agent/CN=bench-agent-{i:05}"))?;
            let serial = acc_pki::serial::random()?;
            let der = ca.issue_raw(&subject.to_der(), &spki, &[], Profile::Client, 30, &serial, now)?;
            Ok(acc_pki::pem::encode("CERTIFICATE", &der))
        })
        .collect()
}

/// One simulated agent: connects, fetches its policy, checks in, then long-polls for
/// ever, reporting each revision it receives (and when).
async fn agent(
    tls: ClientTls,
    endpoint: acc_net::client::Endpoint,
    handshakes: Arc<Semaphore>,
    ready: mpsc::UnboundedSender<Result<()>>,
    received: mpsc::UnboundedSender<(i64, Instant)>,
) {
    let setup = async {
        let permit = handshakes.acquire().await?;
        let mut conn = Connection::open(&tls, &endpoint).await?;
        drop(permit);
        let r = conn.send("GET", "/v1/agent/policy?after=0", &[], Bytes::new()).await?;
        if r.status.as_u16() != 200 {
            bail!("policy: {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
        let policy: AgentPolicy = serde_json::from_slice(&r.body).context("agent policy")?;
        let body = json!({ "seq": 1, "revision": policy.revision, "auth_mode": policy.auth.mode, "version": "bench" });
        let r = conn
            .send(
                "POST",
                "/v1/agent/checkin",
                &[("content-type", "application/json")],
                Bytes::from(body.to_string()),
            )
            .await?;
        if !r.status.is_success() {
            bail!("check-in: {}", r.status);
        }
        Ok((conn, policy.revision))
    };
    let (mut conn, mut revision) = match setup.await {
        Ok(v) => v,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    let _ = ready.send(Ok(()));
    loop {
        let path = format!("/v1/agent/policy?after={revision}&wait={WAIT}");
        let Ok(r) = conn.send("GET", &path, &[], Bytes::new()).await else { return };
        if r.status.as_u16() == 200 {
            let Ok(policy) = serde_json::from_slice::<AgentPolicy>(&r.body) else { return };
            revision = policy.revision;
            let _ = received.send((revision, Instant::now()));
        }
    }
}

/// Simulated agents checked in and long-polling one server.
pub struct Fleet {
    /// Agents waiting on their long-poll.
    pub waiting: usize,
    /// Agents that failed to connect, fetch their policy or check in.
    pub failures: usize,
    /// How long issuing their certificates took.
    pub issued: Duration,
    /// How long until every agent was waiting (or had failed).
    pub connected: Duration,
    /// Each revision an agent receives, and when.
    pub received: mpsc::UnboundedReceiver<(i64, Instant)>,
}

impl Fleet {
    /// Issues `n` certificates, starts `n` agents spread across the `nodes` (round-robin)
    /// and waits until each one is long-polling or has failed.
    pub async fn start(nodes: &Nodes, n: usize) -> Result<Fleet> {
        let key = PrivateKey::generate(Curve::P256)?;
        let key_pem = key.to_pkcs8_pem()?;
        let started = Instant::now();
        let server = nodes.first();
        let certs = tokio::task::block_in_place(|| agent_certificates(server, &key, n))?;
        let issued = started.elapsed();
        let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
        let (got_tx, received) = mpsc::unbounded_channel();
        let handshakes = Arc::new(Semaphore::new(64));
        let started = Instant::now();
        for (i, cert) in certs.iter().enumerate() {
            let tls = ClientTls::new(&server.ca_pem, Some((cert.as_bytes(), key_pem.as_bytes())))?;
            tokio::spawn(agent(
                tls,
                nodes.for_client(i).endpoint.clone(),
                handshakes.clone(),
                ready_tx.clone(),
                got_tx.clone(),
            ));
        }
        drop((ready_tx, got_tx));
        let mut failures = 0usize;
        for _ in 0..n {
            match ready_rx.recv().await {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    if failures == 0 {
                        errln!("bench: an agent failed: {e:#}");
                    }
                    failures += 1;
                }
                None => break,
            }
        }
        Ok(Fleet { waiting: n - failures, failures, issued, connected: started.elapsed(), received })
    }

    /// Waits (at most 30 s) until every waiting agent has `revision` or later; returns
    /// when the last one got it.
    pub async fn reached(&mut self, revision: i64, since: Instant) -> Result<Instant> {
        let mut reached = 0;
        let mut last = since;
        while reached < self.waiting {
            let Ok(Some((r, at))) = tokio::time::timeout(Duration::from_secs(30), self.received.recv()).await
            else {
                bail!("revision {revision} reached {reached} of {} agents within 30 s", self.waiting);
            };
            if r >= revision {
                reached += 1;
                last = last.max(at);
            }
        }
        Ok(last)
    }
}

/// Runs the benchmark; returns its table and JSON.
pub async fn run(
    agents: usize,
    changes: usize,
) -> Result<(Vec<(&'static str, String)>, serde_json::Value, bool)> {
    let nodes = Nodes::start(None, 1).await?;
    let server = nodes.first();
    let rss_idle = server.rss_kib();
    let mut fleet = Fleet::start(&nodes, agents).await?;
    let (waiting, failures) = (fleet.waiting, fleet.failures);
    // Let every long-poll reach the server before reading its memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_waiting = server.rss_kib();
    let mut admin = server.admin().await?;
    let mut times = Vec::new();
    let cpu_before = server.cpu_secs();
    for change in 0..changes {
        let saved = Instant::now();
        let v = admin
            .call("PUT", "/v1/settings/site", json!({ "mode": "classic", "threshold": 4 + (change % 2) * 6 }))
            .await?;
        let revision = v["revision"].as_i64().unwrap_or(0);
        let last = fleet.reached(revision, saved).await?;
        times.push(last - saved);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let cpu_changes = server.cpu_secs() - cpu_before;
    let rss_after = server.rss_kib();
    times.sort();
    let median = super::percentile(&times, 0.5);
    let worst = times.last().copied().unwrap_or_default();
    let mib = |kib: u64| kib as f64 / 1024.0;
    let ok = failures == 0 && rss_waiting < 500 * 1024;
    let table = vec![
        (
            "scenario",
            format!(
                "{agents} simulated agents, each on its own mTLS connection with its own fleet certificate, long-polling their policy; {changes} changes"
            ),
        ),
        (
            "agents checked in and waiting",
            format!(
                "{waiting}/{agents} (in {:.1} s; certificates issued in {:.1} s)",
                fleet.connected.as_secs_f64(),
                fleet.issued.as_secs_f64()
            ),
        ),
        (
            "server resident memory, idle → all waiting",
            format!(
                "{:.1} → {:.1} MiB ({:.1} KiB per waiting agent)",
                mib(rss_idle),
                mib(rss_waiting),
                (rss_waiting.saturating_sub(rss_idle)) as f64 / waiting.max(1) as f64
            ),
        ),
        (
            "server resident memory after the changes / peak",
            format!("{:.1} / {:.1} MiB", mib(rss_after), mib(server.peak_rss_kib())),
        ),
        (
            "save → every agent has the new policy, median / max",
            format!("{:.0} / {:.0} ms", super::ms(median), super::ms(worst)),
        ),
        (
            "server CPU per change delivered to every agent",
            format!("{:.2} s", cpu_changes / changes.max(1) as f64),
        ),
        ("target (10,000 agents under 500 MiB)", if ok { "met".into() } else { "NOT MET".into() }),
    ];
    let json = json!({ "scenario": "agents", "agents": agents, "waiting": waiting, "rss_idle_kib": rss_idle, "rss_waiting_kib": rss_waiting,
                       "peak_rss_kib": server.peak_rss_kib(), "rss_after_changes_kib": rss_after, "change_median_ms": super::ms(median), "change_max_ms": super::ms(worst), "target_met": ok });
    Ok((table, json, ok))
}
