//! `acc bench download`: download throughput of one real `acc site run`. N agents (one
//! keep-alive connection each, authenticated as the ACC) each fetch the same file of the
//! `software-library` share in ranged requests of [`RANGE`] bytes, as `acc agent download`
//! does; the figure is the aggregate rate and the server's CPU per GiB served.

use std::time::Instant;

use acc_core::lockout::LockoutPolicy;
use acc_net::client::{ClientTls, Connection};
use anyhow::{Result, bail};

use super::site::SiteUnderTest;

/// Bytes per ranged request.
const RANGE: u64 = 16 * 1024 * 1024;

async fn fetch(tls: ClientTls, addr: std::net::SocketAddr, size: u64, auth: String) -> Result<u64> {
    let mut conn = Connection::open_addr(&tls, addr).await?;
    let mut got = 0u64;
    while got < size {
        let last = (got + RANGE).min(size) - 1;
        let range = format!("bytes={got}-{last}");
        let r = conn
            .send(
                "GET",
                "/v1/shares/software-library/bench/blob.bin",
                &[("authorization", &auth), ("acc-agent-host", "bench"), ("range", &range)],
                bytes::Bytes::new(),
            )
            .await?;
        if r.status.as_u16() != 206 {
            bail!("range {range}: {}", r.status);
        }
        got += r.body.len() as u64;
    }
    Ok(got)
}

/// Runs the benchmark; returns its table and JSON.
pub async fn run(size_mib: u64, agents: usize) -> Result<(Vec<(&'static str, String)>, serde_json::Value)> {
    let site = SiteUnderTest::start(super::ACC_USER, super::ACC_PASSWORD, LockoutPolicy::default()).await?;
    let dir = site.data_dir().join("shares/software-library/bench");
    std::fs::create_dir_all(&dir)?;
    let size = size_mib * 1024 * 1024;
    {
        use std::io::Write;
        let mut f = std::io::BufWriter::new(std::fs::File::create(dir.join("blob.bin"))?);
        let block: Vec<u8> = (0..1024 * 1024u32).map(|i| (i % 251) as u8).collect();
        for _ in 0..size_mib {
            f.write_all(&block)?;
        }
        f.flush()?;
    }
    let tls = ClientTls::new(&site.ca_pem()?, None)?;
    let auth = super::basic(super::ACC_USER, super::ACC_PASSWORD);
    // A warm-up read puts the file in the page cache, as a site serving a popular package has it.
    fetch(tls.clone(), site.addr, size, auth.clone()).await?;
    let cpu_before = site.cpu_seconds()?;
    let started = Instant::now();
    let tasks: Vec<_> =
        (0..agents.max(1)).map(|_| tokio::spawn(fetch(tls.clone(), site.addr, size, auth.clone()))).collect();
    let mut total = 0u64;
    for t in tasks {
        total += t.await??;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = site.cpu_seconds()? - cpu_before;
    let gib = total as f64 / (1024.0 * 1024.0 * 1024.0);
    let table = vec![
        (
            "scenario",
            format!(
                "{agents} agents each download a {size_mib} MiB file from one site server as the ACC, {} MiB ranges",
                RANGE / 1024 / 1024
            ),
        ),
        (
            "aggregate throughput",
            format!("{:.2} GB/s ({:.2} GiB in {wall:.2} s)", total as f64 / wall / 1e9, gib),
        ),
        ("site server CPU per GiB served", format!("{:.2} s", cpu / gib.max(f64::MIN_POSITIVE))),
    ];
    let json = serde_json::json!({ "scenario": "download", "agents": agents, "size_mib": size_mib, "bytes": total,
        "seconds": wall, "gb_per_s": total as f64 / wall / 1e9, "server_cpu_s_per_gib": cpu / gib.max(f64::MIN_POSITIVE) });
    Ok((table, json))
}
