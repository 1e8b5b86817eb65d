//! acc-proto: what the management server and its site servers say to each other over
//! `/v1`, as types both sides compile against.
//!
//! - [`JoinToken`]: what `acc ctl site-token create` prints and `acc site join` reads: the
//!   server's URL, the SHA-256 of its CA certificate (so the site trusts exactly that CA
//!   without copying a file) and a one-time secret.
//! - [`JoinRequest`] / [`JoinResponse`]: `POST /v1/sites/join`.
//! - [`SitePolicy`]: `GET /v1/site/policy?after=REV&wait=S`, the part of a policy revision
//!   a site server applies (never a password: local generations carry their hash, K2).
//! - [`SiteAck`]: `POST /v1/site/ack`, what the site applied and the ACC's state there.
//! - [`EventBatch`]: `POST /v1/site/events`, a site's security events, forwarded at least
//!   once and de-duplicated by (site, sequence) on the server.
//! - [`Health`]: `GET /v1/health` of every role.
//! - [`agent_site`]: what an agent and its site server say to each other: the agent's
//!   headers, `POST /v1/register` and the token that binds the agent id, the refusals.
//! - [`authorization`]: the `Authorization` header's scheme (case-insensitive) and
//!   credentials, parsed alike by every role.
//! - [`events`]: paged searches of security events (`GET /v1/events`, `acc site events`).

pub mod agent_site;
pub mod authorization;
pub mod events;
pub mod health;
pub mod package;

pub use events::{EVENT_PAGE, EventCursor, EventPage};
pub use health::Health;

use acc_core::lockout::{GenerationAck, LockoutPolicy, ManagedGeneration};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// Prefix of a join token's text.
const JOIN_PREFIX: &str = "accjoin1.";

/// A site server join token.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinToken {
    /// The management server's URL.
    pub url: String,
    /// SHA-256 of the fleet CA certificate (DER), lower-case hex.
    pub ca_sha256: String,
    /// The secret the server checks (only its digest is stored there).
    pub secret: String,
    /// `site` (for `acc site join`) or `agent` (for `acc agent enroll`).
    #[serde(default = "site_kind")]
    pub kind: String,
}

fn site_kind() -> String {
    "site".to_string()
}

impl std::fmt::Debug for JoinToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinToken")
            .field("url", &self.url)
            .field("ca_sha256", &self.ca_sha256)
            .finish_non_exhaustive()
    }
}

/// A join token that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("join token: {0}; copy the whole line that `acc ctl site-token create` printed")]
pub struct TokenError(String);

impl JoinToken {
    /// The token's text: `accjoin1.` + base64url(JSON).
    pub fn encode(&self) -> String {
        let json = serde_json::to_vec(self).unwrap_or_default();
        format!("{JOIN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json))
    }

    /// Reads a token's text.
    pub fn decode(text: &str) -> Result<JoinToken, TokenError> {
        let body = text
            .trim()
            .strip_prefix(JOIN_PREFIX)
            .ok_or_else(|| TokenError("it does not start with 'accjoin1.'".into()))?;
        let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenError("it is not base64url after 'accjoin1.' (truncated?)".into()))?;
        let token: JoinToken =
            serde_json::from_slice(&json).map_err(|_| TokenError("its content is damaged".into()))?;
        let hex_ok = token.ca_sha256.len() == 64 && token.ca_sha256.bytes().all(|b| b.is_ascii_hexdigit());
        if !hex_ok || !token.url.starts_with("https://") || token.secret.is_empty() {
            return Err(TokenError("its content is damaged".into()));
        }
        Ok(token)
    }
}

/// `POST /v1/sites/join`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// The token's secret.
    pub secret: String,
    /// The site server's name (its certificate's CN).
    pub name: String,
    /// Where agents reach the site (`https://host:port`).
    pub url: String,
    /// A PKCS#10 request (PEM) for the site's client key; the server sets the subject.
    pub csr_pem: String,
    /// A deliberate re-join: replace the site already joined under this name (its
    /// certificate is then refused). Without it, a name in use is refused.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub replace: bool,
}

impl std::fmt::Debug for JoinRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinRequest")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("replace", &self.replace)
            .finish_non_exhaustive()
    }
}

/// The answer to a join.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JoinResponse {
    /// The site's client certificate (PEM), from the fleet CA.
    pub certificate_pem: String,
    /// The fleet CA certificate (PEM).
    pub ca_pem: String,
    /// The site this join replaced (a deliberate re-join), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced: Option<ReplacedSite>,
}

/// A joined site that a deliberate re-join under its name replaced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplacedSite {
    /// Where agents reached it.
    pub url: String,
    /// When it joined (Unix milliseconds).
    pub joined_at_ms: i64,
    /// Its client certificate's serial (upper-case hex), refused from now on.
    pub serial_hex: String,
}

/// The policy a site server applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SitePolicy {
    /// The policy revision.
    pub revision: i64,
    /// Lockout policy and ACC site settings.
    pub lockout: LockoutPolicy,
    /// The managed ACC generations in provisioning, active or retiring.
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
    pub app_id: Option<acc_core::lockout::AppIdName>,
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageFile {
    /// Its path in the package, `/` between components.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// A package version: where it lives (a package source share) and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackageManifest {
    /// The package source (share), e.g. `software-library`.
    pub share: String,
    /// The package's name: its top-level folder in the share.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its files, sorted by path.
    pub files: Vec<PackageFile>,
}

/// A site's replication of one assigned package, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageState {
    /// The share.
    pub share: String,
    /// The package.
    pub name: String,
    /// The version assigned.
    pub wanted: String,
    /// The version in place on the site (the previous one while a refresh fails).
    pub version: Option<String>,
    /// `replicated`, `replicating` or `failed`.
    pub status: String,
    /// Why it failed (the package-refresh error of 5.6 for an access denial).
    pub message: Option<String>,
    /// Bytes in place of the wanted version.
    #[serde(default)]
    pub bytes: u64,
}

/// `POST /v1/site/packages`: the state of every assigned package on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageReport {
    /// One per assigned package.
    pub packages: Vec<PackageState>,
}

/// `POST /v1/agent/enroll`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The enrollment token's secret.
    pub secret: String,
    /// The agent's host name (its certificate's CN).
    pub host_name: String,
    /// A PKCS#10 request (PEM) for the agent's key; the server sets the subject.
    pub csr_pem: String,
}

impl std::fmt::Debug for EnrollRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnrollRequest").field("host_name", &self.host_name).finish_non_exhaustive()
    }
}

/// One account's state on a site, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountState {
    /// The account name.
    pub name: String,
    /// `enabled`, `disabled` or `locked`.
    pub state: String,
}

/// `POST /v1/site/ack`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteAck {
    /// The revision applied.
    pub revision: i64,
    /// One per local-form generation (3.2.4 P2).
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_tokens_round_trip_and_damage_is_named() {
        let t = JoinToken {
            url: "https://127.0.0.1:8443".into(),
            ca_sha256: "ab".repeat(32),
            secret: "s3cret".into(),
            kind: "agent".into(),
        };
        let text = t.encode();
        assert!(text.starts_with("accjoin1.") && !text.contains(' '));
        assert_eq!(JoinToken::decode(&format!(" {text}\n")).unwrap(), t);
        assert!(!format!("{t:?}").contains("s3cret"));
        for bad in ["", "accjoin1.", "accjoin1.!!", &text[..text.len() - 6], "joinme"] {
            let e = JoinToken::decode(bad).unwrap_err().to_string();
            assert!(e.starts_with("join token: ") && e.contains("acc ctl site-token create"), "{e}");
        }
    }
}

/// One forwarded security event: the columns a search needs and the event itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventBatch {
    /// Events in sequence order.
    pub events: Vec<ForwardedEvent>,
}

/// A site server as agents see it: where to reach it and the CA its TLS certificate
/// chains to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteEndpoint {
    /// The site's name.
    pub name: String,
    /// `https://host:port`.
    pub url: String,
    /// The CA certificate (PEM) of the site's TLS server certificate, once reported.
    #[serde(default)]
    pub ca_pem: Option<String>,
}

/// How an agent authenticates to site servers, with the credential when it needs one.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentAuth {
    /// `application`, `credential` or `certificate`.
    pub mode: String,
    /// The user name to present (`CORP\svc_acc_app` in application mode).
    #[serde(default)]
    pub user_name: Option<String>,
    /// Its password, sent over the agent's mTLS channel only.
    #[serde(default)]
    pub password: Option<String>,
    /// The ACC generation the credential belongs to.
    #[serde(default)]
    pub generation: Option<u32>,
}

impl std::fmt::Debug for AgentAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentAuth")
            .field("mode", &self.mode)
            .field("user_name", &self.user_name)
            .field("generation", &self.generation)
            .finish_non_exhaustive()
    }
}

/// The failed attempts an agent may make: never more than `threshold − 2` per window
/// (specification 2.5); `threshold` is the classic threshold, the smart source threshold,
/// or the directory's for domain-form names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentLimits {
    /// The threshold T that applies to the agent (0: no lockout).
    pub threshold: u32,
    /// The observation window in seconds.
    pub window_secs: u64,
}

/// `GET /v1/agent/policy?after=REV&force=F&wait=S`: what an agent applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentPolicy {
    /// The policy revision.
    pub revision: i64,
    /// The server's update-config counter for agents (as [`SitePolicy::force`]).
    #[serde(default)]
    pub force: u64,
    /// Authentication to site servers.
    pub auth: AgentAuth,
    /// Its retry budget.
    pub limits: AgentLimits,
    /// The site servers, in the order to try them.
    pub site_servers: Vec<SiteEndpoint>,
}

/// `POST /v1/agent/checkin`: what the agent holds and how it is doing. Sent after every
/// policy it applied (or failed to) and periodically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentCheckIn {
    /// The check-in counter, kept by the agent across restarts; it never goes back on one
    /// machine, so a value that does reveals two machines sharing one identity.
    pub seq: u64,
    /// The policy revision the agent runs with.
    pub revision: i64,
    /// A newer revision it could not apply, with the reason (`policy_failed`).
    #[serde(default)]
    pub failed_revision: Option<i64>,
    /// Why that revision failed.
    #[serde(default)]
    pub failure: Option<String>,
    /// The authentication mode in use.
    pub auth_mode: String,
    /// The credential's user name in use (never its secret).
    #[serde(default)]
    pub user_name: Option<String>,
    /// The ACC generation in use.
    #[serde(default)]
    pub generation: Option<u32>,
    /// The site server it uses.
    #[serde(default)]
    pub site_server: Option<String>,
    /// Whether that site server answered its last request.
    #[serde(default)]
    pub site_reachable: Option<bool>,
    /// The packages in its cache (`name@version`).
    #[serde(default)]
    pub packages: Vec<String>,
    /// The agent's version.
    #[serde(default)]
    pub version: String,
}

/// `POST /v1/site/directory/logon`: a domain-form attempt a site forwards to the
/// directory (specification 2.4 D2), over the site's mTLS channel.
#[derive(Clone, Serialize, Deserialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryAnswer {
    /// What to answer the agent (2.5).
    pub outcome: acc_core::lockout::Outcome,
    /// The account's SID, when the directory knows the name.
    pub sid: Option<String>,
    /// The directory's NetBIOS name (`TargetDomainName`).
    pub domain: String,
}
