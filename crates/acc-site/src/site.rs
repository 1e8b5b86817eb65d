//! The running site server's state: the lockout engine behind one lock, the password
//! verifier, the database writer. Every operation decides under the lock (microseconds),
//! queues its writes in that order, releases the lock, and returns only once the writes
//! are durable. Password hashing never happens under the lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use acc_core::event::StampedEvent;
use acc_core::event::catalogue::Subject;
use acc_core::lockout::{
    AccPolicySnapshot, AdminError, Attempt, DisabledBy, LockoutPolicy, Outcome, PasswordHash, RefreshTrigger,
    SiteIdentity, SiteState, Source, Step, acc_policy_changed,
};
use acc_core::time::{Clock, Timestamp};
use sqlx::SqlitePool;

use crate::config::SiteConfig;
use crate::error::SiteError;
use crate::layout::Layout;
use crate::store::{self, AccountRows, Write};
use crate::verifier::{self, Verifier};
use crate::writer::Writer;

/// The wall clock (acc-core's, the one every role reads).
pub use acc_core::time::SystemClock;

/// What a refused client certificate looked like, for its 4625.
#[derive(Debug, Clone)]
pub struct CertificateFailure {
    /// The socket's remote address.
    pub remote: std::net::SocketAddr,
    /// The certificate's subject, if it parsed.
    pub subject: Option<String>,
    /// Its common name, if any.
    pub cn: Option<String>,
    /// Why it was refused (one line).
    pub reason: String,
    /// Which kind of refusal (the 4625's Status and SubStatus).
    pub refusal: acc_core::event::catalogue::CertificateRefusal,
}

struct Inner {
    state: SiteState,
    policy: LockoutPolicy,
    managed: Managed,
}

/// What the management server last told this site (empty on a standalone site).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
struct Managed {
    /// The policy revision applied.
    revision: Option<i64>,
    /// The ACC generations of that revision.
    generations: Vec<acc_core::lockout::ManagedGeneration>,
    /// The App ID, whose logons carry `acc-app-id`.
    #[serde(default)]
    app_id: Option<acc_core::lockout::AppIdName>,
}

/// One site server.
pub struct Site {
    config: SiteConfig,
    layout: Layout,
    pool: SqlitePool,
    writer: Writer,
    inner: Mutex<Inner>,
    verifier: Verifier,
    clock: Arc<dyn Clock>,
    live_tls: std::sync::OnceLock<acc_net::LiveConfig>,
    /// The management server's directory, when this site has joined one.
    directory: std::sync::OnceLock<crate::directory::DirectoryClient>,
    /// Wakes the refresh timer when the schedule may have changed.
    refresh_changed: tokio::sync::Notify,
    /// Bumped by every change that must end the logon sessions kept on connections
    /// (see [`ends_logon_sessions`]).
    session_epoch: AtomicU64,
    /// Open tasks and waiting long-polls (task server).
    tasks: crate::tasks::queue::TaskQueue,
    shares: crate::shares::Shares,
    /// Which agent each registered id belongs to (see `crate::agents`).
    agent_bindings: crate::agents::Bindings,
    /// Set when the server begins to stop: waiting long-polls answer at once.
    stopping: tokio::sync::watch::Sender<bool>,
}

impl std::fmt::Debug for Site {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Site").field("name", &self.config.name).finish_non_exhaustive()
    }
}

/// An account as an administrator sees it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct AccountView {
    /// The name as created.
    pub name: String,
    /// `S-1-5-21-…-rid`.
    pub sid: String,
    /// `enabled`, `locked_out`, `disabled`, `retiring`, `retiring (locked out)`.
    pub state: String,
    /// `account` or `unfamiliar` while locked.
    pub lock_scope: Option<String>,
    /// Seconds until the lock ends (absent: until unlocked, or not locked).
    pub retry_after: Option<u64>,
    /// Sources blocked now (smart mode).
    pub blocked_sources: usize,
    /// Addresses blocked now for unfamiliar callers (smart mode, rule M8a).
    pub blocked_addresses: usize,
    /// `policy` (an ACC generation) or `admin` (created on this host).
    pub created_by: String,
    /// The ACC generation, if any.
    pub generation: Option<u32>,
    /// Classic bad-password counter.
    pub bad_count: u32,
    /// Account-level locks in the last 24 h.
    pub lockouts_24h: usize,
}

/// The result of an authentication, for the HTTP layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthResult {
    /// What happened (specification 2.5).
    pub outcome: Outcome,
    /// The account's name as stored (for the principal), on success.
    pub account: Option<String>,
}

impl Site {
    /// Opens the site in `layout` (initialised by `acc site init`).
    pub async fn open(layout: Layout, clock: Arc<dyn Clock>) -> Result<Arc<Site>, SiteError> {
        let config = SiteConfig::load(&layout.config())?;
        let pool = store::open(&layout.database()).await?;
        let horizon = Timestamp(clock.now().millis() - 86_400_000);
        let max_size = crate::event_log::stored_max_size(&pool).await?;
        let writer = Writer::start(pool.clone(), Arc::new(crate::event_log::Growth::new(max_size)));
        let (state, policy, fresh) = match store::load(&pool, horizon).await? {
            Some((state, policy)) => (state, policy, false),
            None => {
                let identity = SiteIdentity {
                    computer: config.name.clone(),
                    site_id: config.site_id.clone(),
                    fleet_name: config.fleet_name.clone(),
                    domain_sid: config.domain_sid.clone(),
                };
                (SiteState::new(identity), LockoutPolicy::default(), true)
            }
        };
        let managed: Managed = match store::meta(&pool, "managed").await? {
            Some(json) => serde_json::from_str(&json).map_err(|e| SiteError::Config {
                path: layout.database().display().to_string(),
                detail: format!("managed policy: {e}"),
            })?,
            None => Managed::default(),
        };
        let tasks = crate::tasks::queue::TaskQueue::new(crate::tasks::store::open_tasks(&pool).await?);
        let shares = crate::shares::Shares::load(&pool, &writer, &layout).await?;
        let agent_bindings = crate::agents::Bindings::load(&pool).await?;
        let parallelism = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let site = Arc::new(Site {
            config,
            layout,
            pool,
            writer,
            inner: Mutex::new(Inner { state, policy, managed }),
            verifier: Verifier::new(parallelism),
            clock,
            live_tls: std::sync::OnceLock::new(),
            directory: std::sync::OnceLock::new(),
            refresh_changed: tokio::sync::Notify::new(),
            session_epoch: AtomicU64::new(0),
            tasks,
            shares,
            agent_bindings,
            stopping: tokio::sync::watch::Sender::new(false),
        });
        if fresh {
            let pending = {
                let g = site.lock();
                let writes =
                    vec![Write::State(store::state_scalars(&g.state)), Write::Policy(policy_json(&g.policy))];
                site.writer.submit(writes)
            };
            pending.durable().await.map_err(SiteError::from)?;
        }
        Ok(site)
    }

    /// Queues `writes` (called under the lock, so they reach the database in decision
    /// order) and ends the connections' logon sessions when they must.
    fn submit(&self, writes: Vec<Write>) -> crate::writer::Pending {
        if writes.iter().any(ends_logon_sessions) {
            self.session_epoch.fetch_add(1, Ordering::SeqCst);
        }
        self.writer.submit(writes)
    }

    /// The logon-session epoch: a connection's logon session is reused only while this
    /// has not changed since its logon.
    pub fn session_epoch(&self) -> u64 {
        self.session_epoch.load(Ordering::SeqCst)
    }

    /// A keyed digest (process-random key) of `parts`, for comparing credentials without
    /// keeping them.
    pub fn secret_digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        self.verifier.digest(parts)
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The site's configuration.
    pub fn config(&self) -> &SiteConfig {
        &self.config
    }

    /// The site's data directory layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The database (for read-only queries).
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }

    /// The shares and their ACLs.
    pub fn shares(&self) -> &crate::shares::Shares {
        &self.shares
    }

    /// The group-commit writer (for modules that persist their own rows).
    pub(crate) fn writer(&self) -> &Writer {
        &self.writer
    }

    /// The agent ids' bindings.
    pub(crate) fn agent_bindings(&self) -> &crate::agents::Bindings {
        &self.agent_bindings
    }

    /// Open tasks and waiting long-polls.
    pub(crate) fn task_queue(&self) -> &crate::tasks::queue::TaskQueue {
        &self.tasks
    }

    /// Writes events that an operation outside the lockout engine decided (the 5145 of a
    /// share access check): `build` gets the effective time; the events are stamped in
    /// order and durable when this returns.
    pub async fn write_events(
        &self,
        build: impl FnOnce(Timestamp) -> Vec<acc_core::event::Event>,
    ) -> Result<(), SiteError> {
        self.write_events_with(build, Vec::new()).await
    }

    /// [`Site::write_events`] with other writes in the same commit (a removal from the
    /// event log and the event that records it).
    pub(crate) async fn write_events_with(
        &self,
        build: impl FnOnce(Timestamp) -> Vec<acc_core::event::Event>,
        with: Vec<Write>,
    ) -> Result<(), SiteError> {
        let pending = {
            let mut g = self.lock();
            let now = self.clock.now();
            let state = &mut g.state;
            let (t, mut events) = state.effective_time(now);
            events.extend(build(t));
            let mut writes: Vec<Write> = state.stamp(events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            writes.extend(with);
            self.writer.submit(writes)
        };
        pending.durable().await.map_err(SiteError::from)
    }

    /// The event log's growth counter and maximum size.
    pub fn event_growth(&self) -> &crate::event_log::Growth {
        self.writer.growth()
    }

    /// The lockout policy in force.
    pub fn policy(&self) -> LockoutPolicy {
        self.lock().policy.clone()
    }

    /// The site clock, in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.clock.now().millis()
    }

    /// Attaches the running listener's TLS configuration, so trust and CRL changes reach it.
    pub fn attach_tls(&self, live: acc_net::LiveConfig) {
        let _ = self.live_tls.set(live);
    }

    /// Verifies domain-form names through the management server's directory at `url`.
    pub fn attach_directory(&self, nodes: crate::managed::Nodes) {
        let _ = self.directory.set(crate::directory::DirectoryClient::new(nodes));
    }

    /// The server begins to stop: every waiting long-poll answers now (with no task), and
    /// polls arriving from here on answer at once.
    pub fn begin_stop(&self) {
        self.stopping.send_replace(true);
    }

    /// Whether [`begin_stop`](Site::begin_stop) was called.
    pub fn is_stopping(&self) -> bool {
        *self.stopping.borrow()
    }

    /// Completes once [`begin_stop`](Site::begin_stop) was called.
    pub async fn stopping(&self) {
        let _ = self.stopping.subscribe().wait_for(|s| *s).await;
    }

    /// Rebuilds the running listener's TLS configuration from the data directory (no-op
    /// when no listener runs in this process). New connections use the new one.
    pub fn reload_tls(&self) -> Result<(), SiteError> {
        if let Some(live) = self.live_tls.get() {
            let inputs = crate::tls::inputs(&self.layout)?;
            live.reload(&inputs).map_err(|e| SiteError::Invalid(vec![e.to_string()]))?;
        }
        Ok(())
    }

    /// Queues the 4624 of an agent that authenticated with a client certificate; the
    /// caller holds its answer until the returned write is durable.
    pub fn certificate_logon(
        &self,
        cn: &str,
        remote: std::net::SocketAddr,
        host: &str,
    ) -> crate::writer::Pending {
        use acc_core::event::catalogue::{self, AuthPackage, LogonSuccess, Network, Target};
        {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, .. } = &mut *g;
            let (t, mut events) = state.effective_time(now);
            let subject = state.site_subject();
            let ip = remote.ip().to_string();
            let caller = Source::new(remote.ip(), host).caller_computer_name().to_string();
            events.push(catalogue::logon_success(
                t,
                policy.mode,
                &LogonSuccess {
                    subject: &subject,
                    target: Target { user_name: cn, domain_name: &self.config.name, sid: "S-1-0-0" },
                    logon_id: "0x0",
                    package: AuthPackage::Mtls,
                    network: Network { workstation: &caller, ip: &ip, port: remote.port() },
                    generation: None,
                    familiar: None,
                },
            ));
            let mut writes: Vec<Write> = state.stamp(events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            self.submit(writes)
        }
    }

    /// Writes the 4625 of a refused client certificate (once per connection), with the
    /// reason in `FailureReason`.
    pub async fn certificate_refused(&self, f: &CertificateFailure) -> Result<(), SiteError> {
        use acc_core::event::FieldValue;
        use acc_core::event::catalogue::{self, AuthPackage, FailureKind, LogonFailure, Network, Target};
        let pending = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, .. } = &mut *g;
            let (t, mut events) = state.effective_time(now);
            let subject = state.site_subject();
            let ip = f.remote.ip().to_string();
            let who = f.cn.clone().or_else(|| f.subject.clone()).unwrap_or_else(|| "-".to_string());
            let mut e = catalogue::logon_failure(
                t,
                policy.mode,
                &LogonFailure {
                    subject: &subject,
                    target: Target { user_name: &who, domain_name: &self.config.name, sid: "S-1-0-0" },
                    failure: FailureKind::UnknownUser,
                    package: AuthPackage::Mtls,
                    network: Network { workstation: "-", ip: &ip, port: f.remote.port() },
                    lock_scope: None,
                    verified: false,
                    familiar: None,
                    generation: None,
                },
            );
            for (name, value) in e.fields.iter_mut() {
                match name.as_str() {
                    "Status" => *value = FieldValue::from(f.refusal.status()),
                    "SubStatus" => *value = FieldValue::from(f.refusal.sub_status()),
                    "FailureReason" => {
                        *value = FieldValue::from(format!("Client certificate refused: {}.", f.reason))
                    }
                    _ => {}
                }
            }
            events.push(e.with_opt("CertificateSubject", f.subject.clone()));
            let mut writes: Vec<Write> = state.stamp(events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            self.submit(writes)
        };
        pending.durable().await.map_err(SiteError::from)
    }

    /// Argon2 computations since the process started.
    pub fn password_hashes(&self) -> u64 {
        self.verifier.hashes()
    }

    /// Number of cached password verifications (for tests and metrics).
    pub fn verification_cache_len(&self) -> usize {
        self.verifier.cache_len()
    }

    /// Authenticates `user`/`password` from `source`: the lockout engine decides, Argon2
    /// verifies outside the lock (or the verification cache answers), and the outcome is
    /// returned once its events and counters are durable.
    pub async fn authenticate(
        &self,
        user: &str,
        password: &str,
        source: Source,
        port: u16,
    ) -> Result<AuthResult, SiteError> {
        if !acc_core::lockout::is_local_form(user)
            && let Some(directory) = self.directory.get()
        {
            return self.directory_authenticate(directory, user, password, source, port).await;
        }
        let mut next = Next::Precheck(Attempt::password(user, source.clone(), port));
        loop {
            let (decision, pending) = {
                let mut g = self.lock();
                let now = self.clock.now();
                let Inner { state, policy, managed } = &mut *g;
                if let Next::Precheck(attempt) = &mut next {
                    attempt.package = acc_core::lockout::AppIdName::package(managed.app_id.as_ref(), user);
                }
                let marker = failure_marker(state, user);
                // Only the second phase changes counters, so only it can change shares.
                let shares = match &next {
                    Next::Complete(..) => state.account(user).map(|r| (r.sid.clone(), r.shares.clone())),
                    Next::Precheck(_) => None,
                };
                let step = match next {
                    Next::Precheck(attempt) => state.precheck(policy, attempt, now),
                    Next::Complete(p, ok) => state.complete(policy, p, ok, now),
                };
                match step {
                    Step::Done(result) => {
                        let writes = attempt_writes(state, user, &source, result.events, marker, shares);
                        let account = state.account(user).map(|r| r.name.to_string());
                        (Err(AuthResult { outcome: result.outcome, account }), Some(self.submit(writes)))
                    }
                    Step::Verify(p) => {
                        let sid = state.account(user).map(|r| r.sid.clone()).unwrap_or_default();
                        (Ok((p, sid)), None)
                    }
                }
            };
            match decision {
                Err(result) => {
                    if let Some(p) = pending {
                        p.durable().await.map_err(SiteError::from)?;
                    }
                    return Ok(result);
                }
                Ok((p, sid)) => {
                    let ok = self.verifier.verify(&sid, p.password_hash().as_str(), password).await;
                    next = Next::Complete(p, ok);
                }
            }
        }
    }

    /// D2/D3: a domain-form attempt decided by the directory (or `unavailable` when it
    /// cannot be reached); the site writes the 4624/4625.
    async fn directory_authenticate(
        &self,
        directory: &crate::directory::DirectoryClient,
        user: &str,
        password: &str,
        source: Source,
        port: u16,
    ) -> Result<AuthResult, SiteError> {
        let request = acc_proto::DirectoryLogon {
            user_name: user.to_string(),
            password: password.to_string(),
            workstation: source.caller_computer_name().to_string(),
            ip: source.ip().parse().unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            port,
        };
        let answer = directory.logon(self, &request).await;
        if let Err(e) = &answer {
            tracing::warn!(error = %e, user, "The directory cannot be reached; the logon is refused as unavailable.");
        }
        let domain = acc_core::name::NameParts::split(user).domain.unwrap_or_default().to_string();
        let pending = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, managed, .. } = &mut *g;
            let attempt = Attempt::named(user, source, port, managed.app_id.as_ref());
            let result = match &answer {
                Ok(a) => state.directory_decided(&attempt, &a.domain, a.sid.as_deref(), a.outcome, now),
                Err(_) => state.directory_unavailable(&attempt, &domain, now),
            };
            let mut writes: Vec<Write> = state.stamp(result.events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            (result.outcome, self.submit(writes))
        };
        let (outcome, pending) = pending;
        pending.durable().await.map_err(SiteError::from)?;
        Ok(AuthResult { outcome, account: None })
    }

    /// The local administrator (whoever runs `acc site …` on the site host).
    fn local_admin(&self) -> Subject {
        let user = std::env::var("USER")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| "Administrator".to_string());
        Subject::admin(&format!("{}-500", self.config.domain_sid), &user, &self.config.name, "0x0")
    }

    /// Runs an administrative change of account `name` under the lock and makes its events
    /// and the account durable.
    async fn administer(
        &self,
        name: &str,
        change: impl FnOnce(
            &mut SiteState,
            &LockoutPolicy,
            &Subject,
            Timestamp,
        ) -> Result<Vec<acc_core::event::Event>, AdminError>,
    ) -> Result<Vec<StampedEvent>, SiteError> {
        let actor = self.local_admin();
        let (stamped, pending) = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, .. } = &mut *g;
            // Deleting turns the record into a tombstone: remember its SID to store it.
            let sid = state.account(name).map(|r| r.sid.clone());
            let events = change(state, policy, &actor, now).map_err(SiteError::Admin)?;
            let stamped = state.stamp(events);
            let mut writes: Vec<Write> = stamped.iter().cloned().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            let record = match &sid {
                Some(sid) => state.accounts.iter().find(|r| &r.sid == sid),
                None => state.account(name),
            };
            if let Some(rec) = record {
                writes.extend(store::account_writes(rec));
            }
            (stamped, self.submit(writes))
        };
        pending.durable().await.map_err(SiteError::from)?;
        for e in &stamped {
            tracing::info!(event_id = %e.event.id, seq = e.seq, account = name, "Account administered.");
        }
        Ok(stamped)
    }

    /// `acc site accounts add`: a local account created by the administrator.
    pub async fn add_account(&self, name: &str, password: &str) -> Result<Vec<StampedEvent>, SiteError> {
        check_local_name(name)?;
        let hash = hash(password).await?;
        self.administer(name, |state, _, actor, now| state.admin_create(name, hash, actor, now)).await
    }

    /// `acc site accounts set-password`.
    pub async fn set_password(&self, name: &str, password: &str) -> Result<Vec<StampedEvent>, SiteError> {
        let hash = hash(password).await?;
        self.administer(name, |state, _, actor, now| state.admin_set_password(name, hash, actor, now)).await
    }

    /// `acc site accounts enable`.
    pub async fn enable(&self, name: &str) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, _, actor, now| state.admin_enable(name, actor, now)).await
    }

    /// `acc site accounts disable`.
    pub async fn disable(&self, name: &str) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, _, actor, now| state.disable(name, DisabledBy::Admin, actor, now)).await
    }

    /// `acc site accounts unlock [--sources]`.
    pub async fn unlock(&self, name: &str, sources: bool) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, policy, actor, now| {
            state.admin_unlock(policy, name, sources, actor, now)
        })
        .await
    }

    /// `acc site accounts remove` (the account must be disabled first, as on Windows).
    pub async fn remove(&self, name: &str) -> Result<Vec<StampedEvent>, SiteError> {
        self.administer(name, |state, _, actor, now| state.admin_delete(name, actor, now)).await
    }

    /// An account as an administrator sees it.
    pub fn account(&self, name: &str) -> Option<AccountView> {
        let g = self.lock();
        let now = self.clock.now();
        view(&g.state, &g.policy, name, now)
    }

    /// Every live account.
    pub fn accounts(&self) -> Vec<AccountView> {
        let g = self.lock();
        let now = self.clock.now();
        let names: Vec<String> =
            g.state.accounts.iter().filter(|r| r.is_live()).map(|r| r.name.to_string()).collect();
        names.iter().filter_map(|n| view(&g.state, &g.policy, n, now)).collect()
    }

    /// `acc site policy set`: validates (messages of 5.5) and stores the policy; returns
    /// the warnings.
    pub async fn set_policy(&self, policy: LockoutPolicy) -> Result<Vec<String>, SiteError> {
        if let Some(revision) = self.applied_revision() {
            return Err(SiteError::Invalid(vec![format!(
                "policy: this site takes its lockout policy from its management server (revision {revision}); change it there with `acc ctl settings site set`"
            )]));
        }
        let validation = policy.validate();
        if !validation.is_ok() {
            return Err(SiteError::Invalid(validation.errors.iter().map(ToString::to_string).collect()));
        }
        let (pending, acc_changed) = {
            let mut g = self.lock();
            let generations = &g.managed.generations;
            let acc_changed = acc_policy_changed(
                &AccPolicySnapshot::new(&g.policy, generations),
                &AccPolicySnapshot::new(&policy, generations),
            );
            g.policy = policy;
            (self.submit(vec![Write::Policy(policy_json(&g.policy))]), acc_changed)
        };
        pending.durable().await.map_err(SiteError::from)?;
        if acc_changed {
            // R-POLICY: an ACC setting changed; refresh now and reschedule (3.1.2).
            self.refresh(RefreshTrigger::Policy).await?;
        }
        Ok(validation.warnings.iter().map(ToString::to_string).collect())
    }

    /// Runs the ACC refresh (3.1): on a standalone site, re-enable of the locally
    /// created accounts (A3, A5), then `acc.refresh`. Returns its actions.
    pub async fn refresh(&self, trigger: RefreshTrigger) -> Result<Vec<String>, SiteError> {
        let (actions, pending) = {
            let mut g = self.lock();
            let now = self.clock.now();
            let Inner { state, policy, managed } = &mut *g;
            let report = state.refresh_with_local(policy, &managed.generations, true, trigger, now);
            let mut writes: Vec<Write> = state.stamp(report.events).into_iter().map(Write::Event).collect();
            writes.push(Write::State(store::state_scalars(state)));
            for rec in state.accounts.iter().filter(|r| r.is_live()) {
                writes.extend(store::account_refresh_writes(rec));
            }
            (report.actions, self.submit(writes))
        };
        pending.durable().await.map_err(SiteError::from)?;
        self.refresh_changed.notify_one();
        for a in &actions {
            tracing::info!(action = %a, trigger = trigger.as_str(), "ACC refresh.");
        }
        Ok(actions)
    }

    /// The policy revision last applied from the management server.
    pub fn applied_revision(&self) -> Option<i64> {
        self.lock().managed.revision
    }

    /// Applies a site policy from the management server: the agent trust, the lockout
    /// policy and the managed generations, in one durable write, with the ACC refresh (3.1)
    /// only when it is due:
    /// - trigger `policy` when the revision changes what the refresh acts on (R-POLICY: a
    ///   generation added, removed, re-phased or re-hashed, `create_acc_on_site_servers`,
    ///   `reenable_locked_local_account` or `acc_refresh_interval`);
    /// - trigger `manual` when the revision this site applied comes again because an
    ///   operator sent update-config (acc's "Update agent configuration" task, R-MANUAL);
    ///   `redelivery_refreshes` is false for the first answer on a new connection, which
    ///   only syncs the update-config counter. (The server's daily CRL push re-delivers the
    ///   same way, so it refreshes too: harmless, as a refresh only restores what the
    ///   settings say.)
    ///
    /// Returns the acknowledgement (3.2.4 P2) with the accounts' states.
    pub async fn apply_site_policy(
        &self,
        p: acc_proto::SitePolicy,
        redelivery_refreshes: bool,
    ) -> Result<acc_proto::SiteAck, SiteError> {
        let validation = p.lockout.validate();
        if !validation.is_ok() {
            let errors: Vec<String> = validation.errors.iter().map(ToString::to_string).collect();
            return Ok(acc_proto::SiteAck {
                revision: p.revision,
                error: Some(errors.join("; ")),
                ..Default::default()
            });
        }
        let mut error = None;
        let trust_changed =
            match crate::managed::write_trust(&self.layout, &p.trust_pems, p.crl_pem.as_deref()) {
                Ok(changed) => changed,
                Err(e) => {
                    error = Some(format!("agent trust: {e}"));
                    false
                }
            };
        let (acks, trigger, pending) = {
            let mut g = self.lock();
            let now = self.clock.now();
            let same_revision = g.managed.revision == Some(p.revision);
            let old = AccPolicySnapshot::new(&g.policy, &g.managed.generations);
            let new = AccPolicySnapshot::new(&p.lockout, &p.generations);
            let trigger = if acc_policy_changed(&old, &new) {
                Some(RefreshTrigger::Policy)
            } else if same_revision && redelivery_refreshes {
                Some(RefreshTrigger::Manual)
            } else {
                None
            };
            g.policy = p.lockout.clone();
            g.managed = Managed {
                revision: Some(p.revision),
                generations: p.generations.clone(),
                app_id: p.app_id.clone(),
            };
            let Inner { state, policy, managed } = &mut *g;
            let mut writes = vec![
                Write::Policy(policy_json(policy)),
                Write::Managed(serde_json::to_string(managed).unwrap_or_default()),
            ];
            let acks = match trigger {
                Some(trigger) => {
                    let report = state.refresh_with_local(policy, &managed.generations, true, trigger, now);
                    writes.extend(state.stamp(report.events).into_iter().map(Write::Event));
                    writes.push(Write::State(store::state_scalars(state)));
                    for rec in state.accounts.iter() {
                        writes.extend(store::account_refresh_writes(rec));
                    }
                    for a in &report.actions {
                        tracing::info!(action = %a, revision = p.revision, trigger = trigger.as_str(), "ACC refresh.");
                    }
                    report.acks
                }
                None => state.acknowledgements(policy, &managed.generations),
            };
            (acks, trigger, self.submit(writes))
        };
        pending.durable().await.map_err(SiteError::from)?;
        if trigger.is_some() {
            self.refresh_changed.notify_one();
        }
        if trust_changed && let Err(e) = self.reload_tls() {
            error = Some(format!("agent trust: {e}"));
        }
        let accounts = p
            .generations
            .iter()
            .filter_map(|g| self.account(acc_core::lockout::local_name(&g.user_name)))
            .map(|v| acc_proto::AccountState { name: v.name, state: v.state })
            .collect();
        let (crl_this_update_ms, crl_next_update_ms) = crate::managed::crl_times(&self.layout);
        Ok(acc_proto::SiteAck {
            revision: p.revision,
            generations: acks,
            accounts,
            error,
            url: None,
            crl_this_update_ms,
            crl_next_update_ms,
            tls_ca_pem: std::fs::read_to_string(self.layout.tls_ca_cert()).ok(),
        })
    }

    /// Runs the refresh at start (R-START), then whenever `next_refresh_at` is reached
    /// (R-INTERVAL), until the task is dropped.
    pub async fn refresh_loop(self: Arc<Self>) {
        if let Err(e) = self.refresh(RefreshTrigger::Start).await {
            tracing::error!(error = %e, "The start refresh failed.");
        }
        loop {
            let wait_ms = {
                let g = self.lock();
                let now = self.clock.now();
                g.state
                    .next_refresh_at
                    .map_or(0, |at| at.millis().saturating_sub(g.state.peek_time(now).millis()).max(0))
            };
            let wait = std::time::Duration::from_millis(u64::try_from(wait_ms).unwrap_or(0));
            tokio::select! {
                () = tokio::time::sleep(wait) => {
                    let due = self.lock().state.refresh_due(self.clock.now());
                    if due && let Err(e) = self.refresh(RefreshTrigger::Interval).await {
                        tracing::error!(error = %e, "The interval refresh failed.");
                        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    }
                }
                () = self.refresh_changed.notified() => {}
            }
        }
    }
}

enum Next {
    Precheck(Attempt),
    Complete(acc_core::lockout::PendingVerify, bool),
}

async fn hash(password: &str) -> Result<PasswordHash, SiteError> {
    if password.is_empty() {
        return Err(SiteError::Invalid(vec!["password: is empty; enter a password".to_string()]));
    }
    let pw = password.to_string();
    let phc = tokio::task::spawn_blocking(move || verifier::hash_password(&pw))
        .await
        .map_err(|e| SiteError::Database(e.to_string()))?
        .map_err(|e| SiteError::Invalid(vec![e.to_string()]))?;
    Ok(PasswordHash::new(phc))
}

/// Local account names only: a domain name is the directory's, never created here.
fn check_local_name(name: &str) -> Result<(), SiteError> {
    if !acc_core::lockout::is_local_form(name) {
        return Err(SiteError::Invalid(vec![format!(
            "user name: '{name}' is a domain account; site servers do not create domain accounts (use a local name such as 'ACC_user')"
        )]));
    }
    // A standalone site has no directory and no App ID: only the name syntax applies.
    let directory = acc_core::name::DirectoryNames { netbios: String::new(), dns: String::new() };
    let rules = acc_core::name::UserNameRules { app_id: "", directory: &directory, site_servers: &[] };
    acc_core::name::validate_user_name(name, &rules)
        .map(|_| ())
        .map_err(|e| SiteError::Invalid(vec![e.to_string()]))
}

fn view(state: &SiteState, policy: &LockoutPolicy, name: &str, now: Timestamp) -> Option<AccountView> {
    let rec = state.account(name)?;
    let shown = state.displayed_state(policy, name, now)?;
    Some(AccountView {
        name: rec.name.to_string(),
        sid: rec.sid.clone(),
        state: shown.label().to_string(),
        lock_scope: shown.lock_scope.map(|s| s.as_str().to_string()),
        retry_after: shown.retry_after,
        blocked_sources: shown.blocked_sources,
        blocked_addresses: shown.blocked_addresses,
        created_by: if rec.managed { "policy" } else { "admin" }.to_string(),
        generation: rec.generation,
        bad_count: rec.bad_count,
        lockouts_24h: state.lockouts_24h(name, now),
    })
}

/// The last bad-password failure of `user`, to notice the one an attempt adds.
fn failure_marker(state: &SiteState, user: &str) -> Option<acc_core::lockout::FailureEntry> {
    state.account(user).and_then(|r| r.failures.back().cloned())
}

/// The account's address shares before an attempt's second phase, by SID (rule M8a).
type SharesBefore = Option<(String, std::collections::BTreeMap<String, acc_core::lockout::AddressShare>)>;

/// What one attempt changed: its events, the site scalars, the account's scalars, the
/// source's state on it, the address shares that changed (`shares`: as they were before),
/// a new failure, the source's familiarity.
fn attempt_writes(
    state: &mut SiteState,
    user: &str,
    source: &Source,
    events: Vec<acc_core::event::Event>,
    marker: Option<acc_core::lockout::FailureEntry>,
    shares: SharesBefore,
) -> Vec<Write> {
    let stamped = state.stamp(events);
    let mut writes: Vec<Write> = stamped.into_iter().map(Write::Event).collect();
    writes.push(Write::State(store::state_scalars(state)));
    if let Some(rec) = state.account(user) {
        writes.push(Write::Account { sid: rec.sid.clone(), record: store::account_scalars(rec) });
        writes.push(Write::AccountRow {
            rows: AccountRows::Sources,
            sid: rec.sid.clone(),
            key: store::source_key(source),
            value: rec.sources.get(source).map(|st| serde_json::to_string(st).unwrap_or_default()),
        });
        if let Some((sid, before)) = shares.filter(|(sid, before)| sid == &rec.sid && before != &rec.shares) {
            for (ip, share) in rec.shares.iter().filter(|(ip, share)| before.get(*ip) != Some(share)) {
                writes.push(Write::AccountRow {
                    rows: AccountRows::Shares,
                    sid: sid.clone(),
                    key: ip.clone(),
                    value: Some(store::share_json(share)),
                });
            }
            for ip in before.keys().filter(|ip| !rec.shares.contains_key(*ip)) {
                writes.push(Write::AccountRow {
                    rows: AccountRows::Shares,
                    sid: sid.clone(),
                    key: ip.clone(),
                    value: None,
                });
            }
        }
        if let Some(last) = rec.failures.back()
            && Some(last) != marker.as_ref()
        {
            writes.push(Write::Failure {
                sid: rec.sid.clone(),
                time_ms: last.time.millis(),
                caller: last.caller.clone(),
            });
        }
    }
    if let Some(t) = state.familiar.last_success(source) {
        writes.push(Write::Familiar { source: store::source_key(source), last_success: t.millis() });
    }
    writes
}

fn policy_json(policy: &LockoutPolicy) -> String {
    serde_json::to_string(policy).unwrap_or_default()
}

/// Whether a write must end every logon session kept on a connection: a policy change
/// (rotation, lockout settings), a lock or block starting (4740), or an account's password
/// set (4724), disabled (4725) or deleted (4726). The next request on each connection then
/// authenticates afresh, through the lockout engine.
fn ends_logon_sessions(write: &Write) -> bool {
    match write {
        Write::Policy(_) => true,
        Write::Event(e) => matches!(e.event.id, acc_core::event::EventId::Windows(4724 | 4725 | 4726 | 4740)),
        _ => false,
    }
}
