//! `acc agent run`: the running agent, its state and its TLS material, and the three
//! parts of its work, one module each:
//!
//! - [`mgmt`]: the **management-server session**: with a management server, a long-poll
//!   of its policy over mTLS; each new revision is applied and acknowledged with a
//!   check-in, and a check-in goes at least every `check-in-interval`. An
//!   `update-config` task, a `401` or a `policy_stale` answer fetch the policy at once on
//!   a second connection. With the server away the agent keeps its cached policy.
//! - [`sites`]: the **site sessions**: registration with the first site server that
//!   answers (failing over in order), then a long-poll of its tasks on the same
//!   connection. Every refused credential goes through the retry budget
//!   ([`crate::budget`]), so the agent never locks anything out.
//! - [`task`]: the **tasks** a site hands out, parsed into one enum, a module per kind.
//!
//! The identity (`key-file`, `cert-file`) is read and checked once at start and again only
//! when the certificate is renewed; each site server's client TLS is built once and kept
//! until then. Each connection is logged in one line saying how it was made.
//!
//! **Never stranded**: a revision that changes how the agent connects (mode, credential,
//! site servers) is proven against a site server before the old settings are dropped; if
//! it fails while the old settings still work, the agent keeps them, reports
//! `policy_failed` with the reason, and tries the revision again later.

mod mgmt;
mod sites;
pub mod task;

pub use mgmt::MGMT_RETRY;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acc_core::failover::NodeList;
use acc_core::time::{Clock, SystemClock};
use acc_net::client::ClientTls;
use acc_proto::AgentPolicy;
use serde_json::Value;
use tokio::sync::{Notify, watch};

use crate::budget::Budget;
use crate::config::AgentConfig;
use crate::identity::{self, Identity};
use crate::state::{AgentState, StateStore};

/// How long one policy or task long-poll waits on the server.
const POLL_WAIT: u64 = 25;
/// The agent's version, reported at check-in and registration.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why the agent cannot start.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The identity (key, certificate).
    #[error(transparent)]
    Identity(#[from] identity::IdentityError),
    /// The state folder.
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    /// The proxy settings (`proxy-url`, `proxy-credentials-file`, `https_proxy`).
    #[error(transparent)]
    Proxy(#[from] crate::proxy::ProxyConfigError),
    /// The CA file.
    #[error("{path}: cannot read the CA file ({reason})")]
    Ca {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The agent's TLS material, replaced whole when its certificate is renewed.
#[derive(Default)]
struct Material {
    /// Key and certificate, read and checked.
    identity: Option<Arc<Identity>>,
    /// The client TLS for the management server (with the identity).
    mgmt: Option<ClientTls>,
    /// The client TLS of each site server (by URL) made with this identity.
    sites: HashMap<String, sites::SiteTls>,
}

/// A running agent.
pub struct Agent {
    config: AgentConfig,
    store: StateStore,
    state: Mutex<AgentState>,
    ca_pem: Vec<u8>,
    tls: Mutex<Material>,
    fetch_now: Notify,
    report_now: Notify,
    policy_tx: watch::Sender<i64>,
    budget: Mutex<Budget>,
    /// The HTTP proxy every connection goes through, if any.
    proxy: Option<Arc<acc_net::proxy::Proxy>>,
    /// The wall clock (acc-core's, as every role reads it).
    clock: Arc<dyn Clock>,
    /// The management server nodes and the one in use (none without a server).
    nodes: Mutex<Option<NodeList>>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("config", &self.config.path).finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A jitter in 0..1 from the clock's low bits (spreads retries of a fleet).
fn jitter() -> f64 {
    SystemClock.now().millis().rem_euclid(1000) as f64 / 1000.0
}

/// A wait as logs show it: `0.4 s`, `8 s`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

impl Agent {
    /// Checks the identity (key owner and mode, certificate), opens the state.
    pub fn new(config: AgentConfig) -> Result<Agent, AgentError> {
        let ca_pem = std::fs::read(&config.ca_file).map_err(|e| AgentError::Ca {
            path: config.ca_file.display().to_string(),
            reason: e.to_string(),
        })?;
        let proxy = crate::proxy::from_env(&config.proxy)?;
        let identity = match &config.identity {
            Some((key, cert)) => Some(Arc::new(Identity::load(key, cert, identity::current_uid())?)),
            None => None,
        };
        // The CA file is checked at start, with or without a management server.
        let tls = identity::client_tls(&ca_pem, identity.as_deref())?;
        let store = StateStore::open(&config.state_dir)?;
        let state = store.load()?;
        store.save(&state)?;
        let revision = state.revision();
        let mgmt = (config.server.is_some() && identity.is_some()).then(|| tls.via(proxy.clone()));
        // The last policy's list, else acc.yml's (a new enrollment starts with a clean state).
        let nodes = config.server.as_ref().and_then(|_| {
            NodeList::new(state.servers.clone()).or_else(|| NodeList::new(config.servers.clone()))
        });
        Ok(Agent {
            config,
            store,
            state: Mutex::new(state),
            ca_pem,
            tls: Mutex::new(Material { identity, mgmt, sites: HashMap::new() }),
            fetch_now: Notify::new(),
            report_now: Notify::new(),
            policy_tx: watch::Sender::new(revision),
            budget: Mutex::new(Budget::default()),
            proxy,
            clock: Arc::new(SystemClock),
            nodes: Mutex::new(nodes),
        })
    }

    /// The agent's clock, in Unix milliseconds.
    fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    /// Runs until the process ends.
    pub async fn run(self: Arc<Self>) {
        if let Some(i) = self.identity() {
            let c = &i.summary;
            tracing::info!(certificate = %c.subject_cn, issuer = %c.issuer_cn, expires = %c.expires(), "Agent starting.");
        }
        if let Some(p) = &self.proxy {
            tracing::info!(proxy = %p.url, credentials = p.credentials.is_some(), "Connections go through the HTTP proxy (CONNECT, TLS end to end).");
        }
        let policy = tokio::spawn(self.clone().policy_loop());
        let refetch = tokio::spawn(self.clone().refetch_loop());
        self.site_loop().await;
        policy.abort();
        refetch.abort();
    }

    /// The identity in use, if any.
    fn identity(&self) -> Option<Arc<Identity>> {
        lock(&self.tls).identity.clone()
    }

    /// The client TLS for the management server, when the agent has a server and an identity.
    fn mgmt_tls(&self) -> Option<ClientTls> {
        lock(&self.tls).mgmt.clone()
    }

    fn update(&self, change: impl FnOnce(&mut AgentState)) {
        let mut state = lock(&self.state);
        change(&mut state);
        if let Err(e) = self.store.save(&state) {
            tracing::error!(error = %e, "The agent state could not be saved.");
        }
    }

    /// The policy in force, with its password.
    fn policy(&self) -> Option<AgentPolicy> {
        self.store.policy(&lock(&self.state))
    }
}

/// The `message` of a JSON error body, or the body itself.
pub(crate) fn message(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["message"]
        .as_str()
        .map_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect(), str::to_string)
}
