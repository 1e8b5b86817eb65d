//! Which bytes of a file a request gets (RFC 9110 §14): `Range: bytes=…` with one range,
//! `If-Range`, and the conditional `If-None-Match` / `If-Modified-Since`. Pure functions.
//!
//! Choices:
//! - one range only: a request with several ranges (`bytes=0-1,5-6`) gets the whole file
//!   with 200, which RFC 9110 allows (a server may ignore `Range`); so does a `Range` that
//!   does not parse or names another unit;
//! - a syntactically valid single range that starts at or after the end (or a suffix of 0
//!   bytes) is unsatisfiable: 416 with `Content-Range: bytes */LEN`;
//! - `If-Range` honours the range when it equals the current strong `ETag` or the exact
//!   `Last-Modified` text, and otherwise serves the whole file (200).

/// What to send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// The whole file (200).
    Full,
    /// Bytes `start..=end` (206).
    Partial {
        /// First byte.
        start: u64,
        /// Last byte (inclusive).
        end: u64,
    },
    /// 416.
    Unsatisfiable,
}

/// A parsed single range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Spec {
    /// `a-b` or `a-`.
    From { start: u64, end: Option<u64> },
    /// `-n`: the last n bytes.
    Suffix(u64),
}

/// Parses `bytes=a-b`, `bytes=a-`, `bytes=-n`; `None` for anything else (several ranges,
/// other units, bad syntax, `b < a`).
fn parse(header: &str) -> Option<Spec> {
    let (unit, set) = header.trim().split_once('=')?;
    if !unit.trim().eq_ignore_ascii_case("bytes") || set.contains(',') {
        return None;
    }
    let (a, b) = set.trim().split_once('-')?;
    let num = |s: &str| -> Option<u64> {
        if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        return num(b).map(Spec::Suffix);
    }
    let start = num(a)?;
    let end = if b.is_empty() { None } else { Some(num(b)?) };
    if end.is_some_and(|e| e < start) {
        return None;
    }
    Some(Spec::From { start, end })
}

/// The selection for a file of `len` bytes. `if_range` is the `If-Range` header; `etag`
/// and `last_modified` the file's validators.
pub fn select(
    range: Option<&str>,
    if_range: Option<&str>,
    etag: &str,
    last_modified: &str,
    len: u64,
) -> Selection {
    let Some(spec) = range.and_then(parse) else {
        return Selection::Full;
    };
    if let Some(v) = if_range {
        let v = v.trim();
        if v != etag && v != last_modified {
            return Selection::Full;
        }
    }
    match spec {
        Spec::Suffix(0) => Selection::Unsatisfiable,
        Spec::Suffix(_) if len == 0 => Selection::Unsatisfiable,
        Spec::Suffix(n) => Selection::Partial { start: len.saturating_sub(n), end: len - 1 },
        Spec::From { start, .. } if start >= len => Selection::Unsatisfiable,
        Spec::From { start, end } => {
            Selection::Partial { start, end: end.map_or(len - 1, |e| e.min(len - 1)) }
        }
    }
}

/// Whether `If-None-Match` matches `etag` (weak comparison, `*`, lists).
pub fn none_match(if_none_match: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = bare(etag);
    if_none_match.split(',').any(|t| t.trim() == "*" || bare(t) == ours)
}

/// The HTTP date of `unix_secs` (`Sun, 06 Nov 1994 08:49:37 GMT`).
pub fn http_date(unix_secs: i64) -> String {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::OffsetDateTime::from_unix_timestamp(unix_secs)
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_default()
}

/// Parses an IMF-fixdate (the only form `Last-Modified` is sent in) into Unix seconds.
pub fn parse_http_date(text: &str) -> Option<i64> {
    let fmt = time::macros::format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    );
    time::PrimitiveDateTime::parse(text.trim(), &fmt).ok().map(|t| t.assume_utc().unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ETAG: &str = "\"1-2-3\"";
    const LM: &str = "Sun, 06 Nov 1994 08:49:37 GMT";

    fn sel(range: &str, len: u64) -> Selection {
        select(Some(range), None, ETAG, LM, len)
    }

    #[test]
    fn single_ranges_are_clamped_or_unsatisfiable() {
        assert_eq!(sel("bytes=0-99", 1000), Selection::Partial { start: 0, end: 99 });
        assert_eq!(sel("bytes=990-2000", 1000), Selection::Partial { start: 990, end: 999 });
        assert_eq!(sel("bytes=500-", 1000), Selection::Partial { start: 500, end: 999 });
        assert_eq!(sel("bytes=-10", 1000), Selection::Partial { start: 990, end: 999 });
        assert_eq!(sel("bytes=-5000", 1000), Selection::Partial { start: 0, end: 999 });
        assert_eq!(sel("Bytes = 1-1", 3), Selection::Partial { start: 1, end: 1 });
        assert_eq!(sel("bytes=1000-", 1000), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=-0", 1000), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=0-", 0), Selection::Unsatisfiable);
        assert_eq!(sel("bytes=-1", 0), Selection::Unsatisfiable);
    }

    #[test]
    fn other_ranges_get_the_whole_file() {
        for r in [
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=5-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes 0-1",
            "bytes=99999999999999999999999-",
        ] {
            assert_eq!(sel(r, 1000), Selection::Full, "{r}");
        }
        assert_eq!(select(None, None, ETAG, LM, 10), Selection::Full);
    }

    #[test]
    fn if_range_needs_the_current_validator() {
        let partial = Selection::Partial { start: 0, end: 0 };
        assert_eq!(select(Some("bytes=0-0"), Some(ETAG), ETAG, LM, 10), partial);
        assert_eq!(select(Some("bytes=0-0"), Some(LM), ETAG, LM, 10), partial);
        assert_eq!(select(Some("bytes=0-0"), Some("\"old\""), ETAG, LM, 10), Selection::Full);
        assert_eq!(select(Some("bytes=0-0"), Some("W/\"1-2-3\""), ETAG, LM, 10), Selection::Full);
    }

    #[test]
    fn if_none_match_compares_weakly() {
        assert!(none_match(ETAG, ETAG));
        assert!(none_match("W/\"1-2-3\"", ETAG));
        assert!(none_match("\"x\", \"1-2-3\"", ETAG));
        assert!(none_match("*", ETAG));
        assert!(!none_match("\"x\"", ETAG));
    }

    #[test]
    fn http_dates_round_trip() {
        assert_eq!(http_date(784_111_777), LM);
        assert_eq!(parse_http_date(LM), Some(784_111_777));
        assert_eq!(parse_http_date("yesterday"), None);
    }

    proptest::proptest! {
        #[test]
        fn partial_selections_stay_inside_the_file(a in 0u64..2000, b in 0u64..2000, len in 0u64..1500) {
            for r in [format!("bytes={a}-{b}"), format!("bytes={a}-"), format!("bytes=-{b}")] {
                if let Selection::Partial { start, end } = sel(&r, len) {
                    proptest::prop_assert!(start <= end && end < len, "{r} len {len}");
                }
            }
        }
    }
}
