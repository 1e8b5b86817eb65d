//! `acc bench longpoll`: how many agents one real `acc site run` holds on its task
//! long-poll, and how fast a task reaches all of them. N simulated agents, each on its own
//! keep-alive TLS connection and authenticated as the ACC (as `acc agent run` is), register
//! (each keeps the token its registration answers and presents it with every request for
//! its id) and hold `GET /v1/tasks?wait=55`; the site's resident memory is read once the site itself
//! counts every long-poll waiting (`task_waiters`). Then one task is sent to every agent
//! through the admin socket (as `acc site tasks send` does), and each agent posts its result
//! as soon as the task arrives: the figures are the time until every agent has its task and
//! until every result is stored.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acc_core::lockout::LockoutPolicy;
use acc_net::client::{ClientTls, Connection};
use acc_proto::agent_site::{HEADER_AGENT_HOST, HEADER_AGENT_ID, HEADER_AGENT_TOKEN, Registered};
use acc_site::admin::Request;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};

use super::site::{SiteUnderTest, admin_call};

/// The long-poll's wait, seconds (the agent's own).
const WAIT: u64 = 55;
/// Admin-socket requests sending tasks at once.
const SENDERS: usize = 16;

/// What a simulated agent reports.
enum Seen {
    Ready(Result<()>),
    Delivered(Instant),
    Completed(Instant),
}

/// One simulated agent: registers, then long-polls for ever, answering each task at once.
async fn agent(
    i: usize,
    tls: ClientTls,
    addr: std::net::SocketAddr,
    handshakes: Arc<Semaphore>,
    seen: mpsc::UnboundedSender<Seen>,
) {
    let (host, body) = super::registration(i, "lp");
    let id = format!("{host}-id");
    let auth = super::basic(super::ACC_USER, super::ACC_PASSWORD);
    let named = [
        ("authorization", auth.as_str()),
        (HEADER_AGENT_HOST, host.as_str()),
        (HEADER_AGENT_ID, id.as_str()),
    ];
    let setup = async {
        let permit = handshakes.acquire().await?;
        let mut conn = Connection::open_addr(&tls, addr).await?;
        drop(permit);
        let r = conn.send("POST", "/v1/register", &named, body).await?;
        if r.status.as_u16() != 200 {
            bail!("register {host}: {} {}", r.status, String::from_utf8_lossy(&r.body));
        }
        let registered: Registered = serde_json::from_slice(&r.body).context("register answer")?;
        Ok((conn, registered.agent_token.expose().to_string()))
    };
    let (mut conn, token) = match setup.await {
        Ok(c) => {
            let _ = seen.send(Seen::Ready(Ok(())));
            c
        }
        Err(e) => {
            let _ = seen.send(Seen::Ready(Err(e)));
            return;
        }
    };
    // Every request for the id presents the token its registration answered.
    let mut headers = named.to_vec();
    headers.push((HEADER_AGENT_TOKEN, token.as_str()));
    let poll = format!("/v1/tasks?wait={WAIT}");
    let result = Bytes::from_static(br#"{"status":"completed","output":"bench"}"#);
    let mut with_type = headers.to_vec();
    with_type.push(("content-type", "application/json"));
    loop {
        let Ok(r) = conn.send("GET", &poll, &headers, Bytes::new()).await else { return };
        if r.status.as_u16() != 200 {
            return;
        }
        let Ok(answer) = serde_json::from_slice::<Value>(&r.body) else { return };
        for task in answer["tasks"].as_array().into_iter().flatten() {
            let _ = seen.send(Seen::Delivered(Instant::now()));
            let path = format!("/v1/tasks/{}/result", task["id"].as_str().unwrap_or_default());
            match conn.send("POST", &path, &with_type, result.clone()).await {
                Ok(r) if r.status.is_success() => {
                    let _ = seen.send(Seen::Completed(Instant::now()));
                }
                _ => return,
            }
        }
    }
}

/// Sends one `inventory` task to each of `agents` through the admin socket.
async fn send_tasks(site: &SiteUnderTest, agents: usize) -> Result<()> {
    let mut sends = tokio::task::JoinSet::new();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    for _ in 0..SENDERS {
        let next = next.clone();
        let socket = site.admin_socket();
        sends.spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= agents {
                    return anyhow::Ok(());
                }
                let (host, _) = super::registration(i, "lp");
                let request = Request::TasksSend {
                    agent: format!("{host}-id"),
                    task_type: "inventory".into(),
                    payload: Some(json!({ "full": false })),
                };
                admin_call(&socket, &request).await.with_context(|| format!("send a task to {host}"))?;
            }
        });
    }
    while let Some(r) = sends.join_next().await {
        r??;
    }
    Ok(())
}

/// Waits (bounded) until the site counts `n` long-polls waiting; returns how many it counts.
async fn waiters(site: &SiteUnderTest, n: usize) -> Result<usize> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let count = site.stats().await?["task_waiters"].as_u64().unwrap_or(0) as usize;
        if count >= n || Instant::now() > deadline {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Runs the benchmark; returns its table, JSON and whether every agent was served.
pub async fn run(agents: usize) -> Result<(Vec<(&'static str, String)>, Value, bool)> {
    let site = SiteUnderTest::start(super::ACC_USER, super::ACC_PASSWORD, LockoutPolicy::default()).await?;
    let tls = ClientTls::new(&site.ca_pem()?, None)?;
    let rss_idle = site.rss_kib();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let handshakes = Arc::new(Semaphore::new(64));
    let started = Instant::now();
    for i in 0..agents {
        tokio::spawn(agent(i, tls.clone(), site.addr, handshakes.clone(), tx.clone()));
    }
    drop(tx);
    let mut failures = 0usize;
    let mut ready = 0usize;
    while ready + failures < agents {
        match rx.recv().await {
            Some(Seen::Ready(Ok(()))) => ready += 1,
            Some(Seen::Ready(Err(e))) => {
                if failures == 0 {
                    errln!("bench: an agent failed: {e:#}");
                }
                failures += 1;
            }
            Some(_) => {}
            None => break,
        }
    }
    let connected = started.elapsed();
    let waiting = waiters(&site, ready).await?;
    let rss_waiting = site.rss_kib();
    let cpu_before = site.cpu_seconds()?;
    let sent_from = Instant::now();
    send_tasks(&site, ready).await?;
    let sent = sent_from.elapsed();
    let (mut delivered, mut completed) = (0usize, 0usize);
    let (mut last_delivered, mut last_completed) = (sent_from, sent_from);
    while completed < ready {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(Seen::Delivered(at))) => {
                delivered += 1;
                last_delivered = last_delivered.max(at);
            }
            Ok(Some(Seen::Completed(at))) => {
                completed += 1;
                last_completed = last_completed.max(at);
            }
            Ok(Some(Seen::Ready(_))) => {}
            Ok(None) | Err(_) => break,
        }
    }
    let cpu = site.cpu_seconds()? - cpu_before;
    let mib = |kib: u64| kib as f64 / 1024.0;
    let per_agent_kib = rss_waiting.saturating_sub(rss_idle) as f64 / waiting.max(1) as f64;
    let ok = failures == 0 && waiting >= agents && completed == agents;
    let to_all = (last_delivered - sent_from).as_secs_f64();
    let results = (last_completed - sent_from).as_secs_f64();
    let table = vec![
        (
            "scenario",
            format!(
                "{agents} simulated agents, each on its own TLS connection as the ACC, registered and long-polling tasks (wait={WAIT}s) on one site server; one task to each"
            ),
        ),
        (
            "agents registered / long-polls the site counts waiting",
            format!("{ready}/{agents} / {waiting} (connected in {:.1} s)", connected.as_secs_f64()),
        ),
        (
            "site resident memory, idle → all waiting",
            format!(
                "{:.1} → {:.1} MiB ({per_agent_kib:.1} KiB per waiting agent)",
                mib(rss_idle),
                mib(rss_waiting)
            ),
        ),
        ("site peak resident memory", format!("{:.1} MiB", mib(site.peak_rss_kib()))),
        (
            "tasks sent (admin socket, durable)",
            format!(
                "{ready} in {:.2} s ({:.0}/s)",
                sent.as_secs_f64(),
                ready as f64 / sent.as_secs_f64().max(1e-9)
            ),
        ),
        ("first send → every agent has its task", format!("{to_all:.2} s ({delivered} delivered)")),
        ("first send → every result stored", format!("{results:.2} s ({completed} completed)")),
        ("site CPU per task (send, deliver, result)", format!("{:.0} µs", cpu / ready.max(1) as f64 * 1e6)),
        ("every agent served", if ok { "yes".into() } else { "NO".into() }),
    ];
    let json = json!({ "scenario": "longpoll", "agents": agents, "registered": ready, "waiting": waiting,
        "rss_idle_kib": rss_idle, "rss_waiting_kib": rss_waiting, "peak_rss_kib": site.peak_rss_kib(),
        "kib_per_agent": per_agent_kib, "send_s": sent.as_secs_f64(), "all_delivered_s": to_all,
        "all_completed_s": results, "delivered": delivered, "completed": completed,
        "server_cpu_us_per_task": cpu / ready.max(1) as f64 * 1e6, "target_met": ok });
    Ok((table, json, ok))
}
