//! The task server's operations on a [`Site`]: send (administrators), poll and result
//! (agents, through `api::tasks`), list and show. Each returns once its change is durable.

use std::time::Duration;

use serde_json::Value;

use super::queue::Finish;
use super::store::{self, TaskQuery, TaskWrite};
use super::{
    DeliveredTask, MAX_TASKS_PER_POLL, ResultStatus, TaskError, TaskResult, TaskState, TaskView,
    canonical_id, check_type, payload_text,
};
use crate::site::Site;
use crate::store::Write;

impl Site {
    /// `acc site tasks send`: queues a task for a registered agent and wakes its waiting
    /// long-polls; returns the task once its creation is durable.
    pub async fn send_task(
        &self,
        agent: &str,
        task_type: &str,
        payload: Option<&Value>,
    ) -> Result<TaskView, TaskError> {
        check_type(task_type)?;
        let payload = payload_text(payload)?;
        let known: Option<String> = sqlx::query_scalar("SELECT agent_id FROM agents WHERE agent_id = ?")
            .bind(agent)
            .fetch_optional(self.pool())
            .await?;
        if known.is_none() {
            return Err(TaskError::UnknownAgent(agent.to_string()));
        }
        self.task_queue().check_room(agent)?;
        let id = uuid::Uuid::new_v4().hyphenated().to_string();
        let created = TaskWrite::Created {
            id: id.clone(),
            agent_id: agent.to_string(),
            task_type: task_type.to_string(),
            payload,
            at: self.now_ms(),
        };
        self.writer().submit(vec![Write::Task(created)]).durable().await.map_err(TaskError::from)?;
        self.task_queue().insert(agent, &id);
        tracing::info!(task = %id, agent, task_type, "Task sent.");
        store::get(self.pool(), &id).await?.ok_or(TaskError::NotFound(id))
    }

    /// `GET /v1/tasks?wait=`: the agent's due tasks at once (durably marked delivered), or
    /// the first ones sent within `wait`, or none when `wait` passes or the server begins to
    /// stop. The caller checked
    /// `claim` (the request's proof of the id); it is checked again at every wake, so a
    /// poll does not outlive its binding (forgotten, or bound anew).
    pub async fn poll_tasks(
        &self,
        agent: &str,
        claim: &crate::agents::Claim,
        wait: Duration,
    ) -> Result<Vec<DeliveredTask>, TaskError> {
        let deadline = tokio::time::Instant::now() + wait;
        let waiter = self.task_queue().waiter(agent);
        loop {
            let notified = waiter.notified();
            self.check_claim(agent, claim)?;
            let now = self.now_ms();
            let (taken, pending) = self.task_queue().take_due(agent, now, MAX_TASKS_PER_POLL, self.writer());
            if let Some(p) = pending {
                p.durable().await.map_err(TaskError::from)?;
            }
            if !taken.delivered.is_empty() {
                return store::delivered(self.pool(), &taken.delivered).await;
            }
            let start = tokio::time::Instant::now();
            if start >= deadline {
                return Ok(Vec::new());
            }
            // A lease that ends during the wait makes its task due again.
            let lease_wake = taken.next_lease_end.map(|end| {
                start + Duration::from_millis(u64::try_from(end.saturating_sub(now)).unwrap_or(0))
            });
            let wake = lease_wake.map_or(deadline, |w| w.min(deadline));
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep_until(wake) => {}
                // The server is stopping: answer now rather than hold the shutdown.
                () = self.stopping() => return Ok(Vec::new()),
            }
        }
    }

    /// `POST /v1/tasks/{id}/result` from `agent`.
    pub async fn post_task_result(
        &self,
        agent: &str,
        id: &str,
        result: &TaskResult,
    ) -> Result<TaskState, TaskError> {
        let id = canonical_id(id)?;
        let state = match result.status {
            ResultStatus::Completed => TaskState::Completed,
            ResultStatus::Failed => TaskState::Failed,
        };
        let text = serde_json::to_string(result).map_err(|e| TaskError::Database(e.to_string()))?;
        let at = self.now_ms();
        let write = || TaskWrite::Finished { id: id.clone(), state, at, result: Some(text) };
        match self.task_queue().finish(&id, agent, write, self.writer())? {
            Finish::Done(pending) => {
                pending.durable().await.map_err(TaskError::from)?;
                tracing::info!(task = %id, agent, state = state.as_str(), "Task result received.");
                Ok(state)
            }
            Finish::NotOpen(barrier) => {
                barrier.durable().await.map_err(TaskError::from)?;
                match store::get(self.pool(), &id).await? {
                    None => Err(TaskError::NotFound(id)),
                    Some(t) if t.agent_id != agent => {
                        Err(TaskError::WrongAgent { id, agent: agent.to_string() })
                    }
                    Some(t) => Err(TaskError::Finished { id, state: t.state.as_str() }),
                }
            }
        }
    }

    /// `acc site tasks list`: most recent first.
    pub async fn tasks(&self, q: &TaskQuery) -> Result<Vec<TaskView>, TaskError> {
        store::list(self.pool(), q).await
    }

    /// `acc site tasks show ID`.
    pub async fn task(&self, id: &str) -> Result<TaskView, TaskError> {
        let id = canonical_id(id)?;
        store::get(self.pool(), &id).await?.ok_or(TaskError::NotFound(id))
    }

    /// Agents' long-polls waiting now.
    pub fn task_waiters(&self) -> usize {
        self.task_queue().waiters()
    }
}
