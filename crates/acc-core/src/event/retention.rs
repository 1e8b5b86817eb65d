//! Retention of a security event log, as Windows' "Maximum log size" and "Overwrite events
//! as needed": how big the log may grow, and which of its oldest events go when it is full.
//!
//! This module owns the numbers (the default, the bounds, the slack removed at once, the
//! hard limit of a joined site) and the decision [`plan`]. It measures nothing and removes
//! nothing: the site and management servers measure their log in database pages, ask
//! [`plan`], delete the oldest events it names and write one `acc.event_log` event
//! ([`super::catalogue::acc_event_log_pruned`]) for each removal.
//!
//! A joined site keeps every event its management server has not acknowledged until the
//! log reaches twice its maximum size ([`hard_limit`]); only then do unacknowledged events
//! go too, the fewest that bring it back under that limit.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// 1 KiB.
pub const KIB: u64 = 1024;
/// 1 MiB.
pub const MIB: u64 = 1024 * KIB;
/// 1 GiB.
pub const GIB: u64 = 1024 * MIB;
/// 1 TiB.
pub const TIB: u64 = 1024 * GIB;

/// Default maximum size of a site server's event log (a Windows server's Security log
/// defaults to 128 MB as well).
pub const DEFAULT_SITE_MAX_SIZE: u64 = 128 * MIB;
/// Default maximum size of the management server's event store (every site's events).
pub const DEFAULT_SERVER_MAX_SIZE: u64 = GIB;
/// Smallest maximum size accepted.
pub const MIN_MAX_SIZE: u64 = MIB;
/// Largest maximum size accepted.
pub const MAX_MAX_SIZE: u64 = TIB;

/// What a removal brings the log down to, below its maximum: one sixteenth of it (at
/// least 64 KiB), so that a full log is pruned once per that much growth, not per event.
pub const fn slack(max_size: u64) -> u64 {
    let s = max_size / 16;
    if s < 64 * KIB { 64 * KIB } else { s }
}

/// The size past which a joined site removes events its management server has not
/// acknowledged: twice the maximum.
pub const fn hard_limit(max_size: u64) -> u64 {
    max_size.saturating_mul(2)
}

/// A maximum size out of bounds, or a size that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// The text is not a size.
    #[error("'{0}' is not a size; give a number of bytes with an optional unit: 512MiB, 1GiB, 65536")]
    Malformed(String),
    /// Below [`MIN_MAX_SIZE`].
    #[error("{} is below the smallest maximum size, {}", format_size(*.0), format_size(MIN_MAX_SIZE))]
    TooSmall(u64),
    /// Above [`MAX_MAX_SIZE`].
    #[error("{} is above the largest maximum size, {}", format_size(*.0), format_size(MAX_MAX_SIZE))]
    TooLarge(u64),
}

/// Parses a size: a whole number with an optional binary unit (`B`, `K`/`KiB`, `M`/`MiB`,
/// `G`/`GiB`, `T`/`TiB`, any case, spaces allowed before the unit).
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    crate::units::parse_size(text).map_err(|_| SizeError::Malformed(text.to_string()))
}

/// Checks a maximum size against [`MIN_MAX_SIZE`] and [`MAX_MAX_SIZE`].
pub fn check_max_size(bytes: u64) -> Result<u64, SizeError> {
    if bytes < MIN_MAX_SIZE {
        Err(SizeError::TooSmall(bytes))
    } else if bytes > MAX_MAX_SIZE {
        Err(SizeError::TooLarge(bytes))
    } else {
        Ok(bytes)
    }
}

/// A size as people write it: `128 MiB` when it is a whole number of a unit, else bytes.
pub fn format_size(bytes: u64) -> String {
    for (unit, name) in [(TIB, "TiB"), (GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if bytes >= unit && bytes.is_multiple_of(unit) {
            return format!("{} {name}", bytes / unit);
        }
    }
    format!("{bytes} B")
}

/// What a log holds now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Its size in bytes (database pages of its tables and indexes).
    pub bytes: u64,
    /// Its events.
    pub events: u64,
    /// How many of the oldest events may go without losing anything: those the management
    /// server acknowledged on a joined site; every event on a standalone site or on the
    /// management server.
    pub acknowledged: u64,
}

/// Why events are removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reason {
    /// The log passed its maximum size.
    MaxSize,
    /// A joined site's log passed [`hard_limit`] with unacknowledged events.
    HardLimit,
}

impl Reason {
    /// `max-size` or `hard-limit` (the `Reason` field of `acc.event_log`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Reason::MaxSize => "max-size",
            Reason::HardLimit => "hard-limit",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A removal: the `events` oldest events, of which the last `unacknowledged` had not
/// reached the management server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Removal {
    /// How many of the oldest events to remove.
    pub events: u64,
    /// How many of them were not acknowledged (0 unless [`Reason::HardLimit`]).
    pub unacknowledged: u64,
    /// Why.
    pub reason: Reason,
}

/// How many events of average size `per_event` make up `bytes`, rounded up.
fn events_for(bytes: u64, per_event: u64) -> u64 {
    bytes.div_ceil(per_event)
}

/// What to remove from a log of `usage` whose maximum is `max_size`; `None` when it may
/// stay as it is. Event sizes are taken as the average (`bytes / events`): the caller
/// measures again after the removal and asks again while the log is still over.
pub fn plan(usage: &Usage, max_size: u64) -> Option<Removal> {
    if usage.bytes <= max_size || usage.events == 0 {
        return None;
    }
    let per_event = usage.bytes.div_ceil(usage.events).max(1);
    let acknowledged = usage.acknowledged.min(usage.events);
    let wanted = events_for(usage.bytes - (max_size - slack(max_size)), per_event).min(usage.events);
    if wanted <= acknowledged {
        return Some(Removal { events: wanted, unacknowledged: 0, reason: Reason::MaxSize });
    }
    let hard = hard_limit(max_size);
    let rest = usage.bytes.saturating_sub(acknowledged * per_event);
    if rest > hard {
        let over = events_for(rest - (hard - slack(hard)), per_event).min(usage.events - acknowledged);
        return Some(Removal {
            events: acknowledged + over,
            unacknowledged: over,
            reason: Reason::HardLimit,
        });
    }
    (acknowledged > 0).then_some(Removal { events: acknowledged, unacknowledged: 0, reason: Reason::MaxSize })
}

/// Most events one removal takes: a larger one is several, each recorded, so that one
/// commit never holds the writer long.
pub const MAX_REMOVAL: u64 = 50_000;

/// A log as measured: its size, its events and their positions (a site's `Seq`, the
/// management server's store order), and the database file around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Measure {
    /// Bytes of its tables and indexes.
    pub bytes: u64,
    /// Its events.
    pub events: u64,
    /// The oldest position (0 when empty).
    pub first: i64,
    /// The newest position.
    pub last: i64,
    /// The database file's size as the database sees it.
    pub file_bytes: u64,
    /// Bytes of the file's free pages.
    pub free_bytes: u64,
    /// Bytes per page.
    pub page_size: u64,
}

impl Measure {
    /// The SQLite query whose one row [`Measure::from_counts`] reads, for a log made of the
    /// b-trees `tables` (its table `events` and its indexes) with positions in column
    /// `position`: pages counted by `dbstat`, rows and positions by the table, the file by
    /// its pragmas.
    pub fn query(tables: &[&str], position: &str) -> String {
        let names: Vec<String> = tables.iter().map(|t| format!("'{t}'")).collect();
        format!(
            "SELECT (SELECT COALESCE(SUM(pgsize), 0) FROM dbstat WHERE name IN ({}) AND aggregate = 1), \
             COUNT(*), MIN({position}), MAX({position}), (SELECT page_count FROM pragma_page_count()), \
             (SELECT freelist_count FROM pragma_freelist_count()), (SELECT page_size FROM pragma_page_size()) \
             FROM events",
            names.join(", ")
        )
    }

    /// From the row of [`Measure::query`]: the log's bytes, its row count, oldest and newest
    /// position, the file's pages, free pages and page size.
    pub fn from_counts(row: (i64, i64, Option<i64>, Option<i64>, i64, i64, i64)) -> Measure {
        let (bytes, events, first, last, pages, free, page_size) = row;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        Measure {
            bytes: u(bytes),
            events: u(events),
            first: first.unwrap_or(0),
            last: last.unwrap_or(0),
            file_bytes: u(pages).saturating_mul(u(page_size)),
            free_bytes: u(free).saturating_mul(u(page_size)),
            page_size: u(page_size).max(1),
        }
    }

    /// What [`plan`] reads; the oldest events up to position `acknowledged_through` may go
    /// without loss (`None`: all of them).
    pub fn usage(&self, acknowledged_through: Option<i64>) -> Usage {
        let acknowledged = match acknowledged_through {
            None => self.events,
            Some(a) => u64::try_from(a - self.first + 1).unwrap_or(0).min(self.events),
        };
        Usage { bytes: self.bytes, events: self.events, acknowledged }
    }

    /// The positions `removal` covers, at most [`MAX_REMOVAL`] events, never past
    /// `acknowledged_through` unless the removal is for the hard limit. Positions are
    /// consecutive but for gaps, which only make a removal smaller: it is measured again.
    pub fn range(&self, removal: &Removal, acknowledged_through: Option<i64>) -> (i64, i64) {
        let count = i64::try_from(removal.events.min(MAX_REMOVAL)).unwrap_or(0);
        let mut through = (self.first + count - 1).min(self.last);
        if let (Some(a), 0) = (acknowledged_through, removal.unacknowledged) {
            through = through.min(a);
        }
        (self.first, through)
    }

    /// Free pages to give back to the file system: those beyond what the log may still
    /// grow into (its room under `max_size`, plus one slack).
    pub fn surplus_pages(&self, max_size: u64) -> u64 {
        let room = max_size.saturating_sub(self.bytes) + slack(max_size);
        self.free_bytes.saturating_sub(room) / self.page_size
    }
}

/// Counts the events written since a log was last measured, and says when to measure it
/// again: when the new events, at the average size measured, could have used half the room
/// left under the maximum (at least 64 events, at most 100,000 apart). Shared between the
/// writer, which counts, and the task that measures and removes.
#[derive(Debug)]
pub struct Growth {
    written: AtomicU64,
    check_after: AtomicU64,
    max_size: AtomicU64,
}

impl Growth {
    /// Nothing written yet; the first events call for a measurement.
    pub fn new(max_size: u64) -> Growth {
        Growth {
            written: AtomicU64::new(0),
            check_after: AtomicU64::new(0),
            max_size: AtomicU64::new(max_size),
        }
    }

    /// Counts `n` new events; `true` when the log should be measured.
    pub fn add(&self, n: u64) -> bool {
        let written = self.written.fetch_add(n, Ordering::Relaxed) + n;
        n > 0 && written >= self.check_after.load(Ordering::Relaxed)
    }

    /// Whether enough events arrived since the last measurement (for callers that look
    /// on a timer rather than on each [`Growth::add`]).
    pub fn due(&self) -> bool {
        self.written.load(Ordering::Relaxed) >= self.check_after.load(Ordering::Relaxed)
    }

    /// The maximum size in force.
    pub fn max_size(&self) -> u64 {
        self.max_size.load(Ordering::Relaxed)
    }

    /// A new maximum size: the next event calls for a measurement.
    pub fn set_max_size(&self, bytes: u64) {
        self.max_size.store(bytes, Ordering::Relaxed);
        self.check_after.store(0, Ordering::Relaxed);
    }

    /// The log measured `bytes` for `events` events: counting starts again.
    pub fn measured(&self, bytes: u64, events: u64) {
        let per_event = if events == 0 { KIB } else { bytes.div_ceil(events).max(1) };
        let room = self.max_size().saturating_sub(bytes);
        self.written.store(0, Ordering::Relaxed);
        self.check_after.store((room / per_event / 2).clamp(64, 100_000), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests;
