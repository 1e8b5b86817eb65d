//! What an agent and its site server say to each other: the headers an agent names
//! itself with, `POST /v1/register` and its answer (the agent's token, which binds its
//! id to it), the tasks of `GET /v1/tasks` and the result of `POST /v1/tasks/{id}/result`,
//! and the refusals an agent acts on.
//!
//! An agent id belongs to the agent that registered it (see `acc_core::agent_binding`):
//! the answer's [`Registered::agent_token`] goes, as [`HEADER_AGENT_TOKEN`], with every
//! later request naming the id, unless the agent's client certificate already proves it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The agent's host name (`CallerComputerName` of its logon events).
pub const HEADER_AGENT_HOST: &str = "acc-agent-host";
/// The agent's id: whose tasks, results and downloads a request is.
pub const HEADER_AGENT_ID: &str = "acc-agent-id";
/// The agent's token for its id on this site (from [`Registered::agent_token`]).
pub const HEADER_AGENT_TOKEN: &str = "acc-agent-token";

/// `POST /v1/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Registration {
    /// The agent's id (made once per installation).
    pub agent_id: String,
    /// Its host name.
    pub host: String,
    /// Its operating system.
    pub os: String,
    /// Its version.
    pub version: String,
}

/// An agent's secret for its id on one site: 256 random bits, base64url. The site keeps
/// only its SHA-256; the agent keeps it sealed at rest. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct AgentToken(String);

impl AgentToken {
    /// Wraps a token's text.
    pub fn new(text: impl Into<String>) -> AgentToken {
        AgentToken(text.into())
    }

    /// The token's text, for the header and for sealing.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for AgentToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AgentToken([REDACTED])")
    }
}

/// The state a registration answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RegisterStatus {
    /// Registered (or registered again).
    Registered,
}

/// The answer to `POST /v1/register`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Registered {
    /// Always `registered`.
    pub status: RegisterStatus,
    /// The id registered.
    pub agent_id: String,
    /// The site server's name.
    pub site: String,
    /// Who the agent authenticated as (`ACC_user`, `cert:CN=web01`).
    pub principal: String,
    /// The agent's token for this id on this site: the one it presented when that one
    /// stands, otherwise a new one (the old one no longer works).
    pub agent_token: AgentToken,
    /// The agent authenticated with a retiring ACC generation: fetch the policy now.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub policy_stale: bool,
}

/// The `error` of a site server's refusal, for the codes an agent acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The request names an agent id without its binding (token or certificate): the id
    /// is bound to another agent, or not registered here (never, forgotten, or a rebuilt
    /// site). The agent registers again.
    AgentNotBound,
    /// A registration of an id that is bound to another agent. An operator can release it
    /// with `acc site agents forget ID`.
    AgentIdTaken,
    /// The account is locked out for this client (`Retry-After` says how long).
    LockedOut,
    /// Any other refusal.
    #[serde(other)]
    Other,
}

impl ErrorCode {
    /// The wire form (`agent_not_bound` …).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::AgentNotBound => "agent_not_bound",
            ErrorCode::AgentIdTaken => "agent_id_taken",
            ErrorCode::LockedOut => "locked_out",
            ErrorCode::Other => "other",
        }
    }
}

/// A site server's refusal: `{"error": code, "message": text}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ErrorBody {
    /// What kind of refusal.
    pub error: ErrorCode,
    /// One line for people.
    pub message: String,
}

impl ErrorBody {
    /// Reads a refusal's body; `None` when it is not one.
    pub fn parse(body: &[u8]) -> Option<ErrorBody> {
        serde_json::from_slice(body).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_register_answer_carries_the_token_and_debug_hides_it() {
        let r = Registered {
            status: RegisterStatus::Registered,
            agent_id: "a1".into(),
            site: "SITE1".into(),
            principal: "ACC_user".into(),
            agent_token: AgentToken::new("s3cr3t-token"),
            policy_stale: false,
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"status":"registered","agent_id":"a1","site":"SITE1","principal":"ACC_user","agent_token":"s3cr3t-token"}"#
        );
        assert_eq!(serde_json::from_str::<Registered>(&text).unwrap(), r);
        assert!(!format!("{r:?}").contains("s3cr3t"), "{r:?}");
    }

    #[test]
    fn refusals_read_their_code_and_unknown_codes_are_other() {
        let e = ErrorBody::parse(br#"{"error":"agent_not_bound","message":"m"}"#).unwrap();
        assert_eq!(e.error, ErrorCode::AgentNotBound);
        assert_eq!(
            ErrorBody::parse(br#"{"error":"too_large","message":"m"}"#).unwrap().error,
            ErrorCode::Other
        );
        assert_eq!(ErrorBody::parse(b"not json"), None);
        for c in [ErrorCode::AgentNotBound, ErrorCode::AgentIdTaken, ErrorCode::LockedOut] {
            assert_eq!(serde_json::to_value(c).unwrap(), c.as_str());
        }
    }
}

/// The answer of `GET /v1/tasks`: the agent's tasks, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskList {
    /// The tasks handed out by this poll.
    #[serde(default)]
    pub tasks: Vec<DeliveredTask>,
}

/// A task as an agent receives it from `GET /v1/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeliveredTask {
    /// UUID, for `POST /v1/tasks/{id}/result`.
    pub id: String,
    /// What to do (`update-config`, `download-package`, `verify-package`, or a type an
    /// operator made up; an agent answers a type it does not run with a failed result).
    #[serde(rename = "type")]
    pub task_type: String,
    /// Its input.
    pub payload: Option<Value>,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// 1 on first delivery, more when redelivered after a lease ran out.
    pub delivery: u32,
}

/// How a task ended, as the agent reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResultStatus {
    /// It ran (whatever its exit code).
    Completed,
    /// It could not be carried out.
    Failed,
}

impl ResultStatus {
    /// `completed`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultStatus::Completed => "completed",
            ResultStatus::Failed => "failed",
        }
    }
}

/// The body of `POST /v1/tasks/{id}/result`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskResult {
    /// `completed` or `failed`.
    pub status: ResultStatus,
    /// The process exit code, if the task ran one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i64>,
    /// Its output (text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// Structured output (an inventory, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}
