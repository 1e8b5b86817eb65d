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
