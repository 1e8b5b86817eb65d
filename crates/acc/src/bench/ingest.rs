//! `acc bench events`: event ingest from simulated sites (issue 4: at least 20,000
//! events/s), on one SQLite node or `--nodes N` on one PostgreSQL database (issue 18).

use std::process::ExitCode;
use std::time::Instant;

use anyhow::Result;
use serde_json::json;

use super::{EventsArgs, emit, nodes_line, server, sim_sites};

pub(super) async fn run(a: EventsArgs) -> Result<ExitCode> {
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
