//! Durations and byte sizes as people write them, read the same way on the command line
//! (`--ttl 6h`, `--reset-after 60`) and in `acc.yml` (`check-in-interval: 5m`,
//! `download-limit: 10M`). It owns the two grammars and their one-line errors; the range a
//! setting allows (10 s to 1 d …) stays with the setting.
//!
//! Durations are `humantime`'s (`90s`, `10m`, `6h`, `7d`, `1h 30m`, `500ms`, `2w`) plus a
//! bare number, which is seconds, as the lockout policy and the seed count time. Sizes are
//! a whole number of bytes with an optional `K`, `M` or `G` (powers of 1024, as `KiB`,
//! `MiB`, `GiB`, which are accepted too).

use std::time::Duration;

/// A duration or size that cannot be read, with what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}': {reason}")]
pub struct UnitError {
    /// What was written.
    pub text: String,
    /// Why it is not a value, and an example of one.
    pub reason: String,
}

fn error(text: &str, reason: impl Into<String>) -> UnitError {
    UnitError { text: text.to_string(), reason: reason.into() }
}

/// Reads a duration: a bare number of seconds or a `humantime` duration (`90s`, `6h`).
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let t = text.trim();
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        let secs: u64 = t.parse().map_err(|_| error(text, "too long"))?;
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(t)
        .map_err(|e| error(text, format!("not a duration ({e}); write it as 90s, 10m, 6h or 7d")))
}

/// Reads a duration in whole seconds (the unit of the lockout policy and tokens' lives).
pub fn parse_secs(text: &str) -> Result<u64, UnitError> {
    let d = parse_duration(text)?;
    if d.subsec_nanos() != 0 {
        return Err(error(text, "not a whole number of seconds; write it as 90s, 10m, 6h or 7d"));
    }
    Ok(d.as_secs())
}

/// Reads a byte size: `512`, `500K`, `10M`, `1G` (powers of 1024; `KiB`, `MiB`, `GiB` too).
pub fn parse_size(text: &str) -> Result<u64, UnitError> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let wrong = || error(text, "not a size; write bytes such as 512, 500K, 10M, 1G or 1T (powers of 1024)");
    let n: u64 = number.parse().map_err(|_| wrong())?;
    let factor: u64 = match unit.trim_start().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        _ => return Err(wrong()),
    };
    n.checked_mul(factor).ok_or_else(|| error(text, "too large"))
}

/// A duration in its shortest `humantime` form (`6h`, `1h 30m`), for messages and tables.
pub fn format_duration(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_seconds_when_bare_and_humantime_otherwise() {
        let secs = |t: &str| parse_secs(t).map_err(|e| e.to_string());
        assert_eq!(secs("60"), Ok(60));
        assert_eq!(secs("60s"), Ok(60));
        assert_eq!(secs("10m"), Ok(600));
        assert_eq!(secs("6h"), Ok(21_600));
        assert_eq!(secs("7d"), Ok(604_800));
        assert_eq!(secs("1h 30m"), Ok(5_400));
        assert_eq!(secs(" 90s "), Ok(90));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert!(secs("250ms").unwrap_err().contains("whole number of seconds"));
        for bad in ["", "m", "-5s", "5 parsecs", "99999999999999999999"] {
            let e = secs(bad).unwrap_err();
            assert!(e.starts_with(&format!("'{bad}': ")) && !e.contains('\n'), "{bad}: {e}");
        }
        assert!(secs("5 parsecs").unwrap_err().contains("write it as 90s, 10m, 6h or 7d"));
    }

    #[test]
    fn sizes_count_in_powers_of_1024() {
        assert_eq!(parse_size("512"), Ok(512));
        assert_eq!(parse_size("500K"), Ok(512_000));
        assert_eq!(parse_size("500k"), Ok(512_000));
        assert_eq!(parse_size("10M"), Ok(10 << 20));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert_eq!(parse_size("1 G"), Ok(1 << 30));
        assert_eq!(parse_size("2TiB"), Ok(2 << 40));
        assert_eq!(parse_size("0"), Ok(0));
        for bad in ["fast", "", "10P", "1.5M", "-1", "99999999999G"] {
            let e = parse_size(bad).unwrap_err().to_string();
            assert!(e.starts_with(&format!("'{bad}': ")), "{bad}: {e}");
        }
    }

    #[test]
    fn formatting_reads_back() {
        for secs in [1, 59, 60, 3_600, 5_400, 86_400, 604_800] {
            let shown = format_duration(Duration::from_secs(secs));
            assert_eq!(parse_secs(&shown), Ok(secs), "{shown}");
        }
    }
}
