//! The console's sessions: one row per signed-in browser, keyed by the SHA-256 of its
//! cookie (never the cookie), shared by every management server on the store. The timeouts
//! are decided by `console::session` (pure); here only rows are read, written and purged.

use sqlx::Row;

use super::Pool;
use crate::error::ServerError;
use crate::tokens::Role;

/// One stored session.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionRow {
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

impl std::fmt::Debug for SessionRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionRow")
            .field("user", &self.user)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// Stores a new session under `digest`.
pub async fn put_session(pool: &Pool, digest: &str, s: &SessionRow) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO console_sessions (digest, user_name, role, csrf, address, created_ms, last_ms) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(digest)
    .bind(&s.user)
    .bind(s.role.as_str())
    .bind(&s.csrf)
    .bind(&s.address)
    .bind(s.created_ms)
    .bind(s.last_ms)
    .execute(pool)
    .await?;
    Ok(())
}

/// The session stored under `digest`.
pub async fn get_session(pool: &Pool, digest: &str) -> Result<Option<SessionRow>, ServerError> {
    let row = sqlx::query(
        "SELECT user_name, role, csrf, address, created_ms, last_ms FROM console_sessions WHERE digest = $1",
    )
    .bind(digest)
    .fetch_optional(pool)
    .await?;
    row.map(|r| {
        Ok(SessionRow {
            user: r.try_get(0)?,
            role: Role::parse(&r.try_get::<String, _>(1)?)?,
            csrf: r.try_get(2)?,
            address: r.try_get(3)?,
            created_ms: r.try_get(4)?,
            last_ms: r.try_get(5)?,
        })
    })
    .transpose()
}

/// Records a request of the session `digest` at `now` (never moving its time back).
pub async fn touch_session(pool: &Pool, digest: &str, now: i64) -> Result<(), ServerError> {
    sqlx::query("UPDATE console_sessions SET last_ms = $2 WHERE digest = $1 AND last_ms < $2")
        .bind(digest)
        .bind(now)
        .execute(pool)
        .await?;
    Ok(())
}

/// Removes the session `digest`; whether there was one.
pub async fn delete_session(pool: &Pool, digest: &str) -> Result<bool, ServerError> {
    let done =
        sqlx::query("DELETE FROM console_sessions WHERE digest = $1").bind(digest).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}

/// Removes the sessions idle since before `idle_before` or signed in before
/// `created_before`; how many.
pub async fn purge_sessions(pool: &Pool, idle_before: i64, created_before: i64) -> Result<u64, ServerError> {
    let done = sqlx::query("DELETE FROM console_sessions WHERE last_ms < $1 OR created_ms < $2")
        .bind(idle_before)
        .bind(created_before)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}
