//! The site's security event log on disk: the `events` table (one row per event, keyed by
//! `Seq`) and the shapes of repeated logons, its size, its maximum size and the removal of
//! its oldest events when it is full, and the paged search behind `acc site events`.
//!
//! - Size is counted in database pages of the tables and indexes (SQLite's `dbstat`), so
//!   it is what the events really take on disk. The database runs in incremental
//!   auto-vacuum: pages a removal frees are reused by new events, and those the log no
//!   longer needs (after its maximum size was lowered, or an old, larger log) are given
//!   back to the file system, so the file shrinks.
//! - [`retention_loop`] keeps the log under its maximum size (see
//!   `acc_core::event::retention`): it measures after every so many new events, removes
//!   the oldest ones (on a joined site only those the management server acknowledged,
//!   until the hard limit) and writes one `acc.event_log` per removal in the same commit.
//! - Searches return pages of at most [`PAGE`] events with a cursor: neither the site nor
//!   the command ever holds more than one page, whatever the log's size.
//!
//! The rows are written by the group-commit writer ([`insert`]), a repeated logon as its
//! shape and what varies (`rows.rs`); forwarding to the management server is `managed.rs`,
//! reading its batches here ([`forward_batch`]).

mod rows;

use std::sync::Arc;
use std::time::Duration;

use acc_core::event::catalogue::{self, Pruned};
use acc_core::event::retention;
use acc_core::time::Timestamp;
use serde::{Deserialize, Serialize};

use sqlx::SqlitePool;

use crate::error::SiteError;
use crate::site::Site;
use crate::store::Write;

pub use acc_proto::{EVENT_PAGE as PAGE, EventCursor, EventPage};
pub(crate) use rows::{Shapes, TABLES, insert, remove_through};

/// Most free pages given back to the file system in one commit.
const VACUUM_STEP: u64 = 2048;

/// The `meta` key of the maximum size set on this site (a joined site gets it with its
/// policy).
pub(crate) const MAX_SIZE_KEY: &str = "event_log_max_size";

/// How the writer tells the retention loop that events arrived: acc-core's counter and
/// the loop's wake-up.
#[derive(Debug)]
pub struct Growth {
    count: retention::Growth,
    wake: tokio::sync::Notify,
}

impl Growth {
    /// No events yet; `max_size` in force.
    pub fn new(max_size: u64) -> Growth {
        Growth { count: retention::Growth::new(max_size), wake: tokio::sync::Notify::new() }
    }

    /// Counts `n` events queued for writing; wakes the retention loop when due.
    pub fn add(&self, n: u64) {
        if self.count.add(n) {
            self.wake.notify_one();
        }
    }

    /// The maximum size in force.
    pub fn max_size(&self) -> u64 {
        self.count.max_size()
    }

    /// Sets the maximum size and has the retention loop look at once.
    pub fn set_max_size(&self, bytes: u64) {
        self.count.set_max_size(bytes);
        self.wake.notify_one();
    }
}

/// Gives up to `pages` free pages back to the file system.
pub(crate) async fn vacuum(tx: &mut sqlx::SqliteConnection, pages: u64) -> Result<(), sqlx::Error> {
    let sql = format!("PRAGMA incremental_vacuum({})", pages.min(VACUUM_STEP));
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&mut *tx).await?;
    Ok(())
}

/// Converts a database made before the event log had a maximum size to incremental
/// auto-vacuum (a one-time rewrite of the file); new databases start that way.
pub(crate) async fn prepare(pool: &SqlitePool, path: &std::path::Path) -> Result<(), SiteError> {
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(pool).await?;
    if mode != 2 {
        tracing::info!(path = %path.display(), "Converting the site database to incremental auto-vacuum (once).");
        let mut conn = pool.acquire().await?;
        sqlx::query("PRAGMA auto_vacuum = INCREMENTAL").execute(&mut *conn).await?;
        sqlx::query("VACUUM").execute(&mut *conn).await?;
    }
    sqlx::raw_sql(rows::SCHEMA).execute(pool).await?;
    rows::upgrade(pool).await?;
    Ok(())
}

/// The log as measured (`acc_core::event::retention::Measure`; positions are `Seq`).
pub type Measure = retention::Measure;

/// Measures the log: its tables' pages, its events and `Seq` range, the file's pages.
pub async fn measure(pool: &SqlitePool) -> Result<Measure, SiteError> {
    let sql = Measure::query(&TABLES, "seq");
    Ok(Measure::from_counts(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await?))
}

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
    growth.count.measured(m.bytes, m.events);
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

/// The maximum size set on this site, or the default.
pub(crate) async fn stored_max_size(pool: &SqlitePool) -> Result<u64, SiteError> {
    Ok(crate::store::meta(pool, MAX_SIZE_KEY)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(retention::DEFAULT_SITE_MAX_SIZE))
}

impl Site {
    /// `acc site policy set --event-log-max-size` on a standalone site (a joined site takes
    /// it from its management server's site settings).
    pub async fn set_event_log_max_size(&self, bytes: u64) -> Result<(), SiteError> {
        if let Some(revision) = self.applied_revision() {
            return Err(SiteError::Invalid(vec![format!(
                "event log maximum size: this site takes it from its management server (revision {revision}); change it there with `acc ctl settings site set --event-log-max-size`"
            )]));
        }
        self.store_event_log_max_size(bytes).await
    }

    /// The maximum size of a site policy from the management server (`None` from an older
    /// server: the site keeps its own).
    pub async fn apply_event_log_max_size(&self, bytes: Option<u64>) -> Result<(), SiteError> {
        match bytes {
            Some(b) if b != self.event_growth().max_size() => self.store_event_log_max_size(b).await,
            _ => Ok(()),
        }
    }

    async fn store_event_log_max_size(&self, bytes: u64) -> Result<(), SiteError> {
        retention::check_max_size(bytes)
            .map_err(|e| SiteError::Invalid(vec![format!("event log maximum size: {e}")]))?;
        self.writer().submit(vec![Write::EventLogMaxSize(bytes)]).durable().await.map_err(SiteError::from)?;
        self.event_growth().set_max_size(bytes);
        Ok(())
    }
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
        let _ = tokio::time::timeout(wait, site.event_growth().wake.notified()).await;
    }
}

/// A search of the log (`acc site events`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EventQuery {
    /// `EventID` (`4740`, `acc.refresh`).
    pub id: Option<String>,
    /// `TargetUserName`, case-insensitive.
    pub user: Option<String>,
    /// Only events at or after this time (Unix ms).
    pub since_ms: Option<i64>,
    /// Only events before this `Seq`.
    #[serde(default)]
    pub before_seq: Option<i64>,
    /// The newest this many (default [`PAGE`]); ignored with `all`.
    pub limit: Option<i64>,
    /// Every matching event.
    #[serde(default)]
    pub all: bool,
    /// Where the previous page ended (its answer's `next`).
    #[serde(default)]
    pub cursor: Option<String>,
}

const FILTER: &str =
    "(?1 IS NULL OR event_id = ?1) AND (?2 IS NULL OR target_user = ?2) AND (?3 IS NULL OR time_ms >= ?3)";

/// One page of the events matching `q`, oldest first.
pub async fn search(pool: &SqlitePool, q: &EventQuery) -> Result<EventPage, SiteError> {
    let user = q.user.as_deref().map(str::to_lowercase);
    let at = match &q.cursor {
        Some(c) => c.parse::<EventCursor>().map_err(|e| SiteError::Invalid(vec![e.to_string()]))?,
        None => {
            let newest: Option<i64> =
                sqlx::query_scalar("SELECT MAX(seq) FROM events").fetch_one(pool).await?;
            let upto = newest.unwrap_or(0).min(q.before_seq.map_or(i64::MAX, |b| b - 1));
            let after = if q.all {
                0
            } else {
                let n = q.limit.unwrap_or(PAGE).max(1);
                let sql = format!(
                    "SELECT seq FROM events WHERE {FILTER} AND seq <= ?4 ORDER BY seq DESC LIMIT 1 OFFSET ?5"
                );
                let nth: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                    .bind(&q.id)
                    .bind(&user)
                    .bind(q.since_ms)
                    .bind(upto)
                    .bind(n - 1)
                    .fetch_optional(pool)
                    .await?;
                nth.map_or(0, |s| s - 1)
            };
            EventCursor { after, upto }
        }
    };
    let (columns, from) = (rows::COLUMNS, rows::FROM);
    let sql = format!(
        "SELECT {columns} FROM {from} WHERE {FILTER} AND seq > ?4 AND seq <= ?5 ORDER BY seq LIMIT ?6"
    );
    let rows: Vec<rows::Row> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(&q.id)
        .bind(&user)
        .bind(q.since_ms)
        .bind(at.after)
        .bind(at.upto)
        .bind(PAGE)
        .fetch_all(pool)
        .await?;
    let next = at.after_page(rows.last().map(|r| r.seq), rows.len()).map(|c| c.to_string());
    let mut reader = rows::Reader::default();
    let events = rows.iter().filter_map(|r| reader.event(r)).collect();
    Ok(EventPage { events, next })
}

/// The events after `after` to forward to the management server, at most `limit`, each
/// whole.
pub async fn forward_batch(
    pool: &SqlitePool,
    after: i64,
    limit: i64,
) -> Result<Vec<acc_proto::ForwardedEvent>, SiteError> {
    let (columns, from) = (rows::COLUMNS, rows::FROM);
    let sql = format!("SELECT {columns} FROM {from} WHERE seq > ? ORDER BY seq LIMIT ?");
    let found: Vec<rows::Row> =
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(after).bind(limit).fetch_all(pool).await?;
    let mut reader = rows::Reader::default();
    Ok(found
        .into_iter()
        .map(|r| acc_proto::ForwardedEvent {
            seq: r.seq,
            time_ms: r.time_ms,
            body: reader.event(&r).unwrap_or(serde_json::Value::Null),
            event_id: r.event_id,
            target_user: r.target_user,
        })
        .collect())
}
