//! The fleet's servers as the admin API shows them: the site servers (`GET /v1/sites`) and
//! the management server nodes serving the store (`GET /v1/nodes`).

use acc_core::lockout::GenerationAck;
use serde::{Deserialize, Serialize};

use crate::package::PackageState;
use crate::site::AccountState;

/// One site server as the management server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteView {
    /// Its name (its certificate's CN).
    pub name: String,
    /// Where agents reach it.
    pub url: String,
    /// Its client certificate's serial (upper-case hex).
    pub serial_hex: String,
    /// When it joined (Unix milliseconds).
    pub joined_at: i64,
    /// Its last request (Unix milliseconds).
    pub last_contact: i64,
    /// The revision it last applied.
    pub applied_revision: Option<i64>,
    /// Its acknowledgements of the generations of that revision.
    #[schemars(with = "Vec<serde_json::Value>", description = "As acc-core defines it.")]
    pub acks: Vec<GenerationAck>,
    /// The managed accounts' states there.
    pub accounts: Vec<AccountState>,
    /// The last failure to apply, if any.
    pub error: Option<String>,
    /// thisUpdate of the fleet CRL it enforces (Unix milliseconds).
    #[serde(default)]
    pub crl_this_update_ms: Option<i64>,
    /// nextUpdate of that CRL.
    #[serde(default)]
    pub crl_next_update_ms: Option<i64>,
    /// When the server signed that CRL.
    #[serde(default)]
    pub crl_issued_ms: Option<i64>,
    /// The CA certificate (PEM) of its TLS server certificate.
    #[serde(default)]
    pub tls_ca_pem: Option<String>,
    /// Its replication of the packages assigned to it.
    #[serde(default)]
    pub packages: Vec<PackageState>,
    /// Where its events come from in the event store.
    #[serde(default)]
    pub origin: String,
}

impl SiteView {
    /// The age of the CRL the site enforces, from its issuance (its thisUpdate is
    /// backdated), `EXPIRED` past its nextUpdate, `-` before its first acknowledgement.
    pub fn crl_age(&self, now_ms: i64) -> String {
        match (self.crl_issued_ms, self.crl_next_update_ms) {
            (_, Some(next)) if next <= now_ms => "EXPIRED".into(),
            (Some(issued), _) => format!("{}m", (now_ms - issued).max(0) / 60_000),
            _ => "-".into(),
        }
    }
}

/// `GET /v1/sites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteList {
    /// The revision in force.
    pub revision: i64,
    /// The site servers.
    pub sites: Vec<SiteView>,
}

/// A management server node serving the fleet's store (`GET /v1/nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeView {
    /// Its name (`server.json`'s `name`).
    pub name: String,
    /// Where sites, agents and `acc ctl` reach it (`https://host:port`).
    pub url: String,
    /// When it joined or first ran (Unix milliseconds).
    pub joined_at_ms: i64,
    /// When it last said it runs (Unix milliseconds; a running node says so every few seconds).
    pub last_seen_ms: i64,
}

/// The management server nodes, the most recently seen first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeList {
    /// The nodes.
    pub nodes: Vec<NodeView>,
}
