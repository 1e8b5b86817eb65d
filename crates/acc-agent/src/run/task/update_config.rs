//! `update-config`: the agent fetches its policy from the management server now, instead
//! of at the next long-poll answer.

use super::Outcome;
use crate::run::{Agent, lock};

/// Fetch the policy now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateConfig;

impl UpdateConfig {
    /// Wakes the refetch; completes at once (the fetch goes on a second connection).
    pub(in crate::run) fn run(self, agent: &Agent) -> Outcome {
        agent.fetch_now.notify_one();
        let revision = lock(&agent.state).revision();
        Outcome::completed(format!("fetching the policy now (revision {revision} in force)"))
    }
}
