//! Local administration of a site server, on its own host only: `acc site accounts …`,
//! `acc site policy …`, `acc site events`, `acc site tasks …`, `acc site agents …`.
//!
//! While `acc site run` runs, it holds `DIR/site.lock` and answers on `DIR/admin.sock`
//! (mode 0600, so only the owner of the data directory can connect): one JSON request per
//! line, one JSON response per line. When no server runs, the command takes the lock and
//! opens the database itself. Both paths go through [`handle`], so they cannot differ.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use acc_core::lockout::LockoutPolicy;
// Passwords in requests are acc-core's one secret type: serialised as is (they only
// travel over the 0600 local socket) but never shown by `Debug`.
use acc_core::password::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::error::SiteError;
use crate::site::Site;

/// One administrative request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Create a local account.
    AccountsAdd { name: String, password: Secret },
    /// List accounts.
    AccountsList,
    /// One account.
    AccountsShow { name: String },
    /// Enable a disabled account.
    AccountsEnable { name: String },
    /// Disable an account.
    AccountsDisable { name: String },
    /// Clear a lock (and, with `sources`, every source block).
    AccountsUnlock { name: String, sources: bool },
    /// Delete a disabled account.
    AccountsRemove { name: String },
    /// Set a new password.
    AccountsSetPassword { name: String, password: Secret },
    /// The lockout policy in force.
    PolicyShow,
    /// Replace the lockout policy (and set the event log's maximum size, in bytes).
    PolicySet {
        policy: LockoutPolicy,
        #[serde(default)]
        event_log_max_size: Option<u64>,
    },
    /// Search the security event log: one page ([`crate::event_log::EventPage`]).
    Events(EventQuery),
    /// Trust a client CA (PEM or DER text).
    TrustAdd { pem: String },
    /// The trusted client CAs.
    TrustList,
    /// Stop trusting a client CA.
    TrustRemove { fingerprint: String },
    /// Enforce a CRL.
    CrlSet { pem: String },
    /// Registered agents.
    Agents,
    /// Forget an agent's registration and binding: its id binds anew at its next
    /// registration.
    AgentsForget { agent_id: String },
    /// Send a task to a registered agent (task server).
    TasksSend { agent: String, task_type: String, payload: Option<Value> },
    /// Tasks, most recent first.
    TasksList(crate::tasks::store::TaskQuery),
    /// One task.
    TasksShow { id: String },
    /// Run the ACC refresh now (R-MANUAL).
    Refresh,
    /// Counters of the running process (for benchmarks and monitoring).
    Stats,
    /// `acc site shares …`.
    Shares(crate::shares::admin::SharesRequest),
}

pub use crate::event_log::{EventPage, EventQuery};

/// Carries out one request.
pub async fn handle(site: &Site, request: Request) -> Result<Value, SiteError> {
    let seqs = |events: Vec<acc_core::event::StampedEvent>| json!({ "events": events.iter().map(|e| e.seq).collect::<Vec<_>>() });
    Ok(match request {
        Request::AccountsAdd { name, password } => seqs(site.add_account(&name, password.expose()).await?),
        Request::AccountsList => serde_json::to_value(site.accounts()).unwrap_or_default(),
        Request::AccountsShow { name } => match site.account(&name) {
            Some(v) => serde_json::to_value(v).unwrap_or_default(),
            None => return Err(SiteError::Admin(acc_core::lockout::AdminError::UnknownAccount(name))),
        },
        Request::AccountsEnable { name } => seqs(site.enable(&name).await?),
        Request::AccountsDisable { name } => seqs(site.disable(&name).await?),
        Request::AccountsUnlock { name, sources } => seqs(site.unlock(&name, sources).await?),
        Request::AccountsRemove { name } => seqs(site.remove(&name).await?),
        Request::AccountsSetPassword { name, password } => {
            seqs(site.set_password(&name, password.expose()).await?)
        }
        Request::PolicyShow => {
            let mut v = serde_json::to_value(site.policy()).unwrap_or_default();
            v["event_log_max_size"] = json!(site.event_growth().max_size());
            v
        }
        Request::PolicySet { policy, event_log_max_size } => {
            if let Some(bytes) = event_log_max_size {
                acc_core::event::retention::check_max_size(bytes)
                    .map_err(|e| SiteError::Invalid(vec![format!("event log maximum size: {e}")]))?;
            }
            let warnings = site.set_policy(policy).await?;
            if let Some(bytes) = event_log_max_size {
                site.set_event_log_max_size(bytes).await?;
            }
            json!({ "warnings": warnings })
        }
        Request::Events(q) => serde_json::to_value(events(site, &q).await?).unwrap_or_default(),
        Request::TrustAdd { pem } => {
            let ca = crate::tls::add(site.layout(), pem.as_bytes())?;
            site.reload_tls()?;
            serde_json::to_value(ca).unwrap_or_default()
        }
        Request::TrustList => serde_json::to_value(crate::tls::list(site.layout())?).unwrap_or_default(),
        Request::TrustRemove { fingerprint } => {
            let ca = crate::tls::remove(site.layout(), &fingerprint)?;
            site.reload_tls()?;
            serde_json::to_value(ca).unwrap_or_default()
        }
        Request::CrlSet { pem } => {
            let what = crate::tls::set_crl(site.layout(), pem.as_bytes())?;
            site.reload_tls()?;
            json!({ "crl": what })
        }
        Request::TasksSend { agent, task_type, payload } => {
            serde_json::to_value(site.send_task(&agent, &task_type, payload.as_ref()).await?)
                .unwrap_or_default()
        }
        Request::TasksList(q) => serde_json::to_value(site.tasks(&q).await?).unwrap_or_default(),
        Request::TasksShow { id } => serde_json::to_value(site.task(&id).await?).unwrap_or_default(),
        Request::Stats => json!({
            "password_hashes": site.password_hashes(),
            "verification_cache": site.verification_cache_len(),
            "task_waiters": site.task_waiters(),
            "pid": std::process::id(),
        }),
        Request::Refresh => {
            json!({ "actions": site.refresh(acc_core::lockout::RefreshTrigger::Manual).await? })
        }
        Request::Agents => serde_json::to_value(site.agents().await?).unwrap_or_default(),
        Request::AgentsForget { agent_id } => {
            site.forget_agent(&agent_id).await?;
            json!({ "forgotten": agent_id })
        }
        Request::Shares(r) => crate::shares::admin::handle(site, r).await?,
    })
}

/// One page of the events matching `q`, oldest first, each as its JSON object (spec field
/// names).
pub async fn events(site: &Site, q: &EventQuery) -> Result<EventPage, SiteError> {
    crate::event_log::search(site.pool(), q).await
}

/// How long a stopping server lets admin requests in flight finish.
pub const ADMIN_GRACE: Duration = Duration::from_secs(10);

/// The admin socket of a running server: answers on `DIR/admin.sock` until [`stop`]ped.
///
/// [`stop`]: AdminSocket::stop
#[derive(Debug)]
pub struct AdminSocket {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts answering admin requests on `DIR/admin.sock` (mode 0600).
pub fn serve(site: Arc<Site>) -> Result<AdminSocket, SiteError> {
    let path = site.layout().admin_socket();
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).map_err(|e| SiteError::io(&path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| SiteError::io(&path, e))?;
    }
    let (stop, stopped) = watch::channel(false);
    let task = tokio::spawn(accept_loop(site, listener, path, stopped));
    Ok(AdminSocket { stop, task })
}

impl AdminSocket {
    /// Stops taking admin requests: the socket file goes first (a command then waits for
    /// the data directory's lock instead), connections already made are answered, and
    /// requests in flight finish within [`ADMIN_GRACE`].
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    site: Arc<Site>,
    listener: tokio::net::UnixListener,
    path: std::path::PathBuf,
    stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    let mut stop = stopped.clone();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            _ = stop.wait_for(|s| *s) => break,
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    connections.spawn(connection(site.clone(), stream, stopped.clone()));
                }
            }
        }
    }
    // No new connection can reach a removed socket; those already queued are answered.
    let _ = std::fs::remove_file(&path);
    while let Ok(Ok((stream, _))) = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await {
        connections.spawn(connection(site.clone(), stream, stopped.clone()));
    }
    drop(listener);
    let drain = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(ADMIN_GRACE, drain).await.is_err() {
        tracing::warn!(connections = connections.len(), "Admin requests still running at shutdown; dropped.");
        connections.abort_all();
    }
}

/// One admin connection: one JSON request per line, one JSON answer per line, until the
/// client closes it, or the server stops (after the request in flight is answered, and
/// the first request of a connection queued before the stop).
async fn connection(site: Arc<Site>, stream: tokio::net::UnixStream, mut stopped: watch::Receiver<bool>) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    let mut first = true;
    loop {
        let line = if first {
            // A connection made before the stop gets its request answered.
            tokio::time::timeout(ADMIN_GRACE, lines.next_line()).await.ok()
        } else {
            tokio::select! {
                biased;
                line = lines.next_line() => Some(line),
                _ = stopped.wait_for(|s| *s) => None,
            }
        };
        first = false;
        let Some(Ok(Some(line))) = line else { break };
        let response = match serde_json::from_str::<Request>(&line) {
            Ok(req) => match handle(&site, req).await {
                Ok(v) => json!({ "ok": true, "result": v }),
                Err(e) => json!({ "ok": false, "error": e.to_string() }),
            },
            Err(e) => json!({ "ok": false, "error": format!("malformed admin request: {e}") }),
        };
        let mut out = response.to_string();
        out.push('\n');
        if write.write_all(out.as_bytes()).await.is_err() {
            break;
        }
    }
}

/// Sends one request to a running server; `Ok(None)` when none answers on the socket, and
/// [`SiteError::AdminRefused`] with the server's reason when it refuses the request.
pub async fn call(socket: &Path, request: &Request) -> Result<Option<Value>, SiteError> {
    let stream = match tokio::net::UnixStream::connect(socket).await {
        Ok(s) => s,
        Err(e)
            if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(SiteError::io(socket, e)),
    };
    let (read, mut write) = stream.into_split();
    let mut line = serde_json::to_string(request).unwrap_or_default();
    line.push('\n');
    write.write_all(line.as_bytes()).await.map_err(|e| SiteError::io(socket, e))?;
    let mut lines = BufReader::new(read).lines();
    let reply = match lines.next_line().await {
        Ok(Some(reply)) => reply,
        // The server went away after taking the request: it may or may not have been done.
        Ok(None) | Err(_) => return Err(SiteError::AdminClosed(socket.display().to_string())),
    };
    let v: Value = serde_json::from_str(&reply).map_err(|e| {
        SiteError::Database(format!("the site server answered something that is not JSON: {e}"))
    })?;
    if v["ok"] == Value::Bool(true) {
        Ok(Some(v["result"].clone()))
    } else {
        Err(SiteError::AdminRefused(v["error"].as_str().unwrap_or("unknown error").to_string()))
    }
}

/// How long `acc site run` waits for an `acc site` command to release the data
/// directory, and a command for a starting server to open its admin socket.
pub const LOCK_WAIT: Duration = Duration::from_secs(10);

/// The lock a running server (or a command working on the data directory itself) holds.
#[derive(Debug)]
pub struct DirLock(#[allow(dead_code)] std::fs::File);

impl DirLock {
    /// Takes the data directory's lock; `Ok(None)` while another process holds it.
    pub fn try_acquire(dir: &Path) -> Result<Option<DirLock>, SiteError> {
        let path = dir.join("site.lock");
        let mut options = std::fs::OpenOptions::new();
        options.create(true).truncate(false).write(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&path).map_err(|e| SiteError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(Some(DirLock(file))),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(e)) => Err(SiteError::io(&path, e)),
        }
    }

    /// Takes the lock for a starting server, waiting up to `wait` for an `acc site`
    /// command that holds it to finish; fails at once when a server already runs.
    pub async fn acquire_for_server(dir: &Path, socket: &Path, wait: Duration) -> Result<DirLock, SiteError> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(lock) = DirLock::try_acquire(dir)? {
                return Ok(lock);
            }
            if tokio::net::UnixStream::connect(socket).await.is_ok() {
                return Err(SiteError::Running(dir.display().to_string()));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(SiteError::Busy(dir.display().to_string(), wait.as_secs()));
            }
            tokio::time::sleep(LOCK_POLL).await;
        }
    }
}

/// How often a waiting process tries the lock (and the admin socket) again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Where an administrative request goes.
#[derive(Debug)]
pub enum Route {
    /// A server runs and answers on this socket.
    Socket(std::path::PathBuf),
    /// No server runs: the caller holds the lock and opens the data directory itself.
    Local(DirLock),
}

/// Finds the running server of `dir` (its admin socket answers), or takes the data
/// directory's lock; while another process holds the lock without answering (a server
/// starting or stopping, another command), tries again for up to `wait`.
pub async fn route(dir: &Path, socket: &Path, wait: Duration) -> Result<Route, SiteError> {
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match tokio::net::UnixStream::connect(socket).await {
            Ok(_) => return Ok(Route::Socket(socket.to_path_buf())),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) => {}
            Err(e) => return Err(SiteError::io(socket, e)),
        }
        if let Some(lock) = DirLock::try_acquire(dir)? {
            return Ok(Route::Local(lock));
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(SiteError::Busy(dir.display().to_string(), wait.as_secs()));
        }
        tokio::time::sleep(LOCK_POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_command_waits_for_the_lock_and_gives_up_in_one_line() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, socket) = (tmp.path(), tmp.path().join("admin.sock"));
        let held = DirLock::try_acquire(dir).unwrap().expect("free");
        assert!(DirLock::try_acquire(dir).unwrap().is_none(), "held");
        let e = route(dir, &socket, Duration::ZERO).await.unwrap_err().to_string();
        assert!(e.contains("site.lock") && e.contains("0 s"), "{e}");
        // Released while a command waits: the command takes it.
        let waiting = tokio::spawn({
            let (dir, socket) = (dir.to_path_buf(), socket.clone());
            async move { route(&dir, &socket, Duration::from_secs(30)).await }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!waiting.is_finished(), "the command waits while the lock is held");
        drop(held);
        assert!(matches!(waiting.await.unwrap().unwrap(), Route::Local(_)));
    }

    #[tokio::test]
    async fn a_server_answering_on_the_socket_is_used_and_a_second_server_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let (dir, socket) = (tmp.path(), tmp.path().join("admin.sock"));
        let _held = DirLock::try_acquire(dir).unwrap().expect("free");
        let _listener = tokio::net::UnixListener::bind(&socket).unwrap();
        assert!(matches!(route(dir, &socket, Duration::ZERO).await.unwrap(), Route::Socket(_)));
        let e = DirLock::acquire_for_server(dir, &socket, Duration::from_secs(30)).await.unwrap_err();
        assert!(matches!(e, SiteError::Running(_)), "{e}");
    }
}
