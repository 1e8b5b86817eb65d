//! What an agent and the management server say to each other over the agent's mTLS
//! channel: `GET /v1/agent/policy` and `POST /v1/agent/checkin`.

use serde::{Deserialize, Serialize};

/// How agents authenticate to site servers (Global agent settings, Authentication).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// "Use Application Credentials": the App ID, a domain account (the seeds' default).
    #[default]
    Application,
    /// "Use these credentials": the Agent Connectivity Credential.
    Credential,
    /// Client certificates from the fleet CA or a trusted operator CA.
    Certificate,
}

impl AuthMode {
    /// `application`, `credential` or `certificate`.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthMode::Application => "application",
            AuthMode::Credential => "credential",
            AuthMode::Certificate => "certificate",
        }
    }
}

impl std::fmt::Display for AuthMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A site server as agents see it: where to reach it and the CA its TLS certificate
/// chains to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentAuth {
    /// The mode.
    pub mode: AuthMode,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentLimits {
    /// The threshold T that applies to the agent (0: no lockout).
    pub threshold: u32,
    /// The observation window in seconds.
    pub window_secs: u64,
}

/// `GET /v1/agent/policy?after=REV&force=F&wait=S`: what an agent applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// The management server nodes (`https://host:port`), in the order to try them; the
    /// agent replaces its list with it (empty from an older server: keep the list).
    #[serde(default)]
    pub servers: Vec<String>,
}

/// `POST /v1/agent/checkin`: what the agent holds and how it is doing. Sent after every
/// policy it applied (or failed to) and periodically.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
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
    pub auth_mode: AuthMode,
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

/// The answer to `POST /v1/agent/checkin`: recorded, and the revision in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CheckInAnswer {
    /// Always `ok`.
    pub status: crate::health::HealthStatus,
    /// The policy revision in force on the server.
    pub revision: i64,
}
