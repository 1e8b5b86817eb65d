//! What `acc site events` and `acc ctl events` share: the search flags (the newest N by
//! default, `--all` for every event), the printer that writes each page as it arrives (a
//! table, or one JSON array written an event at a time) so that neither command holds more
//! than a page, and the `--event-log-max-size` flag of the two settings commands.

use std::io::{BufWriter, Stdout, Write};

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use acc_core::units::parse_secs;

/// The newest this many, unless `--limit` or `--all` says otherwise.
pub const DEFAULT_LIMIT: i64 = 1000;

/// The search flags of both commands.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Only this EventID (4740, 4625, acc.refresh …).
    #[arg(long, value_name = "ID")]
    pub id: Option<String>,
    /// Only events about this account (TargetUserName).
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Only events of the last DURATION (e.g. 1h, 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    pub since: Option<u64>,
    /// Only events before this Seq (page back from the oldest one shown).
    #[arg(long, value_name = "SEQ")]
    pub before_seq: Option<i64>,
    /// The N most recent (oldest first).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_LIMIT, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Every matching event, oldest first, however many (streamed).
    #[arg(long, conflicts_with = "limit")]
    pub all: bool,
    /// JSON for scripts: one array, written an event at a time.
    #[arg(long)]
    pub json: bool,
}

/// `--event-log-max-size` of `acc site policy set` and `acc ctl settings site set`.
#[derive(Debug, Args)]
pub struct EventLogArgs {
    /// Maximum size of the site's security event log (e.g. 512MiB, 2GiB); when full its
    /// oldest events go (acc.event_log records each removal).
    #[arg(long, value_name = "SIZE", value_parser = parse_max_size)]
    pub event_log_max_size: Option<u64>,
}

/// Parses a maximum event log size (`512MiB`) and checks its bounds.
pub fn parse_max_size(text: &str) -> Result<u64, acc_core::event::retention::SizeError> {
    use acc_core::event::retention::{check_max_size, parse_size};
    parse_size(text).and_then(check_max_size)
}

/// Writes pages of events to standard output (or `W`) as they arrive.
pub struct Printer<W: Write = BufWriter<Stdout>> {
    out: W,
    json: bool,
    with_site: bool,
    printed: u64,
    closed: bool,
}

impl Printer {
    /// A table (with each event's site when `with_site`), or JSON, on standard output.
    pub fn new(json: bool, with_site: bool) -> Printer {
        Printer::to(BufWriter::new(std::io::stdout()), json, with_site)
    }
}

impl<W: Write> Printer<W> {
    /// The same, written to `out`.
    pub fn to(out: W, json: bool, with_site: bool) -> Printer<W> {
        Printer { out, json, with_site, printed: 0, closed: false }
    }

    /// Whether the reader went away (`| head`): stop asking for pages.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// Writes one page.
    pub fn page(&mut self, events: &[Value]) -> Result<()> {
        let r = self.write_page(events);
        self.settle(r)
    }

    /// Ends the output (the closing bracket of the JSON array); gives the writer back.
    pub fn finish(mut self) -> Result<W> {
        let r = (|| {
            if self.json {
                self.out.write_all(if self.printed == 0 { b"[]\n" } else { b"\n]\n" })?;
            } else if self.printed == 0 {
                self.header()?;
            }
            self.out.flush()
        })();
        self.settle(r)?;
        Ok(self.out)
    }

    fn settle(&mut self, r: std::io::Result<()>) -> Result<()> {
        match r {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(())
            }
            other => Ok(other?),
        }
    }

    fn header(&mut self) -> std::io::Result<()> {
        let site = if self.with_site { format!("{:<15} ", "SITE") } else { String::new() };
        writeln!(
            self.out,
            "{site}{:>6} {:<24} {:<14} {:<16} {:<18} {:<15} DETAIL",
            "SEQ", "TIME", "EVENT", "ACCOUNT", "CALLER", "IP"
        )
    }

    fn write_page(&mut self, events: &[Value]) -> std::io::Result<()> {
        if self.closed {
            return Ok(());
        }
        for e in events {
            if self.json {
                // Byte for byte what pretty-printing the whole array gives, an event at a time.
                self.out.write_all(if self.printed == 0 { b"[\n" } else { b",\n" })?;
                let text = serde_json::to_string_pretty(e)?;
                for (i, line) in text.lines().enumerate() {
                    self.out.write_all(if i == 0 { b"  " } else { b"\n  " })?;
                    self.out.write_all(line.as_bytes())?;
                }
            } else {
                if self.printed == 0 {
                    self.header()?;
                }
                self.row(e)?;
            }
            self.printed += 1;
        }
        self.out.flush()
    }

    fn row(&mut self, e: &Value) -> std::io::Result<()> {
        let s = |k: &str| {
            e[k].as_str()
                .map(str::to_string)
                .unwrap_or_else(|| if e[k].is_null() { "-".into() } else { e[k].to_string() })
        };
        let caller =
            if e["CallerComputerName"].is_null() { s("WorkstationName") } else { s("CallerComputerName") };
        let detail = match s("EventID").as_str() {
            "4625" => format!("{} {}", s("SubStatus"), s("FailureReason")),
            "4740" | "4767" => format!("scope {}", s("LockScope")),
            "acc.event_log" => format!("removed {} (Seq {}-{})", s("Removed"), s("FirstSeq"), s("LastSeq")),
            _ => String::new(),
        };
        let site = if self.with_site { format!("{:<15} ", s("Computer")) } else { String::new() };
        writeln!(
            self.out,
            "{site}{:>6} {:<24} {:<14} {:<16} {:<18} {:<15} {}",
            s("Seq"),
            s("TimeCreated"),
            s("EventID"),
            s("TargetUserName"),
            caller,
            s("IpAddress"),
            detail
        )
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_pages_print_exactly_the_pretty_array() {
        let events = vec![
            json!({ "EventID": 4740, "Seq": 1, "CallerComputerName": "STALE01", "Actions": ["a", "b"] }),
            json!({ "EventID": "acc.event_log", "Seq": 2, "Removed": 3 }),
            json!({ "EventID": 4625, "Seq": 3 }),
        ];
        let mut p = Printer::to(Vec::new(), true, false);
        p.page(&events[..2]).unwrap();
        p.page(&events[2..]).unwrap();
        p.page(&[]).unwrap();
        let out = String::from_utf8(p.finish().unwrap()).unwrap();
        assert_eq!(out, format!("{}\n", serde_json::to_string_pretty(&events).unwrap()));
        let empty = Printer::to(Vec::new(), true, false).finish().unwrap();
        assert_eq!(empty, b"[]\n");
    }

    #[test]
    fn tables_print_one_header_and_a_row_an_event() {
        let mut p = Printer::to(Vec::new(), false, true);
        p.page(&[json!({ "EventID": "acc.event_log", "Seq": 9, "Computer": "SITE1", "Removed": 5, "FirstSeq": 1, "LastSeq": 5 })])
            .unwrap();
        p.page(&[json!({ "EventID": 4625, "Seq": 10, "Computer": "SITE1", "SubStatus": "0xC000006A" })])
            .unwrap();
        let out = String::from_utf8(p.finish().unwrap()).unwrap();
        assert_eq!(out.lines().count(), 3, "{out}");
        assert!(
            out.starts_with("SITE ") && out.contains("removed 5 (Seq 1-5)") && out.contains("0xC000006A"),
            "{out}"
        );
    }
}
