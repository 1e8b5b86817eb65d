//! `acc bench register`: N distinct agents register with the ACC over HTTPS keep-alive
//! (issue 3: at least 2,000 registrations/s, p99 under 50 ms, one site on 2 cores).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use acc_core::lockout::LockoutPolicy;
use anyhow::Result;
use serde_json::json;

use super::site::SiteUnderTest;
use super::{ACC_PASSWORD, ACC_USER, RegisterArgs, Tls, basic, emit, ms, percentile, register_on};

pub(super) async fn run(a: RegisterArgs) -> Result<ExitCode> {
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
