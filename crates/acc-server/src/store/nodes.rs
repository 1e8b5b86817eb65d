//! The management server nodes serving this store: one row per node (its name, the URL
//! sites, agents and `acc ctl` reach it at, when it joined, when it was last seen running).

use sqlx::Row;

use super::Pool;
use crate::error::ServerError;

/// A node as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRow {
    /// Its name (`server.json`'s `name`).
    pub name: String,
    /// `https://host:port`.
    pub url: String,
    /// When it joined (or first ran), Unix milliseconds.
    pub joined_at_ms: i64,
    /// When it last said it runs, Unix milliseconds.
    pub last_seen_ms: i64,
}

/// Records that the node `name` runs at `url` at `now`: a new row, or the URL and the
/// last-seen time of the node's row (its join time stays).
pub async fn touch_node(pool: &Pool, name: &str, url: &str, now: i64) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO nodes (name, url, joined_at_ms, last_seen_ms) VALUES ($1, $2, $3, $3)
         ON CONFLICT (name) DO UPDATE SET url = $2, last_seen_ms = $3",
    )
    .bind(name)
    .bind(url)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every node, the most recently seen first.
pub async fn nodes(pool: &Pool) -> Result<Vec<NodeRow>, ServerError> {
    let rows = sqlx::query(
        "SELECT name, url, joined_at_ms, last_seen_ms FROM nodes ORDER BY last_seen_ms DESC, name",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| NodeRow { name: r.get(0), url: r.get(1), joined_at_ms: r.get(2), last_seen_ms: r.get(3) })
        .collect())
}

/// Removes the node `name`; false when there was none.
pub async fn remove_node(pool: &Pool, name: &str) -> Result<bool, ServerError> {
    let done = sqlx::query("DELETE FROM nodes WHERE name = $1").bind(name).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}
