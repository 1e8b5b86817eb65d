//! `--metrics-listen ADDR` of `acc server run` and `acc site run`: installs the
//! Prometheus recorder (the `metrics` facade the libraries record through) and serves
//! `GET /metrics`, `/healthz` and `/readyz` over plain HTTP on ADDR
//! (`acc_net::health::serve_metrics`). Without the flag nothing is installed and the
//! libraries' recording calls do nothing.

use std::net::SocketAddr;

use acc_net::health::{BoxFuture, Readiness, Render};
use anyhow::{Context, Result};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

/// Bucket bounds of `acc_database_duration_seconds`, from 0.5 ms to 2.5 s.
const DATABASE_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// The recorder installed and the metrics port bound, before the role starts (so that
/// nothing it records is lost, and a port in use fails the command at once).
pub struct Exporter {
    handle: PrometheusHandle,
    listener: TcpListener,
}

impl Exporter {
    /// Installs the recorder and binds `addr`.
    pub async fn install(addr: SocketAddr) -> Result<Exporter> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("--metrics-listen {addr}: cannot listen there"))?;
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("acc_database_duration_seconds".into()), DATABASE_BUCKETS)
            .context("the metrics histogram buckets")?
            .install_recorder()
            .context("the metrics recorder cannot be installed")?;
        describe();
        Ok(Exporter { handle, listener })
    }

    /// Serves the metrics listener in the background; `observe` samples the role's gauges
    /// before each scrape. Prints where it listens; the task ends when dropped or aborted.
    pub fn serve(
        self,
        observe: impl Fn() -> BoxFuture<()> + Send + Sync + 'static,
        ready: Readiness,
    ) -> Result<tokio::task::JoinHandle<()>> {
        let addr = self.listener.local_addr().context("the metrics listener's address")?;
        let handle = self.handle;
        let render: Render = std::sync::Arc::new(move || {
            let (sampled, handle) = (observe(), handle.clone());
            Box::pin(async move {
                sampled.await;
                handle.run_upkeep();
                handle.render()
            })
        });
        outln!("metrics on http://{addr}/metrics");
        tracing::info!(%addr, "Metrics listener started.");
        Ok(tokio::spawn(acc_net::health::serve_metrics(self.listener, render, ready, std::future::pending())))
    }
}

/// The HELP lines of the metrics acc records.
fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!("acc_connections_total", "TCP connections to the HTTPS listener, by result.");
    describe_gauge!("acc_connections_open", "Connections the HTTPS listener serves now.");
    describe_counter!("acc_tls_handshakes_total", "TLS handshakes, by result.");
    describe_counter!("acc_events_written_total", "Security events stored.");
    describe_counter!("acc_logons_total", "Logons at this site server, by result and lockout mode.");
    describe_counter!("acc_account_locks_total", "Accounts locked out (4740), by scope.");
    describe_counter!("acc_source_blocks_total", "Sources or addresses blocked (4740), by scope.");
    describe_counter!("acc_events_forwarded_total", "Events the management server acknowledged.");
    describe_gauge!("acc_events_queued", "Events written but not yet forwarded.");
    describe_counter!("acc_package_bytes_served_total", "Bytes of share and package files sent.");
    describe_gauge!("acc_policy_revision", "The policy revision in force (server) or applied (site).");
    describe_gauge!("acc_site_policy_revision_lag", "Revisions each site server is behind the one in force.");
    describe_gauge!("acc_agents", "Agents, by how many revisions they are behind the one in force.");
    describe_gauge!("acc_long_poll_waiters", "Long-polls waiting now, by kind.");
    describe_histogram!(
        "acc_database_duration_seconds",
        metrics::Unit::Seconds,
        "Duration of database operations, by operation."
    );
}
