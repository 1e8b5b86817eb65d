//! Agents talking to the management server over mTLS: who a client certificate stands
//! for, the policy long-poll (with the active credential from the vault), check-ins, the
//! inventory `acc ctl agents` shows, and the removal of a retiring generation once every
//! agent reports the new one (3.2.4 P6, Reason `all-agents-acked`).

use std::collections::BTreeMap;
use std::time::Duration;

use acc_core::generation::GenerationPhase;
use acc_proto::admin::{AgentStatus, AgentView};
use acc_proto::{AgentAuth, AgentCheckIn, AgentPolicy};

use crate::agents::{self, AgentRecord};
use crate::document::{AuthMode, PolicyDocument};
use crate::error::ServerError;
use crate::init::directory_secret_name;
use crate::server::{SaveError, Server, generation_secret_name};
use crate::store;

/// The policy answer agents are sent, rendered once and then served as it is to every
/// agent while nothing in it changes: a change answers 10,000 waiting long-polls at once,
/// and each would otherwise open the same credential from the vault, copy the site list
/// and write the same JSON. The answer holds the revision, the `update-config` counter,
/// the active credential, the site servers and the management server nodes; it is
/// rendered again when any of them changed. The vault's secrets change only with a
/// revision (they are committed with it), so the credential is opened again only then.
/// The async lock makes the first waiter render it while the others wait for its answer.
#[derive(Default)]
pub struct AgentAnswers(tokio::sync::Mutex<Option<AgentAnswer>>);

impl std::fmt::Debug for AgentAnswers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentAnswers([REDACTED])")
    }
}

/// One rendered policy answer and what it was rendered from.
struct AgentAnswer {
    policy: AgentPolicy,
    body: axum::body::Bytes,
}

/// An agent as its verified client certificate presents it.
#[derive(Debug, Clone)]
pub struct AgentIdentity {
    /// Its host name: the certificate's CN, lower case.
    pub name: String,
    /// The certificate's serial (upper-case hex).
    pub serial_hex: String,
    /// The certificate's issuer.
    pub issuer: String,
    /// The certificate's notAfter (Unix milliseconds).
    pub not_after_ms: i64,
    /// The remote address.
    pub address: String,
}

/// Why an agent's certificate does not let it in.
#[derive(Debug, thiserror::Error)]
pub enum AgentRefusal {
    /// Revoked on the fleet CA's list.
    #[error(
        "certificate {0} was revoked; enroll this machine again (acc agent enroll --token T, a token from acc ctl enroll-token create)"
    )]
    Revoked(String),
    /// A site server's certificate on an agent route.
    #[error("certificate {0} belongs to a site server, not to an agent")]
    SiteCertificate(String),
}

impl Server {
    /// Checks that `id` may act as an agent: not revoked, not a site server's certificate.
    pub fn admit_agent(&self, id: &AgentIdentity) -> Result<(), AgentRefusal> {
        if self.site_for(&id.name.to_ascii_uppercase(), &id.serial_hex).is_some() {
            return Err(AgentRefusal::SiteCertificate(id.serial_hex.clone()));
        }
        let (_, doc) = self.in_force();
        if doc.revoked.iter().any(|r| r.serial.eq_ignore_ascii_case(&id.serial_hex)) {
            return Err(AgentRefusal::Revoked(id.serial_hex.clone()));
        }
        Ok(())
    }

    /// Notes that the agent called (a first call puts it in the inventory).
    fn touch_agent(&self, id: &AgentIdentity) {
        let now = self.now_ms();
        let mut agents = self.inventory.agents();
        let record = agents
            .entry(id.name.clone())
            .or_insert_with(|| AgentRecord::new(&id.name, &id.serial_hex, &id.issuer, now, &id.address));
        record.last_check_in = now;
        record.issuer.clone_from(&id.issuer);
        record.cert_not_after = Some(id.not_after_ms);
    }

    /// The agent policy (an `AgentPolicy`, as JSON) once the revision in force is above
    /// `after` or an `update-config` for agents came after `force_after`, waiting up to
    /// `wait`; `None` when nothing happened.
    pub async fn wait_agent_policy(
        &self,
        id: &AgentIdentity,
        after: i64,
        force_after: u64,
        wait: Duration,
    ) -> Result<Option<axum::body::Bytes>, ServerError> {
        self.touch_agent(id);
        let waiting = crate::metrics::LongPoll::start("agent");
        let Some((revision, doc, force)) =
            self.wait_change(after, force_after, wait, crate::wake::Audience::Agents).await
        else {
            return Ok(None);
        };
        drop(waiting);
        let servers = self.node_urls();
        let mut cached = self.agent_answers().0.lock().await;
        if let Some(answer) = cached.as_ref() {
            let p = &answer.policy;
            if p.revision == revision
                && p.force == force
                && p.servers == servers
                && agents::same_endpoints(&p.site_servers, &self.inventory.sites())
            {
                return Ok(Some(answer.body.clone()));
            }
        }
        let credential = match cached.take() {
            Some(answer) if answer.policy.revision == revision => answer.policy.auth,
            _ => self.agent_credential(&doc).await?,
        };
        let mut policy = agents::agent_policy(revision, &doc, credential, &self.inventory.sites());
        policy.force = force;
        policy.servers = servers;
        let body = axum::body::Bytes::from(serde_json::to_vec(&policy).map_err(|e| {
            ServerError::Invalid(format!("the agent policy could not be written as JSON: {e}"))
        })?);
        *cached = Some(AgentAnswer { policy, body: body.clone() });
        Ok(Some(body))
    }

    /// How agents authenticate in `doc`'s mode, with the credential they present: the
    /// App ID in `application` mode (and in `credential` mode until its first generation
    /// is active), the active generation in `credential` mode (from the vault), none for
    /// certificates.
    async fn agent_credential(&self, doc: &PolicyDocument) -> Result<AgentAuth, ServerError> {
        let mode = agents::effective_mode(doc);
        let none = AgentAuth { mode, user_name: None, password: None, generation: None };
        let (user, secret, generation) = match (mode, doc.generation_in(GenerationPhase::Active)) {
            (AuthMode::Certificate, _) => return Ok(none),
            (AuthMode::Credential, Some(g)) => {
                (g.user_name.clone(), generation_secret_name(g.number), Some(g.number))
            }
            _ => (self.config().app_id_display(), directory_secret_name(&self.config().app_id), None),
        };
        let password = self.open_secret(&secret).await?;
        Ok(match password {
            Some(p) => {
                AgentAuth { mode, user_name: Some(user), password: Some(p.expose().to_string()), generation }
            }
            None => none,
        })
    }

    /// Records a check-in; then, when every agent holds the active generation, removes
    /// the retiring one (P6).
    pub async fn agent_check_in(
        &self,
        id: &AgentIdentity,
        check_in: AgentCheckIn,
    ) -> Result<(), ServerError> {
        if let Some(f) = &check_in.failure {
            tracing::warn!(agent = %id.name, revision = check_in.failed_revision, reason = %f, "policy_failed");
        }
        let writing = self.inventory.writing().await;
        let record = {
            let mut agents = self.inventory.agents();
            let now = self.now_ms();
            let record = agents
                .entry(id.name.clone())
                .or_insert_with(|| AgentRecord::new(&id.name, &id.serial_hex, &id.issuer, now, &id.address));
            let was_duplicate = record.duplicate.is_some();
            record.check_in(&id.serial_hex, check_in, &id.address, now);
            record.cert_not_after = Some(id.not_after_ms);
            if let (false, Some(why)) = (was_duplicate, &record.duplicate) {
                tracing::warn!(agent = %id.name, "{why}");
            }
            record.clone()
        };
        let text = serde_json::to_string(&record).map_err(|e| ServerError::Invalid(e.to_string()))?;
        store::put_record(&self.pool, store::Inventory::Agents, &record.name, &text).await?;
        drop(writing);
        self.retire_if_adopted().await;
        Ok(())
    }

    /// P6: removes the retiring generation when every live agent reports the active one.
    pub(crate) async fn retire_if_adopted(&self) {
        if !self.adopted(&self.current().1) {
            return;
        }
        let guard = match self.saving().await {
            Ok(g) => g,
            Err(e) => return tracing::error!(error = %e, "The adoption could not take the save lock."),
        };
        let (_, doc) = self.current();
        if !self.adopted(&doc) {
            return;
        }
        let mut next = doc.clone();
        let steps: Vec<_> = next
            .generations
            .iter_mut()
            .filter(|g| g.phase == GenerationPhase::Retiring)
            .map(|g| crate::document::step(g, GenerationPhase::Removed, "all-agents-acked"))
            .collect();
        let saved = crate::document::Saved { document: next, warnings: Vec::new(), granted: Vec::new() };
        match self
            .commit_steps(
                guard,
                &doc,
                saved,
                Vec::new(),
                "rotation (every agent holds the new credential)",
                steps,
            )
            .await
        {
            Ok(_) | Err(SaveError::Refused(_)) => {}
            Err(SaveError::Server(e)) => tracing::error!(error = %e, "The adoption could not be saved."),
        }
    }

    fn adopted(&self, doc: &PolicyDocument) -> bool {
        doc.generation_in(GenerationPhase::Retiring).is_some()
            && agents::all_agents_adopted(doc, &self.inventory.agents(), &|a: &AgentRecord| {
                doc.revoked.iter().any(|r| r.serial.eq_ignore_ascii_case(&a.serial_hex))
            })
    }

    /// The agent inventory.
    pub fn agents(&self) -> BTreeMap<String, AgentRecord> {
        self.inventory.agents_now()
    }

    /// `acc ctl agents`: every agent that checked in, and every enrolled one that has not
    /// yet, with its certificate, revision, mode, health and any shared identity.
    pub async fn agent_inventory(&self) -> Result<Vec<AgentView>, ServerError> {
        let (revision, doc) = self.in_force();
        let agents = self.agents();
        let mut out: Vec<AgentView> = agents
            .values()
            .map(|a| {
                let revoked = doc.revoked.iter().any(|r| r.serial.eq_ignore_ascii_case(&a.serial_hex));
                let status = match (&a.state.failure, a.state.seq) {
                    (Some(_), _) => AgentStatus::PolicyFailed,
                    (None, 0) => AgentStatus::Polling,
                    _ if a.state.revision >= revision => AgentStatus::Current,
                    _ => AgentStatus::Behind,
                };
                let s = a.state.clone();
                AgentView {
                    name: a.name.clone(),
                    serial: a.serial_hex.clone(),
                    issuer: a.issuer.clone(),
                    cert_not_after: a.cert_not_after,
                    revoked,
                    status,
                    revision: Some(s.revision),
                    failed_revision: s.failed_revision,
                    failure: s.failure,
                    auth_mode: Some(s.auth_mode),
                    user_name: s.user_name,
                    generation: s.generation,
                    site_server: s.site_server,
                    site_reachable: s.site_reachable,
                    packages: s.packages,
                    version: Some(s.version),
                    last_check_in: Some(a.last_check_in),
                    address: Some(a.address.clone()),
                    duplicate: a.duplicate.clone(),
                }
            })
            .collect();
        // Enrolled, not yet checked in: its newest live certificate.
        let mut certs = store::certs(&self.pool).await?;
        certs.sort_by_key(|c| std::cmp::Reverse(c.issued_at));
        let mut listed: std::collections::HashSet<String> = agents.keys().cloned().collect();
        for c in certs {
            if c.kind == "agent" && !listed.contains(&c.name) {
                let revoked = doc.revoked.iter().any(|r| r.serial.eq_ignore_ascii_case(&c.serial));
                if !revoked {
                    listed.insert(c.name.clone());
                    out.push(AgentView {
                        name: c.name,
                        serial: c.serial,
                        issuer: "fleet CA".into(),
                        cert_not_after: Some(c.not_after),
                        revoked: false,
                        status: AgentStatus::Enrolled,
                        revision: None,
                        failed_revision: None,
                        failure: None,
                        auth_mode: None,
                        user_name: None,
                        generation: None,
                        site_server: None,
                        site_reachable: None,
                        packages: Vec::new(),
                        version: None,
                        last_check_in: None,
                        address: None,
                        duplicate: None,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `task send update-config --to agents`: every agent fetches its policy now; returns
    /// how many agents are in the inventory.
    pub fn update_config_agents(&self) -> usize {
        self.wake(false, true);
        self.inventory.agents().len()
    }
}
