//! Where a server is: the host and port of an `https://host[:port]` URL, as the client
//! (`client`), the proxy rules (`proxy`) and the CONNECT tunnel (`tunnel`) use it.

use crate::error::ClientError;

/// Where a server is: host and port from an `https://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    host: String,
    port: u16,
}

impl Endpoint {
    /// Parses `https://host[:port][/]` (port 443 by default; IPv6 in brackets).
    pub fn parse(url: &str) -> Result<Endpoint, ClientError> {
        let bad = |why: &str| ClientError::Url(url.to_string(), why.to_string());
        let rest = url.strip_prefix("https://").ok_or_else(|| bad("must start with https://"))?;
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') || authority.contains('@') {
            return Err(bad("give only https://host:port, without a path"));
        }
        let uri: http::uri::Authority =
            authority.parse().map_err(|_| bad("the host or port is malformed"))?;
        let host = uri.host().trim_start_matches('[').trim_end_matches(']').to_string();
        let has_port = authority.rsplit(']').next().is_some_and(|tail| tail.contains(':'));
        let port = match (has_port, uri.port_u16()) {
            (false, _) => 443,
            (true, Some(p)) if p != 0 => p,
            (true, _) => return Err(bad("the host or port is malformed")),
        };
        Ok(Endpoint { host, port })
    }

    /// The server at `addr` (an IP address and port, no name).
    pub fn from_addr(addr: std::net::SocketAddr) -> Endpoint {
        Endpoint { host: addr.ip().to_string(), port: addr.port() }
    }

    /// The host (an IPv6 address without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The same host on `port`.
    #[must_use]
    pub fn with_port(mut self, port: u16) -> Endpoint {
        self.port = port;
        self
    }

    /// `host:port` as written in the Host header.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "https://{}", self.authority())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_https_host_and_port_only() {
        let e = Endpoint::parse("https://127.0.0.1:8443/").unwrap();
        assert_eq!(e.authority(), "127.0.0.1:8443");
        assert_eq!(Endpoint::parse("https://[::1]:9").unwrap().authority(), "[::1]:9");
        assert_eq!(Endpoint::parse("https://mgmt.corp").unwrap().to_string(), "https://mgmt.corp:443");
        for (bad, why) in [
            ("http://x:1", "must start with https://"),
            ("https://x:1/v1", "without a path"),
            ("https://x:port", "malformed"),
            ("https://", "without a path"),
        ] {
            let e = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.starts_with(&format!("server URL '{bad}'")), "{e}");
        }
    }
}
