//! Logon sessions: one authentication per connection, as a Windows network logon (type 3)
//! is one per SMB session. The first request of a connection authenticates (lockout engine,
//! 4624 or 4625); later requests on the same connection that present the same credential
//! and agent host reuse that logon without a new event or engine step. A logon session
//! ends with its connection, or for every connection at once when the site changes
//! something that could refuse it now (see `Site::session_epoch`): a lock or block, a
//! password set, an account disabled or deleted, a policy change.
//!
//! Nothing secret is kept: the credential is remembered as a keyed digest.

use std::sync::Arc;

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
}

/// The principal of the connection's logon session, if it still stands for `presented`.
pub fn reuse(site: &Site, slot: &SessionSlot, presented: Presented) -> Option<Principal> {
    let session = slot.get::<LogonSession>()?;
    (session.presented == presented && session.epoch == site.session_epoch())
        .then(|| session.principal.clone())
}

/// Remembers a successful logon on the connection. `epoch` is the site's session epoch
/// read *before* authenticating, so a change racing with the logon ends it.
pub fn remember(slot: &SessionSlot, principal: &Principal, presented: Presented, epoch: u64) {
    slot.set(Arc::new(LogonSession { principal: principal.clone(), presented, epoch }));
}

/// Forgets the connection's logon (after a refused attempt on it).
pub fn forget(slot: &SessionSlot) {
    slot.clear();
}
