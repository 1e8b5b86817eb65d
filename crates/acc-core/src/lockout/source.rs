//! The source of an attempt (specification 1.1): the peer address and the computer name
//! the agent reports, normalised so that one agent is always the same key.
//!
//! - `ip`: IPv4 dotted quad; IPv6 in RFC 5952 lower-case form; IPv4-mapped IPv6 written as
//!   IPv4 (so a dual-stack listener does not split one agent into two sources).
//! - `caller`: upper-cased, at most 63 characters of `[A-Z0-9-]`, otherwise `-`.
//!
//! `CallerComputerName` (what 4740 names as the culprit) is the caller unless it is `-`,
//! then the ip.

use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// The network origin of an attempt, normalised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Source {
    ip: String,
    caller: String,
}

/// A peer address that is not an IP address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("source address '{0}' is not an IPv4 or IPv6 address")]
pub struct SourceError(pub String);

impl Source {
    /// A source from a parsed peer address and the caller name the agent reported.
    pub fn new(ip: IpAddr, caller: &str) -> Self {
        Source { ip: normalise_ip(ip), caller: normalise_caller(caller) }
    }

    /// A source from the textual peer address (`10.0.0.7`, `2001:DB8::1`, `[::1]`,
    /// `::ffff:10.0.0.7`; an IPv6 zone such as `%eth0` is dropped).
    pub fn parse(ip: &str, caller: &str) -> Result<Self, SourceError> {
        let trimmed = ip.strip_prefix('[').and_then(|s| s.strip_suffix(']')).unwrap_or(ip);
        let without_zone = trimmed.split('%').next().unwrap_or(trimmed);
        let addr: IpAddr = without_zone.parse().map_err(|_| SourceError(ip.to_owned()))?;
        Ok(Source::new(addr, caller))
    }

    /// The normalised ip text.
    pub fn ip(&self) -> &str {
        &self.ip
    }

    /// The normalised caller name, or `-`.
    pub fn caller(&self) -> &str {
        &self.caller
    }

    /// `CallerComputerName`: the caller if it is not `-`, otherwise the ip.
    pub fn caller_computer_name(&self) -> &str {
        if self.caller == "-" { &self.ip } else { &self.caller }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.caller, self.ip)
    }
}

fn normalise_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        // std's Display for Ipv6Addr is RFC 5952 (lower case, longest zero run compressed),
        // except that it writes IPv4-mapped addresses as `::ffff:a.b.c.d`.
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => v6.to_string(),
        },
    }
}

fn normalise_caller(caller: &str) -> String {
    let upper = caller.to_uppercase();
    let valid = !upper.is_empty()
        && upper.chars().count() <= 63
        && upper.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if valid { upper } else { "-".to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(ip: &str, caller: &str) -> Source {
        Source::parse(ip, caller).unwrap()
    }

    #[test]
    fn ipv4_is_a_dotted_quad() {
        assert_eq!(src("10.0.0.7", "pc1").ip(), "10.0.0.7");
    }

    #[test]
    fn ipv6_is_rfc5952_lower_case() {
        assert_eq!(src("2001:DB8:0:0:0:0:0:1", "a").ip(), "2001:db8::1");
        assert_eq!(src("[2001:db8::1]", "a").ip(), "2001:db8::1");
        assert_eq!(src("2001:0db8:0000:0000:1:0:0:1", "a").ip(), "2001:db8::1:0:0:1");
        assert_eq!(src("fe80::1%eth0", "a").ip(), "fe80::1");
        assert_eq!(src("::1", "a").ip(), "::1");
    }

    #[test]
    fn ipv4_mapped_ipv6_is_written_as_ipv4() {
        assert_eq!(src("::ffff:10.0.0.7", "a").ip(), "10.0.0.7");
        assert_eq!(src("::FFFF:0a00:0007", "a").ip(), "10.0.0.7");
        assert_eq!(src("::ffff:10.0.0.7", "a"), src("10.0.0.7", "A"));
    }

    #[test]
    fn not_an_address_is_refused() {
        assert_eq!(Source::parse("host.example", "a"), Err(SourceError("host.example".into())));
    }

    #[test]
    fn caller_is_upper_cased_or_dash() {
        assert_eq!(src("10.0.0.7", "ws-0042").caller(), "WS-0042");
        assert_eq!(src("10.0.0.7", "").caller(), "-");
        assert_eq!(src("10.0.0.7", "pc_1").caller(), "-");
        assert_eq!(src("10.0.0.7", "pc 1").caller(), "-");
        assert_eq!(src("10.0.0.7", "pc.corp").caller(), "-");
        assert_eq!(src("10.0.0.7", "pcé").caller(), "-");
        let max = "a".repeat(63);
        assert_eq!(src("10.0.0.7", &max).caller(), "A".repeat(63));
        assert_eq!(src("10.0.0.7", &"a".repeat(64)).caller(), "-");
    }

    #[test]
    fn caller_computer_name_falls_back_to_ip() {
        assert_eq!(src("10.0.0.7", "ws1").caller_computer_name(), "WS1");
        assert_eq!(src("10.0.0.7", "").caller_computer_name(), "10.0.0.7");
        assert_eq!(src("::1", "-").caller_computer_name(), "::1");
    }
}
