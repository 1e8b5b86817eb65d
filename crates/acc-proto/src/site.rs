//! What a joined site server and the management server say to each other over the site's
//! mTLS channel: `GET /v1/site/policy`, `POST /v1/site/ack`, `POST /v1/site/events` and
//! `POST /v1/site/directory/logon`.

use acc_core::lockout::{GenerationAck, LockoutPolicy, ManagedGeneration};
use serde::{Deserialize, Serialize};

use crate::package::PackageManifest;

/// The policy a site server applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SitePolicy {
    /// The policy revision.
    pub revision: i64,
    /// Lockout policy and ACC site settings.
    #[schemars(with = "serde_json::Value", description = "As acc-core defines it.")]
    pub lockout: LockoutPolicy,
    /// The managed ACC generations in provisioning, active or retiring.
    #[schemars(with = "Vec<serde_json::Value>")]
    pub generations: Vec<ManagedGeneration>,
    /// CA certificates (PEM) agents' client certificates may chain to: the fleet CA, then
    /// the operator CAs added with `acc ctl trust add`.
    #[serde(default)]
    pub trust_pems: Vec<String>,
    /// The fleet CA's current CRL (PEM).
    #[serde(default)]
    pub crl_pem: Option<String>,
    /// The server's update-config counter: a site polls with the last one it saw and gets
    /// the policy again, to re-apply, when an operator sent `update-config` since.
    #[serde(default)]
    pub force: u64,
    /// The maximum size of the site's security event log, in bytes (absent from an older
    /// server: the site keeps its own).
    #[serde(default)]
    pub event_log_max_size: Option<u64>,
    /// The packages assigned to this site, which it replicates (as the ACC).
    #[serde(default)]
    pub packages: Vec<PackageManifest>,
    /// The App ID, so the site writes its logons with `AuthenticationPackageName`
    /// `acc-app-id` ("Use Application Credentials").
    #[serde(default)]
    #[schemars(with = "Option<serde_json::Value>", description = "As acc-core defines it.")]
    pub app_id: Option<acc_core::lockout::AppIdName>,
    /// The management server nodes (`https://host:port`), in the order to try them; the
    /// site replaces its list with it (empty from an older server: keep the list).
    #[serde(default)]
    pub servers: Vec<String>,
}

/// One account's state on a site, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AccountState {
    /// The account name.
    pub name: String,
    /// `enabled`, `disabled` or `locked`.
    pub state: String,
}

/// `POST /v1/site/ack`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteAck {
    /// The revision applied.
    pub revision: i64,
    /// One per local-form generation (3.2.4 P2).
    #[schemars(with = "Vec<serde_json::Value>")]
    pub generations: Vec<GenerationAck>,
    /// The managed accounts' states.
    pub accounts: Vec<AccountState>,
    /// A failure to apply, with its message.
    pub error: Option<String>,
    /// Where agents reach the site now (its bound address), when known.
    #[serde(default)]
    pub url: Option<String>,
    /// thisUpdate of the fleet CRL the site enforces (Unix milliseconds).
    #[serde(default)]
    pub crl_this_update_ms: Option<i64>,
    /// nextUpdate of that CRL (Unix milliseconds).
    #[serde(default)]
    pub crl_next_update_ms: Option<i64>,
    /// The CA certificate (PEM) of the site's TLS server certificate, which agents trust
    /// for this site.
    #[serde(default)]
    pub tls_ca_pem: Option<String>,
}

/// One forwarded security event: the columns a search needs and the event itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ForwardedEvent {
    /// The site's sequence number (`Seq`).
    pub seq: i64,
    /// `EventID` as text (`4740`, `acc.refresh`).
    pub event_id: String,
    /// `TimeCreated`, Unix milliseconds.
    pub time_ms: i64,
    /// `TargetUserName`, lower case, when the event has one.
    pub target_user: Option<String>,
    /// The whole event (JSON object).
    pub body: serde_json::Value,
}

/// `POST /v1/site/events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventBatch {
    /// Events in sequence order.
    pub events: Vec<ForwardedEvent>,
}

/// `POST /v1/site/directory/logon`: a domain-form attempt a site forwards to the
/// directory (specification 2.4 D2), over the site's mTLS channel.
#[derive(Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DirectoryLogon {
    /// The name as presented (`CORP\acc_svc`, `acc_svc@corp.local`).
    pub user_name: String,
    /// The password presented.
    pub password: String,
    /// The agent's host name (`CallerComputerName`).
    pub workstation: String,
    /// The agent's address.
    pub ip: std::net::IpAddr,
    /// The agent's port.
    pub port: u16,
}

impl std::fmt::Debug for DirectoryLogon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryLogon")
            .field("user_name", &self.user_name)
            .field("workstation", &self.workstation)
            .field("ip", &self.ip)
            .finish_non_exhaustive()
    }
}

/// The directory's decision on a [`DirectoryLogon`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryAnswer {
    /// What to answer the agent (2.5).
    #[schemars(with = "serde_json::Value", description = "As acc-core defines it.")]
    pub outcome: acc_core::lockout::Outcome,
    /// The account's SID, when the directory knows the name.
    pub sid: Option<String>,
    /// The directory's NetBIOS name (`TargetDomainName`).
    pub domain: String,
}

/// The answer to a report a site sends (`POST /v1/site/ack`, `POST /v1/site/packages`):
/// `{"status":"ok"}` once it is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Recorded {
    /// Always `ok`.
    pub status: crate::health::HealthStatus,
}

impl Recorded {
    /// Recorded.
    pub const OK: Recorded = Recorded { status: crate::health::HealthStatus::Ok };
}

/// The answer to `POST /v1/site/events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EventsStored {
    /// How many of the batch's events were new.
    pub stored: u64,
    /// The batch's highest sequence number (none for an empty batch).
    pub last_seq: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_answers_to_a_site_keep_their_wire_form() {
        assert_eq!(serde_json::to_string(&Recorded::OK).unwrap(), r#"{"status":"ok"}"#);
        let stored = EventsStored { stored: 2, last_seq: Some(9) };
        assert_eq!(serde_json::to_string(&stored).unwrap(), r#"{"stored":2,"last_seq":9}"#);
        let answer = crate::agent::CheckInAnswer { status: crate::health::HealthStatus::Ok, revision: 4 };
        assert_eq!(serde_json::to_string(&answer).unwrap(), r#"{"status":"ok","revision":4}"#);
    }
}
