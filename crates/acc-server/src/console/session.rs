//! Console sessions: a random cookie whose SHA-256 keys the session (stored in the store's
//! `console_sessions`, [`crate::store::put_session`], so every management server on the
//! store knows it and it survives a restart), each with its user, role and CSRF token,
//! ended by an idle timeout, an absolute timeout or sign-out. Pure: every decision takes
//! the time in Unix milliseconds from the server's clock.

pub use crate::store::SessionRow as Session;

/// A session ends after this long without a request.
pub const IDLE_MS: i64 = 30 * 60 * 1000;

/// A session ends this long after sign-in, however busy.
pub const ABSOLUTE_MS: i64 = 12 * 60 * 60 * 1000;

/// A request records its time in the store when the last one recorded is at least this old
/// (not every page costs a write; the idle timeout is exact to within this).
pub const TOUCH_MS: i64 = 10 * 1000;

/// Whether `s` is still live at `now`: neither idle past [`IDLE_MS`] nor older than
/// [`ABSOLUTE_MS`].
pub fn live(s: &Session, now: i64) -> bool {
    now - s.last_ms <= IDLE_MS && now - s.created_ms <= ABSOLUTE_MS
}

/// Whether a request at `now` records its time.
pub fn due_touch(s: &Session, now: i64) -> bool {
    now - s.last_ms >= TOUCH_MS
}

/// The bounds of the purge at `now`: sessions idle since before the first, or signed in
/// before the second, have ended.
pub fn purge_bounds(now: i64) -> (i64, i64) {
    (now - IDLE_MS, now - ABSOLUTE_MS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tokens::Role;

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
        let mut s = session(0);
        assert!(live(&s, IDLE_MS), "exactly the idle time is still in");
        assert!(!live(&s, IDLE_MS + 1), "idle past the limit");
        let mut t = 0;
        while t + IDLE_MS / 2 <= ABSOLUTE_MS {
            t += IDLE_MS / 2;
            assert!(live(&s, t), "busy at {t}");
            s.last_ms = t;
        }
        assert!(!live(&s, ABSOLUTE_MS + 1), "absolute timeout however busy");
        let (idle, created) = purge_bounds(ABSOLUTE_MS + 1);
        assert!(s.last_ms >= idle && s.created_ms < created, "purged by its age alone");
    }

    #[test]
    fn requests_record_their_time_at_most_every_touch_interval() {
        let s = session(1000);
        assert!(!due_touch(&s, 1000 + TOUCH_MS - 1));
        assert!(due_touch(&s, 1000 + TOUCH_MS));
        assert!(!format!("{:?}", s).contains("csrf: "), "no token in Debug");
    }
}
