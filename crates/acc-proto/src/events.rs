//! Paged searches of security events, the same on the management server
//! (`GET /v1/events`) and on a site's admin socket (`acc site events`): the newest N by
//! default, or every event with `all`, a page of at most [`EVENT_PAGE`] at a time, oldest
//! first, each page naming where the next one starts. A search never holds more than one
//! page in memory on either side, whatever the log's size.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Most events in one page.
pub const EVENT_PAGE: i64 = 1000;

/// One page of a search: events oldest first, and the cursor of the next page if any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventPage {
    /// The events (JSON objects with the specification's field names).
    pub events: Vec<serde_json::Value>,
    /// Give it back as `cursor` for the next page; absent on the last.
    pub next: Option<String>,
}

/// Where a search stands: the events after position `after`, up to `upto` (positions are a
/// site's `Seq`, or the management server's store order), remain. `upto` is fixed by the
/// first page so that a search ends even while events keep arriving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    /// The last position already returned.
    pub after: i64,
    /// The last position the search returns.
    pub upto: i64,
}

impl fmt::Display for EventCursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.after, self.upto)
    }
}

/// A cursor that is not one a page gave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cursor '{0}' is malformed; search again without it")]
pub struct CursorError(pub String);

impl FromStr for EventCursor {
    type Err = CursorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.split_once(':')
            .and_then(|(a, u)| Some(EventCursor { after: a.parse().ok()?, upto: u.parse().ok()? }))
            .ok_or_else(|| CursorError(s.to_string()))
    }
}

impl EventCursor {
    /// The cursor after a page whose last position is `last` and that held `len` events;
    /// `None` when the search is done.
    pub fn after_page(self, last: Option<i64>, len: usize) -> Option<EventCursor> {
        match last {
            Some(last) if len as i64 >= EVENT_PAGE && last < self.upto => {
                Some(EventCursor { after: last, ..self })
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_end_with_the_last_page() {
        let c = EventCursor { after: 0, upto: 2500 };
        assert_eq!(c.to_string().parse::<EventCursor>(), Ok(c));
        assert_eq!(c.after_page(Some(1000), 1000), Some(EventCursor { after: 1000, upto: 2500 }));
        assert_eq!(c.after_page(Some(2500), 1000), None, "reached upto");
        assert_eq!(c.after_page(Some(900), 900), None, "a short page is the last");
        assert_eq!(c.after_page(None, 0), None);
        for bad in ["", "1", "a:b", "1:"] {
            assert!(bad.parse::<EventCursor>().unwrap_err().to_string().contains("malformed"), "{bad}");
        }
    }
}
