//! `acc agent run`: the agent's three loops.
//!
//! - **Policy**: with a management server, a long-poll of its policy over mTLS; each new
//!   revision is applied (see [`Agent::apply`]) and acknowledged with a check-in, and a
//!   check-in goes at least every `check-in-interval`. An `update-config` task, a `401` or
//!   a `policy_stale` answer fetch the policy at once on a second connection. With the
//!   server away the agent keeps its cached policy.
//! - **Site**: registration with the first site server that answers (failing over in
//!   order), then a long-poll of its tasks on the same connection; tasks run and their
//!   results are posted. Every refused credential goes through the retry budget
//!   ([`crate::budget`]), so the agent never locks anything out.
//! - Each connection is logged in one line saying how it was made.
//!
//! **Never stranded**: a revision that changes how the agent connects (mode, credential,
//! site servers) is proven against a site server before the old settings are dropped; if
//! it fails while the old settings still work, the agent keeps them, reports
//! `policy_failed` with the reason, and tries the revision again later.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acc_core::retry::{Ended, Retry, RetryPolicy};
use acc_net::client::{ClientTls, Connection};
use acc_proto::agent_site::{ErrorCode, Registered};
use acc_proto::{AgentCheckIn, AgentPolicy, AuthMode};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::{Notify, watch};

use crate::budget::{Budget, Verdict};
use crate::config::AgentConfig;
use crate::identity::{self, CertSummary};
use crate::site::{SiteAuth, SiteFailure, SiteSession, connection_line, site_list};
use crate::state::{AgentState, StateStore};

/// How long one policy or task long-poll waits on the server.
const POLL_WAIT: u64 = 25;
/// The agent's version, reported at check-in and registration.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Reconnecting to the management server: unreachable from 1 s doubling to 1 minute; a
/// refusal (it answered no) from 5 s doubling to 10 minutes.
const MGMT_RETRY: RetryPolicy = RetryPolicy {
    unreachable_first: Duration::from_secs(1),
    unreachable_max: Duration::from_secs(60),
    refused_first: Duration::from_secs(5),
    refused_max: Duration::from_secs(600),
};
/// Trying the site servers again once none was usable: unreachable from 1 s doubling to
/// 30 s; refused from 5 s doubling to 10 minutes (the credential's own retry budget comes
/// on top).
const SITE_RETRY: RetryPolicy = RetryPolicy {
    unreachable_first: Duration::from_secs(1),
    unreachable_max: Duration::from_secs(30),
    refused_first: Duration::from_secs(5),
    refused_max: Duration::from_secs(600),
};

/// Why a request to the management server did not work.
#[derive(Debug)]
enum MgmtError {
    /// No answer (connection, TLS, I/O) or an answer that cannot be read.
    Unreachable(String),
    /// It answered and refused: `403 Forbidden: reason`.
    Refused(String),
}

impl std::fmt::Display for MgmtError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MgmtError::Unreachable(e) => f.write_str(e),
            MgmtError::Refused(e) => write!(f, "refused with {e}"),
        }
    }
}

impl MgmtError {
    fn io(e: impl std::fmt::Display) -> MgmtError {
        MgmtError::Unreachable(e.to_string())
    }

    /// The refusal of `what` (`policy`, `check-in`): a 4xx is a refusal, anything else
    /// a failure to get an answer.
    fn answer(what: &str, resp: &acc_net::client::Response) -> MgmtError {
        let text = format!("{what}: {}: {}", resp.status, message(&resp.body));
        if resp.status.is_client_error() { MgmtError::Refused(text) } else { MgmtError::Unreachable(text) }
    }
}

/// A wait as logs show it: `0.4 s`, `8 s`.
fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

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
    #[error("{0}")]
    Proxy(String),
    /// The CA file.
    #[error("{path}: cannot read the CA file ({reason})")]
    Ca {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
}

/// The agent's TLS material, replaced when its certificate is renewed.
#[derive(Clone, Default)]
struct Material {
    /// Certificate and key (PEM).
    identity: Option<(Vec<u8>, Vec<u8>)>,
    /// The certificate's summary.
    cert: Option<CertSummary>,
    /// The client TLS for the management server (with the identity).
    mgmt: Option<ClientTls>,
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
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent").field("config", &self.config.path).finish_non_exhaustive()
    }
}

fn now_ms() -> i64 {
    i64::try_from(time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000).unwrap_or(0)
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A jitter in 0..1 from the clock's low bits (spreads retries of a fleet).
fn jitter() -> f64 {
    f64::from(time::OffsetDateTime::now_utc().nanosecond() % 1000) / 1000.0
}

impl Agent {
    /// Checks the identity (key owner and mode, certificate), opens the state.
    pub fn new(config: AgentConfig) -> Result<Agent, AgentError> {
        let ca_pem = std::fs::read(&config.ca_file).map_err(|e| AgentError::Ca {
            path: config.ca_file.display().to_string(),
            reason: e.to_string(),
        })?;
        let proxy = crate::proxy::from_env(&config.proxy).map_err(AgentError::Proxy)?;
        let uid = identity::current_uid();
        let paths = config.identity.as_ref().map(|(k, c)| (k.as_path(), c.as_path()));
        let (tls, cert) = identity::client_tls(&ca_pem, paths, uid)?;
        let identity = match &config.identity {
            Some((k, c)) => Some((
                std::fs::read(c)
                    .map_err(|e| AgentError::Ca { path: c.display().to_string(), reason: e.to_string() })?,
                std::fs::read(k)
                    .map_err(|e| AgentError::Ca { path: k.display().to_string(), reason: e.to_string() })?,
            )),
            None => None,
        };
        let store = StateStore::open(&config.state_dir)?;
        let state = store.load()?;
        store.save(&state)?;
        let revision = state.revision();
        let mgmt_tls = (config.server.is_some() && cert.is_some()).then(|| tls.via(proxy.clone()));
        Ok(Agent {
            config,
            store,
            state: Mutex::new(state),
            ca_pem,
            tls: Mutex::new(Material { identity, cert, mgmt: mgmt_tls }),
            fetch_now: Notify::new(),
            report_now: Notify::new(),
            policy_tx: watch::Sender::new(revision),
            budget: Mutex::new(Budget::default()),
            proxy,
        })
    }

    /// Runs until the process ends.
    pub async fn run(self: Arc<Self>) {
        if let Some(c) = &self.material().cert {
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

    fn material(&self) -> Material {
        lock(&self.tls).clone()
    }

    /// Renews the certificate when two thirds of its lifetime have passed, and switches
    /// new connections to it.
    async fn renew_if_due(&self, conn: &mut Connection) {
        let (Some(cert), Some((key, cert_path))) = (self.material().cert, self.config.identity.clone())
        else {
            return;
        };
        if !crate::renew::due(&cert, time::OffsetDateTime::now_utc()) {
            return;
        }
        let renewed = async {
            crate::renew::renew(conn, &key, &cert_path).await?;
            let (tls, summary) =
                identity::client_tls(&self.ca_pem, Some((&key, &cert_path)), identity::current_uid())
                    .map_err(|e| e.to_string())?;
            let cert_pem = std::fs::read(&cert_path).map_err(|e| e.to_string())?;
            let key_pem = std::fs::read(&key).map_err(|e| e.to_string())?;
            *lock(&self.tls) = Material {
                identity: Some((cert_pem, key_pem)),
                cert: summary.clone(),
                mgmt: Some(tls.via(self.proxy.clone())),
            };
            Ok::<_, String>(summary)
        };
        match renewed.await {
            Ok(Some(s)) => {
                tracing::info!(certificate = %s.subject_cn, expires = %s.expires(), "Certificate renewed.")
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "The certificate could not be renewed; trying again at the next check-in.")
            }
        }
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

    fn mgmt_line(&self, protocol: &str) -> String {
        let url = self.config.server.as_ref().map(ToString::to_string).unwrap_or_default();
        connection_line(&url, protocol, &SiteAuth::Certificate, self.material().cert.as_ref())
    }

    async fn connect_mgmt(&self) -> Result<Connection, MgmtError> {
        let (Some(server), Some(tls)) = (&self.config.server, &self.material().mgmt) else {
            return Err(MgmtError::io("no management server"));
        };
        let conn = Connection::open(tls, server).await.map_err(MgmtError::io)?;
        tracing::info!("{}", self.mgmt_line(&conn.protocol));
        Ok(conn)
    }

    async fn policy_loop(self: Arc<Self>) {
        if self.material().mgmt.is_none() {
            if self.config.server.is_some() {
                tracing::warn!(
                    "No certificate (key-file, cert-file): the agent cannot check in with the management server; run acc agent enroll"
                );
            }
            return;
        }
        let mut retry = Retry::new(MGMT_RETRY);
        loop {
            let (progressed, e) = match self.connect_mgmt().await {
                Ok(mut conn) => self.session(&mut conn).await,
                Err(e) => (false, e),
            };
            let ended = match &e {
                MgmtError::Refused(_) => Ended::Refused,
                MgmtError::Unreachable(_) if progressed => Ended::AfterProgress,
                MgmtError::Unreachable(_) => Ended::Unreachable,
            };
            let wait = retry.after(ended);
            let retry_in = seconds(wait);
            match ended {
                Ended::Refused => tracing::warn!(error = %e,
                    "The management server is reachable but refused this agent; running with the cached policy, retrying in {retry_in}."),
                Ended::Unreachable => tracing::warn!(error = %e,
                    "The management server is unreachable; running with the cached policy, retrying in {retry_in}."),
                Ended::AfterProgress => tracing::warn!(error = %e,
                    "The management server connection ended; reconnecting in {retry_in}."),
            }
            tokio::time::sleep(wait).await;
        }
    }

    /// One connection's life: check in, then long-poll and apply, checking in after each.
    /// Returns whether anything was answered before it ended, and why it ended.
    async fn session(&self, conn: &mut Connection) -> (bool, MgmtError) {
        if let Err(e) = self.check_in(conn).await {
            return (false, e);
        }
        self.renew_if_due(conn).await;
        let mut last = Instant::now();
        loop {
            let (after, force) = {
                let s = lock(&self.state);
                (s.poll_after(now_ms()), s.policy.as_ref().map_or(0, |p| p.force))
            };
            let path = format!("/v1/agent/policy?after={after}&force={force}&wait={POLL_WAIT}");
            let resp = match conn.send("GET", &path, &[], Bytes::new()).await {
                Ok(r) => r,
                Err(e) => return (true, MgmtError::io(e)),
            };
            match resp.status.as_u16() {
                200 => {
                    let policy: AgentPolicy = match serde_json::from_slice(&resp.body) {
                        Ok(p) => p,
                        Err(e) => return (true, MgmtError::io(format!("policy: {e}"))),
                    };
                    self.apply(policy).await;
                    if let Err(e) = self.check_in(conn).await {
                        return (true, e);
                    }
                    last = Instant::now();
                }
                204 => {
                    if last.elapsed() >= self.config.check_in_interval {
                        if let Err(e) = self.check_in(conn).await {
                            return (true, e);
                        }
                        self.renew_if_due(conn).await;
                        last = Instant::now();
                    }
                }
                _ => return (true, MgmtError::answer("policy", &resp)),
            }
        }
    }

    /// Fetches the policy at once when asked (update-config, a 401, `policy_stale`), or
    /// only checks in (the site server's health changed), on a second connection.
    async fn refetch_loop(self: Arc<Self>) {
        loop {
            let fetch = tokio::select! {
                () = self.fetch_now.notified() => true,
                () = self.report_now.notified() => false,
            };
            if self.material().mgmt.is_none() {
                continue;
            }
            let fetched = async {
                let mut conn = self.connect_mgmt().await?;
                if !fetch {
                    return self.check_in(&mut conn).await;
                }
                let resp = conn
                    .send("GET", "/v1/agent/policy?after=0", &[], Bytes::new())
                    .await
                    .map_err(MgmtError::io)?;
                if !resp.status.is_success() {
                    return Err(MgmtError::answer("policy", &resp));
                }
                let policy: AgentPolicy =
                    serde_json::from_slice(&resp.body).map_err(|e| MgmtError::io(format!("policy: {e}")))?;
                self.apply(policy).await;
                self.check_in(&mut conn).await
            };
            if let Err(e) = fetched.await {
                tracing::warn!(error = %e, "The policy could not be fetched now; the long-poll will bring it.");
            }
        }
    }

    async fn check_in(&self, conn: &mut Connection) -> Result<(), MgmtError> {
        let body = {
            let mut s = lock(&self.state);
            s.seq += 1;
            let p = s.policy.as_ref();
            let c = AgentCheckIn {
                seq: s.seq,
                revision: s.revision(),
                failed_revision: s.failed_revision,
                failure: s.failure.clone(),
                auth_mode: p.map_or(AuthMode::Certificate, |p| p.auth.mode),
                user_name: p.and_then(|p| p.auth.user_name.clone()),
                generation: p.and_then(|p| p.auth.generation),
                site_server: s.site_server.clone(),
                site_reachable: s.site_reachable,
                packages: crate::download::cached(&self.config.state_dir),
                version: VERSION.to_string(),
            };
            if let Err(e) = self.store.save(&s) {
                tracing::error!(error = %e, "The check-in counter could not be saved.");
            }
            serde_json::to_vec(&c).unwrap_or_default()
        };
        let resp = conn
            .send("POST", "/v1/agent/checkin", &[("content-type", "application/json")], Bytes::from(body))
            .await
            .map_err(MgmtError::io)?;
        if !resp.status.is_success() {
            return Err(MgmtError::answer("check-in", &resp));
        }
        self.update(|s| s.last_check_in_ms = Some(now_ms()));
        Ok(())
    }

    /// Applies a policy revision: at once when it does not change how the agent connects
    /// (or the agent has none yet); otherwise only once a site server accepted it, unless
    /// the old settings fail too.
    async fn apply(&self, policy: AgentPolicy) {
        let old = self.policy();
        if old.as_ref() == Some(&policy) {
            return;
        }
        let changes_connection = old.as_ref().is_some_and(|o| {
            o.auth != policy.auth
                || (self.config.site_servers.is_empty() && o.site_servers != policy.site_servers)
        });
        if changes_connection {
            match self.prove(&policy).await {
                Ok(()) => {}
                Err(reason) => {
                    let old_works = self.prove(old.as_ref().unwrap_or(&policy)).await.is_ok();
                    if old_works {
                        tracing::warn!(revision = policy.revision, reason = %reason,
                            "policy_failed: the new settings do not connect; keeping the previous ones.");
                        self.update(|s| {
                            s.failed_revision = Some(policy.revision);
                            s.failed_at_ms = Some(now_ms());
                            s.failure = Some(reason);
                        });
                        return;
                    }
                }
            }
        }
        let revision = policy.revision;
        let mode = policy.auth.mode;
        let user = policy.auth.user_name.clone();
        self.update(|s| {
            if let Err(e) = self.store.set_policy(s, policy) {
                tracing::error!(error = %e, "The policy could not be sealed.");
            }
            s.failed_revision = None;
            s.failed_at_ms = None;
            s.failure = None;
        });
        tracing::info!(revision, mode = %mode, user = %user.as_deref().unwrap_or("-"), "Policy applied.");
        self.policy_tx.send_replace(revision);
    }

    /// Registers with the policy's first reachable site server using its settings.
    async fn prove(&self, policy: &AgentPolicy) -> Result<(), String> {
        let auth = SiteAuth::of(Some(policy))?;
        let sites = site_list(&self.config.site_servers, Some(policy));
        let mut last = "no site server in the policy".to_string();
        for site in &sites {
            match self.open_site(site, auth.clone()).await {
                Ok(_) => return Ok(()),
                Err(e) => last = format!("{}: {e}", site.url),
            }
        }
        Err(last)
    }

    /// Keeps the token a site answered at registration, sealed, when it is new.
    fn keep_token(&self, session: &mut SiteSession, registered: &Registered) {
        let token = registered.agent_token.expose();
        if session.token() == Some(token) {
            return;
        }
        let url = session.url.clone();
        self.update(|s| {
            if let Err(e) = self.store.set_site_token(s, &url, &registered.site, token) {
                tracing::error!(error = %e, "The site token could not be sealed.");
            }
        });
        tracing::info!(site = %url, agent = %registered.agent_id,
            "The site server bound this agent id to this agent; its token is kept sealed in the state.");
        session.set_token(token.to_string());
    }

    /// Opens and registers a session with `site`, through the retry budget, presenting the
    /// token the agent holds there (a registration answers the token to use from then on).
    async fn open_site(
        &self,
        site: &acc_proto::SiteEndpoint,
        auth: SiteAuth,
    ) -> Result<SiteSession, SiteFailure> {
        let policy = self.policy();
        let (revision, limits) = policy
            .as_ref()
            .map_or((0, (0, 600)), |p| (p.revision, (p.limits.threshold, p.limits.window_secs)));
        let verdict = lock(&self.budget).check(now_ms(), revision, auth.fingerprint(), limits.0, limits.1);
        match verdict {
            Verdict::Go => {}
            Verdict::Wait(d) => {
                return Err(SiteFailure::Held(format!(
                    "waiting {} s before trying the credential again",
                    d.as_secs().max(1)
                )));
            }
            Verdict::NeedNewPolicy => {
                self.fetch_now.notify_one();
                return Err(SiteFailure::Held("the credential was refused; waiting for a new policy".into()));
            }
        }
        let (agent_id, token) = {
            let s = lock(&self.state);
            (s.agent_id.clone(), self.store.site_token(&s, &site.url, &site.name))
        };
        let material = self.material();
        let identity = material.identity.as_ref().map(|(c, k)| (c.as_slice(), k.as_slice()));
        let mut session = SiteSession::open(
            site,
            &self.ca_pem,
            identity,
            auth.clone(),
            &self.config.host_name,
            &agent_id,
            self.proxy.clone(),
            token,
        )
        .await?;
        let resp = session.register(VERSION).await.map_err(SiteFailure::Unreachable)?;
        let retry_after = resp
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .map(Duration::from_secs);
        let refusal = SiteFailure::refused(&resp);
        match resp.status.as_u16() {
            200 => {
                let registered: Registered = serde_json::from_slice(&resp.body)
                    .map_err(|e| SiteFailure::Unreachable(format!("register: unreadable answer: {e}")))?;
                lock(&self.budget).succeeded();
                if registered.policy_stale {
                    self.fetch_now.notify_one();
                }
                self.keep_token(&mut session, &registered);
                Ok(session)
            }
            401 => {
                lock(&self.budget).failed(now_ms(), revision, auth.fingerprint(), retry_after, jitter());
                self.fetch_now.notify_one();
                Err(refusal)
            }
            403 if matches!(refusal, SiteFailure::Refused { code: ErrorCode::LockedOut, .. }) => {
                lock(&self.budget).locked(now_ms(), auth.fingerprint(), retry_after);
                Err(refusal)
            }
            503 => {
                lock(&self.budget).locked(
                    now_ms(),
                    auth.fingerprint(),
                    retry_after.or(Some(Duration::from_secs(30))),
                );
                Err(refusal)
            }
            _ => Err(refusal),
        }
    }

    async fn site_loop(self: Arc<Self>) {
        let mut changes = self.policy_tx.subscribe();
        let mut retry = Retry::new(SITE_RETRY);
        loop {
            // Marked seen before the policy is read: a change from here on ends the session.
            changes.borrow_and_update();
            let policy = self.policy();
            let sites = site_list(&self.config.site_servers, policy.as_ref());
            let auth = match (&self.config.server, &policy) {
                (None, _) => Ok(SiteAuth::Certificate),
                (Some(_), None) => Err("waiting for the first policy from the management server".to_string()),
                (Some(_), Some(p)) => SiteAuth::of(Some(p)),
            };
            let auth = match auth {
                Ok(a) if !sites.is_empty() => a,
                Ok(_) | Err(_) => {
                    let _ = tokio::time::timeout(Duration::from_secs(30), changes.changed()).await;
                    continue;
                }
            };
            let mut session = None;
            let mut refused = false;
            for site in &sites {
                match self.open_site(site, auth.clone()).await {
                    Ok(s) => {
                        session = Some(s);
                        break;
                    }
                    Err(e) => {
                        refused |= e.is_refusal();
                        match &e {
                            SiteFailure::Refused { .. } => tracing::warn!(site = %site.url, error = %e,
                                "Site server reachable but it refused this agent; trying the next one."),
                            SiteFailure::Unreachable(_) => tracing::warn!(site = %site.url, error = %e,
                                "Site server unreachable; trying the next one."),
                            SiteFailure::Held(_) => tracing::info!(site = %site.url, error = %e,
                                "Site server not tried now; trying the next one."),
                        }
                        self.update(|s| {
                            s.site_server = Some(site.url.clone());
                            s.site_reachable = Some(false);
                        });
                    }
                }
            }
            let Some(mut session) = session else {
                let wait = retry.after(if refused { Ended::Refused } else { Ended::Unreachable });
                tracing::warn!("No site server is usable now; trying them again in {}.", seconds(wait));
                let _ = tokio::time::timeout(wait, changes.changed()).await;
                continue;
            };
            let line = connection_line(
                &session.url,
                session.protocol(),
                session.auth(),
                self.material().cert.as_ref(),
            );
            tracing::info!("{line}");
            let url = session.url.clone();
            self.update(|s| {
                s.site_server = Some(url);
                s.site_reachable = Some(true);
                s.last_connection = Some(line);
            });
            self.report_now.notify_one();
            tokio::select! {
                (progressed, e) = self.task_loop(&mut session) => {
                    let not_bound = matches!(e, SiteFailure::Refused { code: ErrorCode::AgentNotBound, .. });
                    // A session that worked reconnects at once (and registers again, which
                    // renews a binding the site no longer has); one refused from its first
                    // poll waits like a refused registration.
                    let wait = if progressed {
                        retry.after(Ended::AfterProgress);
                        Duration::ZERO
                    } else {
                        retry.after(if e.is_refusal() { Ended::Refused } else { Ended::Unreachable })
                    };
                    if not_bound {
                        tracing::warn!(site = %session.url, error = %e,
                            "The site server no longer holds this agent's binding; registering again.");
                    } else {
                        tracing::warn!(site = %session.url, error = %e,
                            "Site server connection ended; reconnecting in {}.", seconds(wait));
                    }
                    self.update(|s| s.site_reachable = Some(false));
                    self.report_now.notify_one();
                    let _ = tokio::time::timeout(wait, changes.changed()).await;
                }
                _ = changes.changed() => tracing::info!("New policy: reconnecting to the site server with it."),
            }
        }
    }

    /// Long-polls and runs tasks until the connection fails or the site refuses; returns
    /// whether any poll was answered, and why it ended.
    async fn task_loop(&self, session: &mut SiteSession) -> (bool, SiteFailure) {
        let mut progressed = false;
        loop {
            let resp = match session.send("GET", &format!("/v1/tasks?wait={POLL_WAIT}"), None).await {
                Ok(r) => r,
                Err(e) => return (progressed, SiteFailure::Unreachable(e)),
            };
            if !resp.status.is_success() {
                return (progressed, SiteFailure::refused(&resp));
            }
            progressed = true;
            let body: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            for task in body["tasks"].as_array().into_iter().flatten() {
                let id = task["id"].as_str().unwrap_or_default().to_string();
                let kind = task["type"].as_str().unwrap_or_default().to_string();
                let (status, output) = self.run_task(&kind, &task["payload"]).await;
                tracing::info!(task = %id, kind = %kind, status, "{output}");
                let result = json!({ "status": status, "output": output });
                match session
                    .send("POST", &format!("/v1/tasks/{id}/result"), Some(result.to_string().into_bytes()))
                    .await
                {
                    Ok(r) if r.status.is_success() => {}
                    Ok(r) => {
                        tracing::warn!(task = %id, error = %SiteFailure::refused(&r), "The task result was refused.")
                    }
                    Err(e) => return (progressed, SiteFailure::Unreachable(e)),
                }
            }
        }
    }

    /// Runs one task: only the kinds the agent knows; nothing runs arbitrary commands.
    async fn run_task(&self, kind: &str, payload: &Value) -> (&'static str, String) {
        let name = payload["name"].as_str().or_else(|| payload["package"].as_str()).unwrap_or_default();
        match kind {
            "update-config" => {
                self.fetch_now.notify_one();
                (
                    "completed",
                    format!("fetching the policy now (revision {} in force)", lock(&self.state).revision()),
                )
            }
            "download-package" => {
                let mut last_log = Instant::now();
                let mut progress = |done: u64, total: u64| {
                    if last_log.elapsed() >= Duration::from_secs(5) {
                        tracing::info!("download {name}: {done} of {total} bytes");
                        last_log = Instant::now();
                    }
                };
                match self.download(name, &mut progress).await {
                    Ok(d) => (
                        "completed",
                        format!("{} in the cache ({} bytes, {} fetched now)", d.label, d.size, d.fetched),
                    ),
                    Err(e) => ("failed", e),
                }
            }
            "verify-package" => match crate::download::verify(&self.config.state_dir, name) {
                Ok(bad) if bad.is_empty() => ("completed", format!("{name}: every file matches its SHA-256")),
                Ok(bad) => {
                    ("failed", format!("{name}: {} differ from the manifest: {}", bad.len(), bad.join(", ")))
                }
                Err(e) => ("failed", e),
            },
            other => (
                "failed",
                format!(
                    "task type '{other}' is not one this agent runs (update-config, download-package, verify-package)"
                ),
            ),
        }
    }

    /// Downloads `name` from the first site server that has it, retrying each one a few
    /// times with backoff and failing over to the next; resumes what is already there.
    pub async fn download(
        &self,
        name: &str,
        progress: crate::download::Progress<'_>,
    ) -> Result<crate::download::Downloaded, String> {
        let policy = self.policy();
        let sites = site_list(&self.config.site_servers, policy.as_ref());
        let auth = match (&self.config.server, &policy) {
            (None, _) => SiteAuth::Certificate,
            (Some(_), p) => SiteAuth::of(p.as_ref())?,
        };
        let mut last = "no site server to download from".to_string();
        for site in &sites {
            let mut backoff = Duration::from_secs(1);
            for attempt in 0..3 {
                if attempt > 0 {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                let mut session = match self.open_site(site, auth.clone()).await {
                    Ok(s) => s,
                    Err(e) => {
                        last = format!("{}: {e}", site.url);
                        break;
                    }
                };
                match crate::download::download(
                    &mut session,
                    &self.config.state_dir,
                    name,
                    self.config.download_limit,
                    progress,
                )
                .await
                {
                    Ok(d) => {
                        tracing::info!(package = %d.label, site = %site.url, bytes = d.size, fetched = d.fetched, "Package downloaded and verified.");
                        self.report_now.notify_one();
                        return Ok(d);
                    }
                    Err(e) => {
                        tracing::warn!(package = name, site = %site.url, error = %e, "Download interrupted; retrying.");
                        last = format!("{}: {e}", site.url);
                    }
                }
            }
        }
        Err(format!("download {name}: {last}"))
    }
}

/// The `message` of a JSON error body, or the body itself.
pub(crate) fn message(body: &[u8]) -> String {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["message"]
        .as_str()
        .map_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect(), str::to_string)
}
