//! Everything `acc` prints goes through here: [`outln!`]/[`out!`] to standard output,
//! [`errln!`] to standard error, [`Table`] for aligned columns (and [`pairs`] for
//! name/value lists), and [`timestamp`] for times. The crate denies `println!` and
//! `eprintln!` (see `main.rs`), so these are the only ways out (besides indicatif's
//! progress bar on a terminal's standard error).
//!
//! A closed standard output (`acc ctl sites | head`, `… | true`) ends the process at once,
//! quietly, with exit 0: what the default SIGPIPE action does for C tools, but for
//! standard output alone (`std` panics on it, and resetting SIGPIPE would also kill the
//! servers on a peer's closed Unix socket). Any other write error (a full disk under a
//! redirect) is one `error:` line and exit 1. A closed standard error is ignored: there
//! is nowhere left to report it.

use std::fmt;
use std::io::Write;

use comfy_table::{CellAlignment, ContentArrangement, TableStyle};

/// Prints to standard output (see the module documentation for a closed pipe).
macro_rules! out {
    ($($arg:tt)*) => { $crate::output::write_out(format_args!($($arg)*)) };
}

/// Prints a line to standard output (see the module documentation for a closed pipe).
macro_rules! outln {
    () => { $crate::output::write_out(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_out(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Prints a line to standard error; a closed standard error is ignored.
macro_rules! errln {
    () => { $crate::output::write_err(format_args!("\n")) };
    ($($arg:tt)*) => { $crate::output::write_err(format_args!("{}\n", format_args!($($arg)*))) };
}

/// Writes to standard output; a closed pipe ends the process quietly (exit 0).
pub fn write_out(args: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.flush()) {
        stdout_failed(&e);
    }
}

/// Flushes standard output (before a long wait, so a reader sees what came before).
#[cfg(unix)]
pub fn flush_out() {
    if let Err(e) = std::io::stdout().lock().flush() {
        stdout_failed(&e);
    }
}

fn stdout_failed(e: &std::io::Error) -> ! {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(0);
    }
    write_err(format_args!("error: cannot write to standard output: {e}\n"));
    std::process::exit(1);
}

/// Writes to standard error, ignoring failures (there is nowhere to report them).
pub fn write_err(args: fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.flush());
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds, `2026-11-23T04:05:03.188Z`: every
/// time `acc` prints has this one form, so columns of times line up and sort as text.
pub fn timestamp(ms: i64) -> String {
    acc_core::time::Timestamp(ms).to_rfc3339()
}

/// [`timestamp`] of a `time` instant (certificate validity, truncated to milliseconds).
pub fn datetime(t: time::OffsetDateTime) -> String {
    timestamp(i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX))
}

/// Columns aligned with two spaces between them, no borders, no wrapping: the one table
/// form of every `acc` listing (comfy-table does the width arithmetic, Unicode included).
pub struct Table {
    inner: comfy_table::Table,
}

impl Table {
    /// A table with these column headings.
    pub fn new<I, S>(header: I) -> Table
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut t = Table::bare();
        t.inner.set_header(header.into_iter().map(Into::into).collect::<Vec<String>>());
        t
    }

    /// A table without headings (name/value lists).
    fn bare() -> Table {
        let mut inner = comfy_table::Table::new();
        inner.load_style(TableStyle::new()).set_content_arrangement(ContentArrangement::Disabled);
        Table { inner }
    }

    /// Aligns these columns (0-based) to the right: counts and sizes.
    pub fn right(mut self, columns: &[usize]) -> Table {
        self.inner.discover_columns();
        for &i in columns {
            if let Some(c) = self.inner.column_mut(i) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        self
    }

    /// Adds a row.
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: fmt::Display,
    {
        self.inner.add_row(cells.into_iter().map(|c| c.to_string()).collect::<Vec<String>>());
    }

    /// The rendered lines, trailing spaces trimmed.
    pub fn render(&mut self) -> String {
        self.inner.discover_columns();
        let last = self.inner.column_count().saturating_sub(1);
        for (i, c) in self.inner.column_iter_mut().enumerate() {
            c.set_padding((0, if i == last { 0 } else { 2 }));
        }
        self.inner.trim_fmt()
    }

    /// Prints the table on standard output.
    pub fn print(mut self) {
        let text = self.render();
        if !text.is_empty() {
            outln!("{text}");
        }
    }
}

/// Prints name/value pairs as two aligned columns.
pub fn pairs<V: fmt::Display>(rows: &[(&str, V)]) {
    let mut t = Table::bare();
    for (k, v) in rows {
        t.row([k.to_string(), v.to_string()]);
    }
    t.print();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_line_up_whatever_the_widths_and_numbers_align_right() {
        let mut t = Table::new(["name", "count", "by"]).right(&[1]);
        t.row(["a", "7", "admin (token 1)"]);
        t.row(["Ünïcode-wide", "1234", "x"]);
        let text = t.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            ["name          count  by", "a                 7  admin (token 1)", "Ünïcode-wide   1234  x"],
            "{text}"
        );
    }

    #[test]
    fn times_always_carry_milliseconds() {
        assert_eq!(timestamp(1_795_406_703_188), "2026-11-23T04:05:03.188Z");
        assert_eq!(timestamp(1_795_406_703_000), "2026-11-23T04:05:03.000Z");
        let t = time::OffsetDateTime::from_unix_timestamp(1_795_406_703).unwrap();
        assert_eq!(datetime(t), "2026-11-23T04:05:03.000Z");
    }
}
