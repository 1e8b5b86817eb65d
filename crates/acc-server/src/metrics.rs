//! The management server's metrics and readiness. Counters and timings are recorded at
//! the I/O edges (event ingest, the policy long-polls) through the `metrics` facade; the
//! fleet's state (revision in force, each site's lag, agents by lag) is sampled when a
//! scraper asks ([`observe`]). The binary installs the recorder and serves them (`acc
//! server run --metrics-listen`); without one, recording costs nothing. Names follow
//! Prometheus' conventions (`acc_<noun>_<unit|total>`); labels have bounded values (the
//! site label is bounded by the sites joined; no agent names).

use std::sync::Arc;
use std::time::{Duration, Instant};

use acc_net::health::{NotReady, Readiness};

use crate::server::Server;

/// How long the readiness check waits for the database.
const PING_TIMEOUT: Duration = Duration::from_secs(2);

/// Times one database operation into `acc_database_duration_seconds`.
pub fn database(operation: &'static str, started: Instant) {
    metrics::histogram!("acc_database_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
}

/// Counts events stored, by who wrote them (`site` or `server`).
pub fn events_written(origin: &'static str, n: u64) {
    metrics::counter!("acc_events_written_total", "origin" => origin).increment(n);
}

/// A waiting policy long-poll (`kind`: `site` or `agent`), counted in
/// `acc_long_poll_waiters` while the guard lives.
pub struct LongPoll(&'static str);

impl LongPoll {
    /// Counts one more waiter of `kind`.
    pub fn start(kind: &'static str) -> LongPoll {
        metrics::gauge!("acc_long_poll_waiters", "kind" => kind).increment(1.0);
        LongPoll(kind)
    }
}

impl Drop for LongPoll {
    fn drop(&mut self) {
        metrics::gauge!("acc_long_poll_waiters", "kind" => self.0).decrement(1.0);
    }
}

/// The `revision_lag` label of an agent `lag` revisions behind the one in force.
pub fn lag_bucket(lag: i64) -> &'static str {
    match lag {
        i64::MIN..=0 => "0",
        1 => "1",
        2..=5 => "2-5",
        _ => "6+",
    }
}

/// Samples the fleet's gauges: the revision in force, each site's lag behind it, and
/// the agents counted by their lag.
pub fn observe(server: &Server) {
    let (revision, _) = server.current();
    metrics::gauge!("acc_policy_revision").set(revision as f64);
    for site in server.inventory.sites().values() {
        let lag = revision - site.applied_revision.unwrap_or(0);
        metrics::gauge!("acc_site_policy_revision_lag", "site" => site.name.clone()).set(lag.max(0) as f64);
    }
    let mut buckets = [("0", 0u64), ("1", 0), ("2-5", 0), ("6+", 0)];
    for agent in server.inventory.agents().values() {
        let bucket = lag_bucket(revision - agent.state.revision);
        if let Some(b) = buckets.iter_mut().find(|(name, _)| *name == bucket) {
            b.1 += 1;
        }
    }
    for (bucket, n) in buckets {
        metrics::gauge!("acc_agents", "revision_lag" => bucket).set(n as f64);
    }
}

/// Ready to serve: not stopping and the database answers (the policy in force is loaded
/// before the listener opens).
pub fn readiness(server: Arc<Server>) -> Readiness {
    Arc::new(move || {
        let server = server.clone();
        Box::pin(async move {
            if server.long_polls().is_stopping() {
                return Err(NotReady("the management server is stopping".to_string()));
            }
            let started = Instant::now();
            let ping =
                tokio::time::timeout(PING_TIMEOUT, sqlx::query("SELECT 1").execute(server.pool())).await;
            database("ping", started);
            match ping {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(e)) => Err(NotReady(format!("the database does not answer: {e}"))),
                Err(_) => {
                    Err(NotReady(format!("the database did not answer in {} s", PING_TIMEOUT.as_secs())))
                }
            }
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

#[cfg(test)]
mod tests {
    #[test]
    fn agents_fall_into_bounded_lag_buckets() {
        let b = super::lag_bucket;
        assert_eq!([b(-1), b(0), b(1), b(2), b(5), b(6), b(1000)], ["0", "0", "1", "2-5", "2-5", "6+", "6+"]);
    }
}
