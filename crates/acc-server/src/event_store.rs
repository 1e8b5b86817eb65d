//! The management server's event store: every site's security events and the server's own,
//! one row each, its size kept under the maximum of the site settings
//! (`event_store_max_size`), searched a page at a time.
//!
//! Events are keyed by their **origin** and `Seq`, never by a name: a site's origin is
//! `site:` and the serial of the certificate it got when it joined (a site that joins
//! again, or another site with the same name, is another origin), the server's own events
//! are `server:` and its name. Two writers with the same display name (a site and the
//! server on one host are both `VM`) therefore both keep their sequence 1. A resent batch
//! of a site is stored once ((origin, seq) is unique). Each row also has its position `n`
//! in the store (arrival order), which orders searches and removals.
//!
//! When the store passes its maximum size, its oldest rows go first (the management server
//! acknowledges every event it stores, so nothing here waits for anyone), and one
//! `acc.event_log` of the server's own records each removal: how many, and the range of
//! positions and times.

use std::sync::Arc;
use std::time::Duration;

use acc_core::event::catalogue::{self, Pruned};
use acc_core::event::retention;
use acc_core::event::{Event, StampedEvent};
use acc_core::time::Timestamp;
use acc_proto::{EVENT_PAGE, EventCursor, EventPage, ForwardedEvent};

use crate::error::ServerError;
use crate::server::Server;
use crate::sites::SiteRecord;
use crate::store::{Backend, Pool, backend};

/// The sequence number of the server's own last event, and the events stored since the
/// store was last measured (with its maximum size); both are touched only here.
#[derive(Debug)]
pub struct OwnEvents {
    seq: std::sync::atomic::AtomicI64,
    growth: retention::Growth,
}

impl OwnEvents {
    /// From the last sequence number stored and the store's growth.
    pub fn new(seq: i64, growth: retention::Growth) -> OwnEvents {
        OwnEvents { seq: std::sync::atomic::AtomicI64::new(seq), growth }
    }

    /// The next sequence number of the server's own events.
    pub fn next_seq(&self) -> i64 {
        self.seq.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1
    }
}

/// The b-trees whose pages make up the store's size.
const TABLES: [&str; 8] = [
    "events",
    "events_by_origin",
    "events_by_time",
    "events_by_id",
    "events_by_machine",
    "events_by_address",
    "events_by_user",
    "events_by_site",
];

/// Most free pages given back to the file system in one transaction.
const VACUUM_STEP: u64 = 2048;

/// The origin of the server's own events.
pub fn own_origin(server_name: &str) -> String {
    format!("server:{server_name}")
}

/// The origin of a site's events: the certificate it joined with.
pub fn site_origin(join_serial_hex: &str) -> String {
    format!("site:{join_serial_hex}")
}

/// Readies the store (its table is made by the store's migrations): a SQLite database is
/// put in incremental auto-vacuum (once), so removals can shrink the file. PostgreSQL reuses
/// the room of removed rows on its own (autovacuum).
pub async fn open(pool: &Pool) -> Result<(), ServerError> {
    if backend(pool) != Backend::Sqlite {
        return Ok(());
    }
    let mode: i64 = sqlx::query_scalar("PRAGMA auto_vacuum").fetch_one(pool).await?;
    if mode != 2 {
        let mut conn = pool.acquire().await?;
        sqlx::query("PRAGMA auto_vacuum = INCREMENTAL").execute(&mut *conn).await?;
        sqlx::query("VACUUM").execute(&mut *conn).await?;
    }
    Ok(())
}

/// The searched fields of an event, from its body: the machine (`WorkstationName`, else
/// `CallerComputerName`) and the address (`IpAddress`), `-` and empty being none, both in
/// lower case (the same rule as migration 6's fill of stored events).
pub fn search_fields(body: &serde_json::Value) -> (Option<String>, Option<String>) {
    let field = |k: &str| {
        let v = match &body[k] {
            serde_json::Value::String(s) => s.clone(),
            serde_json::Value::Null => return None,
            v => v.to_string(),
        };
        (!v.is_empty() && v != "-").then(|| v.to_ascii_lowercase())
    };
    (field("WorkstationName").or_else(|| field("CallerComputerName")), field("IpAddress"))
}

/// Events per `INSERT` statement of [`insert`]: 9 values each, well under the bound
/// parameters SQLite (32,766) and PostgreSQL (65,535) take; one statement instead of one
/// per event is one round trip to PostgreSQL instead of hundreds.
const ROWS_PER_INSERT: usize = 250;

/// Stores events of `origin` (written by `computer`) in one transaction; an event already
/// stored (same origin and sequence) is skipped. Returns how many were new.
pub async fn insert(
    pool: &Pool,
    origin: &str,
    computer: &str,
    events: &[ForwardedEvent],
) -> Result<u64, ServerError> {
    let mut tx = pool.begin().await?;
    let mut new = 0;
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT INTO events (origin, seq, site, event_id, time_ms, target_user, body, machine, address) \
             VALUES {} ON CONFLICT (origin, seq) DO NOTHING",
            crate::store::value_rows(chunk.len(), 9)
        );
        // Safe: the text is fixed but for the placeholders' numbers; every value is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for e in chunk {
            let (machine, address) = search_fields(&e.body);
            q = q
                .bind(origin)
                .bind(e.seq)
                .bind(computer)
                .bind(&e.event_id)
                .bind(e.time_ms)
                .bind(&e.target_user)
                .bind(e.body.to_string())
                .bind(machine)
                .bind(address);
        }
        new += q.execute(&mut *tx).await?.rows_affected();
    }
    tx.commit().await?;
    Ok(new)
}

/// The highest sequence number stored for `origin` (0 when none).
pub async fn max_seq(pool: &Pool, origin: &str) -> Result<i64, ServerError> {
    let v: Option<i64> = sqlx::query_scalar("SELECT MAX(seq) FROM events WHERE origin = $1")
        .bind(origin)
        .fetch_one(pool)
        .await?;
    Ok(v.unwrap_or(0))
}

/// A search of the events of every site.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    /// `EventID`.
    pub id: Option<String>,
    /// The site's name (`Computer`).
    pub site: Option<String>,
    /// `TargetUserName` (any case).
    pub user: Option<String>,
    /// The machine: `WorkstationName` or `CallerComputerName` (any case).
    pub machine: Option<String>,
    /// The address: `IpAddress` (any case).
    pub address: Option<String>,
    /// Only events at or after this time (Unix milliseconds).
    pub since_ms: Option<i64>,
    /// Only events before this `Seq` (of the site named by `site`).
    pub before_seq: Option<i64>,
    /// The most recent this many; ignored with `all`.
    pub limit: i64,
    /// Every matching event.
    pub all: bool,
    /// Where the previous page ended.
    pub cursor: Option<EventCursor>,
}

/// The conditions of `f` (only those given, so each search can walk the index of its
/// column in store order) and their values, numbered from `$1`.
fn conditions(f: &EventFilter) -> (Vec<String>, Vec<Arg>) {
    let mut sql = Vec::new();
    let mut args = Vec::new();
    let lower = |v: &Option<String>| v.as_deref().map(str::to_lowercase);
    let text = [
        ("event_id", f.id.clone()),
        ("site", f.site.clone()),
        ("target_user", lower(&f.user)),
        ("machine", f.machine.as_deref().map(str::to_ascii_lowercase)),
        ("address", f.address.as_deref().map(str::to_ascii_lowercase)),
    ];
    for (column, v) in text {
        if let Some(v) = v {
            args.push(Arg::Text(v));
            sql.push(format!("{column} = ${}", args.len()));
        }
    }
    for (cond, v) in [("time_ms >=", f.since_ms), ("seq <", f.before_seq)] {
        if let Some(v) = v {
            args.push(Arg::Int(v));
            sql.push(format!("{cond} ${}", args.len()));
        }
    }
    (sql, args)
}

/// A value bound to a search.
#[derive(Debug, Clone)]
enum Arg {
    Text(String),
    Int(i64),
}

/// `sql` with `args` bound, in order.
fn bound<'q, O>(sql: &'q str, args: &[Arg]) -> sqlx::query::QueryAs<'q, sqlx::Any, O, sqlx::any::AnyArguments>
where
    O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
{
    let mut q = sqlx::query_as(sqlx::AssertSqlSafe(sql));
    for a in args {
        q = match a {
            Arg::Text(v) => q.bind(v.clone()),
            Arg::Int(v) => q.bind(*v),
        };
    }
    q
}

/// One page of the events matching `f`, in the store's order (oldest first).
pub async fn search(pool: &Pool, f: &EventFilter) -> Result<EventPage, ServerError> {
    let (mut conds, mut args) = conditions(f);
    let at = match f.cursor {
        Some(c) => c,
        None => {
            let upto: Option<i64> = sqlx::query_scalar("SELECT MAX(n) FROM events").fetch_one(pool).await?;
            let upto = upto.unwrap_or(0);
            let after = if f.all {
                0
            } else {
                let mut c = conds.clone();
                let mut a = args.clone();
                a.push(Arg::Int(upto));
                c.push(format!("n <= ${}", a.len()));
                a.push(Arg::Int(f.limit.max(1) - 1));
                let sql = format!(
                    "SELECT n FROM events WHERE {} ORDER BY n DESC LIMIT 1 OFFSET ${}",
                    c.join(" AND "),
                    a.len()
                );
                let nth: Option<(i64,)> = bound(&sql, &a).fetch_optional(pool).await?;
                nth.map_or(0, |n| n.0 - 1)
            };
            EventCursor { after, upto }
        }
    };
    args.push(Arg::Int(at.after));
    conds.push(format!("n > ${}", args.len()));
    args.push(Arg::Int(at.upto));
    conds.push(format!("n <= ${}", args.len()));
    args.push(Arg::Int(EVENT_PAGE));
    let sql =
        format!("SELECT n, body FROM events WHERE {} ORDER BY n LIMIT ${}", conds.join(" AND "), args.len());
    let rows: Vec<(i64, String)> = bound(&sql, &args).fetch_all(pool).await?;
    let next = at.after_page(rows.last().map(|r| r.0), rows.len()).map(|c| c.to_string());
    let events = rows.iter().filter_map(|(_, b)| serde_json::from_str(b).ok()).collect();
    Ok(EventPage { events, next })
}

/// How many events match `f` (its conditions only: no limit, cursor or `all`), counted
/// by the database along the index of one of its columns.
pub async fn count(pool: &Pool, f: &EventFilter) -> Result<i64, ServerError> {
    let (conds, args) = conditions(f);
    let sql = if conds.is_empty() {
        "SELECT COUNT(*) FROM events".to_string()
    } else {
        format!("SELECT COUNT(*) FROM events WHERE {}", conds.join(" AND "))
    };
    let (n,): (i64,) = bound(&sql, &args).fetch_one(pool).await?;
    Ok(n)
}

/// The store as measured (`acc_core::event::retention::Measure`; positions are the store
/// order `n`).
pub type Measure = retention::Measure;

/// Measures the store: its rows and their positions, and its size. SQLite: its tables'
/// pages and the file's pages. PostgreSQL: the bytes of its live rows (a table's files keep
/// the room of removed rows for reuse, so their size would not fall after a removal), no
/// free pages to give back.
pub async fn measure(pool: &Pool) -> Result<Measure, ServerError> {
    let sql = match backend(pool) {
        Backend::Sqlite => Measure::query(&TABLES, "n"),
        Backend::Postgres => {
            "SELECT COALESCE(SUM(pg_column_size(events.*)), 0)::BIGINT, COUNT(*), MIN(n), MAX(n), \
             0::BIGINT, 0::BIGINT, 8192::BIGINT FROM events"
                .to_string()
        }
    };
    Ok(Measure::from_counts(sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await?))
}

impl Server {
    /// The origin of the server's own events.
    pub fn own_origin(&self) -> String {
        own_origin(&self.config().name)
    }

    /// The origin of the joined site `name`'s events.
    pub fn site_origin(&self, name: &str) -> Option<String> {
        self.inventory.sites().get(name).map(SiteRecord::origin)
    }

    /// Stores events the server wrote itself.
    pub(crate) async fn store_own_events(&self, events: &[ForwardedEvent]) -> Result<u64, ServerError> {
        let started = std::time::Instant::now();
        let stored = insert(&self.pool, &self.own_origin(), &self.config().name, events).await?;
        crate::metrics::database("insert_events", started);
        crate::metrics::events_written("server", stored);
        self.own_events().growth.add(stored);
        Ok(stored)
    }

    /// Stores a batch a site forwarded.
    pub(crate) async fn store_site_events(
        &self,
        site: &str,
        events: &[ForwardedEvent],
    ) -> Result<u64, ServerError> {
        let origin = self
            .site_origin(site)
            .ok_or_else(|| ServerError::Invalid(format!("site {site} is not joined")))?;
        let started = std::time::Instant::now();
        let stored = insert(&self.pool, &origin, site, events).await?;
        crate::metrics::database("insert_events", started);
        crate::metrics::events_written("site", stored);
        self.own_events().growth.add(stored);
        Ok(stored)
    }

    /// An acc-core event of the server's own, stamped with its next sequence number, as
    /// the store keeps it.
    pub(crate) fn own_event(&self, event: Event, target_user: Option<&str>) -> ForwardedEvent {
        let n = self.own_events().next_seq();
        let time_ms = event.time.millis();
        let event_id = event.id.to_string();
        let stamped = StampedEvent {
            seq: u64::try_from(n).unwrap_or(0),
            computer: self.config().name.clone(),
            site_id: self.config().name.clone(),
            event,
        };
        ForwardedEvent {
            seq: n,
            event_id,
            time_ms,
            target_user: target_user.map(str::to_lowercase),
            body: serde_json::to_value(&stamped).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Keeps the store under its maximum size: removes its oldest rows, each removal
    /// recorded, then gives back free pages it will not grow into. Returns the last measure.
    pub async fn enforce_event_store(&self) -> Result<Measure, ServerError> {
        let max = self.current().1.event_store_max_size;
        if max != self.own_events().growth.max_size() {
            self.own_events().growth.set_max_size(max);
        }
        let mut m = measure(&self.pool).await?;
        for _ in 0..64 {
            let Some(plan) = retention::plan(&m.usage(None), max) else { break };
            let (first, through) = m.range(&plan, None);
            self.remove_events(first, through, max).await?;
            m = measure(&self.pool).await?;
        }
        let mut pages = m.surplus_pages(max);
        while pages > 0 {
            let step = pages.min(VACUUM_STEP);
            let sql = format!("PRAGMA incremental_vacuum({step})");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&self.pool).await?;
            pages -= step;
        }
        self.own_events().growth.measured(m.bytes, m.events);
        Ok(m)
    }

    /// Removes the rows `first..=through` and stores the `acc.event_log` that records it,
    /// in one transaction.
    async fn remove_events(&self, first: i64, through: i64, max_size: u64) -> Result<(), ServerError> {
        let mut tx = self.pool.begin().await?;
        let (removed, oldest, newest): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(time_ms), MAX(time_ms) FROM events WHERE n BETWEEN $1 AND $2",
        )
        .bind(first)
        .bind(through)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM events WHERE n <= $1").bind(through).execute(&mut *tx).await?;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        let pruned = Pruned {
            removed: u(removed),
            seqs: (u(first), u(through)),
            times: (Timestamp(oldest.unwrap_or(0)), Timestamp(newest.unwrap_or(0))),
            unforwarded: None,
            max_size,
            reason: retention::Reason::MaxSize,
        };
        let now = Timestamp(self.now_ms());
        let record = self.own_event(catalogue::acc_event_log_pruned(now, &pruned), None);
        sqlx::query(
            "INSERT INTO events (origin, seq, site, event_id, time_ms, target_user, body)
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind(self.own_origin())
        .bind(record.seq)
        .bind(&self.config().name)
        .bind(&record.event_id)
        .bind(record.time_ms)
        .bind(record.body.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(
            removed,
            first,
            through,
            max_size,
            "The event store is full; its oldest events were removed."
        );
        Ok(())
    }
}

/// Keeps the store under its maximum size until the task is dropped: looks every second
/// whether enough events arrived, and at least once a minute, while this node holds the
/// retention's lease (one node of several on PostgreSQL; see [`crate::cluster`]).
pub async fn retention_loop(server: Arc<Server>) {
    let mut idle = 0;
    loop {
        if !server.holds_lease(crate::cluster::RETENTION_JOB).await {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if server.own_events().growth.due() || idle >= 60 {
            idle = 0;
            if let Err(e) = server.enforce_event_store().await {
                tracing::error!(error = %e, "The event store could not be kept under its maximum size.");
            }
        }
        idle += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests;
