//! Keeping a running site's event log under its maximum size (the rules are
//! `acc_core::event::retention`; the table, its measure and its removal are `event_log`):
//! [`retention_loop`] measures after every so many new events, removes the oldest ones (on
//! a joined site only those the management server acknowledged, until the hard limit) and
//! writes one `acc.event_log` per removal in the same commit, then gives back free pages
//! the log will not grow into.

use std::sync::Arc;
use std::time::Duration;

use acc_core::event::catalogue::{self, Pruned};
use acc_core::event::retention;
use acc_core::time::Timestamp;

use crate::error::SiteError;
use crate::event_log::{Measure, VACUUM_STEP, measure};
use crate::site::Site;
use crate::store::Write;

/// The last `Seq` the management server acknowledged; `None` on a standalone site.
async fn acknowledged_through(site: &Site) -> Result<Option<i64>, SiteError> {
    if !site.layout().management_config().exists() {
        return Ok(None);
    }
    let v = crate::store::meta(site.pool(), "forwarded_seq").await?;
    Ok(Some(v.and_then(|v| v.parse().ok()).unwrap_or(0)))
}

/// One pass: while the log is over its maximum, removes what [`retention::plan`] says
/// (each removal recorded); then gives back free pages the log will not grow into.
/// Returns the last measure.
pub async fn enforce(site: &Site) -> Result<Measure, SiteError> {
    let growth = site.event_growth();
    let max = growth.max_size();
    let mut m = measure(site.pool()).await?;
    // Each removal brings the log under or removes all it may; a few rounds absorb the
    // difference between the average and the real size of the events removed.
    for _ in 0..64 {
        let acked = acknowledged_through(site).await?;
        let Some(plan) = retention::plan(&m.usage(acked), max) else { break };
        let (first, through) = m.range(&plan, acked);
        remove(site, first, through, acked, max, plan.reason).await?;
        m = measure(site.pool()).await?;
    }
    let surplus = m.surplus_pages(max);
    let mut pages = surplus;
    while pages > 0 {
        let step = pages.min(VACUUM_STEP);
        site.writer().submit(vec![Write::Vacuum(step)]).durable().await.map_err(SiteError::from)?;
        pages -= step;
    }
    if surplus > 0 {
        m = measure(site.pool()).await?;
    }
    growth.measured(m.bytes, m.events);
    Ok(m)
}

/// Removes the events `first..=through` with the `acc.event_log` that records it, in one
/// commit.
async fn remove(
    site: &Site,
    first: i64,
    through: i64,
    acked: Option<i64>,
    max_size: u64,
    reason: retention::Reason,
) -> Result<(), SiteError> {
    let (removed, oldest, newest): (i64, Option<i64>, Option<i64>) =
        sqlx::query_as("SELECT COUNT(*), MIN(time_ms), MAX(time_ms) FROM events WHERE seq BETWEEN ? AND ?")
            .bind(first)
            .bind(through)
            .fetch_one(site.pool())
            .await?;
    if removed == 0 {
        return Ok(());
    }
    let unforwarded = match acked {
        None => None,
        Some(a) => Some(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM events WHERE seq > ? AND seq <= ?")
                .bind(a)
                .bind(through)
                .fetch_one(site.pool())
                .await?,
        ),
    };
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    let pruned = Pruned {
        removed: u(removed),
        seqs: (u(first), u(through)),
        times: (Timestamp(oldest.unwrap_or(0)), Timestamp(newest.unwrap_or(0))),
        unforwarded: unforwarded.map(u),
        max_size,
        reason,
    };
    site.write_events_with(
        |t| vec![catalogue::acc_event_log_pruned(t, &pruned)],
        vec![Write::RemoveEvents(through)],
    )
    .await?;
    let lost = pruned.unforwarded.unwrap_or(0);
    if lost > 0 {
        tracing::error!(
            removed,
            first,
            through,
            lost,
            "The event log passed its hard limit; events never forwarded were removed."
        );
    } else {
        tracing::warn!(
            removed,
            first,
            through,
            max_size,
            "The event log is full; its oldest events were removed."
        );
    }
    Ok(())
}

/// Keeps the log under its maximum size until the task is dropped: after every so many
/// new events (and every few seconds while it is over, waiting for acknowledgements).
pub async fn retention_loop(site: Arc<Site>) {
    loop {
        let over = match enforce(&site).await {
            Ok(m) => m.bytes > site.event_growth().max_size(),
            Err(e) => {
                tracing::error!(error = %e, "The event log could not be kept under its maximum size.");
                true
            }
        };
        let wait = if over { Duration::from_secs(2) } else { Duration::from_secs(60) };
        let _ = tokio::time::timeout(wait, site.event_growth().woken()).await;
    }
}
