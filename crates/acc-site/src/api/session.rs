//! Logon sessions: one authentication per connection, as a Windows network logon (type 3)
//! is one per SMB session. The first request of a connection authenticates (lockout engine,
//! 4624 or 4625); later requests on the same connection that present the same credential
//! and agent host reuse that logon without a new event or engine step. A logon session
//! ends with its connection, or for every connection at once when the site changes
//! something that could refuse it now (see `Site::session_epoch`): a lock or block, a
//! password set, an account disabled or deleted, a policy change.
//!
//! A logon session also remembers the share objects whose successful access it already
//! audited (5145 Audit Success): like reads through an open SMB handle, a keep-alive
//! connection fetching the same file again under the same logon is not a new audited
//! access. Denials are audited every time.
//!
//! Nothing secret is kept: the credential is remembered as a keyed digest.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock};

use acc_core::acl::Caller;
use acc_core::share_path::{ShareName, SharePath};
use acc_net::SessionSlot;

use super::principal::Principal;
use crate::site::Site;

/// How a request presented itself: its credential and agent host, a password only as a
/// keyed digest. A certificate is no secret (TLS fixed it for the connection and proved
/// the key), so it is compared as is, without a digest per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A Basic credential: the keyed digest of (user, password, host).
    Password([u8; 32]),
    /// The connection's client certificate's CN and the agent host.
    Certificate {
        /// The certificate's common name.
        cn: String,
        /// `Acc-Agent-Host`.
        host: String,
    },
}

impl Presented {
    /// A Basic credential from `host`.
    pub fn password(site: &Site, user: &str, password: &str, host: &str) -> Presented {
        Presented::Password(site.secret_digest(&[
            b"logon-session/password",
            user.as_bytes(),
            password.as_bytes(),
            host.as_bytes(),
        ]))
    }

    /// The connection's client certificate (already fixed by TLS) from `host`.
    pub fn certificate(cn: &str, host: &str) -> Presented {
        Presented::Certificate { cn: cn.to_string(), host: host.to_string() }
    }
}

/// The logon kept on one connection.
#[derive(Debug)]
struct LogonSession {
    principal: Principal,
    presented: Presented,
    epoch: u64,
    /// The objects (share, then path) whose successful access was audited under this logon.
    audited: Mutex<HashMap<ShareName, HashSet<SharePath>>>,
    /// The principals the logon holds for ACL checks, made on first use.
    caller: OnceLock<Arc<Caller>>,
}

/// Objects remembered per logon session; when full the set starts again (and the next
/// accesses are audited anew), so a client walking a huge tree costs bounded memory.
pub const MAX_AUDITED_PER_SESSION: usize = 256;

/// The principal of the connection's logon session, if it still stands for `presented`.
pub fn reuse(site: &Site, slot: &SessionSlot, presented: &Presented) -> Option<Principal> {
    let session = slot.get::<LogonSession>()?;
    (session.presented == *presented && session.epoch == site.session_epoch())
        .then(|| session.principal.clone())
}

/// Remembers a successful logon on the connection. `epoch` is the site's session epoch
/// read *before* authenticating, so a change racing with the logon ends it.
pub fn remember(slot: &SessionSlot, principal: &Principal, presented: Presented, epoch: u64) {
    slot.set(Arc::new(LogonSession {
        principal: principal.clone(),
        presented,
        epoch,
        audited: Mutex::new(HashMap::new()),
        caller: OnceLock::new(),
    }));
}

/// The connection's logon's principals for ACL checks: made by `build` once per logon
/// session (every request without a session builds its own).
pub fn caller<E>(slot: &SessionSlot, build: impl FnOnce() -> Result<Caller, E>) -> Result<Arc<Caller>, E> {
    let session = slot.get::<LogonSession>();
    if let Some(known) = session.as_ref().and_then(|s| s.caller.get()) {
        return Ok(known.clone());
    }
    let caller = Arc::new(build()?);
    if let Some(session) = session {
        let _ = session.caller.set(caller.clone());
    }
    Ok(caller)
}

/// Whether the connection's logon session already audited a successful access to
/// `share`/`path`. False without a logon session.
pub fn success_audited(slot: &SessionSlot, share: &ShareName, path: &SharePath) -> bool {
    slot.get::<LogonSession>().is_some_and(|s| {
        s.audited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(share)
            .is_some_and(|paths| paths.contains(path))
    })
}

/// Notes that the successful access to `share`/`path` was audited (durably) under the
/// connection's logon session.
pub fn note_success_audited(slot: &SessionSlot, share: &ShareName, path: &SharePath) {
    if let Some(session) = slot.get::<LogonSession>() {
        let mut audited = session.audited.lock().unwrap_or_else(|p| p.into_inner());
        if audited.values().map(HashSet::len).sum::<usize>() >= MAX_AUDITED_PER_SESSION {
            audited.clear();
        }
        audited.entry(share.clone()).or_default().insert(path.clone());
    }
}

/// Forgets the connection's logon (after a refused attempt on it).
pub fn forget(slot: &SessionSlot) {
    slot.clear();
}
