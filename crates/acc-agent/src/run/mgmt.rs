//! The management-server session: the policy long-poll and its check-ins over mTLS, the
//! refetch on a second connection (an `update-config` task, a `401`, `policy_stale`, a
//! change of the site server's health), applying a revision without stranding the agent,
//! and the certificate's renewal at two thirds of its lifetime. Each connection goes to the
//! management server node in use, else the next that answers; each policy's node list
//! replaces the agent's and is kept in its state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use acc_core::failover::jittered;
use acc_core::retry::{Ended, Retry, RetryPolicy};
use acc_net::client::{ClientError, Connection, Response, node_unavailable};
use acc_proto::{AgentCheckIn, AgentPolicy, AuthMode};
use bytes::Bytes;

use super::{Agent, Material, POLL_WAIT, VERSION, jitter, lock, seconds};
use crate::identity::{self, Identity};
use crate::renew::RenewError;
use crate::site::{SiteAuth, SiteFailure, connection_line, site_list};

/// Reconnecting to the management server: unreachable from 1 s doubling to 1 minute; a
/// refusal (it answered no) from 5 s doubling to 10 minutes.
pub const MGMT_RETRY: RetryPolicy = RetryPolicy {
    unreachable_first: Duration::from_secs(1),
    unreachable_max: Duration::from_secs(60),
    refused_first: Duration::from_secs(5),
    refused_max: Duration::from_secs(600),
};

/// Why a request to the management server did not work.
#[derive(Debug, thiserror::Error)]
enum MgmtError {
    /// The agent has no management server or no certificate for it.
    #[error("no management server")]
    NoServer,
    /// No answer: connection, TLS or I/O.
    #[error(transparent)]
    Connection(#[from] ClientError),
    /// An answer that cannot be read.
    #[error("{what}: {error}")]
    Unreadable {
        /// `policy`.
        what: &'static str,
        /// Why.
        error: serde_json::Error,
    },
    /// An answer other than a success or a refusal (a 5xx, an unexpected status).
    #[error("{what}: {status}: {message}")]
    Failed {
        /// `policy`, `check-in`.
        what: &'static str,
        /// The status as HTTP says it.
        status: String,
        /// The server's message.
        message: String,
    },
    /// It answered and refused (a 4xx).
    #[error("refused with {what}: {status}: {message}")]
    Refused {
        /// `policy`, `check-in`.
        what: &'static str,
        /// The status as HTTP says it.
        status: String,
        /// The server's reason.
        message: String,
    },
}

impl MgmtError {
    /// The refusal of `what` (`policy`, `check-in`): a 4xx is a refusal, anything else
    /// a failure to get an answer.
    fn answer(what: &'static str, resp: &Response) -> MgmtError {
        let (status, message) = (resp.status.to_string(), super::message(&resp.body));
        if resp.status.is_client_error() {
            MgmtError::Refused { what, status, message }
        } else {
            MgmtError::Failed { what, status, message }
        }
    }

    /// Whether the node answered it cannot serve now (502, 503, 504): another may.
    fn node_unavailable(&self) -> bool {
        matches!(self, MgmtError::Failed { status, .. }
            if status.get(..3).and_then(|c| c.parse().ok()).is_some_and(node_unavailable))
    }

    /// How the connection ended, for the retry: `progressed` when anything was answered.
    fn ended(&self, progressed: bool) -> Ended {
        match self {
            MgmtError::Refused { .. } => Ended::Refused,
            _ if progressed => Ended::AfterProgress,
            _ => Ended::Unreachable,
        }
    }
}

/// Why a policy revision was not proven against a site server; the reason reported as
/// `policy_failed`.
#[derive(Debug, thiserror::Error)]
enum Unproven {
    /// The revision carries no usable credential.
    #[error(transparent)]
    Credential(crate::site::NoCredential),
    /// It names no site server.
    #[error("no site server in the policy")]
    NoSite,
    /// The last site server tried did not accept it.
    #[error("{url}: {failure}")]
    Site {
        /// The site server.
        url: String,
        /// How it ended.
        failure: SiteFailure,
    },
}

impl Agent {
    fn mgmt_line(&self, url: &str, protocol: &str) -> String {
        let identity = self.identity();
        connection_line(url, protocol, &SiteAuth::Certificate, identity.as_ref().map(|i| &i.summary))
    }

    /// Connects to the node in use, else the next that answers, which is the node in use
    /// from then on.
    async fn connect_mgmt(&self) -> Result<Connection, MgmtError> {
        let (Some(order), Some(tls)) = (lock(&self.nodes).as_ref().map(|n| n.order()), self.mgmt_tls())
        else {
            return Err(MgmtError::NoServer);
        };
        let (conn, url) = Connection::open_first(&tls, &order).await?;
        if let Some(n) = lock(&self.nodes).as_mut() {
            n.answered(&url);
        }
        tracing::info!("{}", self.mgmt_line(&url, &conn.protocol));
        Ok(conn)
    }

    /// Takes a policy's node list (an empty one, from an older server, changes nothing)
    /// and keeps it in the state.
    fn take_nodes(&self, servers: &[String]) {
        let changed = lock(&self.nodes).as_mut().is_some_and(|n| n.replace(servers.to_vec()));
        if changed {
            let list = lock(&self.nodes).as_ref().map(|n| n.nodes().to_vec()).unwrap_or_default();
            tracing::info!(nodes = %list.join(","), "The management server nodes changed.");
            self.update(|s| s.servers = list);
        }
    }

    pub(super) async fn policy_loop(self: Arc<Self>) {
        if self.mgmt_tls().is_none() {
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
            if e.node_unavailable()
                && let Some(n) = lock(&self.nodes).as_mut()
            {
                n.skip();
            }
            let ended = e.ended(progressed);
            let wait = jittered(retry.after(ended), jitter());
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
                (s.poll_after(self.now_ms()), s.policy.as_ref().map_or(0, |p| p.force))
            };
            let path = format!("/v1/agent/policy?after={after}&force={force}&wait={POLL_WAIT}");
            let resp = match conn.send("GET", &path, &[], Bytes::new()).await {
                Ok(r) => r,
                Err(e) => return (true, e.into()),
            };
            match resp.status.as_u16() {
                200 => {
                    let policy = match read_policy(&resp) {
                        Ok(p) => p,
                        Err(e) => return (true, e),
                    };
                    self.take_nodes(&policy.servers);
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
    pub(super) async fn refetch_loop(self: Arc<Self>) {
        loop {
            let fetch = tokio::select! {
                () = self.fetch_now.notified() => true,
                () = self.report_now.notified() => false,
            };
            if self.mgmt_tls().is_none() {
                continue;
            }
            if let Err(e) = self.refetch(fetch).await {
                tracing::warn!(error = %e, "The policy could not be fetched now; the long-poll will bring it.");
            }
        }
    }

    async fn refetch(&self, fetch: bool) -> Result<(), MgmtError> {
        let mut conn = self.connect_mgmt().await?;
        if !fetch {
            return self.check_in(&mut conn).await;
        }
        let resp = conn.send("GET", "/v1/agent/policy?after=0", &[], Bytes::new()).await?;
        if !resp.status.is_success() {
            return Err(MgmtError::answer("policy", &resp));
        }
        let policy = read_policy(&resp)?;
        self.take_nodes(&policy.servers);
        self.apply(policy).await;
        self.check_in(&mut conn).await
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
            .await?;
        if !resp.status.is_success() {
            return Err(MgmtError::answer("check-in", &resp));
        }
        self.update(|s| s.last_check_in_ms = Some(self.now_ms()));
        Ok(())
    }

    /// Renews the certificate when two thirds of its lifetime have passed, and switches
    /// new connections (to the management server and every site) to it.
    async fn renew_if_due(&self, conn: &mut Connection) {
        let (Some(current), Some((key, cert))) = (self.identity(), self.config.identity.as_ref()) else {
            return;
        };
        if !crate::renew::due(&current.summary, self.clock.now_utc()) {
            return;
        }
        let renewed = async {
            crate::renew::renew(conn, key, cert).await?;
            let renewed = Identity::load(key, cert, identity::current_uid())?;
            let tls = identity::client_tls(&self.ca_pem, Some(&renewed))?;
            let summary = renewed.summary.clone();
            *lock(&self.tls) = Material {
                identity: Some(Arc::new(renewed)),
                mgmt: Some(tls.via(self.proxy.clone())),
                sites: Default::default(),
            };
            Ok::<_, RenewError>(summary)
        };
        match renewed.await {
            Ok(s) => {
                tracing::info!(certificate = %s.subject_cn, expires = %s.expires(), "Certificate renewed.")
            }
            Err(e) => {
                tracing::warn!(error = %e, "The certificate could not be renewed; trying again at the next check-in.")
            }
        }
    }

    /// Applies a policy revision: at once when it does not change how the agent connects
    /// (or the agent has none yet); otherwise only once a site server accepted it, unless
    /// the old settings fail too.
    pub(super) async fn apply(&self, policy: AgentPolicy) {
        let old = self.policy();
        if old.as_ref() == Some(&policy) {
            return;
        }
        let changes_connection = old.as_ref().is_some_and(|o| {
            o.auth != policy.auth
                || (self.config.site_servers.is_empty() && o.site_servers != policy.site_servers)
        });
        if changes_connection && let Err(reason) = self.prove(&policy).await {
            let old_works = self.prove(old.as_ref().unwrap_or(&policy)).await.is_ok();
            if old_works {
                tracing::warn!(revision = policy.revision, reason = %reason,
                    "policy_failed: the new settings do not connect; keeping the previous ones.");
                self.update(|s| {
                    s.failed_revision = Some(policy.revision);
                    s.failed_at_ms = Some(self.now_ms());
                    s.failure = Some(reason.to_string());
                });
                return;
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
    async fn prove(&self, policy: &AgentPolicy) -> Result<(), Unproven> {
        let auth = SiteAuth::of(Some(policy)).map_err(Unproven::Credential)?;
        let mut last = Unproven::NoSite;
        for site in &site_list(&self.config.site_servers, Some(policy)) {
            match self.open_site(site, auth.clone()).await {
                Ok(_) => return Ok(()),
                Err(failure) => last = Unproven::Site { url: site.url.clone(), failure },
            }
        }
        Err(last)
    }
}

/// The policy in a `200` answer.
fn read_policy(resp: &Response) -> Result<AgentPolicy, MgmtError> {
    serde_json::from_slice(&resp.body).map_err(|error| MgmtError::Unreadable { what: "policy", error })
}
