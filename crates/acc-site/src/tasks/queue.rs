//! The in-memory index of open tasks, per agent, with the `Notify` that wakes an agent's
//! waiting long-polls. An idle long-poll costs one map entry and one parked future: no
//! thread, no timer loop, no database read.
//!
//! The index changes under its lock and the matching [`TaskWrite`] is queued to the
//! group-commit writer under the same lock, so the database sees a task's transitions in
//! the order memory made them. Callers await durability after the lock is released.
//! Final tasks leave the index; the database keeps them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

use super::store::{OpenRow, TaskWrite};
use super::{LEASE_SECS, MAX_DELIVERIES, MAX_OPEN_PER_AGENT, TaskError, TaskState};
use crate::store::Write;
use crate::writer::{Pending, Writer};

/// Open tasks of every agent.
#[derive(Debug, Default)]
pub struct TaskQueue {
    inner: Mutex<Index>,
}

#[derive(Debug, Default)]
struct Index {
    agents: HashMap<String, AgentTasks>,
    /// Open task id → its agent.
    owners: HashMap<String, String>,
    /// Long-polls waiting now, all agents.
    waiters: usize,
}

#[derive(Debug, Default)]
struct AgentTasks {
    /// In the order sent.
    open: Vec<OpenTask>,
    notify: Arc<Notify>,
    waiters: usize,
}

#[derive(Debug)]
struct OpenTask {
    id: String,
    delivered_at: Option<i64>,
    deliveries: u32,
}

/// What one poll took from an agent's open tasks.
#[derive(Debug, Default)]
pub struct Taken {
    /// Task ids handed to the agent now.
    pub delivered: Vec<String>,
    /// When the earliest lease still running ends (to wake a waiting poll then).
    pub next_lease_end: Option<i64>,
}

/// How a result found its task.
pub enum Finish {
    /// The task was open and is now final; the write is queued.
    Done(Pending),
    /// The task is not open: it is final or unknown; the pending barrier makes every
    /// earlier write durable, after which the database answers.
    NotOpen(Pending),
}

/// One waiting long-poll; leaving (or being dropped with its request) unregisters it.
#[derive(Debug)]
pub struct Waiter<'a> {
    queue: &'a TaskQueue,
    agent: String,
    notify: Arc<Notify>,
}

impl Waiter<'_> {
    /// A future that completes at the next send to this agent. Create it before looking
    /// at the tasks: a send after its creation wakes it even if it was not yet polled.
    pub fn notified(&self) -> tokio::sync::futures::OwnedNotified {
        self.notify.clone().notified_owned()
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let mut g = self.queue.lock();
        g.waiters = g.waiters.saturating_sub(1);
        if let Some(a) = g.agents.get_mut(&self.agent) {
            a.waiters = a.waiters.saturating_sub(1);
        }
        g.forget_if_idle(&self.agent);
    }
}

const LEASE_MS: i64 = (LEASE_SECS * 1000) as i64;

impl TaskQueue {
    /// The index of the open tasks read from the database.
    pub fn new(rows: Vec<OpenRow>) -> TaskQueue {
        let mut index = Index::default();
        for r in rows {
            index.owners.insert(r.id.clone(), r.agent_id.clone());
            index.agents.entry(r.agent_id).or_default().open.push(OpenTask {
                id: r.id,
                delivered_at: r.delivered_at,
                deliveries: r.deliveries,
            });
        }
        TaskQueue { inner: Mutex::new(index) }
    }

    fn lock(&self) -> MutexGuard<'_, Index> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Long-polls waiting now.
    pub fn waiters(&self) -> usize {
        self.lock().waiters
    }

    /// Refuses a send when `agent` has too many open tasks.
    pub fn check_room(&self, agent: &str) -> Result<(), TaskError> {
        match self.lock().agents.get(agent) {
            Some(a) if a.open.len() >= MAX_OPEN_PER_AGENT => Err(TaskError::TooManyOpen(agent.to_string())),
            _ => Ok(()),
        }
    }

    /// Adds a task whose creation is durable and wakes the agent's waiting polls.
    pub fn insert(&self, agent: &str, id: &str) {
        let mut g = self.lock();
        g.owners.insert(id.to_string(), agent.to_string());
        let a = g.agents.entry(agent.to_string()).or_default();
        a.open.push(OpenTask { id: id.to_string(), delivered_at: None, deliveries: 0 });
        a.notify.notify_waiters();
    }

    /// Wakes `agent`'s waiting long-polls (its binding changed: they check it again).
    pub fn wake(&self, agent: &str) {
        if let Some(a) = self.lock().agents.get(agent) {
            a.notify.notify_waiters();
        }
    }

    /// Registers a waiting long-poll of `agent`.
    pub fn waiter(&self, agent: &str) -> Waiter<'_> {
        let mut g = self.lock();
        g.waiters += 1;
        let a = g.agents.entry(agent.to_string()).or_default();
        a.waiters += 1;
        Waiter { queue: self, agent: agent.to_string(), notify: a.notify.clone() }
    }

    /// Takes up to `max` of `agent`'s due tasks (pending, or delivered with their lease
    /// run out) as delivered at `now`, expires those delivered [`MAX_DELIVERIES`] times,
    /// and queues the writes.
    pub fn take_due(&self, agent: &str, now: i64, max: usize, writer: &Writer) -> (Taken, Option<Pending>) {
        let mut g = self.lock();
        let mut taken = Taken::default();
        let mut writes = Vec::new();
        let mut expired = Vec::new();
        if let Some(a) = g.agents.get_mut(agent) {
            for t in a.open.iter_mut() {
                let lease_end = t.delivered_at.map(|at| at.saturating_add(LEASE_MS));
                match lease_end {
                    Some(end) if end > now => {
                        taken.next_lease_end = Some(taken.next_lease_end.map_or(end, |n: i64| n.min(end)));
                        continue;
                    }
                    Some(_) if t.deliveries >= MAX_DELIVERIES => {
                        expired.push(t.id.clone());
                        let state = TaskState::Expired;
                        writes.push(TaskWrite::Finished { id: t.id.clone(), state, at: now, result: None });
                        continue;
                    }
                    _ if taken.delivered.len() >= max => continue,
                    _ => {}
                }
                t.delivered_at = Some(now);
                t.deliveries += 1;
                taken.delivered.push(t.id.clone());
                writes.push(TaskWrite::Delivered { id: t.id.clone(), at: now, deliveries: t.deliveries });
            }
            a.open.retain(|t| !expired.contains(&t.id));
        }
        for id in &expired {
            g.owners.remove(id);
            tracing::warn!(task = %id, agent, deliveries = MAX_DELIVERIES, "Task expired without a result.");
        }
        g.forget_if_idle(agent);
        let pending =
            (!writes.is_empty()).then(|| writer.submit(writes.into_iter().map(Write::Task).collect()));
        (taken, pending)
    }

    /// Records the result of task `id` from `agent` if the task is open and delivered to it.
    pub fn finish(
        &self,
        id: &str,
        agent: &str,
        write: impl FnOnce() -> TaskWrite,
        writer: &Writer,
    ) -> Result<Finish, TaskError> {
        let mut g = self.lock();
        let Some(owner) = g.owners.get(id) else {
            return Ok(Finish::NotOpen(writer.submit(Vec::new())));
        };
        if owner != agent {
            return Err(TaskError::WrongAgent { id: id.to_string(), agent: agent.to_string() });
        }
        let a = g.agents.get_mut(agent).ok_or_else(|| TaskError::NotFound(id.to_string()))?;
        let pos =
            a.open.iter().position(|t| t.id == id).ok_or_else(|| TaskError::NotFound(id.to_string()))?;
        if a.open[pos].deliveries == 0 {
            return Err(TaskError::NotDelivered(id.to_string()));
        }
        a.open.remove(pos);
        g.owners.remove(id);
        g.forget_if_idle(agent);
        Ok(Finish::Done(writer.submit(vec![Write::Task(write())])))
    }
}

impl Index {
    /// Drops an agent's entry once it has no open task and no waiting poll.
    fn forget_if_idle(&mut self, agent: &str) {
        if self.agents.get(agent).is_some_and(|a| a.open.is_empty() && a.waiters == 0) {
            self.agents.remove(agent);
        }
    }
}
