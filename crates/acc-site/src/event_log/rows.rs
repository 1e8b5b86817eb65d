//! Events as rows: one row per event, keyed by `Seq`. A logon that repeats (a flood of
//! identical refusals) is stored as its shape, kept once in `event_shapes`, and the few
//! bytes that vary (`acc_core::event::compact`); any other event, and a logon seen for the
//! first time, as its whole JSON. Reading joins them back, so every search and every
//! forwarded batch sees each event whole, and each as one.
//!
//! The writer keeps the digests of recent logon shapes ([`Shapes`]): the first sight of a
//! shape is stored whole, the second makes it a shape row. A shape row remembers the last
//! `Seq` that used it, and goes with the removal that passes it.

use std::collections::HashMap;

use acc_core::event::StampedEvent;
use acc_core::event::compact::{self, Split};
use acc_core::time::Timestamp;
use serde_json::Value;

/// The event tables.
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, time_ms INTEGER NOT NULL,
    target_user TEXT, body TEXT NOT NULL, shape INTEGER);
CREATE INDEX IF NOT EXISTS events_by_id ON events (event_id, seq);
CREATE TABLE IF NOT EXISTS event_shapes (
    id INTEGER PRIMARY KEY, digest TEXT NOT NULL, body TEXT NOT NULL, last_seq INTEGER NOT NULL);
CREATE UNIQUE INDEX IF NOT EXISTS event_shapes_by_digest ON event_shapes (digest);
";

/// The b-trees whose pages make up the log's size.
pub(crate) const TABLES: [&str; 4] = ["events", "events_by_id", "event_shapes", "event_shapes_by_digest"];

/// Most shape digests the writer remembers (then it starts again).
const MAX_SHAPES: usize = 4096;

/// The logon shapes the writer has seen: digest → its row, or `None` when seen once.
#[derive(Debug, Default)]
pub struct Shapes {
    known: HashMap<String, Option<i64>>,
}

impl Shapes {
    /// Forgets every shape (after a failed commit, or a removal that may have taken rows).
    pub fn clear(&mut self) {
        self.known.clear();
    }
}

/// Adds the `shape` column to a log made before shapes.
pub(crate) async fn upgrade(pool: &sqlx::SqlitePool) -> Result<(), sqlx::Error> {
    let has: bool =
        sqlx::query_scalar("SELECT COUNT(*) > 0 FROM pragma_table_info('events') WHERE name = 'shape'")
            .fetch_one(pool)
            .await?;
    if !has {
        sqlx::query("ALTER TABLE events ADD COLUMN shape INTEGER").execute(pool).await?;
    }
    Ok(())
}

/// The row of one event: its body and shape.
async fn encode(
    tx: &mut sqlx::SqliteConnection,
    shapes: &mut Shapes,
    e: &StampedEvent,
) -> Result<(String, Option<i64>), sqlx::Error> {
    let whole = || serde_json::to_string(e).unwrap_or_default();
    if !compact::splits(&e.event.id) {
        return Ok((whole(), None));
    }
    let Split { shape, vary } = compact::split(e);
    let (shape, vary) =
        (serde_json::to_string(&shape).unwrap_or_default(), serde_json::to_string(&vary).unwrap_or_default());
    let digest = acc_net::client::sha256_hex(shape.as_bytes());
    let seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
    match shapes.known.get(&digest) {
        Some(Some(id)) => Ok((vary, Some(*id))),
        Some(None) => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO event_shapes (digest, body, last_seq) VALUES (?, ?, ?) \
                 ON CONFLICT (digest) DO UPDATE SET last_seq = MAX(last_seq, excluded.last_seq) RETURNING id",
            )
            .bind(&digest)
            .bind(&shape)
            .bind(seq)
            .fetch_one(&mut *tx)
            .await?;
            shapes.known.insert(digest, Some(id));
            Ok((vary, Some(id)))
        }
        None => {
            if shapes.known.len() >= MAX_SHAPES {
                shapes.clear();
            }
            shapes.known.insert(digest, None);
            Ok((whole(), None))
        }
    }
}

/// Inserts `events` (already stamped) in one statement; the shapes they use remember them.
pub(crate) async fn insert(
    tx: &mut sqlx::SqliteConnection,
    shapes: &mut Shapes,
    events: &[&StampedEvent],
) -> Result<(), sqlx::Error> {
    let mut rows = Vec::with_capacity(events.len());
    let mut used: HashMap<i64, i64> = HashMap::new();
    for e in events {
        let (body, shape) = encode(tx, shapes, e).await?;
        let seq = i64::try_from(e.seq).unwrap_or(i64::MAX);
        if let Some(id) = shape {
            let last = used.entry(id).or_insert(seq);
            *last = (*last).max(seq);
        }
        rows.push((seq, body, shape));
    }
    let mut sql =
        String::from("INSERT INTO events (seq, event_id, time_ms, target_user, body, shape) VALUES ");
    for i in 0..events.len() {
        sql.push_str(if i == 0 { "(?, ?, ?, ?, ?, ?)" } else { ", (?, ?, ?, ?, ?, ?)" });
    }
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (e, (seq, body, shape)) in events.iter().zip(rows) {
        query = query
            .bind(seq)
            .bind(e.event.id.to_string())
            .bind(e.event.time.millis())
            .bind(e.event.str_field("TargetUserName").map(str::to_lowercase))
            .bind(body)
            .bind(shape);
    }
    query.execute(&mut *tx).await?;
    for (id, last) in used {
        sqlx::query("UPDATE event_shapes SET last_seq = ? WHERE id = ? AND last_seq < ?")
            .bind(last)
            .bind(id)
            .bind(last)
            .execute(&mut *tx)
            .await?;
    }
    Ok(())
}

/// Removes every event up to `through`, and the shapes no event after it uses.
pub(crate) async fn remove_through(
    tx: &mut sqlx::SqliteConnection,
    shapes: &mut Shapes,
    through: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM events WHERE seq <= ?").bind(through).execute(&mut *tx).await?;
    sqlx::query("DELETE FROM event_shapes WHERE last_seq <= ?").bind(through).execute(&mut *tx).await?;
    shapes.clear();
    Ok(())
}

/// The columns a read selects (events `e`, shapes `s`), as [`Row`] names them.
pub(crate) const COLUMNS: &str =
    "e.seq, e.time_ms, e.shape, s.body AS shape_body, e.body, e.event_id, e.target_user";

/// The join a read selects from.
pub(crate) const FROM: &str = "events e LEFT JOIN event_shapes s ON s.id = e.shape";

/// One row as read.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct Row {
    pub seq: i64,
    pub time_ms: i64,
    pub shape: Option<i64>,
    pub shape_body: Option<String>,
    pub body: String,
    pub event_id: String,
    pub target_user: Option<String>,
}

/// Joins rows back into events, each shape parsed once.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    shapes: HashMap<i64, Option<StampedEvent>>,
}

impl Reader {
    /// The event of `row` as JSON; `None` when the row does not read (never written so).
    pub(crate) fn event(&mut self, row: &Row) -> Option<Value> {
        let Some(id) = row.shape else {
            return serde_json::from_str(&row.body).ok();
        };
        let parsed =
            self.shapes.entry(id).or_insert_with(|| serde_json::from_str(row.shape_body.as_deref()?).ok());
        let vary = serde_json::from_str(&row.body).ok()?;
        let e = compact::join(parsed.as_ref()?, u64::try_from(row.seq).ok()?, Timestamp(row.time_ms), vary)?;
        serde_json::to_value(&e).ok()
    }
}
