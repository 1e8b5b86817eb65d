//! The site's security event log on disk: the `events` table (one row per event, keyed by
//! `Seq`) and the shapes of repeated logons, its size, its maximum size and the removal of
//! its oldest events when it is full, and the paged search behind `acc site events`.
//!
//! - Size is counted in database pages of the tables and indexes (SQLite's `dbstat`), so
//!   it is what the events really take on disk. The database runs in incremental
//!   auto-vacuum: pages a removal frees are reused by new events, and those the log no
//!   longer needs (after its maximum size was lowered, or an old, larger log) are given
//!   back to the file system, so the file shrinks.
//! - `retention` keeps the log under its maximum size (see
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

use acc_core::event::retention;
use serde::{Deserialize, Serialize};

use sqlx::SqlitePool;

use crate::error::SiteError;

pub use acc_proto::{EVENT_PAGE as PAGE, EventCursor, EventPage};
pub(crate) use rows::{Shapes, TABLES, insert, remove_through};

/// Most free pages given back to the file system in one commit.
pub(crate) const VACUUM_STEP: u64 = 2048;

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

    /// Starts counting again from the log as just measured.
    pub fn measured(&self, bytes: u64, events: u64) {
        self.count.measured(bytes, events);
    }

    /// Waits until events arrived that the retention loop should look at, or the maximum
    /// size changed.
    pub async fn woken(&self) {
        self.wake.notified().await;
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
