//! `server.json`: the management server's identity, written once by `acc server init`.

use std::net::SocketAddr;
use std::path::Path;

use acc_core::name::DirectoryNames;
use acc_net::datadir::RoleConfig;
use serde::{Deserialize, Serialize};

use crate::error::ServerError;
use crate::store::{PostgresTarget, Target};

/// What `server.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// The server's name (`Computer` of its events; a context word for passwords).
    pub name: String,
    /// The directory's NetBIOS name, upper case (`CORP`).
    pub domain: String,
    /// The directory's DNS name (`corp.local`).
    pub dns_domain: String,
    /// The App ID's sAMAccountName (`svc_acc_app`), a directory account.
    pub app_id: String,
    /// Where `acc server run` listens unless `--listen` says otherwise.
    pub listen: SocketAddr,
    /// The URL site servers and agents use to reach this server.
    pub url: String,
    /// The organisation's name (`acc server init --organisation`; empty when unset): a
    /// context word no ACC password may be (specification 5.3 (2)).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub organisation: String,
    /// The cap on unauthenticated connections per address
    /// (`--max-unauthenticated-per-address`; [`RoleConfig`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unauthenticated_per_address: Option<usize>,
    /// The PostgreSQL database holding the store (`acc server init --database`); unset: the
    /// SQLite file `server.db` in the data directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<PostgresTarget>,
}

impl RoleConfig for ServerConfig {
    const CAP_KEY: &'static str = "max_unauthenticated_per_address";

    fn unauthenticated_cap(&self) -> Option<usize> {
        self.max_unauthenticated_per_address
    }
}

impl ServerConfig {
    /// Reads `server.json`.
    pub fn load(path: &Path) -> Result<ServerConfig, ServerError> {
        Ok(ServerConfig::read(path)?)
    }

    /// Where the store is: the PostgreSQL database, or `server.db` in `layout`.
    pub fn store_target(&self, layout: &crate::layout::Layout) -> Target {
        match &self.database {
            Some(pg) => Target::Postgres(pg.clone()),
            None => Target::Sqlite(layout.database()),
        }
    }

    /// The directory's names.
    pub fn directory(&self) -> DirectoryNames {
        DirectoryNames { netbios: self.domain.clone(), dns: self.dns_domain.clone() }
    }

    /// The App ID as displayed: `CORP\svc_acc_app`.
    pub fn app_id_display(&self) -> String {
        format!("{}\\{}", self.domain, self.app_id)
    }
}

/// Validates a NetBIOS domain name (`--domain`): 1–15 of `[A-Za-z0-9-]`, returned upper-cased.
pub fn validate_domain(domain: &str) -> Result<String, ServerError> {
    let upper = domain.to_ascii_uppercase();
    let ok = (1..=15).contains(&upper.len())
        && upper.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !upper.starts_with('-');
    if ok {
        Ok(upper)
    } else {
        Err(ServerError::Invalid(format!(
            "--domain '{domain}' is not a NetBIOS domain name; use 1 to 15 letters, digits or '-', such as CORP"
        )))
    }
}

/// The longest organisation name, in characters.
pub const MAX_ORGANISATION_CHARS: usize = 64;

/// Validates the organisation name (`--organisation`): empty (unset) or at most 64
/// characters without control characters, kept as typed.
pub fn validate_organisation(name: &str) -> Result<String, ServerError> {
    let problem = if name.chars().count() > MAX_ORGANISATION_CHARS {
        Some(format!("is longer than {MAX_ORGANISATION_CHARS} characters"))
    } else if name.chars().any(char::is_control) {
        Some("contains a control character".to_string())
    } else if name.trim() != name {
        Some("starts or ends with a space".to_string())
    } else {
        None
    };
    match problem {
        None => Ok(name.to_string()),
        Some(p) => Err(ServerError::Invalid(format!(
            "--organisation '{}' {p}; use the organisation's name as people write it, such as 'Example Corp'",
            name.escape_debug()
        ))),
    }
}

/// Validates the App ID's account name (`--app-id`): a plain account name.
pub fn validate_app_id(app_id: &str) -> Result<String, ServerError> {
    let bad = app_id.chars().find(|c| c.is_control() || "\"/\\[]:;|=,+*?<>@ ".contains(*c));
    let problem = if app_id.is_empty() {
        Some("is empty".to_string())
    } else if app_id.chars().count() > 20 {
        Some("is longer than 20 characters".to_string())
    } else if let Some(c) = bad {
        Some(format!("contains {c:?}"))
    } else if app_id.ends_with('.') {
        Some("ends with a period".to_string())
    } else {
        None
    };
    match problem {
        None => Ok(app_id.to_string()),
        Some(p) => Err(ServerError::Invalid(format!(
            "--app-id '{app_id}' {p}; use a plain account name such as svc_acc_app"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_and_app_ids_are_checked() {
        assert_eq!(validate_domain("corp").unwrap(), "CORP");
        for bad in ["", "-x", "a.b", "SIXTEENCHARSLONG"] {
            let e = validate_domain(bad).unwrap_err().to_string();
            assert!(e.contains("--domain"), "{e}");
        }
        assert_eq!(validate_app_id("svc_acc_app").unwrap(), "svc_acc_app");
        assert_eq!(validate_organisation("").unwrap(), "");
        assert_eq!(validate_organisation("Example Corp").unwrap(), "Example Corp");
        for bad in ["x".repeat(65), "a\nb".to_string(), " Example".to_string()] {
            let e = validate_organisation(&bad).unwrap_err().to_string();
            assert!(e.starts_with("--organisation '") && !e.contains('\n'), "{e}");
        }
        assert!(validate_app_id("a/b").unwrap_err().to_string().contains("--app-id 'a/b'"));
    }
}
