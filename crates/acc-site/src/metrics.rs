//! The site server's metrics and readiness. Counters are recorded at the I/O edges (the
//! group commit, the event forwarder, the share download) through the `metrics` facade;
//! gauges of the running state are sampled when a scraper asks ([`observe`]). The binary
//! installs the recorder and serves them (`acc site run --metrics-listen`); without one,
//! recording costs nothing. Names follow Prometheus' conventions (`acc_<noun>_<unit|total>`);
//! every label has a small closed set of values.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acc_core::event::{EventId, FieldValue};
use acc_net::health::{NotReady, Readiness};

use crate::site::Site;
use crate::store::Write;

/// How long the readiness check waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Counts what a committed batch of writes recorded: every event by id, logons (4624,
/// 4625) by result and lockout mode, account locks and source blocks (4740) by scope.
pub fn committed<'a>(writes: impl Iterator<Item = &'a Write>) {
    for w in writes {
        let Write::Event(stamped) = w else { continue };
        let e = &stamped.event;
        metrics::counter!("acc_events_written_total", "event_id" => e.id.to_string()).increment(1);
        let mode = e.mode.map_or("none", |m| m.as_str());
        if e.id == EventId::LOGON_SUCCESS {
            metrics::counter!("acc_logons_total", "result" => "success", "mode" => mode).increment(1);
        } else if e.id == EventId::LOGON_FAILURE {
            metrics::counter!("acc_logons_total", "result" => "failure", "mode" => mode).increment(1);
        } else if e.id == EventId::ACCOUNT_LOCKED_OUT {
            let scope = match e.field("LockScope") {
                Some(FieldValue::Str(s)) => s.as_str(),
                _ => "account",
            };
            match scope {
                "source" | "address" => {
                    let scope = if scope == "source" { "source" } else { "address" };
                    metrics::counter!("acc_source_blocks_total", "scope" => scope).increment(1);
                }
                _ => {
                    let scope = if scope == "unfamiliar" { "unfamiliar" } else { "account" };
                    metrics::counter!("acc_account_locks_total", "scope" => scope).increment(1);
                }
            }
        }
    }
}

/// Times one database operation (`commit`, `ping`) into `acc_database_duration_seconds`.
pub fn database(operation: &'static str, started: Instant) {
    metrics::histogram!("acc_database_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
}

/// Counts events the management server acknowledged.
pub fn events_forwarded(n: usize) {
    metrics::counter!("acc_events_forwarded_total").increment(n as u64);
}

/// Counts bytes of package and share files sent to agents.
pub fn package_bytes_served(n: u64) {
    metrics::counter!("acc_package_bytes_served_total").increment(n);
}

/// Samples the gauges of the running state: the policy revision applied (managed sites),
/// the waiting task long-polls, the events not yet forwarded (managed sites).
pub async fn observe(site: &Site) {
    metrics::gauge!("acc_long_poll_waiters", "kind" => "task").set(site.task_waiters() as f64);
    if crate::management::config(site.layout()).ok().flatten().is_none() {
        return;
    }
    if let Some(revision) = site.applied_revision() {
        metrics::gauge!("acc_policy_revision").set(revision as f64);
    }
    match queued(site).await {
        Ok(n) => metrics::gauge!("acc_events_queued").set(n as f64),
        Err(e) => tracing::debug!(error = %e, "Metrics: the queued events could not be counted."),
    }
}

/// Events written but not yet acknowledged by the management server.
async fn queued(site: &Site) -> Result<i64, sqlx::Error> {
    let forwarded: i64 = crate::store::meta(site.pool(), "forwarded_seq")
        .await
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    sqlx::query_scalar("SELECT COUNT(*) FROM events WHERE seq > ?")
        .bind(forwarded)
        .fetch_one(site.pool())
        .await
}

/// Ready to serve: not stopping, the database answers, and a site under a management
/// server has applied its first policy.
pub fn readiness(site: Arc<Site>) -> Readiness {
    Arc::new(move || {
        let site = site.clone();
        Box::pin(async move {
            if site.is_stopping() {
                return Err(NotReady("the site server is stopping".to_string()));
            }
            let started = Instant::now();
            let ping = tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(site.pool())).await;
            database("ping", started);
            match ping {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(NotReady(format!("the site database does not answer: {e}"))),
                Err(_) => {
                    return Err(NotReady(format!(
                        "the site database did not answer in {} s",
                        PING_TIMEOUT.as_secs()
                    )));
                }
            }
            let managed = crate::management::config(site.layout()).map_err(|e| NotReady(e.to_string()))?;
            if managed.is_some() && site.applied_revision().is_none() {
                return Err(NotReady("no policy from the management server yet".to_string()));
            }
            Ok(())
        })
    })
}

/// `GET /healthz` and `GET /readyz` for the HTTPS listener (unauthenticated).
pub fn health_routes(ready: Readiness) -> axum::Router {
    use axum::routing::get;
    axum::Router::new().route("/healthz", get(|| async { acc_net::health::healthz() })).route(
        "/readyz",
        get(move || {
            let ready = ready.clone();
            async move { acc_net::health::readyz(&ready).await }
        }),
    )
}
