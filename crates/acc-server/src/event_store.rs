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
//! positions and times. This module is the storage (below `Server`, which holds
//! [`OwnEvents`]); what the server writes and the retention run are [`crate::event_log`].

use acc_core::event::retention;
use acc_proto::{EVENT_PAGE, EventCursor, EventPage, ForwardedEvent};

use crate::error::ServerError;
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

    /// The events stored since the store was last measured, and its maximum size.
    pub fn growth(&self) -> &retention::Growth {
        &self.growth
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

/// The origin of the server's own events.
pub fn own_origin(server_name: &str) -> String {
    format!("server:{server_name}")
}

/// The origin of a site's events: the certificate it joined with.
pub fn site_origin(join_serial_hex: &str) -> String {
    format!("site:{join_serial_hex}")
}

/// An event's `TimeCreated` as the server writes it: RFC 3339 UTC (null for a time no
/// calendar holds).
pub fn time_created(ms: i64) -> serde_json::Value {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .map_or(serde_json::Value::Null, serde_json::Value::String)
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

#[cfg(test)]
mod tests;
