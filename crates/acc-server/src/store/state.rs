//! The server's own small state by key (the directory's lockout counters).

use sqlx::Row;

use super::Pool;

use crate::error::ServerError;

/// The value stored under `key` in `state`.
pub async fn state_value(pool: &Pool, key: &str) -> Result<Option<String>, ServerError> {
    let row = sqlx::query("SELECT value FROM state WHERE key = $1").bind(key).fetch_optional(pool).await?;
    Ok(row.map(|r| r.get(0)))
}

/// Stores `value` under `key` in `state`.
pub async fn put_state_value(pool: &Pool, key: &str, value: &str) -> Result<(), ServerError> {
    sqlx::query("INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
        .bind(key)
        .bind(value)
        .execute(pool)
        .await?;
    Ok(())
}
