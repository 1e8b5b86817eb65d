//! `acc bench propagation`: a policy change acknowledged by M simulated site servers and
//! received by N simulated agents (issue 4: 100 sites within 2 s), on one SQLite node or
//! `--nodes N` on one PostgreSQL database (issue 18).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Result;
use serde_json::json;

use super::{PropagationArgs, agents, emit, ms, nodes_line, percentile, server, sim_sites};

pub(super) async fn run(a: PropagationArgs) -> Result<ExitCode> {
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
