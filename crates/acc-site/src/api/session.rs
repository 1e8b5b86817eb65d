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

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use acc_net::SessionSlot;

use super::auth::Principal;
use crate::site::Site;

/// How a request presented itself: the digest of its credential and agent host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented([u8; 32]);

impl Presented {
    /// A Basic credential from `host`.
    pub fn password(site: &Site, user: &str, password: &str, host: &str) -> Presented {
        Presented(site.secret_digest(&[
            b"logon-session/password",
            user.as_bytes(),
            password.as_bytes(),
            host.as_bytes(),
        ]))
    }

    /// The connection's client certificate (already fixed by TLS) from `host`.
    pub fn certificate(site: &Site, cn: &str, host: &str) -> Presented {
        Presented(site.secret_digest(&[b"logon-session/certificate", cn.as_bytes(), host.as_bytes()]))
    }
}

/// The logon kept on one connection.
#[derive(Debug)]
struct LogonSession {
    principal: Principal,
    presented: Presented,
    epoch: u64,
    /// `share/path` of the successful accesses audited under this logon.
    audited: Mutex<HashSet<String>>,
}

/// Objects remembered per logon session; when full the set starts again (and the next
/// accesses are audited anew), so a client walking a huge tree costs bounded memory.
pub const MAX_AUDITED_PER_SESSION: usize = 256;

/// The principal of the connection's logon session, if it still stands for `presented`.
pub fn reuse(site: &Site, slot: &SessionSlot, presented: Presented) -> Option<Principal> {
    let session = slot.get::<LogonSession>()?;
    (session.presented == presented && session.epoch == site.session_epoch())
        .then(|| session.principal.clone())
}

/// Remembers a successful logon on the connection. `epoch` is the site's session epoch
/// read *before* authenticating, so a change racing with the logon ends it.
pub fn remember(slot: &SessionSlot, principal: &Principal, presented: Presented, epoch: u64) {
    slot.set(Arc::new(LogonSession {
        principal: principal.clone(),
        presented,
        epoch,
        audited: Mutex::new(HashSet::new()),
    }));
}

/// Whether the connection's logon session already audited a successful access to
/// `object` (`share/path`). False without a logon session.
pub fn success_audited(slot: &SessionSlot, object: &str) -> bool {
    slot.get::<LogonSession>()
        .is_some_and(|s| s.audited.lock().unwrap_or_else(|p| p.into_inner()).contains(object))
}

/// Notes that the successful access to `object` was audited (durably) under the
/// connection's logon session.
pub fn note_success_audited(slot: &SessionSlot, object: &str) {
    if let Some(session) = slot.get::<LogonSession>() {
        let mut audited = session.audited.lock().unwrap_or_else(|p| p.into_inner());
        if audited.len() >= MAX_AUDITED_PER_SESSION {
            audited.clear();
        }
        audited.insert(object.to_string());
    }
}

/// Forgets the connection's logon (after a refused attempt on it).
pub fn forget(slot: &SessionSlot) {
    slot.clear();
}
