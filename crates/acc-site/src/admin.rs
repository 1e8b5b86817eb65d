//! Local administration of a site server, on its own host only: `acc site accounts …`,
//! `acc site policy …`, `acc site events`, `acc site tasks …`, `acc site agents …`.
//!
//! While `acc site run` runs, it holds `DIR/site.lock` and answers on `DIR/admin.sock`
//! (mode 0600, so only the owner of the data directory can connect): one JSON request per
//! line, one JSON response per line. When no server runs, the command takes the lock and
//! opens the database itself. Both paths go through [`handle`], so they cannot differ.

use std::path::Path;
use std::sync::Arc;

use acc_core::lockout::LockoutPolicy;
// Passwords in requests are acc-core's one secret type: serialised as is (they only
// travel over the 0600 local socket) but never shown by `Debug`.
use acc_core::password::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

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

/// Answers admin requests on `DIR/admin.sock` until the task is dropped.
pub fn serve(site: Arc<Site>) -> Result<tokio::task::JoinHandle<()>, SiteError> {
    let path = site.layout().admin_socket();
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).map_err(|e| SiteError::io(&path, e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| SiteError::io(&path, e))?;
    }
    Ok(tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let site = site.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                while let Ok(Some(line)) = lines.next_line().await {
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
            });
        }
    }))
}

/// Sends one request to a running server; `Ok(None)` when none answers on the socket.
pub async fn call(socket: &Path, request: &Request) -> Result<Option<Result<Value, String>>, SiteError> {
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
    let reply = lines.next_line().await.map_err(|e| SiteError::io(socket, e))?.unwrap_or_default();
    let v: Value = serde_json::from_str(&reply).map_err(|e| {
        SiteError::Database(format!("the site server answered something that is not JSON: {e}"))
    })?;
    Ok(Some(if v["ok"] == Value::Bool(true) {
        Ok(v["result"].clone())
    } else {
        Err(v["error"].as_str().unwrap_or("unknown error").to_string())
    }))
}

/// The lock a running server holds on its data directory.
#[derive(Debug)]
pub struct DirLock(#[allow(dead_code)] std::fs::File);

impl DirLock {
    /// Takes the data directory's lock, or says that a server holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock, SiteError> {
        let path = dir.join("site.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| SiteError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => Err(SiteError::Busy(dir.display().to_string())),
            Err(std::fs::TryLockError::Error(e)) => Err(SiteError::io(&path, e)),
        }
    }
}
