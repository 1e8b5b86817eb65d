//! The leases of once-only jobs: which management server runs a job and until when, taken
//! and renewed by compare-and-set (the row as read is the condition of the write), decided
//! by [`crate::rules::lease_decision`].

use super::Pool;

use crate::error::ServerError;
use crate::rules::{self, LeaseDecision};

/// Takes or renews the lease of `job` for `holder` at `now_ms`; `true` when `holder` holds
/// it until [`rules::lease_until`]`(now_ms)`, `false` when another node does (or took it
/// in between).
pub async fn take_lease(pool: &Pool, job: &str, holder: &str, now_ms: i64) -> Result<bool, ServerError> {
    let current: Option<(String, i64)> =
        sqlx::query_as("SELECT holder, expires_at FROM leases WHERE job = $1")
            .bind(job)
            .fetch_optional(pool)
            .await?;
    let decision = rules::lease_decision(current.as_ref().map(|(h, e)| (h.as_str(), *e)), holder, now_ms);
    let until = rules::lease_until(now_ms);
    let written = match (decision, current) {
        (LeaseDecision::Wait, _) => return Ok(false),
        (_, None) => sqlx::query(
            "INSERT INTO leases (job, holder, expires_at) VALUES ($1, $2, $3) ON CONFLICT (job) DO NOTHING",
        )
        .bind(job)
        .bind(holder)
        .bind(until)
        .execute(pool)
        .await?
        .rows_affected(),
        (_, Some((was, expired))) => sqlx::query(
            "UPDATE leases SET holder = $1, expires_at = $2 WHERE job = $3 AND holder = $4 AND expires_at = $5",
        )
        .bind(holder)
        .bind(until)
        .bind(job)
        .bind(was)
        .bind(expired)
        .execute(pool)
        .await?
        .rows_affected(),
    };
    Ok(written == 1)
}

/// Who holds the lease of `job` and until when, if anyone took it.
pub async fn lease(pool: &Pool, job: &str) -> Result<Option<(String, i64)>, ServerError> {
    Ok(sqlx::query_as("SELECT holder, expires_at FROM leases WHERE job = $1")
        .bind(job)
        .fetch_optional(pool)
        .await?)
}

/// Records once, for every node, that `mark` happened (by `holder` at `at_ms`): `true` for
/// the first to record it, `false` when any node already had. Marks share the leases table
/// under names no job takes (`stalled:G`): a row whose expiry is when it was recorded.
pub async fn mark_once(pool: &Pool, mark: &str, holder: &str, at_ms: i64) -> Result<bool, ServerError> {
    let written = sqlx::query(
        "INSERT INTO leases (job, holder, expires_at) VALUES ($1, $2, $3) ON CONFLICT (job) DO NOTHING",
    )
    .bind(mark)
    .bind(holder)
    .bind(at_ms)
    .execute(pool)
    .await?
    .rows_affected();
    Ok(written == 1)
}

/// A periodic job's turn (`periodic`: when it last ran, kept in the leases table as the
/// row's expiry): `true` when `due(last, now_ms)` and this call moved the last run to
/// `now_ms` (compare-and-set, so one node of several gets the turn). The first call of a
/// fleet records `now_ms` as the last run and answers `false`.
pub async fn take_turn(
    pool: &Pool,
    periodic: &str,
    holder: &str,
    now_ms: i64,
    due: impl Fn(i64, i64) -> bool,
) -> Result<bool, ServerError> {
    let last: Option<(i64,)> = sqlx::query_as("SELECT expires_at FROM leases WHERE job = $1")
        .bind(periodic)
        .fetch_optional(pool)
        .await?;
    let Some((last,)) = last else {
        mark_once(pool, periodic, holder, now_ms).await?;
        return Ok(false);
    };
    if !due(last, now_ms) {
        return Ok(false);
    }
    let written =
        sqlx::query("UPDATE leases SET holder = $1, expires_at = $2 WHERE job = $3 AND expires_at = $4")
            .bind(holder)
            .bind(now_ms)
            .bind(periodic)
            .bind(last)
            .execute(pool)
            .await?
            .rows_affected();
    Ok(written == 1)
}
