//! `site.json`: who this site server is and where it listens. Written once by
//! `acc site init`; read strictly (unknown keys are an error naming the key).

use std::net::SocketAddr;
use std::path::Path;

use acc_net::datadir::RoleConfig;
use serde::{Deserialize, Serialize};

use crate::error::SiteError;

/// The site's identity and listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SiteConfig {
    /// The site server's name: `Computer` of its events, `TargetDomainName` of its local
    /// accounts (upper case, `[A-Z0-9-]`, at most 15 characters like a NetBIOS name).
    pub name: String,
    /// `SiteId` of its events.
    pub site_id: String,
    /// The domain part of its local account SIDs (`S-1-5-21-a-b-c`).
    pub domain_sid: String,
    /// The fleet name: `SubjectDomainName` of the site's own actions.
    pub fleet_name: String,
    /// Where `acc site run` listens unless `--listen` says otherwise.
    pub listen: SocketAddr,
    /// The cap on unauthenticated connections per address
    /// (`--max-unauthenticated-per-address`; [`RoleConfig`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unauthenticated_per_address: Option<usize>,
}

impl RoleConfig for SiteConfig {
    const CAP_KEY: &'static str = "max-unauthenticated-per-address";

    fn unauthenticated_cap(&self) -> Option<usize> {
        self.max_unauthenticated_per_address
    }
}

impl SiteConfig {
    /// Reads `site.json`.
    pub fn load(path: &Path) -> Result<SiteConfig, SiteError> {
        Ok(SiteConfig::read(path)?)
    }
}

/// Validates a site name (what `--name` accepts) and returns it upper-cased.
pub fn validate_name(name: &str) -> Result<String, SiteError> {
    let upper = name.to_ascii_uppercase();
    let ok = (1..=15).contains(&upper.len())
        && upper.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !upper.starts_with('-');
    if ok { Ok(upper) } else { Err(SiteError::BadName(name.to_string())) }
}

/// A default name from the host name: upper case, `[A-Z0-9-]`, at most 15 characters.
pub fn default_name(hostname: &str) -> String {
    let cleaned: String = hostname
        .split('.')
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '-' })
        .take(15)
        .collect();
    let cleaned = cleaned.trim_matches('-').to_string();
    if cleaned.is_empty() { "SITE-01".to_string() } else { cleaned }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_netbios_like() {
        assert_eq!(validate_name("site-01").unwrap(), "SITE-01");
        for bad in ["", "-x", "a_b", "way-too-long-site-name", "zoë"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        assert_eq!(default_name("web01.corp.example"), "WEB01");
        assert_eq!(default_name("my_box"), "MY-BOX");
        assert_eq!(default_name("..."), "SITE-01");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("site.json");
        std::fs::write(&p, r#"{"name":"S","site-id":"x","domain-sid":"S-1-5-21-1-2-3","fleet-name":"ACC","listen":"127.0.0.1:1","colour":"red"}"#).unwrap();
        let err = SiteConfig::load(&p).unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
    }

    #[test]
    fn the_unauthenticated_cap_is_read_and_zero_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("site.json");
        let base = r#"{"name":"S","site-id":"x","domain-sid":"S-1-5-21-1-2-3","fleet-name":"ACC","listen":"127.0.0.1:1""#;
        std::fs::write(&p, format!("{base}}}")).unwrap();
        assert_eq!(SiteConfig::load(&p).unwrap().listener_limits().max_unauthenticated_per_address, 1024);
        std::fs::write(&p, format!(r#"{base},"max-unauthenticated-per-address":16}}"#)).unwrap();
        assert_eq!(SiteConfig::load(&p).unwrap().listener_limits().max_unauthenticated_per_address, 16);
        std::fs::write(&p, format!(r#"{base},"max-unauthenticated-per-address":0}}"#)).unwrap();
        let err = SiteConfig::load(&p).unwrap_err().to_string();
        assert!(err.contains("max-unauthenticated-per-address is 0"), "{err}");
    }
}
