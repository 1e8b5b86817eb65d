//! The `tasks` table: its schema, the durable changes of a task ([`TaskWrite`], carried by
//! the site's group-commit writer as `store::Write::Task`) and the queries of the task
//! server. Times are Unix milliseconds from the site clock.

use acc_core::time::Timestamp;
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Row, SqlitePool};

use super::{DeliveredTask, TaskError, TaskState, TaskView};

/// Created by `store::open` next to the site's other tables.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tasks (
    id TEXT PRIMARY KEY, agent_id TEXT NOT NULL, task_type TEXT NOT NULL, payload TEXT,
    state TEXT NOT NULL, created_at INTEGER NOT NULL, delivered_at INTEGER, completed_at INTEGER,
    deliveries INTEGER NOT NULL DEFAULT 0, result TEXT);
CREATE INDEX IF NOT EXISTS tasks_by_agent ON tasks (agent_id);
CREATE INDEX IF NOT EXISTS tasks_by_state ON tasks (state);
";

/// One durable change of a task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskWrite {
    /// A task was sent.
    Created {
        /// UUID.
        id: String,
        /// Its agent.
        agent_id: String,
        /// Its type.
        task_type: String,
        /// Compact JSON.
        payload: Option<String>,
        /// When.
        at: i64,
    },
    /// A task was handed to its agent (again).
    Delivered {
        /// UUID.
        id: String,
        /// When.
        at: i64,
        /// Deliveries so far, this one included.
        deliveries: u32,
    },
    /// A task reached a final state, with the agent's result (none when expired).
    Finished {
        /// UUID.
        id: String,
        /// `Completed`, `Failed` or `Expired`.
        state: TaskState,
        /// When.
        at: i64,
        /// The result, JSON.
        result: Option<String>,
    },
}

/// Applies one task change inside the writer's transaction.
pub async fn apply(tx: &mut sqlx::SqliteConnection, w: &TaskWrite) -> Result<(), sqlx::Error> {
    match w {
        TaskWrite::Created { id, agent_id, task_type, payload, at } => {
            sqlx::query(
                "INSERT INTO tasks (id, agent_id, task_type, payload, state, created_at) VALUES (?, ?, ?, ?, 'pending', ?)",
            )
            .bind(id)
            .bind(agent_id)
            .bind(task_type)
            .bind(payload)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        TaskWrite::Delivered { id, at, deliveries } => {
            // Only open tasks change: a final state is never overwritten.
            sqlx::query("UPDATE tasks SET state = 'delivered', delivered_at = ?, deliveries = ? WHERE id = ? AND state IN ('pending', 'delivered')")
                .bind(at)
                .bind(i64::from(*deliveries))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        TaskWrite::Finished { id, state, at, result } => {
            sqlx::query("UPDATE tasks SET state = ?, completed_at = ?, result = ? WHERE id = ? AND state IN ('pending', 'delivered')")
                .bind(state.as_str())
                .bind(at)
                .bind(result)
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// An open (pending or delivered) task, as the in-memory index keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRow {
    /// UUID.
    pub id: String,
    /// Its agent.
    pub agent_id: String,
    /// Last delivery (None while pending).
    pub delivered_at: Option<i64>,
    /// Deliveries so far.
    pub deliveries: u32,
}

/// Every open task, oldest first (to rebuild the index when the site opens).
pub async fn open_tasks(pool: &SqlitePool) -> Result<Vec<OpenRow>, TaskError> {
    let rows = sqlx::query(
        "SELECT id, agent_id, delivered_at, deliveries FROM tasks WHERE state IN ('pending', 'delivered') ORDER BY rowid",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OpenRow {
            id: r.get("id"),
            agent_id: r.get("agent_id"),
            delivered_at: r.get("delivered_at"),
            deliveries: deliveries(&r),
        })
        .collect())
}

/// The tasks with these ids as their agent receives them, in the order sent.
pub async fn delivered(pool: &SqlitePool, ids: &[String]) -> Result<Vec<DeliveredTask>, TaskError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let marks = vec!["?"; ids.len()].join(", ");
    let sql = format!(
        "SELECT id, task_type, payload, created_at, deliveries FROM tasks WHERE id IN ({marks}) ORDER BY rowid"
    );
    // Audited: the only dynamic part is one `?` per id; the ids are bound.
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind(id);
    }
    let rows = query.fetch_all(pool).await?;
    rows.into_iter()
        .map(|r| {
            Ok(DeliveredTask {
                id: r.get("id"),
                task_type: r.get("task_type"),
                payload: json_column(&r, "payload")?,
                created_at: Timestamp(r.get("created_at")).to_rfc3339(),
                delivery: deliveries(&r),
            })
        })
        .collect()
}

/// Filters of `acc site tasks list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TaskQuery {
    /// Only this agent's.
    pub agent: Option<String>,
    /// Only in this state.
    pub state: Option<TaskState>,
    /// At most this many, the most recent.
    pub limit: Option<i64>,
}

macro_rules! select_views {
    ($rest:literal) => {
        concat!(
            "SELECT id, agent_id, task_type, payload, state, created_at, delivered_at, completed_at, ",
            "deliveries, result FROM tasks ",
            $rest
        )
    };
}

/// Tasks matching `q`, most recent first.
pub async fn list(pool: &SqlitePool, q: &TaskQuery) -> Result<Vec<TaskView>, TaskError> {
    let sql = select_views!(
        "WHERE (?1 IS NULL OR agent_id = ?1) AND (?2 IS NULL OR state = ?2) ORDER BY rowid DESC LIMIT ?3"
    );
    let rows = sqlx::query(sql)
        .bind(&q.agent)
        .bind(q.state.map(TaskState::as_str))
        .bind(q.limit.unwrap_or(i64::MAX))
        .fetch_all(pool)
        .await?;
    rows.iter().map(view).collect()
}

/// One task (`id` in canonical form).
pub async fn get(pool: &SqlitePool, id: &str) -> Result<Option<TaskView>, TaskError> {
    let row = sqlx::query(select_views!("WHERE id = ?")).bind(id).fetch_optional(pool).await?;
    row.as_ref().map(view).transpose()
}

fn view(r: &SqliteRow) -> Result<TaskView, TaskError> {
    let time = |col: &str| r.get::<Option<i64>, _>(col).map(|ms| Timestamp(ms).to_rfc3339());
    let state: String = r.get("state");
    Ok(TaskView {
        id: r.get("id"),
        agent_id: r.get("agent_id"),
        task_type: r.get("task_type"),
        payload: json_column(r, "payload")?,
        state: TaskState::parse(&state)
            .ok_or_else(|| TaskError::Database(format!("stored task state '{state}' is unknown")))?,
        created_at: Timestamp(r.get("created_at")).to_rfc3339(),
        delivered_at: time("delivered_at"),
        completed_at: time("completed_at"),
        deliveries: deliveries(r),
        result: json_column(r, "result")?,
    })
}

fn deliveries(r: &SqliteRow) -> u32 {
    u32::try_from(r.get::<i64, _>("deliveries")).unwrap_or(0)
}

fn json_column(r: &SqliteRow, col: &str) -> Result<Option<Value>, TaskError> {
    r.get::<Option<String>, _>(col)
        .map(|text| {
            serde_json::from_str(&text)
                .map_err(|e| TaskError::Database(format!("stored task {col} does not parse: {e}")))
        })
        .transpose()
}
