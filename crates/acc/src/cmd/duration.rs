//! Durations on the command line: whole seconds with a unit, `90s`, `10m`, `6h`, `7d`
//! (a bare number is seconds), as the lockout policy counts time in seconds.

/// Parses `N[s|m|h|d]` into seconds.
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let (digits, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 =
        digits.parse().map_err(|_| format!("'{text}' is not a duration such as 90s, 10m, 6h or 7d"))?;
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("'{text}': unknown unit '{unit}'; use s, m, h or d")),
    };
    n.checked_mul(factor).ok_or_else(|| format!("'{text}' is too long"))
}

#[cfg(test)]
mod tests {
    use super::parse_duration;

    #[test]
    fn units() {
        assert_eq!(parse_duration("60s"), Ok(60));
        assert_eq!(parse_duration("60"), Ok(60));
        assert_eq!(parse_duration("10m"), Ok(600));
        assert_eq!(parse_duration("6h"), Ok(21_600));
        assert_eq!(parse_duration("7d"), Ok(604_800));
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("-5s").is_err());
    }
}
