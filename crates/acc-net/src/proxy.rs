//! Which HTTP proxy a connection goes through, decided without I/O: the proxy URL
//! (`http://HOST:PORT`), its Basic credentials (kept out of every `Display` and `Debug`),
//! the `NO_PROXY` list and the precedence between the configuration file and the
//! environment (`https_proxy`/`HTTPS_PROXY`, `no_proxy`/`NO_PROXY`). The tunnel itself
//! (HTTP CONNECT) is `tunnel`.

use std::net::IpAddr;

use base64::Engine as _;

use crate::endpoint::Endpoint;

/// Why a proxy setting is unusable, naming where it came from.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProxyError {
    /// The proxy URL is malformed or of an unsupported kind.
    #[error("proxy URL from {origin}: {detail}")]
    Url {
        /// `proxy-url` or the environment variable's name.
        origin: String,
        /// What is wrong and what to give (never the credentials).
        detail: String,
    },
    /// The credentials are not `user:password`.
    #[error("proxy credentials: {0}")]
    Credentials(String),
}

/// A proxy's user name and password, sent as `Proxy-Authorization: Basic`.
#[derive(Clone, PartialEq, Eq)]
pub struct ProxyCredentials {
    user: String,
    password: String,
}

impl std::fmt::Debug for ProxyCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProxyCredentials(..)")
    }
}

impl ProxyCredentials {
    /// Reads `user:password` from the first line of a credentials file (the user name may
    /// not contain `:`; the password may).
    pub fn parse(text: &str) -> Result<ProxyCredentials, ProxyError> {
        let line = text.lines().next().unwrap_or("").trim_end_matches('\r');
        match line.split_once(':') {
            Some((user, password)) if !user.is_empty() && !password.is_empty() => {
                Ok(ProxyCredentials { user: user.to_string(), password: password.to_string() })
            }
            _ => Err(ProxyError::Credentials("the first line must be USER:PASSWORD (both non-empty)".into())),
        }
    }

    /// The user name (safe to show).
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The `Proxy-Authorization` header value.
    pub(crate) fn header(&self) -> String {
        let pair = format!("{}:{}", self.user, self.password);
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair))
    }
}

/// Where the proxy is: `http://host:port`, never with credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyUrl {
    endpoint: Endpoint,
}

impl std::fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}", self.endpoint.authority())
    }
}

impl ProxyUrl {
    /// Parses `http://[user:password@]host[:port][/]` or `host:port` (port 80 by default);
    /// returns the credentials found in the URL apart (percent-decoded).
    pub fn parse(url: &str, source: &str) -> Result<(ProxyUrl, Option<ProxyCredentials>), ProxyError> {
        let bad = |detail: &str| ProxyError::Url { origin: source.to_string(), detail: detail.to_string() };
        let url = url.trim();
        let rest = match url.split_once("://") {
            Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => rest,
            Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => {
                return Err(bad(
                    "https:// proxies are not supported; give http://HOST:PORT (the tunnel to the server is TLS end to end either way)",
                ));
            }
            Some(_) => {
                return Err(bad("only http:// proxies (HTTP CONNECT) are supported; give http://HOST:PORT"));
            }
            None => url,
        };
        let rest = rest.trim_end_matches('/');
        let (userinfo, authority) = match rest.rsplit_once('@') {
            Some((u, a)) => (Some(u), a),
            None => (None, rest),
        };
        if authority.contains('/') || authority.contains('?') {
            return Err(bad("give only http://HOST:PORT, without a path"));
        }
        let endpoint = Endpoint::parse(&format!("https://{authority}"))
            .map_err(|_| bad("the host or port is malformed; give http://HOST:PORT"))?;
        let endpoint = if authority.rsplit(']').next().is_some_and(|t| t.contains(':')) {
            endpoint
        } else {
            endpoint.with_port(80)
        };
        let credentials = match userinfo {
            None => None,
            Some(u) => {
                let decoded =
                    percent_decode(u).ok_or_else(|| bad("the user name or password is malformed"))?;
                Some(
                    ProxyCredentials::parse(&decoded)
                        .map_err(|_| bad("the user name or password is malformed"))?,
                )
            }
        };
        Ok((ProxyUrl { endpoint }, credentials))
    }

    /// The proxy's address.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

/// Percent-decodes user information; `None` when an escape is not `%` and two hex digits
/// (which `percent-encoding` would keep as it is) or the result is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let escapes_complete = s
        .split('%')
        .skip(1)
        .all(|rest| rest.get(..2).is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())));
    let decoded = percent_encoding::percent_decode_str(s).decode_utf8().ok()?;
    escapes_complete.then(|| decoded.into_owned())
}

/// One `NO_PROXY` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Bypass {
    /// `*`: every host.
    All,
    /// A host name and its subdomains (`corp.local` and `.corp.local` both match
    /// `corp.local` and `a.corp.local`), optionally on one port.
    Domain(String, Option<u16>),
    /// An address range (a single address is a /32 or /128), optionally on one port.
    Net(IpAddr, u8, Option<u16>),
}

/// The hosts reached directly even when a proxy is set, curl's `NO_PROXY` rules: host
/// names by suffix on a label boundary, IP addresses and CIDR ranges, optional `:port`;
/// case-insensitive, no DNS lookups (a name matches only as written in the URL).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoProxy {
    entries: Vec<Bypass>,
}

impl NoProxy {
    /// Parses entries separated by commas or white space; an entry that is not an
    /// address or range is a host name.
    pub fn parse<'a>(lists: impl IntoIterator<Item = &'a str>) -> NoProxy {
        let entries = lists
            .into_iter()
            .flat_map(|l| l.split(|c: char| c == ',' || c.is_whitespace()))
            .filter(|e| !e.is_empty())
            .map(Bypass::parse)
            .collect();
        NoProxy { entries }
    }

    /// Whether a connection to `host:port` goes direct.
    pub fn matches(&self, host: &str, port: u16) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').trim_end_matches('.');
        let host = host.to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|e| match e {
            Bypass::All => true,
            Bypass::Domain(d, p) => {
                p.is_none_or(|p| p == port)
                    && (host == *d || host.strip_suffix(d.as_str()).is_some_and(|s| s.ends_with('.')))
            }
            Bypass::Net(net, bits, p) => {
                p.is_none_or(|p| p == port) && ip.is_some_and(|ip| in_net(ip, *net, *bits))
            }
        })
    }
}

impl Bypass {
    fn parse(entry: &str) -> Bypass {
        let entry = entry.to_ascii_lowercase();
        if entry == "*" {
            return Bypass::All;
        }
        // `[v6]:port`, `[v6]`, `v6`, `v6/len`, `name:port`, `v4:port`, `v4/len`.
        let (addr, port) = if let Some(rest) = entry.strip_prefix('[') {
            match rest.split_once(']') {
                Some((a, tail)) => (a.to_string(), tail.strip_prefix(':').and_then(|p| p.parse().ok())),
                None => (rest.to_string(), None),
            }
        } else if entry.matches(':').count() == 1 {
            let (a, p) = entry.split_once(':').unwrap_or((&entry, ""));
            (a.to_string(), p.parse().ok())
        } else {
            (entry.clone(), None)
        };
        let (ip_part, bits) = match addr.split_once('/') {
            Some((a, b)) => (a, b.parse::<u8>().ok()),
            None => (addr.as_str(), None),
        };
        if let Ok(ip) = ip_part.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            return Bypass::Net(ip, bits.unwrap_or(max).min(max), port);
        }
        let name = addr.trim_start_matches("*.").trim_start_matches('.').trim_end_matches('.');
        Bypass::Domain(name.to_string(), port)
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    let (a, b, width) = match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        _ => return false,
    };
    let shift = width - u32::from(bits);
    shift >= 128 || (a >> shift) == (b >> shift)
}

/// A proxy to go through: where, as whom, and which hosts bypass it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// Where the proxy is.
    pub url: ProxyUrl,
    /// Basic credentials, if the proxy wants them.
    pub credentials: Option<ProxyCredentials>,
    /// Hosts reached directly.
    pub no_proxy: NoProxy,
}

impl Proxy {
    /// Whether a connection to `endpoint` goes through this proxy.
    pub fn applies_to(&self, endpoint: &Endpoint) -> bool {
        !self.no_proxy.matches(endpoint.host(), endpoint.port())
    }
}

/// What the configuration file says about the proxy (each `None` when the key is absent).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxySettings<'a> {
    /// `proxy-url`; an empty string means "no proxy", whatever the environment says.
    pub url: Option<&'a str>,
    /// `no-proxy`.
    pub no_proxy: Option<&'a [String]>,
    /// The credentials read from `proxy-credentials-file`.
    pub credentials: Option<ProxyCredentials>,
}

/// The environment variables read, in order of precedence (curl's: lower case first).
pub const PROXY_ENV: [&str; 2] = ["https_proxy", "HTTPS_PROXY"];
/// The environment variables for the bypass list, in order of precedence.
pub const NO_PROXY_ENV: [&str; 2] = ["no_proxy", "NO_PROXY"];

/// Decides the proxy: each setting of the file wins over the environment, key by key
/// (`proxy-url` over `https_proxy`/`HTTPS_PROXY`, `no-proxy` over `no_proxy`/`NO_PROXY`);
/// credentials from the file win over those in the URL. `env` reads one variable (empty
/// counts as unset).
pub fn resolve(
    file: ProxySettings<'_>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<Proxy>, ProxyError> {
    let first_env = |names: &[&str]| {
        names.iter().find_map(|n| env(n).filter(|v| !v.trim().is_empty()).map(|v| (n.to_string(), v)))
    };
    let (source, text) = match file.url {
        Some(u) if u.trim().is_empty() => return Ok(None),
        Some(u) => ("proxy-url".to_string(), u.to_string()),
        None => match first_env(&PROXY_ENV) {
            Some(found) => found,
            None => return Ok(None),
        },
    };
    let (url, in_url) = ProxyUrl::parse(&text, &source)?;
    let no_proxy = match file.no_proxy {
        Some(list) => NoProxy::parse(list.iter().map(String::as_str)),
        None => NoProxy::parse(first_env(&NO_PROXY_ENV).as_ref().map(|(_, v)| v.as_str())),
    };
    Ok(Some(Proxy { url, credentials: file.credentials.or(in_url), no_proxy }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(vars: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let vars = vars.to_vec();
        move |k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
    }

    fn resolved(file: ProxySettings<'_>, vars: &[(&'static str, &'static str)]) -> Option<Proxy> {
        resolve(file, &env_of(vars)).unwrap()
    }

    #[test]
    fn proxy_urls_are_http_host_and_port_with_credentials_kept_apart() {
        let (u, c) = ProxyUrl::parse("http://proxy.corp:3128/", "proxy-url").unwrap();
        assert_eq!((u.to_string(), c), ("http://proxy.corp:3128".to_string(), None));
        assert_eq!(ProxyUrl::parse("proxy.corp", "x").unwrap().0.to_string(), "http://proxy.corp:80");
        assert_eq!(ProxyUrl::parse("10.0.0.1:8080", "x").unwrap().0.to_string(), "http://10.0.0.1:8080");
        assert_eq!(ProxyUrl::parse("http://[::1]:3128", "x").unwrap().0.to_string(), "http://[::1]:3128");
        let (u, c) = ProxyUrl::parse("http://bob:p%40ss:w@proxy:3128", "HTTPS_PROXY").unwrap();
        assert_eq!(u.to_string(), "http://proxy:3128");
        let c = c.unwrap();
        assert_eq!((c.user(), c.password.as_str()), ("bob", "p@ss:w"));
        assert_eq!(format!("{c:?}"), "ProxyCredentials(..)");
        for (bad, why) in [
            ("https://p:1", "https:// proxies are not supported"),
            ("socks5://p:1", "only http:// proxies"),
            ("http://p:1/x", "without a path"),
            ("http://p:port", "malformed"),
            ("http://:pw@p:1", "user name or password is malformed"),
        ] {
            let e = ProxyUrl::parse(bad, "proxy-url").unwrap_err().to_string();
            assert!(e.starts_with("proxy URL from proxy-url: ") && e.contains(why), "{bad}: {e}");
        }
    }

    #[test]
    fn credentials_files_hold_user_colon_password_and_never_show_them() {
        let c = ProxyCredentials::parse("agent:pa:ss\nignored\n").unwrap();
        assert_eq!(
            c.header(),
            format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("agent:pa:ss"))
        );
        for bad in ["", "agent", "agent:", ":pw", "\nagent:pw"] {
            let e = ProxyCredentials::parse(bad).unwrap_err().to_string();
            assert!(e.contains("USER:PASSWORD"), "{bad:?}: {e}");
        }
        let p = resolved(
            ProxySettings { url: Some("http://p:1"), credentials: Some(c), ..Default::default() },
            &[],
        );
        let shown = format!("{p:?}");
        assert!(!shown.contains("pa:ss") && !shown.contains("agent"), "{shown}");
    }

    #[test]
    fn the_file_wins_over_the_environment_key_by_key() {
        let env = [
            ("HTTPS_PROXY", "http://upper:1"),
            ("https_proxy", "http://user:pw@lower:2"),
            ("NO_PROXY", "upper.corp"),
            ("no_proxy", "lower.corp"),
        ];
        // Nothing in the file: the lower-case variables, credentials from the URL.
        let p = resolved(ProxySettings::default(), &env).unwrap();
        assert_eq!(p.url.to_string(), "http://lower:2");
        assert_eq!(p.credentials.as_ref().map(ProxyCredentials::user), Some("user"));
        assert!(p.no_proxy.matches("lower.corp", 1) && !p.no_proxy.matches("upper.corp", 1));
        // Upper case when lower case is unset or empty.
        let p = resolved(ProxySettings::default(), &[("https_proxy", ""), env[0], env[2]]).unwrap();
        assert_eq!(p.url.to_string(), "http://upper:1");
        assert!(p.no_proxy.matches("upper.corp", 1));
        // proxy-url wins; the environment's NO_PROXY still applies without no-proxy.
        let p = resolved(ProxySettings { url: Some("http://file:3"), ..Default::default() }, &env).unwrap();
        assert_eq!((p.url.to_string(), p.credentials), ("http://file:3".to_string(), None));
        assert!(p.no_proxy.matches("lower.corp", 1));
        // no-proxy wins over the environment's list, even when empty.
        let none: Vec<String> = vec![];
        let p = resolved(ProxySettings { no_proxy: Some(&none), ..Default::default() }, &env).unwrap();
        assert!(!p.no_proxy.matches("lower.corp", 1));
        // The credentials file wins over credentials in the URL.
        let file = ProxyCredentials::parse("filed:pw").unwrap();
        let p = resolved(ProxySettings { credentials: Some(file), ..Default::default() }, &env).unwrap();
        assert_eq!(p.credentials.as_ref().map(ProxyCredentials::user), Some("filed"));
        // An empty proxy-url turns the environment's proxy off; no proxy anywhere: none.
        assert_eq!(resolved(ProxySettings { url: Some(""), ..Default::default() }, &env), None);
        assert_eq!(resolved(ProxySettings::default(), &[("NO_PROXY", "*")]), None);
        // A bad variable is named.
        let e = resolve(ProxySettings::default(), &env_of(&[("HTTPS_PROXY", "https://p:1")])).unwrap_err();
        assert!(e.to_string().starts_with("proxy URL from HTTPS_PROXY: https://"), "{e}");
    }

    #[test]
    fn no_proxy_matches_like_curl() {
        let n = NoProxy::parse(["corp.local, .lab.example  10.0.0.0/8,192.168.1.5", "[::1]:8443,web:9"]);
        for (host, port, direct) in [
            ("corp.local", 443, true),
            ("MGMT.Corp.Local", 443, true),
            ("mgmt.corp.local.", 443, true),
            ("notcorp.local", 443, false),
            ("lab.example", 1, true),
            ("a.b.lab.example", 1, true),
            ("10.200.3.4", 1, true),
            ("11.0.0.1", 1, false),
            ("192.168.1.5", 1, true),
            ("192.168.1.6", 1, false),
            ("::1", 8443, true),
            ("[::1]", 8443, true),
            ("::1", 443, false),
            ("web", 9, true),
            ("web", 10, false),
            ("10.0.0.1.example", 1, false),
        ] {
            assert_eq!(n.matches(host, port), direct, "{host}:{port}");
        }
        assert!(NoProxy::parse(["*"]).matches("anything", 1));
        assert!(!NoProxy::parse([""]).matches("anything", 1));
        assert!(NoProxy::parse(["*.corp"]).matches("a.corp", 1));
        assert!(NoProxy::parse(["0.0.0.0/0"]).matches("1.2.3.4", 1));
        assert!(NoProxy::parse(["fd00::/8"]).matches("fd12::1", 1));
        assert!(!NoProxy::parse(["fd00::/8"]).matches("10.0.0.1", 1));
    }

    proptest::proptest! {
        #[test]
        fn a_name_always_matches_itself_and_its_subdomains_never_its_lookalikes(
            name in "[a-z]{1,8}(\\.[a-z]{1,8}){0,2}", sub in "[a-z]{1,8}", port in 1u16..
        ) {
            let n = NoProxy::parse([name.as_str()]);
            proptest::prop_assert!(n.matches(&name, port));
            let subdomain = format!("{sub}.{name}");
            let lookalike = format!("{sub}{name}");
            proptest::prop_assert!(n.matches(&subdomain, port));
            proptest::prop_assert!(!n.matches(&lookalike, port));
        }

        #[test]
        fn an_address_matches_every_range_that_contains_it(a in proptest::prelude::any::<u32>(), bits in 0u8..=32) {
            let ip = std::net::Ipv4Addr::from(a);
            let net = std::net::Ipv4Addr::from(if bits == 0 { 0 } else { a & (u32::MAX << (32 - bits)) });
            let n = NoProxy::parse([format!("{net}/{bits}").as_str()]);
            proptest::prop_assert!(n.matches(&ip.to_string(), 1));
        }
    }
}
