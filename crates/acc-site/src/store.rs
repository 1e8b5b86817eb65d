//! The site database (SQLite in WAL mode, `synchronous=FULL`): what must survive a crash,
//! written as small deltas so that a request costs a few rows whatever the fleet size.
//!
//! The lockout state (`acc_core::lockout::SiteState`) is split for persistence:
//! - `meta['state']`: the site-wide scalars (high-water mark, `Seq`, refresh schedule …);
//! - `accounts`: one row per account record (live or tombstone) without its two growing
//!   parts, which have their own rows: `account_sources` (smart-mode per-source state),
//!   `account_shares` (rule M8a: each address's share of the unfamiliar aggregate) and
//!   `account_failures` (the 24 h bad-password log for the lockout-loop report);
//! - `familiar`: source → last success.
//!
//! Every change is a [`Write`]; the writer (`writer.rs`) commits many in one transaction.

use std::path::Path;
use std::str::FromStr;

use acc_core::event::StampedEvent;
use acc_core::lockout::{
    AccountRecord, AddressShare, FailureEntry, LockoutPolicy, SiteState, Source, SourceState,
};
use acc_core::migrate::Migration;
use acc_core::time::Timestamp;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::SiteError;

/// The schema, one [`Migration`] per file of `migrations/` (acc-core's one mechanism, as
/// the management server's), applied in order to a database of an older version
/// (`PRAGMA user_version`), each with its version number in one transaction.
const MIGRATIONS: [Migration; 2] = [
    Migration { version: 1, name: "base schema", sql: include_str!("../migrations/0001_base.sql") },
    Migration {
        version: 2,
        name: "account shares",
        sql: include_str!("../migrations/0002_account_shares.sql"),
    },
];

/// One durable change.
#[derive(Debug, Clone)]
pub enum Write {
    /// A security event.
    Event(StampedEvent),
    /// A task's change (task server).
    Task(crate::tasks::store::TaskWrite),
    /// The site-wide scalars of the lockout state (JSON).
    State(String),
    /// The lockout policy (JSON).
    Policy(String),
    /// The managed generations and the policy revision they came with (JSON).
    Managed(String),
    /// An account record without sources and failures (JSON), by SID.
    Account { sid: String, record: String },
    /// One keyed row of an account (a source's state, an address's share); `None`
    /// removes it.
    AccountRow { rows: AccountRows, sid: String, key: String, value: Option<String> },
    /// Every row of one kind of an account is replaced (administration, refresh).
    AccountRowsReplaced { rows: AccountRows, sid: String, entries: Vec<(String, String)> },
    /// A bad-password failure appended to an account's log.
    Failure { sid: String, time_ms: i64, caller: String },
    /// A source's last success.
    Familiar { source: String, last_success: i64 },
    /// An agent registered (or registered again) with its binding, or forgotten (see
    /// `crate::agents`).
    Agent(crate::agents::store::AgentWrite),
    /// A share with both ACL levels (acc-core `Share` as JSON), created or replaced.
    Share { name: String, acl: String },
    /// Every event up to this `Seq` is removed (the event log is full; see `event_log`).
    RemoveEvents(i64),
    /// Up to this many free pages are given back to the file system.
    Vacuum(u64),
    /// The event log's maximum size (bytes).
    EventLogMaxSize(u64),
}

/// The rows an account keeps apart from its record, one per key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountRows {
    /// `account_sources`: smart-mode state per source (key: the source as JSON).
    Sources,
    /// `account_shares`: rule M8a's share of the unfamiliar aggregate per address (key:
    /// the ip).
    Shares,
}

impl AccountRows {
    fn upsert(self) -> &'static str {
        match self {
            AccountRows::Sources => {
                "INSERT INTO account_sources (sid, source, state) VALUES (?, ?, ?) ON CONFLICT (sid, source) DO UPDATE SET state = excluded.state"
            }
            AccountRows::Shares => {
                "INSERT INTO account_shares (sid, ip, share) VALUES (?, ?, ?) ON CONFLICT (sid, ip) DO UPDATE SET share = excluded.share"
            }
        }
    }

    fn delete_one(self) -> &'static str {
        match self {
            AccountRows::Sources => "DELETE FROM account_sources WHERE sid = ? AND source = ?",
            AccountRows::Shares => "DELETE FROM account_shares WHERE sid = ? AND ip = ?",
        }
    }

    fn delete_all(self) -> &'static str {
        match self {
            AccountRows::Sources => "DELETE FROM account_sources WHERE sid = ?",
            AccountRows::Shares => "DELETE FROM account_shares WHERE sid = ?",
        }
    }

    fn select(self) -> &'static str {
        match self {
            AccountRows::Sources => "SELECT source, state FROM account_sources WHERE sid = ?",
            AccountRows::Shares => "SELECT ip, share FROM account_shares WHERE sid = ?",
        }
    }

    /// The (key, value) rows of account `sid`.
    async fn load(self, pool: &SqlitePool, sid: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
        sqlx::query_as(self.select()).bind(sid).fetch_all(pool).await
    }
}

/// Opens (creating if needed) the site database, its files the owner's only (0600).
pub async fn open(path: &Path) -> Result<SqlitePool, SiteError> {
    acc_pki::fsutil::private_database(path)?;
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(10))
        .foreign_keys(true)
        // New files start in incremental auto-vacuum (older ones are converted by
        // `event_log::prepare`); a checkpointed WAL is cut back to 16 MiB.
        .auto_vacuum(sqlx::sqlite::SqliteAutoVacuum::Incremental)
        .pragma("journal_size_limit", "16777216");
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    let version: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(&pool).await?;
    let pending = acc_core::migrate::pending(version, &MIGRATIONS)
        .map_err(|e| SiteError::Database(format!("{}: {e}", path.display())))?;
    crate::event_log::prepare(&pool, path).await?;
    for m in pending {
        let mut tx = pool.begin().await?;
        let step = sqlx::raw_sql(sqlx::AssertSqlSafe(m.sqlite_script())).execute(&mut *tx).await;
        step.map_err(|e| {
            SiteError::Database(format!(
                "{}: migration to schema version {} ({}) failed: {e}",
                path.display(),
                m.version,
                m.name
            ))
        })?;
        tx.commit().await?;
    }
    sqlx::raw_sql(crate::tasks::store::SCHEMA).execute(&pool).await?;
    crate::agents::store::migrate(&pool).await?;
    Ok(pool)
}

/// Rows per multi-row event `INSERT`, largest first: a batch is cut into these sizes so
/// that only four statements are ever prepared (5 parameters a row, far below SQLite's
/// limit).
const EVENT_INSERT_ROWS: [usize; 4] = [128, 32, 8, 1];

/// Applies writes inside an open transaction, with the fewest statements that give the
/// same result: events (append-only, independent of every other row) go in multi-row
/// inserts, and of several site-state or policy snapshots only the last is written (each
/// replaces the whole row). Every other write keeps its order.
pub async fn apply<'a>(
    tx: &mut sqlx::SqliteConnection,
    writes: impl IntoIterator<Item = &'a Write>,
    shapes: &mut crate::event_log::Shapes,
) -> Result<(), sqlx::Error> {
    let writes: Vec<&Write> = writes.into_iter().collect();
    let last_state = writes.iter().rposition(|w| matches!(w, Write::State(_)));
    let last_policy = writes.iter().rposition(|w| matches!(w, Write::Policy(_)));
    let mut events = Vec::new();
    for (i, w) in writes.into_iter().enumerate() {
        match w {
            Write::Event(e) => events.push(e),
            Write::State(_) if Some(i) != last_state => {}
            Write::Policy(_) if Some(i) != last_policy => {}
            Write::RemoveEvents(through) => crate::event_log::remove_through(tx, shapes, *through).await?,
            w => apply_one(tx, w).await?,
        }
    }
    let mut rest = events.as_slice();
    while !rest.is_empty() {
        let rows = EVENT_INSERT_ROWS.into_iter().find(|&n| n <= rest.len()).unwrap_or(1);
        let (chunk, tail) = rest.split_at(rows);
        crate::event_log::insert(tx, shapes, chunk).await?;
        rest = tail;
    }
    Ok(())
}

/// One write that is not an event.
async fn apply_one(tx: &mut sqlx::SqliteConnection, w: &Write) -> Result<(), sqlx::Error> {
    {
        match w {
            // Events are inserted by `apply`, removals too (both with the writer's shapes).
            Write::Event(_) | Write::RemoveEvents(_) => {}
            Write::Task(t) => crate::tasks::store::apply(tx, t).await?,
            Write::State(json) => upsert_meta(tx, "state", json).await?,
            Write::Policy(json) => upsert_meta(tx, "policy", json).await?,
            Write::Managed(json) => upsert_meta(tx, "managed", json).await?,
            Write::Account { sid, record } => {
                sqlx::query("INSERT INTO accounts (sid, record) VALUES (?, ?) ON CONFLICT (sid) DO UPDATE SET record = excluded.record")
                    .bind(sid)
                    .bind(record)
                    .execute(&mut *tx)
                    .await?;
            }
            Write::AccountRow { rows, sid, key, value: Some(value) } => {
                sqlx::query(rows.upsert()).bind(sid).bind(key).bind(value).execute(&mut *tx).await?;
            }
            Write::AccountRow { rows, sid, key, value: None } => {
                sqlx::query(rows.delete_one()).bind(sid).bind(key).execute(&mut *tx).await?;
            }
            Write::AccountRowsReplaced { rows, sid, entries } => {
                sqlx::query(rows.delete_all()).bind(sid).execute(&mut *tx).await?;
                for (key, value) in entries {
                    sqlx::query(rows.upsert()).bind(sid).bind(key).bind(value).execute(&mut *tx).await?;
                }
            }
            Write::Failure { sid, time_ms, caller } => {
                sqlx::query("INSERT INTO account_failures (sid, time_ms, caller) VALUES (?, ?, ?)")
                    .bind(sid)
                    .bind(time_ms)
                    .bind(caller)
                    .execute(&mut *tx)
                    .await?;
            }
            Write::Familiar { source, last_success } => {
                sqlx::query("INSERT INTO familiar (source, last_success) VALUES (?, ?) ON CONFLICT (source) DO UPDATE SET last_success = excluded.last_success")
                    .bind(source)
                    .bind(last_success)
                    .execute(&mut *tx)
                    .await?;
            }
            Write::Agent(a) => crate::agents::store::apply(tx, a).await?,
            Write::Share { name, acl } => {
                sqlx::query("INSERT INTO shares (name, acl) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET acl = excluded.acl")
                    .bind(name)
                    .bind(acl)
                    .execute(&mut *tx)
                    .await?;
            }
            Write::Vacuum(pages) => crate::event_log::vacuum(tx, *pages).await?,
            Write::EventLogMaxSize(bytes) => {
                upsert_meta(tx, crate::event_log::MAX_SIZE_KEY, &bytes.to_string()).await?
            }
        }
    }
    Ok(())
}

async fn upsert_meta(tx: &mut sqlx::SqliteConnection, key: &str, value: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(key)
    .bind(value)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// The persisted key of a source.
pub fn source_key(source: &Source) -> String {
    serde_json::to_string(source).unwrap_or_default()
}

/// The site-wide scalars of a state: everything but accounts and familiar sources.
pub fn state_scalars(state: &SiteState) -> String {
    let scalars = SiteState {
        identity: state.identity.clone(),
        accounts: Vec::new(),
        familiar: Default::default(),
        hwm: state.hwm,
        clock_behind: state.clock_behind,
        next_refresh_at: state.next_refresh_at,
        seq: state.seq,
        next_rid: state.next_rid,
        next_logon_id: state.next_logon_id,
    };
    serde_json::to_string(&scalars).unwrap_or_default()
}

/// An account record without its sources and failures (they have their own rows).
pub fn account_scalars(record: &AccountRecord) -> String {
    serde_json::to_string(&record.scalars()).unwrap_or_default()
}

/// Every write that stores `record` whole (administration, first creation).
pub fn account_writes(record: &AccountRecord) -> Vec<Write> {
    vec![
        Write::Account { sid: record.sid.clone(), record: account_scalars(record) },
        Write::AccountRowsReplaced {
            rows: AccountRows::Sources,
            sid: record.sid.clone(),
            entries: record
                .sources
                .iter()
                .map(|(s, st)| (source_key(s), serde_json::to_string(st).unwrap_or_default()))
                .collect(),
        },
        account_shares_write(record),
    ]
}

/// The writes that store `record`'s scalars and address shares: what a refresh can change
/// (an unlock clears the unfamiliar aggregate and every share with it; sources it never
/// touches, A6).
pub fn account_refresh_writes(record: &AccountRecord) -> [Write; 2] {
    [
        Write::Account { sid: record.sid.clone(), record: account_scalars(record) },
        account_shares_write(record),
    ]
}

fn account_shares_write(record: &AccountRecord) -> Write {
    Write::AccountRowsReplaced {
        rows: AccountRows::Shares,
        sid: record.sid.clone(),
        entries: record.shares.iter().map(|(ip, share)| (ip.clone(), share_json(share))).collect(),
    }
}

/// The persisted form of an address share.
pub fn share_json(share: &AddressShare) -> String {
    serde_json::to_string(share).unwrap_or_default()
}

/// Loads the lockout state and policy; `None` when the database is new.
pub async fn load(
    pool: &SqlitePool,
    failure_horizon: Timestamp,
) -> Result<Option<(SiteState, LockoutPolicy)>, SiteError> {
    let Some(state_json) = meta(pool, "state").await? else {
        return Ok(None);
    };
    let corrupt =
        |what: &str, e: serde_json::Error| SiteError::Database(format!("stored {what} does not parse: {e}"));
    let mut state: SiteState = serde_json::from_str(&state_json).map_err(|e| corrupt("state", e))?;
    let policy: LockoutPolicy = match meta(pool, "policy").await? {
        Some(p) => serde_json::from_str(&p).map_err(|e| corrupt("policy", e))?,
        None => LockoutPolicy::default(),
    };
    for row in sqlx::query("SELECT sid, record FROM accounts ORDER BY rowid").fetch_all(pool).await? {
        let record_json: String = row.get("record");
        let mut record: AccountRecord =
            serde_json::from_str(&record_json).map_err(|e| corrupt("account", e))?;
        let sid: String = row.get("sid");
        for (source, st) in AccountRows::Sources.load(pool, &sid).await? {
            let source: Source = serde_json::from_str(&source).map_err(|e| corrupt("source", e))?;
            let st: SourceState = serde_json::from_str(&st).map_err(|e| corrupt("source state", e))?;
            record.sources.insert(source, st);
        }
        for (ip, share) in AccountRows::Shares.load(pool, &sid).await? {
            let share: AddressShare =
                serde_json::from_str(&share).map_err(|e| corrupt("address share", e))?;
            record.shares.insert(ip, share);
        }
        let failures = sqlx::query(
            "SELECT time_ms, caller FROM (SELECT id, time_ms, caller FROM account_failures WHERE sid = ? AND time_ms >= ? ORDER BY id DESC LIMIT ?) ORDER BY id",
        )
        .bind(&sid)
        .bind(failure_horizon.millis())
        .bind(i64::try_from(acc_core::lockout::FAILURE_LOG_CAP).unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
        record.failures = failures
            .into_iter()
            .map(|r| FailureEntry { time: Timestamp(r.get("time_ms")), caller: r.get("caller") })
            .collect();
        state.accounts.push(record);
    }
    let max = usize::try_from(policy.familiar_max).unwrap_or(usize::MAX);
    for row in
        sqlx::query("SELECT source, last_success FROM familiar ORDER BY last_success").fetch_all(pool).await?
    {
        let source: Source =
            serde_json::from_str(row.get::<&str, _>("source")).map_err(|e| corrupt("familiar source", e))?;
        state.familiar.record_success(&source, Timestamp(row.get("last_success")), max);
    }
    Ok(Some((state, policy)))
}

/// A `meta` value.
pub async fn meta(pool: &SqlitePool, key: &str) -> Result<Option<String>, SiteError> {
    Ok(sqlx::query_scalar("SELECT value FROM meta WHERE key = ?").bind(key).fetch_optional(pool).await?)
}

/// The event log's maximum size set on this site, or the default.
pub(crate) async fn event_log_max_size(pool: &SqlitePool) -> Result<u64, SiteError> {
    Ok(meta(pool, crate::event_log::MAX_SIZE_KEY)
        .await?
        .and_then(|v| v.parse().ok())
        .unwrap_or(acc_core::event::retention::DEFAULT_SITE_MAX_SIZE))
}
