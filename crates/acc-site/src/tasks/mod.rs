//! Task server: work an operator sends to one agent, delivered by long-poll, answered
//! with a result. This module owns the task vocabulary, the limits and the input checks;
//! [`store`] owns the `tasks` table, [`queue`] the in-memory index that wakes waiting
//! long-polls, [`ops`] the operations (send, poll, result, list, show) on a [`Site`].
//! The HTTP routes are in `api::tasks`, the command line in `acc site tasks`.
//!
//! A task moves `pending` → `delivered` → `completed` | `failed`, or `expired` when it was
//! delivered [`MAX_DELIVERIES`] times and no result came within each [`LEASE_SECS`] lease.
//! Every transition is durable before it is acknowledged.
//!
//! [`Site`]: crate::site::Site

pub mod ops;
pub mod queue;
pub mod store;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest task type.
pub const MAX_TYPE_LEN: usize = 64;
/// Largest payload, as compact JSON.
pub const MAX_PAYLOAD_BYTES: usize = 32 * 1024;
/// Longest long-poll (`GET /v1/tasks?wait=`), below the listener's 75 s idle timeout.
pub const MAX_WAIT_SECS: u64 = 60;
/// Most tasks in one poll response; the rest come with the next poll.
pub const MAX_TASKS_PER_POLL: usize = 32;
/// How long a delivered task waits for its result before it is delivered again.
pub const LEASE_SECS: u64 = 300;
/// Deliveries without a result after which a task expires.
pub const MAX_DELIVERIES: u32 = 3;
/// Open (pending or delivered) tasks one agent may have.
pub const MAX_OPEN_PER_AGENT: usize = 1000;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskState {
    /// Sent, not yet handed to the agent.
    Pending,
    /// Handed to the agent; its result is awaited.
    Delivered,
    /// The agent reported success.
    Completed,
    /// The agent reported failure.
    Failed,
    /// Delivered [`MAX_DELIVERIES`] times without a result.
    Expired,
}

impl TaskState {
    /// The stored and displayed name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Pending => "pending",
            TaskState::Delivered => "delivered",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Expired => "expired",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(text: &str) -> Option<TaskState> {
        [Self::Pending, Self::Delivered, Self::Completed, Self::Failed, Self::Expired]
            .into_iter()
            .find(|s| s.as_str() == text)
    }

    /// Completed, failed or expired: no result is accepted any more.
    pub fn is_final(self) -> bool {
        matches!(self, TaskState::Completed | TaskState::Failed | TaskState::Expired)
    }
}

/// A task as administrators see it (`acc site tasks show --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskView {
    /// UUID.
    pub id: String,
    /// The agent it was sent to.
    pub agent_id: String,
    /// What to do (`inventory`, `run-script` …).
    #[serde(rename = "type")]
    pub task_type: String,
    /// Its input.
    pub payload: Option<Value>,
    /// Where it is.
    pub state: TaskState,
    /// Sent (RFC 3339).
    pub created_at: String,
    /// Last handed to the agent.
    pub delivered_at: Option<String>,
    /// Result received or expiry.
    pub completed_at: Option<String>,
    /// Times it was handed to the agent.
    pub deliveries: u32,
    /// The agent's result.
    pub result: Option<Value>,
}

pub use acc_proto::agent_site::{DeliveredTask, ResultStatus, TaskResult};

/// Why a task operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// Tasks go to registered agents only: an unknown id is most likely a typo.
    #[error(
        "agent '{0}' has never registered with this site server; see `acc site agents` for the registered ids"
    )]
    UnknownAgent(String),
    /// A task type that is empty, too long or not printable.
    #[error(
        "task type '{0}': use 1 to {MAX_TYPE_LEN} printable ASCII characters without spaces (e.g. inventory, run-script)"
    )]
    BadType(String),
    /// A payload over [`MAX_PAYLOAD_BYTES`].
    #[error("task payload: {0} bytes of JSON is over the limit of {MAX_PAYLOAD_BYTES} bytes")]
    PayloadTooLarge(usize),
    /// The agent already has [`MAX_OPEN_PER_AGENT`] open tasks.
    #[error(
        "agent '{0}' already has {MAX_OPEN_PER_AGENT} open tasks (pending or delivered); wait for their results before sending more"
    )]
    TooManyOpen(String),
    /// No task has this id.
    #[error("no task with id '{0}'")]
    NotFound(String),
    /// The task was sent to another agent.
    #[error("task {id} was not sent to agent '{agent}'")]
    WrongAgent {
        /// The task.
        id: String,
        /// Who asked.
        agent: String,
    },
    /// A result for a task that already has one (or expired).
    #[error("task {id} is already {state}; a result is accepted once")]
    Finished {
        /// The task.
        id: String,
        /// Its final state.
        state: &'static str,
    },
    /// A result for a task the agent has not received.
    #[error("task {0} has not been delivered yet; receive it with GET /v1/tasks first")]
    NotDelivered(String),
    /// The agent's binding no longer stands for the long-poll that waited under it (the id
    /// was forgotten, or registered again with a new token).
    #[error(transparent)]
    NotBound(#[from] crate::agents::NotBound),
    /// The database failed.
    #[error("site database: {0}")]
    Database(String),
    /// The task's writes were not committed.
    #[error("site database: {0}")]
    Write(#[from] crate::writer::WriteError),
}

impl From<sqlx::Error> for TaskError {
    fn from(e: sqlx::Error) -> Self {
        TaskError::Database(e.to_string())
    }
}

/// Checks a task type.
pub fn check_type(task_type: &str) -> Result<(), TaskError> {
    let ok = (1..=MAX_TYPE_LEN).contains(&task_type.len()) && task_type.bytes().all(|b| b.is_ascii_graphic());
    if ok { Ok(()) } else { Err(TaskError::BadType(task_type.to_string())) }
}

/// Checks a payload and returns it as stored (compact JSON); `null` is no payload.
pub fn payload_text(payload: Option<&Value>) -> Result<Option<String>, TaskError> {
    match payload {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let text = v.to_string();
            if text.len() > MAX_PAYLOAD_BYTES {
                return Err(TaskError::PayloadTooLarge(text.len()));
            }
            Ok(Some(text))
        }
    }
}

/// The canonical (hyphenated, lower-case) form of a task id, or `NotFound`.
pub fn canonical_id(id: &str) -> Result<String, TaskError> {
    uuid::Uuid::try_parse(id.trim())
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| TaskError::NotFound(id.chars().take(64).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_short_printable_words() {
        for good in ["inventory", "run-script", "a", "x.y:z_1", &"t".repeat(MAX_TYPE_LEN)] {
            assert!(check_type(good).is_ok(), "{good}");
        }
        for bad in ["", "run script", "tab\t", "zoë", &"t".repeat(MAX_TYPE_LEN + 1), "nul\0"] {
            let err = check_type(bad).unwrap_err().to_string();
            assert!(err.starts_with("task type '"), "{err}");
        }
    }

    #[test]
    fn payloads_are_bounded_and_null_is_none() {
        assert_eq!(payload_text(None).unwrap(), None);
        assert_eq!(payload_text(Some(&Value::Null)).unwrap(), None);
        assert_eq!(payload_text(Some(&serde_json::json!({"a": 1}))).unwrap().as_deref(), Some(r#"{"a":1}"#));
        let big = Value::String("x".repeat(MAX_PAYLOAD_BYTES));
        assert!(matches!(payload_text(Some(&big)), Err(TaskError::PayloadTooLarge(_))));
    }

    #[test]
    fn ids_are_uuids_in_one_form() {
        let id = "6F9619FF-8B86-D011-B42D-00C04FC964FF";
        assert_eq!(canonical_id(id).unwrap(), id.to_lowercase());
        assert_eq!(canonical_id("6f9619ff8b86d011b42d00c04fc964ff").unwrap(), id.to_lowercase());
        assert_eq!(canonical_id("../etc").unwrap_err(), TaskError::NotFound("../etc".into()));
    }

    #[test]
    fn results_are_strict() {
        let ok: TaskResult =
            serde_json::from_str(r#"{"status":"failed","exit_code":2,"output":"x"}"#).unwrap();
        assert_eq!((ok.status, ok.exit_code), (ResultStatus::Failed, Some(2)));
        for bad in [r#"{}"#, r#"{"status":"done"}"#, r#"{"status":"completed","colour":1}"#] {
            assert!(serde_json::from_str::<TaskResult>(bad).is_err(), "{bad}");
        }
    }
}
