//! Tasks the management server sends: `POST /v1/tasks`.

use serde::{Deserialize, Serialize};

/// What a task does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub enum TaskKind {
    /// Every target fetches its policy now and applies it again.
    #[serde(rename = "update-config")]
    UpdateConfig,
}

impl TaskKind {
    /// The wire word (`update-config`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskKind::UpdateConfig => "update-config",
        }
    }
}

/// Who a task goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TaskTarget {
    /// The site servers.
    Sites,
    /// The agents.
    Agents,
    /// Both.
    All,
}

impl TaskTarget {
    /// The wire word (`sites`, `agents`, `all`).
    pub const fn as_str(self) -> &'static str {
        match self {
            TaskTarget::Sites => "sites",
            TaskTarget::Agents => "agents",
            TaskTarget::All => "all",
        }
    }
}

/// A word that is not a task kind or target, named with the words there are.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{word}': use {allowed}")]
pub struct UnknownWord {
    word: String,
    allowed: &'static str,
}

impl std::str::FromStr for TaskKind {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "update-config" => Ok(TaskKind::UpdateConfig),
            _ => Err(UnknownWord { word: s.to_string(), allowed: "update-config" }),
        }
    }
}

impl std::str::FromStr for TaskTarget {
    type Err = UnknownWord;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "sites" => Ok(TaskTarget::Sites),
            "agents" => Ok(TaskTarget::Agents),
            "all" => Ok(TaskTarget::All),
            _ => Err(UnknownWord { word: s.to_string(), allowed: "sites, agents or all" }),
        }
    }
}

/// `POST /v1/tasks`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskRequest {
    /// What to do.
    #[serde(rename = "type")]
    pub kind: TaskKind,
    /// To whom.
    pub to: TaskTarget,
}

/// The answer to [`TaskRequest`]: how many of each it reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TaskSent {
    /// What was sent.
    #[serde(rename = "type")]
    pub kind: TaskKind,
    /// Site servers told.
    pub sites: usize,
    /// Agents told.
    pub agents: usize,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_words_round_trip_and_unknown_ones_are_named() {
        let r = TaskRequest { kind: TaskKind::UpdateConfig, to: TaskTarget::All };
        assert_eq!(serde_json::to_string(&r).unwrap(), r#"{"type":"update-config","to":"all"}"#);
        for t in [TaskTarget::Sites, TaskTarget::Agents, TaskTarget::All] {
            assert_eq!(t.as_str().parse::<TaskTarget>().unwrap(), t);
            assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
        }
        assert_eq!(TaskKind::UpdateConfig.as_str().parse::<TaskKind>().unwrap(), TaskKind::UpdateConfig);
        assert_eq!(
            "printers".parse::<TaskTarget>().unwrap_err().to_string(),
            "'printers': use sites, agents or all"
        );
    }
}
