//! `acc.yml`: the agent's configuration, kebab-case keys, read whole and checked whole
//! before anything runs (a file that fails to load never leaves the agent half
//! configured). Relative paths are relative to the file's folder, where the seed copies
//! `acc.key` and `acc.crt`. Errors name the file, the line, the key and the fix.
//!
//! ```yaml
//! server-url: https://mgmt.corp.local:8443   # the management server (policy, check-in);
//!                                             # several nodes: https://a:8443,https://b:8443
//! ca-file: ca.crt                             # trust anchors for the server and site servers
//! key-file: acc.key                           # with cert-file: the agent's mTLS identity
//! cert-file: acc.crt
//! log-file: /var/log/acc/acc.log
//! log-level: info                             # error, warn, info, debug
//! state-dir: /var/lib/acc
//! site-servers: [https://site1.corp.local:8444]   # optional override of the policy's
//! check-in-interval: 5m                       # 90s, 5m, 1h 30m (a bare number is seconds)
//! download-limit: 10M                         # optional, bytes per second: 500K, 10M (powers of 1024)
//! host-name: web01                            # default: the system's host name
//! proxy-url: http://proxy.corp.local:3128      # optional HTTP proxy (CONNECT); else https_proxy
//! proxy-credentials-file: proxy.cred          # optional USER:PASSWORD for the proxy
//! no-proxy: [.corp.local, 10.0.0.0/8]         # optional hosts reached directly; else no_proxy
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use acc_core::units::{parse_duration, parse_size};
use acc_net::client::Endpoint;
use serde::{Deserialize, Serialize};

use crate::proxy::ProxyConfig;

/// What can be wrong with `acc.yml`, in one line each.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error(
        "{path}: cannot read the configuration ({reason}); give --config FILE or create it (acc agent enroll writes one)"
    )]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// YAML or a value of the wrong type, with its line.
    #[error("{path}: {detail}")]
    Parse {
        /// The file.
        path: String,
        /// `line L column C: …; fix`.
        detail: String,
    },
    /// A value that parses but is not usable.
    #[error("{path}: {key}: {detail}")]
    Invalid {
        /// The file.
        path: String,
        /// The key.
        key: &'static str,
        /// What is wrong and what to do.
        detail: String,
    },
}

/// `acc.yml` as written.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct RawConfig {
    /// The management server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_url: Option<String>,
    /// CA certificates (PEM) the agent trusts for its servers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// The agent's private key (PEM), 0400, owned by the agent's user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// The agent's certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// The log file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_file: Option<PathBuf>,
    /// `error`, `warn`, `info` or `debug`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_level: Option<String>,
    /// Where the agent keeps its state (policy cache, counters, packages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
    /// Site servers to use instead of the policy's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_servers: Option<Vec<String>>,
    /// How often the agent checks in when nothing happens (`30s`, `5m`, `1h`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_in_interval: Option<String>,
    /// Download bandwidth limit in bytes per second (`500K`, `10M`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_limit: Option<String>,
    /// The host name the agent reports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_name: Option<String>,
    /// The HTTP proxy (`http://HOST:PORT`; empty: none, whatever the environment says).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    /// A file holding the proxy's `USER:PASSWORD`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_credentials_file: Option<PathBuf>,
    /// Hosts reached without the proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<Vec<String>>,
}

/// The log levels `log-level` accepts.
pub const LOG_LEVELS: [&str; 4] = ["error", "warn", "info", "debug"];

/// A checked configuration, paths absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentConfig {
    /// The file it came from.
    pub path: PathBuf,
    /// The management server, if any (the first node).
    pub server: Option<Endpoint>,
    /// Every management server node, in the order to try them (empty without one).
    pub servers: Vec<String>,
    /// The CA file.
    pub ca_file: PathBuf,
    /// Key and certificate, when the agent has an mTLS identity.
    pub identity: Option<(PathBuf, PathBuf)>,
    /// The log file.
    pub log_file: PathBuf,
    /// The log level.
    pub log_level: String,
    /// The state folder.
    pub state_dir: PathBuf,
    /// Site servers configured by hand (used instead of the policy's).
    pub site_servers: Vec<Endpoint>,
    /// The check-in interval.
    pub check_in_interval: Duration,
    /// Bytes per second for downloads, if limited.
    pub download_limit: Option<u64>,
    /// The host name reported.
    pub host_name: String,
    /// The proxy keys.
    pub proxy: ProxyConfig,
}

/// The default locations of the seed, per OS: config folder, log file, state folder.
pub fn defaults() -> (PathBuf, PathBuf, PathBuf) {
    if cfg!(target_os = "windows") {
        windows_defaults(std::env::var("ProgramData").ok().as_deref())
    } else if cfg!(target_os = "macos") {
        let base = PathBuf::from("/Library/Application Support/acc");
        (base.clone(), base.join("log").join("acc.log"), base.join("state"))
    } else {
        (PathBuf::from("/etc/acc"), PathBuf::from("/var/log/acc/acc.log"), PathBuf::from("/var/lib/acc"))
    }
}

/// The seed's Windows layout under `program_data` (`%ProgramData%`; `C:\ProgramData` when
/// unset): `acc.yml`, `acc.key`, `acc.crt` and `ca.crt` in `%ProgramData%\acc`, the log in
/// its `log\acc.log`, the state in its `state\`. Written with `\` on every platform, so the
/// layout is tested on Linux too.
pub fn windows_defaults(program_data: Option<&str>) -> (PathBuf, PathBuf, PathBuf) {
    // Only an absolute `X:\…` (a service may see `%ProgramData%` unexpanded, or none).
    let root = program_data.map(|p| p.trim_end_matches(['\\', '/'])).filter(|p| {
        let b = p.as_bytes();
        b.len() >= 2
            && b[0].is_ascii_alphabetic()
            && b[1] == b':'
            && b.get(2).is_none_or(|c| matches!(c, b'\\' | b'/'))
    });
    let base = format!(r"{}\acc", root.unwrap_or(r"C:\ProgramData"));
    (
        PathBuf::from(&base),
        PathBuf::from(format!(r"{base}\log\acc.log")),
        PathBuf::from(format!(r"{base}\state")),
    )
}

/// The default `acc.yml`.
pub fn default_path() -> PathBuf {
    defaults().0.join("acc.yml")
}

/// The first line of a serde-saphyr error, as a message with its fix.
fn parse_detail(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("").trim_start_matches("error: ");
    let first = first.split(", set DuplicateKeyPolicy").next().unwrap_or(first);
    if first.contains("unknown field") {
        format!("{first}; check the spelling (keys are kebab-case, as in the README)")
    } else if first.contains("duplicate mapping key") {
        format!("{first}; keep one of them")
    } else {
        format!("{first}; fix the value and start the agent again")
    }
}

impl AgentConfig {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        AgentConfig::parse(path, &text)
    }

    /// Checks the text of `path`.
    pub fn parse(path: &Path, text: &str) -> Result<AgentConfig, ConfigError> {
        let shown = path.display().to_string();
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            serde_saphyr::from_str(text)
                .map_err(|e| ConfigError::Parse { path: shown.clone(), detail: parse_detail(&e) })?
        };
        AgentConfig::check(path, raw)
    }

    fn check(path: &Path, raw: RawConfig) -> Result<AgentConfig, ConfigError> {
        let shown = path.display().to_string();
        let invalid =
            |key: &'static str, detail: String| ConfigError::Invalid { path: shown.clone(), key, detail };
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        let absolute = |p: PathBuf| if p.is_absolute() { p } else { base.join(p) };
        let servers = acc_core::failover::split_list(raw.server_url.as_deref().unwrap_or_default());
        let endpoints = servers
            .iter()
            .map(|u| {
                Endpoint::parse(u).map_err(|e| {
                    invalid("server-url", format!("{e}; give https://HOST:PORT of the management server (several: separated by commas)"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let server = endpoints.into_iter().next();
        let site_servers = raw
            .site_servers
            .unwrap_or_default()
            .iter()
            .map(|u| {
                Endpoint::parse(u).map_err(|e| {
                    invalid("site-servers", format!("{e}; give https://HOST:PORT of a site server"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if server.is_none() && site_servers.is_empty() {
            return Err(invalid(
                "server-url",
                "missing; give the management server (server-url: https://HOST:PORT) or site-servers".into(),
            ));
        }
        let ca_file = raw.ca_file.map(absolute).ok_or_else(|| {
            invalid(
                "ca-file",
                "missing; give the CA certificate file that signed the servers' certificates".into(),
            )
        })?;
        let identity = match (raw.key_file, raw.cert_file) {
            (Some(k), Some(c)) => Some((absolute(k), absolute(c))),
            (None, None) => None,
            (Some(_), None) => {
                return Err(invalid(
                    "cert-file",
                    "missing while key-file is set; give both or neither".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(invalid(
                    "key-file",
                    "missing while cert-file is set; give both or neither".into(),
                ));
            }
        };
        let log_level = raw.log_level.unwrap_or_else(|| "info".into());
        if !LOG_LEVELS.contains(&log_level.as_str()) {
            return Err(invalid(
                "log-level",
                format!("'{log_level}' is not a level; use {}", LOG_LEVELS.join(", ")),
            ));
        }
        // Durations and sizes are read as on the command line (`acc_core::units`).
        let check_in_interval = match raw.check_in_interval.as_deref() {
            None => Duration::from_secs(300),
            Some(t) => {
                let d = parse_duration(t).map_err(|e| invalid("check-in-interval", e.to_string()))?;
                if !(10..=86_400).contains(&d.as_secs()) {
                    return Err(invalid(
                        "check-in-interval",
                        format!("'{t}': give 10s to 1d, such as 30s, 5m or 1h"),
                    ));
                }
                d
            }
        };
        let download_limit = match raw.download_limit.as_deref() {
            None => None,
            Some(t) => match parse_size(t).map_err(|e| invalid("download-limit", e.to_string()))? {
                0 => {
                    return Err(invalid(
                        "download-limit",
                        format!(
                            "'{t}': give bytes per second above 0, such as 500K or 10M (or remove the key)"
                        ),
                    ));
                }
                n => Some(n),
            },
        };
        if let Some(u) = &raw.proxy_url {
            crate::proxy::check_url(u).map_err(|e| invalid("proxy-url", e.to_string()))?;
        }
        let (_, default_log, default_state) = defaults();
        let host_name = match raw.host_name {
            Some(h)
                if !h.is_empty()
                    && h.len() <= 253
                    && h.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.') =>
            {
                h
            }
            Some(h) => return Err(invalid("host-name", format!("'{h}': use letters, digits, '-' and '.'"))),
            None => system_host_name(),
        };
        if identity.is_none() {
            let why = if server.is_some() {
                "missing: the management server knows agents by their certificate; run `acc agent enroll --token T`, or give key-file and cert-file"
            } else {
                "missing: without a management server (server-url) the agent authenticates with its certificate; give key-file and cert-file"
            };
            return Err(invalid("key-file", why.into()));
        }
        let proxy = ProxyConfig {
            url: raw.proxy_url,
            no_proxy: raw.no_proxy,
            credentials_file: raw.proxy_credentials_file.map(absolute),
        };
        Ok(AgentConfig {
            path: path.to_path_buf(),
            server,
            servers,
            ca_file,
            identity,
            log_file: raw.log_file.map(absolute).unwrap_or(default_log),
            log_level,
            state_dir: raw.state_dir.map(absolute).unwrap_or(default_state),
            site_servers,
            check_in_interval,
            download_limit,
            host_name,
            proxy,
        })
    }
}

/// The system's host name (the first label, lower case), `localhost` when unknown.
pub fn system_host_name() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_default();
    let name = name.trim().to_ascii_lowercase();
    if name.is_empty() { "localhost".into() } else { name }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentConfig, String> {
        AgentConfig::parse(Path::new("/etc/acc/acc.yml"), text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_by_hand_file_needs_four_keys_and_resolves_paths_beside_it() {
        let c = parse("server-url: https://mgmt:8443\nca-file: ca.crt\nkey-file: acc.key\ncert-file: \"/opt/acc.crt\"\n")
            .unwrap();
        assert_eq!(c.server.unwrap().to_string(), "https://mgmt:8443");
        assert_eq!(c.ca_file, PathBuf::from("/etc/acc/ca.crt"));
        assert_eq!(c.identity, Some((PathBuf::from("/etc/acc/acc.key"), PathBuf::from("/opt/acc.crt"))));
        assert_eq!((c.log_level.as_str(), c.check_in_interval), ("info", Duration::from_secs(300)));
        assert_eq!(c.log_file, defaults().1);
    }

    #[test]
    fn every_mistake_names_the_file_the_key_and_the_fix() {
        let cases = [
            (
                "server-url: https://m:1\nca-file: c\nkeyfile: k\n",
                "/etc/acc/acc.yml: line 3 column 1: unknown field `keyfile`",
            ),
            (
                "server-url: https://m:1\nca-file: c\nca-file: d\n",
                "duplicate mapping key: ca-file; keep one of them",
            ),
            ("server-url: [1]\n", "/etc/acc/acc.yml: line 1 column"),
            (
                "server-url: http://m:1\nca-file: c\n",
                "server-url: server URL 'http://m:1': must start with https://",
            ),
            ("ca-file: c\n", "server-url: missing"),
            ("server-url: https://m:1\n", "ca-file: missing"),
            (
                "server-url: https://m:1\nca-file: c\n",
                "key-file: missing: the management server knows agents by their certificate; run `acc agent enroll",
            ),
            (
                "server-url: https://m:1\nca-file: c\nkey-file: k\n",
                "cert-file: missing while key-file is set",
            ),
            ("site-servers: [https://s:1]\nca-file: c\n", "key-file: missing: without a management server"),
            (
                "server-url: https://m:1\nca-file: c\nlog-level: loud\n",
                "log-level: 'loud' is not a level; use error, warn, info, debug",
            ),
            (
                "server-url: https://m:1\nca-file: c\ncheck-in-interval: 2s\n",
                "check-in-interval: '2s': give 10s to 1d",
            ),
            ("server-url: https://m:1\nca-file: c\ndownload-limit: fast\n", "download-limit: 'fast'"),
            ("server-url: https://m:1\nca-file: c\nhost-name: 'a b'\n", "host-name: 'a b'"),
            (
                "server-url: https://m:1\nca-file: c\nproxy-url: https://p:1\n",
                "proxy-url: 'https://p:1': https:// proxies are not supported; give http://HOST:PORT",
            ),
            (
                "server-url: https://m:1\nca-file: c\nproxy-url: http://u:pw@p:1\n",
                "proxy-url: holds a user name and password; put them in proxy-credentials-file",
            ),
        ];
        for (text, wanted) in cases {
            let e = parse(text).unwrap_err();
            assert!(e.contains(wanted), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
    }

    #[test]
    fn durations_and_sizes_read_as_on_the_command_line() {
        let base = "server-url: https://m:1\nca-file: c\nkey-file: k\ncert-file: c\n";
        let with = |extra: &str| parse(&format!("{base}{extra}"));
        // A bare number is seconds in acc.yml too, as with `acc ctl … --ttl 60`.
        assert_eq!(with("check-in-interval: 60\n").unwrap().check_in_interval, Duration::from_secs(60));
        assert_eq!(with("check-in-interval: 1h 30m\n").unwrap().check_in_interval, Duration::from_secs(5400));
        assert_eq!(with("download-limit: 500K\n").unwrap().download_limit, Some(512_000));
        assert_eq!(with("download-limit: 10MiB\n").unwrap().download_limit, Some(10 << 20));
        let e = with("check-in-interval: soon\n").unwrap_err();
        assert!(e.contains("check-in-interval: 'soon': not a duration") && e.contains("90s, 10m"), "{e}");
        let e = with("download-limit: 0\n").unwrap_err();
        assert!(e.contains("download-limit: '0': give bytes per second above 0"), "{e}");
    }

    #[test]
    fn the_windows_layout_is_the_seeds_under_program_data() {
        let (dir, log, state) = windows_defaults(Some(r"C:\ProgramData"));
        assert_eq!(dir, PathBuf::from(r"C:\ProgramData\acc"));
        assert_eq!(log, PathBuf::from(r"C:\ProgramData\acc\log\acc.log"));
        assert_eq!(state, PathBuf::from(r"C:\ProgramData\acc\state"));
        assert_eq!(windows_defaults(None), windows_defaults(Some(r"C:\ProgramData")));
        assert_eq!(windows_defaults(Some("")), windows_defaults(None));
        assert_eq!(windows_defaults(Some("%ALLUSERSPROFILE%")), windows_defaults(None));
        assert_eq!(windows_defaults(Some(r"ProgramData")), windows_defaults(None));
        assert_eq!(windows_defaults(Some(r"D:\Data\")).0, PathBuf::from(r"D:\Data\acc"));
        if cfg!(windows) {
            assert_eq!(
                default_path(),
                windows_defaults(std::env::var("ProgramData").ok().as_deref()).0.join("acc.yml")
            );
        }
    }

    #[test]
    fn the_proxy_keys_are_read_with_paths_beside_the_file() {
        let base = "server-url: https://m:1\nca-file: c\nkey-file: k\ncert-file: c\n";
        let c = parse(&format!(
            "{base}proxy-url: http://proxy:3128\nproxy-credentials-file: proxy.cred\nno-proxy: [.corp, 10.0.0.0/8]\n"
        ))
        .unwrap();
        assert_eq!(
            c.proxy,
            ProxyConfig {
                url: Some("http://proxy:3128".into()),
                no_proxy: Some(vec![".corp".into(), "10.0.0.0/8".into()]),
                credentials_file: Some(PathBuf::from("/etc/acc/proxy.cred")),
            }
        );
        assert_eq!(parse(base).unwrap().proxy, ProxyConfig::default());
    }
}
