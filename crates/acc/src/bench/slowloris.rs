//! `acc bench slowloris`: slow request bodies against one real `acc site run` (issue 14 §1).
//! N attack connections, spread over K source addresses (127.0.0.2 up to 127.0.0.(K+1)),
//! each send the head of a `POST /v1/register` with `Content-Length: 65536` and then
//! either no more of the body (half of them) or one byte every 3 s (the other half); each
//! is opened again as soon as the site closes it, so the attack holds N for as long as it
//! runs (a connection the site refuses at once, its address at the cap, is tried again
//! after 1 s). Once every one has been tried, a normal client (127.0.0.1) registers agents, each on a
//! new connection (the hard case: it has to get in), one every `--interval-ms`. Reported:
//! the normal client's success rate and latency (connect, TLS, request), what the attack
//! connections got (408, closed without an answer), and the site's resident memory.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use acc_core::lockout::LockoutPolicy;
use acc_net::client::{ClientTls, Connection};
use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Semaphore, watch};

use super::site::SiteUnderTest;
use super::{ACC_PASSWORD, ACC_USER, basic, ms, percentile, registration};

/// Attack handshakes in flight at once (the attacker's own CPU is bounded too).
const HANDSHAKES: usize = 256;
/// The declared body of every attack request: exactly the site's limit, so that it is
/// accepted and the server waits for it.
const DECLARED: usize = 64 * 1024;
/// A dripper's pace.
const DRIP_EVERY: Duration = Duration::from_secs(3);
/// How long an attack slot waits after the site refused its connection (its address at
/// the cap): a connect flood is another attack, and the attacker shares this machine's CPU
/// with the site.
const REFUSED_PAUSE: Duration = Duration::from_secs(1);
/// Longest wait for one normal request (a slower one counts as failed).
const NORMAL_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the attack to have opened its N connections.
const RAMP_LIMIT: Duration = Duration::from_secs(180);

#[derive(Debug, Args)]
pub struct SlowlorisArgs {
    /// Attack connections held open at once (each opened again when the site closes it).
    #[arg(long, default_value_t = 16_384)]
    connections: usize,
    /// Source addresses of the attack: 127.0.0.2 up to 127.0.0.(1+K).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u8).range(1..=250))]
    sources: u8,
    /// Requests of the normal client during the attack (each on a new connection).
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// Time between the starts of the normal client's requests, milliseconds.
    #[arg(long, default_value_t = 50)]
    interval_ms: u64,
    /// The site's cap on unauthenticated connections per address (default: the site's
    /// default, 1024).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_unauthenticated_per_address: Option<u32>,
    /// Also write the figures as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
}

/// What happened to the attack's connections.
#[derive(Default)]
struct Attack {
    /// Heads sent (connections that reached the body).
    opened: AtomicU64,
    /// Answered 408.
    timed_out: AtomicU64,
    /// Closed by the site without an answer (made room for others).
    closed: AtomicU64,
    /// Answered something else.
    other: AtomicU64,
    /// Connections or handshakes that failed.
    failed: AtomicU64,
}

/// How one attack connection ended.
enum End {
    Answered(Vec<u8>),
    Closed,
    Stopped,
}

/// One attack slot: opens a connection from `source`, sends a head and (part of) a body
/// that never ends, and does it again when the site closes it, until `stop`.
async fn slot(
    drip: bool,
    source: IpAddr,
    site: SocketAddr,
    tls: ClientTls,
    handshakes: Arc<Semaphore>,
    attack: Arc<Attack>,
    mut stop: watch::Receiver<bool>,
) {
    let head = format!(
        "POST /v1/register HTTP/1.1\r\nHost: {site}\r\nContent-Type: application/json\r\nContent-Length: {DECLARED}\r\n\r\n{{\"agent_id\":"
    );
    while !*stop.borrow() {
        let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
        let opened = async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.bind(SocketAddr::new(source, 0))?;
            let tcp = socket.connect(site).await?;
            let name = rustls_pki_types::ServerName::from(site.ip());
            let mut stream = tls.connector().connect(name, tcp).await?;
            stream.write_all(head.as_bytes()).await?;
            std::io::Result::Ok(stream)
        };
        let opened = tokio::select! {
            o = opened => o,
            _ = stop.changed() => return,
        };
        drop(permit);
        let mut stream = match opened {
            Ok(s) => s,
            Err(_) => {
                attack.failed.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(REFUSED_PAUSE).await;
                continue;
            }
        };
        attack.opened.fetch_add(1, Ordering::Relaxed);
        let end = async {
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            let mut drip_at = tokio::time::Instant::now() + DRIP_EVERY;
            loop {
                tokio::select! {
                    n = stream.read(&mut buf) => match n {
                        Ok(0) | Err(_) => return if got.is_empty() { End::Closed } else { End::Answered(got) },
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    },
                    () = tokio::time::sleep_until(drip_at), if drip => {
                        if stream.write_all(b" ").await.is_err() {
                            return if got.is_empty() { End::Closed } else { End::Answered(got) };
                        }
                        drip_at += DRIP_EVERY;
                    }
                    _ = stop.changed() => return End::Stopped,
                }
            }
        };
        match end.await {
            End::Answered(reply) if reply.starts_with(b"HTTP/1.1 408") => &attack.timed_out,
            End::Answered(_) => &attack.other,
            End::Closed => &attack.closed,
            End::Stopped => return,
        }
        .fetch_add(1, Ordering::Relaxed);
    }
}

/// The normal client: `requests` registrations, each on a new connection, one every
/// `interval`; their latencies (successes only) and the number that failed.
async fn normal_client(
    tls: ClientTls,
    site: SocketAddr,
    requests: usize,
    interval: Duration,
) -> (Vec<Duration>, usize) {
    let auth = basic(ACC_USER, ACC_PASSWORD);
    let mut every = tokio::time::interval(interval);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut lat, mut failed) = (Vec::with_capacity(requests), 0);
    for i in 0..requests {
        every.tick().await;
        let (host, body) = registration(i, "normal");
        let started = Instant::now();
        let one = async {
            let mut conn = Connection::open_addr(&tls, site).await?;
            let headers = [
                ("authorization", auth.as_str()),
                ("acc-agent-host", &host),
                ("content-type", "application/json"),
            ];
            anyhow::Ok(conn.send("POST", "/v1/register", &headers, body).await?.status.as_u16())
        };
        match tokio::time::timeout(NORMAL_TIMEOUT, one).await {
            Ok(Ok(200)) => lat.push(started.elapsed()),
            Ok(Ok(_)) | Ok(Err(_)) | Err(_) => failed += 1,
        }
    }
    (lat, failed)
}

/// Runs the benchmark; returns its table, JSON and whether the target was met.
pub async fn run(a: &SlowlorisArgs) -> Result<(Vec<(&'static str, String)>, Value, bool)> {
    let cap = a.max_unauthenticated_per_address.map(|n| n as usize);
    let site = SiteUnderTest::start_capped(ACC_USER, ACC_PASSWORD, LockoutPolicy::default(), cap).await?;
    let tls = ClientTls::new(&site.ca_pem()?, None)?;
    let rss_before = site.rss_kib();
    let attack = Arc::new(Attack::default());
    let (stop_tx, stop) = watch::channel(false);
    let handshakes = Arc::new(Semaphore::new(HANDSHAKES));
    let mut slots = tokio::task::JoinSet::new();
    for i in 0..a.connections {
        let source = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % a.sources as usize) as u8));
        slots.spawn(slot(
            i % 2 == 1,
            source,
            site.addr,
            tls.clone(),
            handshakes.clone(),
            attack.clone(),
            stop.clone(),
        ));
    }
    let ramp = Instant::now();
    // Every slot has tried once (opened, or refused at its address's cap).
    let tried = || attack.opened.load(Ordering::Relaxed) + attack.failed.load(Ordering::Relaxed);
    while (tried() as usize) < a.connections && ramp.elapsed() < RAMP_LIMIT {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let ramped = ramp.elapsed();
    let opened_at_start = attack.opened.load(Ordering::Relaxed);
    let during = Instant::now();
    let (mut lat, failed) =
        normal_client(tls.clone(), site.addr, a.requests, Duration::from_millis(a.interval_ms)).await;
    let during = during.elapsed();
    let rss_peak = site.peak_rss_kib();
    let rss_end = site.rss_kib();
    let _ = stop_tx.send(true);
    while slots.join_next().await.is_some() {}
    lat.sort();
    let served = lat.len();
    let (p50, p99, max) =
        (percentile(&lat, 0.5), percentile(&lat, 0.99), lat.last().copied().unwrap_or_default());
    let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let ok = served == a.requests && p99 < Duration::from_millis(100);
    let mib = |kib: u64| kib as f64 / 1024.0;
    let table = vec![
        (
            "scenario",
            format!(
                "{} slow-body connections (half never finish, half drip a byte every 3 s) from {} source address(es), re-opened when closed, against one site server; a normal client makes {} registrations on new connections meanwhile",
                a.connections, a.sources, a.requests
            ),
        ),
        (
            "attack connections opened",
            format!(
                "{} ({opened_at_start} before the normal client started, in {:.1} s)",
                count(&attack.opened),
                ramped.as_secs_f64()
            ),
        ),
        (
            "attack connections ended by the site",
            format!(
                "{} answered 408, {} closed to make room, {} other answers; {} failed to connect",
                count(&attack.timed_out),
                count(&attack.closed),
                count(&attack.other),
                count(&attack.failed)
            ),
        ),
        ("normal requests served", format!("{served}/{} in {:.1} s", a.requests, during.as_secs_f64())),
        ("normal latency p50 / p99 / max", format!("{:.1} / {:.1} / {:.1} ms", ms(p50), ms(p99), ms(max))),
        (
            "site resident memory, before → peak (end)",
            format!("{:.1} → {:.1} MiB ({:.1})", mib(rss_before), mib(rss_peak), mib(rss_end)),
        ),
        ("target (100 % served, p99 < 100 ms)", if ok { "met".into() } else { "NOT MET".into() }),
    ];
    let json = json!({ "scenario": "slowloris", "connections": a.connections, "sources": a.sources,
        "requests": a.requests, "served": served, "failed": failed,
        "p50_ms": ms(p50), "p99_ms": ms(p99), "max_ms": ms(max),
        "attack_opened": count(&attack.opened), "attack_opened_before_normal": opened_at_start,
        "attack_408": count(&attack.timed_out), "attack_closed": count(&attack.closed),
        "attack_other": count(&attack.other), "attack_failed": count(&attack.failed),
        "rss_before_kib": rss_before, "rss_peak_kib": rss_peak, "rss_end_kib": rss_end, "target_met": ok });
    Ok((table, json, ok))
}

/// `acc bench slowloris`.
pub async fn slowloris(a: SlowlorisArgs) -> Result<std::process::ExitCode> {
    let (table, value, ok) = run(&a).await?;
    super::emit(&table, value, a.json)?;
    Ok(if ok { std::process::ExitCode::SUCCESS } else { std::process::ExitCode::from(1) })
}
