//! The agents as the admin API shows them (`GET /v1/agents`): where each stands
//! ([`AgentStatus`]), its certificate and its last check-in.

use serde::{Deserialize, Serialize};

use crate::agent::AuthMode;

/// Where an agent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Enrolled, not yet checked in.
    Enrolled,
    /// Checked in, has applied no policy yet.
    Polling,
    /// Runs the revision in force.
    Current,
    /// Runs an older revision.
    Behind,
    /// Could not apply its last policy.
    PolicyFailed,
}

impl AgentStatus {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Enrolled => "enrolled",
            AgentStatus::Polling => "polling",
            AgentStatus::Current => "current",
            AgentStatus::Behind => "behind",
            AgentStatus::PolicyFailed => "policy_failed",
        }
    }
}

/// One agent of `GET /v1/agents`: its certificate and its last check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentView {
    /// Its host name (the certificate's CN).
    pub name: String,
    /// Its certificate's serial (upper-case hex).
    pub serial: String,
    /// Its certificate's issuer.
    pub issuer: String,
    /// Its certificate's expiry (Unix milliseconds).
    pub cert_not_after: Option<i64>,
    /// Its certificate is revoked.
    pub revoked: bool,
    /// Where it stands.
    pub status: AgentStatus,
    /// The revision it runs (`None`: not checked in).
    pub revision: Option<i64>,
    /// The revision it failed to apply.
    #[serde(default)]
    pub failed_revision: Option<i64>,
    /// Why.
    #[serde(default)]
    pub failure: Option<String>,
    /// How it authenticates to site servers.
    #[serde(default)]
    pub auth_mode: Option<AuthMode>,
    /// The credential's user name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The credential's generation.
    #[serde(default)]
    pub generation: Option<u32>,
    /// The site server it uses.
    #[serde(default)]
    pub site_server: Option<String>,
    /// Whether it reached it.
    #[serde(default)]
    pub site_reachable: Option<bool>,
    /// The packages it holds.
    #[serde(default)]
    pub packages: Vec<String>,
    /// The agent's version.
    #[serde(default)]
    pub version: Option<String>,
    /// Its last check-in (Unix milliseconds).
    pub last_check_in: Option<i64>,
    /// The address it checked in from.
    #[serde(default)]
    pub address: Option<String>,
    /// Another machine that checked in with this identity.
    pub duplicate: Option<String>,
}

/// `GET /v1/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentList {
    /// The agents, by name.
    pub agents: Vec<AgentView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_agent_status_is_a_word_on_the_wire() {
        assert_eq!(json!(AgentStatus::PolicyFailed), json!("policy_failed"));
        for s in [AgentStatus::Enrolled, AgentStatus::Polling, AgentStatus::Behind] {
            assert_eq!(json!(s), json!(s.as_str()));
        }
    }
}
