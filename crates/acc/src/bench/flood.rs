//! `acc bench flood`: stale sources hammer the ACC with an old password while good agents
//! register (issue 3: in smart mode every good registration succeeds, and the flood costs
//! no Argon2 hash after each source's first rejections).

use std::process::ExitCode;
use std::time::Instant;

use acc_core::lockout::LockoutPolicy;
use anyhow::Result;
use serde_json::json;

use super::site::SiteUnderTest;
use super::{ACC_PASSWORD, ACC_USER, Connection, FloodArgs, Tls, basic, emit, register_on, registration};

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

pub(super) async fn run(a: FloodArgs) -> Result<ExitCode> {
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
