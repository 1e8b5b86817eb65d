//! Site join and agent enrollment tokens by SHA-256, with expiry and uses left.

use super::Pool;

use crate::error::ServerError;

/// Stores a join token's digest.
pub async fn put_join_token(
    pool: &Pool,
    kind: &str,
    digest: &str,
    t: &TokenTerms,
) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO join_tokens (digest, kind, created_at, expires_at, uses_left, supersede)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(digest)
    .bind(kind)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.uses)
    .bind(i64::from(t.supersede))
    .execute(pool)
    .await?;
    Ok(())
}

/// The terms of a join or enrollment token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenTerms {
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// Joins or enrollments it allows.
    pub uses: i64,
    /// An enrollment may replace the certificate of an agent already enrolled with the
    /// same host name (a rebuilt machine).
    pub supersede: bool,
}

/// Whether the token with `digest` allows superseding (false when unknown).
pub async fn token_supersedes(pool: &Pool, digest: &str) -> Result<bool, ServerError> {
    let v: Option<i64> = sqlx::query_scalar("SELECT supersede FROM join_tokens WHERE digest = $1")
        .bind(digest)
        .fetch_optional(pool)
        .await?;
    Ok(v.is_some_and(|s| s != 0))
}

/// Uses a join token once: true when it existed, had not expired at `now` and had a use
/// left (atomically: two joins never share the last use).
pub async fn use_join_token(pool: &Pool, kind: &str, digest: &str, now: i64) -> Result<bool, ServerError> {
    let result = sqlx::query(
        "UPDATE join_tokens SET uses_left = uses_left - 1
         WHERE digest = $1 AND kind = $2 AND expires_at > $3 AND uses_left > 0",
    )
    .bind(digest)
    .bind(kind)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// A stored join or enrollment token as listed: never its secret, only the start of its
/// digest to tell tokens apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinTokenRow {
    /// The first 12 hex digits of the token's SHA-256.
    pub id: String,
    /// Its terms, `uses` being the uses left.
    pub terms: TokenTerms,
}

/// The `kind` tokens, newest first.
pub async fn join_tokens(pool: &Pool, kind: &str) -> Result<Vec<JoinTokenRow>, ServerError> {
    use sqlx::Row;
    let rows = sqlx::query(
        "SELECT digest, created_at, expires_at, uses_left, supersede FROM join_tokens
         WHERE kind = $1 ORDER BY created_at DESC",
    )
    .bind(kind)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let digest: String = r.get(0);
            let supersede: i64 = r.get(4);
            JoinTokenRow {
                id: digest.chars().take(12).collect(),
                terms: TokenTerms {
                    created_at: r.get(1),
                    expires_at: r.get(2),
                    uses: r.get(3),
                    supersede: supersede != 0,
                },
            }
        })
        .collect())
}
