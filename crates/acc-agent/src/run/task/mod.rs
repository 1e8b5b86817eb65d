//! The tasks a site server hands the agent (`GET /v1/tasks`), as mini-redis's `Command`:
//! the wire's `type` and `payload` parse into [`Task`], one variant per kind the agent
//! runs, each kind in its own module that parses its payload and runs it. Nothing runs
//! arbitrary commands: a kind the agent does not know is answered `failed`. A new task
//! type is a new variant, a new module and an arm in [`Task::parse`] and [`Task::run`].

mod download_package;
mod update_config;
mod verify_package;

use acc_proto::agent_site::{DeliveredTask, ResultStatus, TaskList, TaskResult};
use serde_json::Value;

pub use download_package::DownloadPackage;
pub use update_config::UpdateConfig;
pub use verify_package::VerifyPackage;

use super::Agent;

/// The tasks in a poll's answer (`GET /v1/tasks`); none when the answer cannot be read.
pub fn assigned(body: &[u8]) -> Vec<DeliveredTask> {
    serde_json::from_slice::<TaskList>(body).map(|l| l.tasks).unwrap_or_default()
}

/// A task the agent runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    /// `update-config`: fetch the policy now.
    UpdateConfig(UpdateConfig),
    /// `download-package`: bring a package into the cache.
    DownloadPackage(DownloadPackage),
    /// `verify-package`: check the cached copy against its manifest.
    VerifyPackage(VerifyPackage),
    /// A kind this agent does not run.
    Unknown(String),
}

impl Task {
    /// The task of `kind` with `payload`.
    pub fn parse(kind: &str, payload: &Value) -> Task {
        match kind {
            "update-config" => Task::UpdateConfig(UpdateConfig),
            "download-package" => Task::DownloadPackage(DownloadPackage::parse(payload)),
            "verify-package" => Task::VerifyPackage(VerifyPackage::parse(payload)),
            other => Task::Unknown(other.to_string()),
        }
    }

    /// Runs it; the outcome is the task's result.
    pub(super) async fn run(self, agent: &Agent) -> Outcome {
        match self {
            Task::UpdateConfig(t) => t.run(agent),
            Task::DownloadPackage(t) => t.run(agent).await,
            Task::VerifyPackage(t) => t.run(&agent.config.state_dir),
            Task::Unknown(kind) => Outcome::failed(format!(
                "task type '{kind}' is not one this agent runs (update-config, download-package, verify-package)"
            )),
        }
    }
}

/// How a task ended, as its result (`POST /v1/tasks/ID/result`) says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Completed or failed.
    pub status: ResultStatus,
    /// What happened, one line.
    pub output: String,
}

impl Outcome {
    fn completed(output: String) -> Outcome {
        Outcome { status: ResultStatus::Completed, output }
    }

    fn failed(output: String) -> Outcome {
        Outcome { status: ResultStatus::Failed, output }
    }

    /// The body of `POST /v1/tasks/ID/result`.
    pub fn result(self) -> TaskResult {
        TaskResult { status: self.status, exit_code: None, output: Some(self.output), data: None }
    }
}

/// The package a payload names (`name`, or `package`); empty when none.
fn package_name(payload: &Value) -> String {
    payload["name"].as_str().or_else(|| payload["package"].as_str()).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_kind_parses_into_its_task_and_others_are_unknown() {
        let name = |n: &str| n.to_string();
        assert_eq!(Task::parse("update-config", &Value::Null), Task::UpdateConfig(UpdateConfig));
        assert_eq!(
            Task::parse("download-package", &json!({"name": "tools"})),
            Task::DownloadPackage(DownloadPackage { name: name("tools") })
        );
        assert_eq!(
            Task::parse("verify-package", &json!({"package": "tools"})),
            Task::VerifyPackage(VerifyPackage { name: name("tools") })
        );
        assert_eq!(Task::parse("shell", &json!({"cmd": "rm -rf /"})), Task::Unknown(name("shell")));
    }

    #[test]
    fn a_poll_answer_reads_into_tasks_and_a_result_writes_as_the_site_expects() {
        let body = br#"{"tasks":[{"id":"t1","type":"verify-package","payload":{"name":"a"},"created_at":"2026-12-06T05:00:00.000Z","delivery":1}]}"#;
        let tasks = assigned(body);
        assert_eq!((tasks[0].id.as_str(), tasks[0].task_type.as_str()), ("t1", "verify-package"));
        assert_eq!(tasks[0].payload, Some(json!({"name": "a"})));
        assert!(assigned(b"not json").is_empty());
        let result = serde_json::to_string(&Outcome::failed("no".into()).result()).unwrap();
        assert_eq!(result, r#"{"status":"failed","output":"no"}"#);
        assert_eq!(ResultStatus::Completed.as_str(), "completed");
    }
}
