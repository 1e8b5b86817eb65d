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

mod accounts;
mod agents;
mod logon;
mod policy;

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
        let max_size = store::event_log_max_size(&pool).await?;
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
    pub fn attach_directory(&self, nodes: crate::management::Nodes) {
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
