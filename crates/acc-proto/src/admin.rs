//! The admin API: the request bodies `acc ctl` sends to the management server with a
//! bearer token (settings, credential rotation, tokens, trust, the directory, package
//! assignment), and in [`answer`] what the server answers. The server parses exactly these
//! types, so a field renamed here is renamed on both sides.

pub mod answer;
pub mod policy;

pub use answer::*;

use acc_core::lockout::LockoutMode;
use acc_core::password::{PasswordPolicy, Secret};
use serde::{Deserialize, Serialize};

use crate::agent::AuthMode;

/// `PUT /v1/settings/auth` and `POST /v1/credential/rotate` (which implies `credential`).
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthChange {
    /// The mode to save (`None` on a rotation: `credential`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<AuthMode>,
    /// A new credential's user name (`None`: keep the current one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_name: Option<String>,
    /// Its password (redacted from `Debug`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub password: Option<Secret>,
    /// The password typed a second time (`None`: the password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub confirmation: Option<Secret>,
    /// A new password policy (`None`: keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<serde_json::Value>", description = "As acc-core defines it.")]
    pub password_policy: Option<PasswordPolicy>,
    /// Grant the credential Read on the package sources in the same revision.
    #[serde(default)]
    pub grant_read: bool,
    /// A rotation's `rotation.grace` in seconds (`None`: keep it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grace_secs: Option<u64>,
    /// Save even when sites or agents would be unable to connect.
    #[serde(default)]
    pub force: bool,
}

impl std::fmt::Debug for AuthChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthChange")
            .field("mode", &self.mode)
            .field("user_name", &self.user_name)
            .field("password_policy", &self.password_policy)
            .field("grant_read", &self.grant_read)
            .field("grace_secs", &self.grace_secs)
            .field("force", &self.force)
            .finish_non_exhaustive()
    }
}

/// `PUT /v1/settings/site`: the site settings to change (the lockout policy's fields and
/// the event log sizes); each field given replaces the one in force.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteSettingsChange {
    /// `classic` or `smart`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub mode: Option<LockoutMode>,
    /// Failures that lock an account (0: never).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<u32>,
    /// The observation window, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reset_after: Option<u64>,
    /// The lockout duration, seconds (0: until unlocked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<u64>,
    /// Smart: failures that block one source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_threshold: Option<u32>,
    /// Smart: failures from unfamiliar sources that lock them all out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfamiliar_threshold: Option<u32>,
    /// Smart: the first block of a source, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_block_base: Option<u64>,
    /// Smart: the longest block of a source, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_block_max: Option<u64>,
    /// Smart: how long a source's escalation is remembered, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalation_memory: Option<u64>,
    /// Smart: how long a source stays familiar, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub familiar_ttl: Option<u64>,
    /// Smart: the most familiar sources kept per account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub familiar_max: Option<u32>,
    /// Re-enable the ACC when it is locked out (at each refresh).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reenable_locked_local_account: Option<bool>,
    /// Site servers create the local-form ACC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_acc_on_site_servers: Option<bool>,
    /// The ACC refresh interval, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acc_refresh_interval: Option<u64>,
    /// Refreshes of a locked ACC before a lockout loop is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lockout_loop_count: Option<u32>,
    /// The maximum size of each site's security event log, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_log_max_size: Option<u64>,
    /// The maximum size of the management server's event store, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_store_max_size: Option<u64>,
}

impl SiteSettingsChange {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == SiteSettingsChange::default()
    }
}

/// `POST /v1/site-tokens` and `POST /v1/enroll-tokens`: a join or enrollment token's terms.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenTerms {
    /// Its lifetime in seconds (`None`: the kind's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
    /// How many joins it allows (`None`: 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uses: Option<u32>,
    /// An enrollment token that may replace an enrolled host's certificate.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reenroll: bool,
}

/// The answer to a token creation: the token's text, shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreatedToken {
    /// The text to hand over.
    pub token: String,
}

impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken").finish_non_exhaustive()
    }
}

/// `POST /v1/tokens`: an API token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ApiTokenRequest {
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// What it is for.
    pub description: String,
    /// Its lifetime in seconds (`None`: it does not expire).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_secs: Option<u64>,
}

/// `POST /v1/trust`: an operator CA to trust for agent certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustAdd {
    /// The CA certificate (PEM).
    pub pem: String,
}

/// `POST /v1/trust/remove`: an operator CA to stop trusting, by fingerprint or PEM.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustRemove {
    /// Its SHA-256 fingerprint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Its certificate (PEM).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
    /// Remove it while agents still hold its certificates.
    #[serde(default)]
    pub force: bool,
}

/// `POST /v1/directory`: a domain account of the directory.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryAccountAdd {
    /// The account name (without the domain).
    pub name: String,
    /// Its password (redacted from `Debug`).
    #[schemars(with = "String")]
    pub password: Secret,
}

impl std::fmt::Debug for DirectoryAccountAdd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryAccountAdd").field("name", &self.name).finish_non_exhaustive()
    }
}

/// `POST /v1/packages/{name}/assign`: a version to assign to site servers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageAssign {
    /// The version (`None`: the newest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The site servers, by name.
    #[serde(default)]
    pub sites: Vec<String>,
    /// Every site server instead.
    #[serde(default)]
    pub all: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_auth_change_sends_only_what_is_given_and_hides_the_password() {
        let c = AuthChange {
            mode: Some(AuthMode::Credential),
            user_name: Some("ACC_user".into()),
            password: Some("Tr0ub4dor&3-long".into()),
            password_policy: Some(PasswordPolicy::for_mode(acc_core::password::PasswordMode::Complexity)),
            grant_read: true,
            ..AuthChange::default()
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"mode": "credential", "user_name": "ACC_user", "password": "Tr0ub4dor&3-long",
                "password_policy": {"mode": "complexity", "min_length": 8}, "grant_read": true, "force": false})
        );
        assert!(!format!("{c:?}").contains("Tr0ub4dor"), "{c:?}");
        let e = serde_json::from_str::<AuthChange>(r#"{"mode":"certificates"}"#).unwrap_err().to_string();
        assert!(e.contains("unknown variant `certificates`"), "{e}");
    }

    #[test]
    fn a_site_settings_change_names_its_fields_and_refuses_unknown_ones() {
        let c = SiteSettingsChange {
            threshold: Some(5),
            event_log_max_size: Some(1 << 20),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_value(&c).unwrap(),
            serde_json::json!({"threshold": 5, "event_log_max_size": 1_048_576})
        );
        assert!(SiteSettingsChange::default().is_empty() && !c.is_empty());
        let e = serde_json::from_str::<SiteSettingsChange>(r#"{"treshold":5}"#).unwrap_err().to_string();
        assert!(e.contains("unknown field `treshold`"), "{e}");
    }
}
