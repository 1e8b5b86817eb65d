//! `acc bench console`: the console's pages under a large fleet (issue 17: every page under
//! 50 ms of server time, p99, with 10,000 agents, 100 sites and 1,000,000 events). A real
//! `acc server run` whose store is filled first, straight into the store (site and agent
//! records, events with machines, addresses and users as sites forward them); then each
//! page is requested N times over HTTPS on one keep-alive connection with a signed-in
//! session. The server's time is the `Server-Timing` header the console adds; the
//! client's round trip is reported next to it.

use std::path::Path;
use std::time::{Duration, Instant};

use acc_net::client::{ClientTls, Connection, Response};
use acc_proto::ForwardedEvent;
use acc_server::store::Inventory;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use serde_json::json;

use super::percentile;
use super::server::ServerUnderTest;

/// The target: p99 of the server's time per page.
pub const TARGET: Duration = Duration::from_millis(50);

/// Events per transaction while filling.
const FILL_BATCH: usize = 10_000;

/// The fleet to fill.
#[derive(Debug, Clone, Copy)]
pub struct Fleet {
    /// Agents in the inventory.
    pub agents: usize,
    /// Joined site servers.
    pub sites: usize,
    /// Events in the store.
    pub events: usize,
}

/// One page's figures.
#[derive(Debug, Clone)]
pub struct PageTimes {
    /// Its name.
    pub name: &'static str,
    /// Its path.
    pub path: String,
    /// Server time, p50 and p99.
    pub server: (Duration, Duration),
    /// Round trip, p99.
    pub client_p99: Duration,
}

fn site_name(i: usize) -> String {
    format!("SITE{i:03}")
}

fn agent_name(i: usize) -> String {
    format!("host-{i:05}")
}

fn address(i: usize) -> String {
    format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256)
}

/// Fills the store of the server directory `dir` with `fleet`; the events then stored.
pub async fn fill(dir: &Path, fleet: Fleet) -> Result<u64> {
    let layout = acc_server::layout::Layout::new(dir);
    let target = acc_server::store::Target::Sqlite(layout.database());
    let pool = acc_server::store::open(&target, false, "bench").await?;
    let now = acc_core::time::Clock::now(&acc_core::time::SystemClock).millis();
    let mut sites = Vec::with_capacity(fleet.sites);
    for i in 0..fleet.sites {
        let name = site_name(i);
        let rec = acc_server::sites::SiteRecord::new(
            &name,
            &format!("https://{name}:8443"),
            &format!("{i:04X}"),
            now,
        );
        sites.push((name, serde_json::to_string(&rec)?));
    }
    acc_server::store::put_records(&pool, Inventory::Sites, &sites).await?;
    let mut agents = Vec::with_capacity(fleet.agents);
    for i in 0..fleet.agents {
        let name = agent_name(i);
        let rec = acc_server::agents::AgentRecord::new(
            &name,
            &format!("{i:08X}"),
            "CN=acc fleet CA",
            now,
            &address(i),
        );
        agents.push((name, serde_json::to_string(&rec)?));
    }
    acc_server::store::put_records(&pool, Inventory::Agents, &agents).await?;
    let sites = fleet.sites.max(1);
    let mut seq = vec![0i64; sites];
    let mut start = 0;
    while start < fleet.events {
        let end = (start + FILL_BATCH).min(fleet.events);
        // One batch per site at a time, as sites forward them.
        let mut by_site: Vec<Vec<ForwardedEvent>> = vec![Vec::new(); sites];
        for n in start..end {
            let s = n % sites;
            seq[s] += 1;
            let agent = n % fleet.agents.max(1);
            let (host, ip) = (agent_name(agent).to_uppercase(), address(agent));
            let id = if n % 1000 == 999 {
                4740
            } else if n % 3 == 0 {
                4624
            } else {
                4625
            };
            let time_ms = now - (fleet.events - n) as i64 * 40;
            let user = if n % 10 == 0 { "old_acc" } else { "acc_user" };
            let body = json!({ "EventID": id, "Seq": seq[s], "TimeCreated": acc_core::time::Timestamp(time_ms).to_rfc3339(),
                "Computer": site_name(s), "TargetUserName": user, "WorkstationName": host, "CallerComputerName": host,
                "IpAddress": ip, "IpPort": 51000, "LockScope": "source" });
            by_site[s].push(ForwardedEvent {
                seq: seq[s],
                event_id: id.to_string(),
                time_ms,
                target_user: Some(user.into()),
                body,
            });
        }
        for (s, events) in by_site.iter().enumerate() {
            if !events.is_empty() {
                let origin = acc_server::event_store::site_origin(&format!("{s:04X}"));
                acc_server::event_store::insert(&pool, &origin, &site_name(s), events).await?;
            }
        }
        start = end;
    }
    let stored = acc_server::event_store::measure(&pool).await?.events;
    pool.close().await;
    Ok(stored)
}

fn cookie(r: &Response, name: &str) -> Option<String> {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
}

fn csrf(body: &[u8]) -> Option<String> {
    let body = String::from_utf8_lossy(body);
    let at = body.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    Some(body[at..].split('"').next()?.to_string())
}

/// Signs `admin` in: the session cookie (`acc_session=…`).
pub async fn sign_in(conn: &mut Connection, password: &str) -> Result<String> {
    let page = conn.send("GET", "/ui/signin", &[], Bytes::new()).await?;
    let jar = cookie(&page, "acc_signin").context("the sign-in page set no cookie")?;
    let token = csrf(&page.body).context("the sign-in page has no form token")?;
    let enc = acc_proto::package::encode_component;
    let form = format!("csrf={}&user=admin&password={}", enc(&token), enc(password));
    let r = conn
        .send(
            "POST",
            "/ui/signin",
            &[("cookie", &jar), ("content-type", "application/x-www-form-urlencoded")],
            Bytes::from(form),
        )
        .await?;
    cookie(&r, "acc_session").with_context(|| format!("sign-in refused: {}", r.status))
}

/// The server's time of an answer, from its `Server-Timing: app;dur=MS`.
fn server_time(r: &Response) -> Option<Duration> {
    let v = r.headers.get("server-timing")?.to_str().ok()?;
    let ms: f64 = v.split("dur=").nth(1)?.split([',', ';']).next()?.parse().ok()?;
    Some(Duration::from_secs_f64(ms / 1000.0))
}

/// The pages measured, for a fleet of `fleet`.
pub fn pages(fleet: Fleet) -> Vec<(&'static str, String)> {
    let agent = fleet.agents / 2;
    let ip = address(agent);
    let deep = fleet.events / 2;
    vec![
        ("Home", "/ui/".into()),
        ("Agents", "/ui/agents".into()),
        ("Agents, search", format!("/ui/agents?q={}", agent_name(agent))),
        ("Agents, page 100", "/ui/agents?page=100".into()),
        ("Site servers", "/ui/site-servers".into()),
        ("Lockouts", "/ui/lockouts".into()),
        ("Security events", "/ui/events".into()),
        ("Security events, ID and user", "/ui/events?id=4625&user=old_acc".into()),
        ("Security events, machine", format!("/ui/events?machine={}", agent_name(agent))),
        ("Security events, address", format!("/ui/events?address={ip}")),
        ("Security events, site since", "/ui/events?site=SITE042&since=1970-01-01".into()),
        (
            "Security events, deep page",
            format!("/ui/events?id=4625&since=1970-01-01&cursor={deep}:{}", fleet.events),
        ),
        ("Policy history", "/ui/policy".into()),
    ]
}

/// Requests each page `n` times with the session `jar`.
pub async fn measure(conn: &mut Connection, jar: &str, fleet: Fleet, n: usize) -> Result<Vec<PageTimes>> {
    let mut out = Vec::new();
    for (name, path) in pages(fleet) {
        let mut server = Vec::with_capacity(n);
        let mut client = Vec::with_capacity(n);
        for _ in 0..n.max(1) {
            let started = Instant::now();
            let r = conn.send("GET", &path, &[("cookie", jar)], Bytes::new()).await?;
            client.push(started.elapsed());
            if r.status != 200 {
                bail!("{name} ({path}): {}", r.status);
            }
            server.push(server_time(&r).with_context(|| format!("{name}: no Server-Timing header"))?);
        }
        server.sort();
        client.sort();
        out.push(PageTimes {
            name,
            path,
            server: (percentile(&server, 0.5), percentile(&server, 0.99)),
            client_p99: percentile(&client, 0.99),
        });
    }
    Ok(out)
}

/// Runs the benchmark: the table, JSON, and whether every page met [`TARGET`].
pub async fn run(fleet: Fleet, n: usize) -> Result<(Vec<(&'static str, String)>, serde_json::Value, bool)> {
    let (tmp, dir) = ServerUnderTest::init().await?;
    let started = Instant::now();
    let stored = fill(&dir, fleet).await?;
    let filled = started.elapsed();
    let password = std::fs::read_to_string(acc_server::layout::Layout::new(&dir).admin_password())?;
    let server = ServerUnderTest::run(tmp, dir)?;
    let tls = ClientTls::new(&server.ca_pem, None)?;
    let mut conn = Connection::open(&tls, &server.endpoint).await?;
    let jar = sign_in(&mut conn, password.trim_end()).await?;
    // One round first: the server's caches and the page cache warm, as a running console.
    measure(&mut conn, &jar, fleet, 1).await?;
    let times = measure(&mut conn, &jar, fleet, n).await?;
    let ok = times.iter().all(|t| t.server.1 < TARGET);
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    let mut table = vec![
        (
            "scenario",
            format!(
                "{} agents, {} sites, {} events (filled in {:.0} s); each page {n} times over HTTPS, signed in",
                fleet.agents,
                fleet.sites,
                fleet.events,
                filled.as_secs_f64()
            ),
        ),
        ("page", "server p50 / p99 (round trip p99)".to_string()),
    ];
    for t in &times {
        table.push((t.name, format!("{} / {} ({})", ms(t.server.0), ms(t.server.1), ms(t.client_p99))));
    }
    table.push(("target", format!("server p99 under {}: {}", ms(TARGET), if ok { "met" } else { "MISSED" })));
    let pages: Vec<_> = times
        .iter()
        .map(|t| {
            json!({ "page": t.name, "path": t.path, "server_p50_ms": t.server.0.as_secs_f64() * 1000.0,
                    "server_p99_ms": t.server.1.as_secs_f64() * 1000.0, "client_p99_ms": t.client_p99.as_secs_f64() * 1000.0 })
        })
        .collect();
    let value = json!({ "scenario": "console", "agents": fleet.agents, "sites": fleet.sites, "events": fleet.events,
        "stored_events": stored, "requests_per_page": n, "fill_seconds": filled.as_secs_f64(), "pages": pages, "target_met": ok });
    Ok((table, value, ok))
}
