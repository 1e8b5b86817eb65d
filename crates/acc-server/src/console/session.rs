//! Console sessions: a random cookie whose SHA-256 keys the session, each with its user,
//! role and CSRF token, ended by an idle timeout, an absolute timeout or sign-out. Pure:
//! every decision takes the time in Unix milliseconds from the server's clock.

use std::collections::HashMap;

use crate::tokens::Role;

/// A session ends after this long without a request.
pub const IDLE_MS: i64 = 30 * 60 * 1000;

/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;

/// The most sessions kept; the oldest goes first beyond it.
pub const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Clone, PartialEq, Eq)]
pub struct Session {
    /// The user name.
    pub user: String,
    /// Its role at sign-in.
    pub role: Role,
    /// The token every state-changing form carries.
    pub csrf: String,
    /// The address it signed in from.
    pub address: String,
    /// Sign-in time, Unix ms.
    pub created_ms: i64,
    /// Last request, Unix ms.
    pub last_ms: i64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session").field("user", &self.user).field("role", &self.role).finish_non_exhaustive()
    }
}

/// The open sessions, by the digest of their cookie.
#[derive(Debug, Default)]
pub struct Sessions {
    by_digest: HashMap<String, Session>,
}

impl Sessions {
    /// Keeps a new session under `digest`.
    pub fn open(&mut self, digest: String, session: Session) {
        if self.by_digest.len() >= MAX_SESSIONS
            && let Some(oldest) = self.by_digest.iter().min_by_key(|(_, s)| s.last_ms).map(|(d, _)| d.clone())
        {
            self.by_digest.remove(&oldest);
        }
        self.by_digest.insert(digest, session);
    }

    /// The session of `digest` at `now`, its idle time restarted; `None` (and forgotten)
    /// when unknown or past either timeout.
    pub fn touch(&mut self, digest: &str, now: i64) -> Option<Session> {
        let s = self.by_digest.get_mut(digest)?;
        if now - s.last_ms > IDLE_MS || now - s.created_ms > ABSOLUTE_MS {
            self.by_digest.remove(digest);
            return None;
        }
        s.last_ms = s.last_ms.max(now);
        Some(s.clone())
    }

    /// Ends the session of `digest`; the ended session.
    pub fn close(&mut self, digest: &str) -> Option<Session> {
        self.by_digest.remove(digest)
    }

    /// Ends every session of `user` (removed, or given a new password).
    pub fn close_user(&mut self, user: &str) {
        self.by_digest.retain(|_, s| !s.user.eq_ignore_ascii_case(user));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(at: i64) -> Session {
        Session {
            user: "alice".into(),
            role: Role::Admin,
            csrf: "c".into(),
            address: "127.0.0.1".into(),
            created_ms: at,
            last_ms: at,
        }
    }

    #[test]
    fn idle_and_absolute_timeouts_end_a_session() {
        let mut s = Sessions::default();
        s.open("d".into(), session(0));
        assert!(s.touch("d", IDLE_MS).is_some(), "exactly the idle time is still in");
        assert!(s.touch("d", 2 * IDLE_MS + 1).is_none(), "idle past the limit");
        assert!(s.touch("d", 0).is_none(), "and forgotten");

        s.open("d".into(), session(0));
        let mut t = 0;
        while t + IDLE_MS / 2 <= ABSOLUTE_MS {
            t += IDLE_MS / 2;
            assert!(s.touch("d", t).is_some(), "busy at {t}");
        }
        assert!(s.touch("d", ABSOLUTE_MS + 1).is_none(), "absolute timeout however busy");
    }

    #[test]
    fn sign_out_and_user_changes_end_sessions() {
        let mut s = Sessions::default();
        s.open("a".into(), session(0));
        s.open("b".into(), session(0));
        assert_eq!(s.close("a").map(|x| x.user), Some("alice".into()));
        assert!(s.touch("a", 1).is_none());
        s.close_user("ALICE");
        assert!(s.touch("b", 1).is_none());
        assert!(!format!("{:?}", session(0)).contains("csrf: "), "no token in Debug");
    }
}
