//! The site sessions: registration with the first site server that answers (failing over
//! in order, every refused credential through the retry budget), the task long-poll on
//! the same connection, package downloads that fail over between sites, and each site's
//! client TLS, built once per identity and kept.

use std::sync::Arc;
use std::time::Duration;

use acc_core::retry::{Ended, Retry, RetryPolicy};
use acc_net::client::ClientTls;
use acc_proto::SiteEndpoint;
use acc_proto::agent_site::{ErrorCode, Registered};

use super::task::{Task, assigned};
use super::{Agent, POLL_WAIT, VERSION, jitter, lock, seconds};
use crate::budget::Verdict;
use crate::download::{DownloadError, Downloaded, Progress};
use crate::site::{SiteAuth, SiteFailure, SiteSession, connection_line, site_list};

/// Trying the site servers again once none was usable: unreachable from 1 s doubling to
/// 30 s; refused from 5 s doubling to 10 minutes (the credential's own retry budget comes
/// on top).
const SITE_RETRY: RetryPolicy = RetryPolicy {
    unreachable_first: Duration::from_secs(1),
    unreachable_max: Duration::from_secs(30),
    refused_first: Duration::from_secs(5),
    refused_max: Duration::from_secs(600),
};

/// One site server's client TLS and what it was made from.
pub(super) struct SiteTls {
    /// The CA the site reported, trusted beside the `ca-file`.
    site_ca: Option<String>,
    /// Whether it presents the agent's certificate.
    presents_identity: bool,
    tls: ClientTls,
}

impl Agent {
    /// The client TLS for `site`: the `ca-file` and the site's own CA, presenting the
    /// identity when `auth` is the certificate. Made once per site and kept until the
    /// site's CA or the identity changes.
    fn site_tls(&self, site: &SiteEndpoint, auth: &SiteAuth) -> Result<ClientTls, SiteFailure> {
        let presents_identity = *auth == SiteAuth::Certificate;
        let mut material = lock(&self.tls);
        if let Some(kept) = material.sites.get(&site.url)
            && kept.site_ca == site.ca_pem
            && kept.presents_identity == presents_identity
        {
            return Ok(kept.tls.clone());
        }
        let mut trust = self.ca_pem.clone();
        if let Some(extra) = &site.ca_pem {
            trust.push(b'\n');
            trust.extend_from_slice(extra.as_bytes());
        }
        let identity = material.identity.as_ref().filter(|_| presents_identity);
        let tls = ClientTls::new(&trust, identity.map(|i| i.pair()))
            .map_err(|e| SiteFailure::Unreachable(e.to_string()))?
            .via(self.proxy.clone());
        let kept = SiteTls { site_ca: site.ca_pem.clone(), presents_identity, tls: tls.clone() };
        material.sites.insert(site.url.clone(), kept);
        Ok(tls)
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
    pub(super) async fn open_site(
        &self,
        site: &SiteEndpoint,
        auth: SiteAuth,
    ) -> Result<SiteSession, SiteFailure> {
        let policy = self.policy();
        let (revision, limits) = policy
            .as_ref()
            .map_or((0, (0, 600)), |p| (p.revision, (p.limits.threshold, p.limits.window_secs)));
        let verdict =
            lock(&self.budget).check(self.now_ms(), revision, auth.fingerprint(), limits.0, limits.1);
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
        let tls = self.site_tls(site, &auth)?;
        let mut session =
            SiteSession::open(site, &tls, auth.clone(), &self.config.host_name, &agent_id, token).await?;
        let resp = session.register(VERSION).await.map_err(|e| SiteFailure::Unreachable(e.to_string()))?;
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
                lock(&self.budget).failed(self.now_ms(), revision, auth.fingerprint(), retry_after, jitter());
                self.fetch_now.notify_one();
                Err(refusal)
            }
            403 if matches!(refusal, SiteFailure::Refused { code: ErrorCode::LockedOut, .. }) => {
                lock(&self.budget).locked(self.now_ms(), auth.fingerprint(), retry_after);
                Err(refusal)
            }
            503 => {
                lock(&self.budget).locked(
                    self.now_ms(),
                    auth.fingerprint(),
                    retry_after.or(Some(Duration::from_secs(30))),
                );
                Err(refusal)
            }
            _ => Err(refusal),
        }
    }

    /// The first site server in order that registers the agent, or `None` (each failure
    /// logged and recorded), and whether any of them refused it.
    async fn first_site(&self, sites: &[SiteEndpoint], auth: &SiteAuth) -> (Option<SiteSession>, bool) {
        let mut refused = false;
        for site in sites {
            match self.open_site(site, auth.clone()).await {
                Ok(s) => return (Some(s), refused),
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
        (None, refused)
    }

    pub(super) async fn site_loop(self: Arc<Self>) {
        let mut changes = self.policy_tx.subscribe();
        let mut retry = Retry::new(SITE_RETRY);
        loop {
            // Marked seen before the policy is read: a change from here on ends the session.
            changes.borrow_and_update();
            let policy = self.policy();
            let sites = site_list(&self.config.site_servers, policy.as_ref());
            let auth = match (&self.config.server, &policy) {
                (None, _) => Some(SiteAuth::Certificate),
                // Waiting for the first policy from the management server.
                (Some(_), None) => None,
                (Some(_), Some(p)) => SiteAuth::of(Some(p)).ok(),
            };
            let Some(auth) = auth.filter(|_| !sites.is_empty()) else {
                let _ = tokio::time::timeout(Duration::from_secs(30), changes.changed()).await;
                continue;
            };
            let (session, refused) = self.first_site(&sites, &auth).await;
            let Some(mut session) = session else {
                let wait = retry.after(if refused { Ended::Refused } else { Ended::Unreachable });
                tracing::warn!("No site server is usable now; trying them again in {}.", seconds(wait));
                let _ = tokio::time::timeout(wait, changes.changed()).await;
                continue;
            };
            let identity = self.identity();
            let line = connection_line(
                &session.url,
                session.protocol(),
                session.auth(),
                identity.as_ref().map(|i| &i.summary),
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
                Err(e) => return (progressed, SiteFailure::Unreachable(e.to_string())),
            };
            if !resp.status.is_success() {
                return (progressed, SiteFailure::refused(&resp));
            }
            progressed = true;
            for delivered in assigned(&resp.body) {
                let payload = delivered.payload.unwrap_or_default();
                let outcome = Task::parse(&delivered.task_type, &payload).run(self).await;
                tracing::info!(task = %delivered.id, kind = %delivered.task_type, status = outcome.status.as_str(), "{}", outcome.output);
                let result = serde_json::to_vec(&outcome.result()).unwrap_or_default();
                match session.send("POST", &format!("/v1/tasks/{}/result", delivered.id), Some(result)).await
                {
                    Ok(r) if r.status.is_success() => {}
                    Ok(r) => {
                        tracing::warn!(task = %delivered.id, error = %SiteFailure::refused(&r), "The task result was refused.")
                    }
                    Err(e) => return (progressed, SiteFailure::Unreachable(e.to_string())),
                }
            }
        }
    }

    /// Downloads `name` from the first site server that has it, retrying each one a few
    /// times with backoff and failing over to the next; resumes what is already there.
    pub async fn download(&self, name: &str, progress: Progress<'_>) -> Result<Downloaded, DownloadError> {
        let policy = self.policy();
        let sites = site_list(&self.config.site_servers, policy.as_ref());
        let auth = match (&self.config.server, &policy) {
            (None, _) => SiteAuth::Certificate,
            (Some(_), p) => SiteAuth::of(p.as_ref()).map_err(DownloadError::Credential)?,
        };
        let mut last = None;
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
                        last = Some((site.url.clone(), DownloadError::Site(e)));
                        break;
                    }
                };
                let limit = self.config.download_limit;
                match crate::download::download(&mut session, &self.config.state_dir, name, limit, progress)
                    .await
                {
                    Ok(d) => {
                        tracing::info!(package = %d.label, site = %site.url, bytes = d.size, fetched = d.fetched, "Package downloaded and verified.");
                        self.report_now.notify_one();
                        return Ok(d);
                    }
                    Err(e) => {
                        tracing::warn!(package = name, site = %site.url, error = %e, "Download interrupted; retrying.");
                        last = Some((site.url.clone(), e));
                    }
                }
            }
        }
        Err(match last {
            Some((url, reason)) => {
                DownloadError::Failed { name: name.to_string(), url, reason: Box::new(reason) }
            }
            None => DownloadError::NoSite(name.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::AgentConfig;

    /// A self-signed CA certificate and its key (PEM).
    fn ca(cn: &str) -> (String, String) {
        let key = acc_pki::key::PrivateKey::generate(acc_pki::key::Curve::P256).unwrap();
        let subject = acc_pki::subject::Subject::parse(&format!("/CN={cn}")).unwrap();
        let now = time::OffsetDateTime::now_utc();
        let der = acc_pki::x509::self_signed_ca(&key, &subject, 30, &[1], now).unwrap();
        (acc_pki::pem::encode("CERTIFICATE", &der), key.to_pkcs8_pem().unwrap())
    }

    #[cfg(unix)]
    #[test]
    fn a_site_s_tls_is_made_once_and_again_only_when_its_ca_or_the_auth_changes() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        // The agent's certificate is its own CA here: all this test needs is a pair.
        let (cert, key) = ca("web01");
        std::fs::write(d.path().join("ca.crt"), &cert).unwrap();
        std::fs::write(d.path().join("acc.crt"), &cert).unwrap();
        std::fs::write(d.path().join("acc.key"), &key).unwrap();
        std::fs::set_permissions(d.path().join("acc.key"), std::fs::Permissions::from_mode(0o400)).unwrap();
        let yml = "site-servers: [https://site1:8443]\nca-file: ca.crt\nkey-file: acc.key\n\
                   cert-file: acc.crt\nstate-dir: state\nlog-file: acc.log\n";
        std::fs::write(d.path().join("acc.yml"), yml).unwrap();
        let agent = Agent::new(AgentConfig::load(&d.path().join("acc.yml")).unwrap()).unwrap();
        let mut site = SiteEndpoint { name: "site1".into(), url: "https://site1:8443".into(), ca_pem: None };
        let cert = SiteAuth::Certificate;
        let first = agent.site_tls(&site, &cert).unwrap();
        assert!(agent.site_tls(&site, &cert).unwrap().same_config(&first));
        site.ca_pem = Some(ca("Site CA").0);
        let second = agent.site_tls(&site, &cert).unwrap();
        assert!(!second.same_config(&first));
        assert!(agent.site_tls(&site, &cert).unwrap().same_config(&second));
        let password = SiteAuth::Password { user: "ACC_user".into(), password: "pw".into() };
        assert!(!agent.site_tls(&site, &password).unwrap().same_config(&second));
    }
}
