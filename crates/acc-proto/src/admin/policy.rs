//! The policy document's data: everything one policy revision fixes (authentication mode,
//! password policy, lockout and site settings, the ACC generations, the package sources'
//! ACLs, trusted CAs, revoked certificates, package assignments, event store sizes), as the
//! management server stores it and as `GET /v1/settings` and `GET
//! /v1/policy/revisions/{number}` answer it (hashes redacted). The rules that change it
//! (checks, rotation steps, diffs, redaction) are the management server's
//! (`acc-server/src/document.rs`).

use acc_core::acl::{PackageSource, Share};
use acc_core::generation::GenerationPhase;
use acc_core::lockout::{LockoutPolicy, is_domain_form};
use acc_core::password::PasswordPolicy;
use serde::{Deserialize, Serialize};

use crate::agent::AuthMode;

/// The default of `rotation.grace` (3.2.1): 7 days.
pub const DEFAULT_GRACE: u64 = 604_800;

/// The authentication page.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// The mode.
    pub mode: AuthMode,
    /// The password policy new credentials must meet.
    #[schemars(with = "serde_json::Value", description = "As acc-core defines it.")]
    pub password_policy: PasswordPolicy,
}

/// One ACC generation (1.4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Generation {
    /// 1, 2, 3 …
    pub number: u32,
    /// The stored user name (`ACC_user`, `CORP\acc_svc`).
    pub user_name: String,
    /// Its phase.
    #[schemars(with = "String")]
    pub phase: GenerationPhase,
    /// The argon2id PHC hash of its password (local form only; K2).
    pub password_hash: Option<String>,
    /// When it was saved (Unix milliseconds).
    pub saved_at: i64,
    /// Retiring: when it is removed at the latest (Unix milliseconds).
    pub retire_deadline: Option<i64>,
}

impl Generation {
    /// True for a local-form name (site servers create its accounts).
    pub fn is_local(&self) -> bool {
        !is_domain_form(&self.user_name)
    }
}

/// Everything one policy revision fixes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyDocument {
    /// Global agent settings, Authentication.
    pub auth: AuthSettings,
    /// Global site server settings: the lockout policy and the ACC refresh settings.
    #[schemars(with = "serde_json::Value", description = "As acc-core defines it.")]
    pub site: LockoutPolicy,
    /// `rotation.grace` in seconds.
    pub rotation_grace: u64,
    /// Every ACC generation, removed ones included (their names are never reused).
    pub generations: Vec<Generation>,
    /// The package sources and their two-level ACLs.
    #[schemars(with = "Vec<serde_json::Value>", description = "As acc-core defines it.")]
    pub shares: Vec<Share>,
    /// Operator CAs (the seed's lab CA) whose certificates site servers accept for agents.
    #[serde(default)]
    pub trust: Vec<TrustAnchor>,
    /// Certificates of the fleet CA revoked (their CRL reaches sites with the revision).
    #[serde(default)]
    pub revoked: Vec<RevokedCert>,
    /// Packages assigned to site servers.
    #[serde(default)]
    pub assignments: Vec<Assignment>,
    /// Maximum size of each site server's security event log, in bytes.
    #[serde(default = "default_event_log_max_size")]
    pub event_log_max_size: u64,
    /// Maximum size of the management server's store of every site's events, in bytes.
    #[serde(default = "default_event_store_max_size")]
    pub event_store_max_size: u64,
}

fn default_event_log_max_size() -> u64 {
    acc_core::event::retention::DEFAULT_SITE_MAX_SIZE
}

fn default_event_store_max_size() -> u64 {
    acc_core::event::retention::DEFAULT_SERVER_MAX_SIZE
}

/// A package version assigned to site servers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Assignment {
    /// The package.
    pub name: String,
    /// The version.
    pub version: String,
    /// The sites that replicate it; empty: every site.
    pub sites: Vec<String>,
}

impl Assignment {
    /// Whether `site` replicates this package.
    pub fn covers(&self, site: &str) -> bool {
        self.sites.is_empty() || self.sites.iter().any(|s| s == site)
    }
}

/// An operator CA trusted for agent certificates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrustAnchor {
    /// SHA-256 of the certificate, lower-case hex.
    pub fingerprint: String,
    /// Its subject on one line.
    pub subject: String,
    /// The certificate (PEM).
    pub pem: String,
}

/// A revoked fleet certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokedCert {
    /// Serial, upper-case hex.
    pub serial: String,
    /// Unix milliseconds.
    pub revoked_at: i64,
}

impl Default for PolicyDocument {
    fn default() -> Self {
        PolicyDocument {
            auth: AuthSettings::default(),
            site: LockoutPolicy::default(),
            rotation_grace: DEFAULT_GRACE,
            generations: Vec::new(),
            shares: PackageSource::default_shares(),
            trust: Vec::new(),
            revoked: Vec::new(),
            assignments: Vec::new(),
            event_log_max_size: default_event_log_max_size(),
            event_store_max_size: default_event_store_max_size(),
        }
    }
}

impl PolicyDocument {
    /// The generation in `phase`, if any (at most one per phase but `removed`).
    pub fn generation_in(&self, phase: GenerationPhase) -> Option<&Generation> {
        self.generations.iter().find(|g| g.phase == phase)
    }
}
