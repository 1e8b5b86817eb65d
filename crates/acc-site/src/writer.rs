//! Group commit: every request's changes are durable before its response is sent, without
//! one fsync per request. Requests hand their [`Write`]s to one writer task in the order
//! they were decided (under the site lock); the writer takes everything queued, commits it
//! in one transaction and then acknowledges each request. Under load one commit carries
//! hundreds of requests; when idle a request waits for just its own commit.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use crate::store::{self, Write};

/// Most writes put in one transaction.
const MAX_BATCH_WRITES: usize = 4096;

/// One request's changes and the way to tell it they are durable.
struct Job {
    writes: Vec<Write>,
    done: oneshot::Sender<Result<(), WriteError>>,
}

/// Why a request's writes are not durable; every request of a failed commit gets it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WriteError {
    /// The writer task is gone (the site server is stopping).
    #[error("the site database writer stopped")]
    Stopped,
    /// The transaction carrying the writes failed (the database's reason; every request
    /// of the batch gets a copy).
    #[error("{0}")]
    Commit(String),
}

/// Hands writes to the writer task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Writer {
    tx: mpsc::UnboundedSender<Job>,
    /// Counts the events written, for the event log's retention.
    growth: std::sync::Arc<crate::event_log::Growth>,
}

/// The acknowledgement a request awaits.
pub struct Pending(oneshot::Receiver<Result<(), WriteError>>);

impl Pending {
    /// Waits until the writes are committed.
    pub async fn durable(self) -> Result<(), WriteError> {
        self.0.await.unwrap_or(Err(WriteError::Stopped))
    }
}

impl Writer {
    /// Starts the writer task on `pool`; the events it writes are counted in `growth`.
    pub fn start(pool: SqlitePool, growth: std::sync::Arc<crate::event_log::Growth>) -> Writer {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(run(pool, rx));
        Writer { tx, growth }
    }

    /// The count of events written, shared with the event log's retention.
    pub fn growth(&self) -> &crate::event_log::Growth {
        &self.growth
    }

    /// Queues `writes`; call it while holding the lock under which they were decided so
    /// that the database sees changes in the same order as memory.
    pub fn submit(&self, writes: Vec<Write>) -> Pending {
        self.growth.add(writes.iter().filter(|w| matches!(w, Write::Event(_))).count() as u64);
        let (done, rx) = oneshot::channel();
        if let Err(mpsc::error::SendError(job)) = self.tx.send(Job { writes, done }) {
            let _ = job.done.send(Err(WriteError::Stopped));
        }
        Pending(rx)
    }
}

async fn run(pool: SqlitePool, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut shapes = crate::event_log::Shapes::default();
    while let Some(first) = rx.recv().await {
        // Let requests that are ready to run decide and queue their writes first: under
        // load the commit then carries them too (one fsync and one round of statements
        // for all), at the cost of one scheduling turn when idle.
        tokio::task::yield_now().await;
        let mut jobs = vec![first];
        let mut count = jobs[0].writes.len();
        while count < MAX_BATCH_WRITES {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.writes.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        let result = commit(&pool, &jobs, &mut shapes).await.map_err(|e| WriteError::Commit(e.to_string()));
        crate::metrics::database("commit", started);
        if result.is_ok() {
            crate::metrics::committed(jobs.iter().flat_map(|job| &job.writes));
        }
        if let Err(e) = &result {
            // Shape rows of the batch were rolled back with it.
            shapes.clear();
            tracing::error!(error = %e, requests = jobs.len(), "Site database commit failed; the requests are refused.");
        }
        for job in jobs {
            let _ = job.done.send(result.clone());
        }
    }
}

async fn commit(
    pool: &SqlitePool,
    jobs: &[Job],
    shapes: &mut crate::event_log::Shapes,
) -> Result<(), sqlx::Error> {
    let mut tx = pool.begin().await?;
    store::apply(&mut tx, jobs.iter().flat_map(|job| &job.writes), shapes).await?;
    tx.commit().await
}
