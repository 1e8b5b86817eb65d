//! Several management servers on one PostgreSQL database, kept coherent:
//!
//! - **The change feed.** Every node follows the store's change feed
//!   ([`crate::store::changes`]) and reloads what another node wrote: a newer revision is
//!   put in force (waking this node's long-polls), a site's or agent's record, the tokens
//!   and the packages are read again, an `update-config` wakes this node's sites or agents.
//!   Site and agent records are read on a lane of their own, so a revision never waits
//!   behind the thousands of check-ins a change brings. When the feed's connection is lost
//!   and made again, everything is read again (notices sent meanwhile are lost).
//! - **Once-only jobs.** The tick (rotation steps, CRL pushes, stalled reports, retirement
//!   on adoption) and the event store's retention run on the node holding their lease
//!   ([`crate::store::take_lease`], decided by [`crate::rules::lease_decision`]), renewed
//!   every second; a dead holder's lease expires after [`crate::rules::LEASE_TTL_MS`] and
//!   another node takes the job over. Each step is one transaction, so a node killed in
//!   the middle of one leaves nothing half done.
//!
//! On SQLite there is one process (the data directory's lock): no feed, every lease is its own.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::error::ServerError;
use crate::server::Server;
use crate::store::changes::{CHANNEL, Change};
use crate::store::{self, Backend, Target};
use crate::wake::Audience;

/// The lease of the one-second tick.
pub const TICK_JOB: &str = "tick";

/// The lease of the event store's retention.
pub const RETENTION_JOB: &str = "event-retention";

/// The longest wait between two attempts to reach the database again after the feed failed.
const RETRY_MAX: Duration = Duration::from_secs(10);

impl Server {
    /// Whether this node runs `job` now: takes or renews its lease (always on SQLite). A
    /// database that cannot be reached answers no (another node may hold it).
    pub async fn holds_lease(&self, job: &str) -> bool {
        if store::backend(self.pool()) == Backend::Sqlite {
            return true;
        }
        match store::take_lease(self.pool(), job, &self.config().name, self.now_ms()).await {
            Ok(held) => held,
            Err(e) => {
                tracing::error!(job, error = %e, "The job's lease could not be taken or renewed.");
                false
            }
        }
    }

    /// Wakes the long-polls of this node's sites and/or agents, and announces it on the
    /// change feed so every other node wakes its own.
    pub(crate) fn wake(&self, sites: bool, agents: bool) {
        self.wake_here(sites, agents);
        if store::backend(self.pool()) == Backend::Postgres {
            let pool = self.pool().clone();
            let change = Change::UpdateConfig { sites, agents, from: self.config().name.clone() };
            tokio::spawn(async move {
                if let Err(e) = store::changes::announce(&pool, &change).await {
                    tracing::error!(error = %e, "update-config could not be announced to the other nodes.");
                }
            });
        }
    }

    /// Wakes the long-polls of this node's sites and/or agents.
    fn wake_here(&self, sites: bool, agents: bool) {
        if sites {
            self.long_polls().force(Audience::Sites);
        }
        if agents {
            self.long_polls().force(Audience::Agents);
        }
    }

    /// Reads again what `change` names.
    pub(crate) async fn reload(&self, change: &Change) -> Result<(), ServerError> {
        match change {
            Change::Revision => {
                self.adopt_latest().await?;
            }
            Change::Site(name) => self.reload_named(store::Inventory::Sites, vec![name.clone()]).await?,
            Change::Agent(host) => self.reload_named(store::Inventory::Agents, vec![host.clone()]).await?,
            Change::Tokens => self.reload_tokens().await?,
            Change::Packages => {
                self.catalog().replace(store::packages(self.pool()).await?);
            }
            Change::UpdateConfig { sites, agents, from } => {
                if *from != self.config().name {
                    self.wake_here(*sites, *agents);
                }
            }
        }
        Ok(())
    }

    /// Reads everything the feed announces again (after its connection was made again).
    pub(crate) async fn reload_all(&self) -> Result<(), ServerError> {
        self.reload(&Change::Revision).await?;
        self.reload(&Change::Tokens).await?;
        self.reload(&Change::Packages).await?;
        for inventory in [store::Inventory::Sites, store::Inventory::Agents] {
            let _writing = self.inventory.writing().await;
            let rows = store::records(self.pool(), inventory).await?;
            self.put_records(inventory, rows);
        }
        Ok(())
    }

    /// Reads again the records of `inventory` named `names` (written by another node).
    async fn reload_named(&self, inventory: store::Inventory, names: Vec<String>) -> Result<(), ServerError> {
        if names.is_empty() {
            return Ok(());
        }
        let _writing = self.inventory.writing().await;
        let rows = store::records_named(self.pool(), inventory, &names).await?;
        self.put_records(inventory, rows);
        Ok(())
    }

    /// Puts the stored records `rows` (name, JSON) in the inventory (the caller holds its
    /// write lock); one that cannot be read is reported and left out, the others still go in.
    fn put_records(&self, inventory: store::Inventory, rows: Vec<(String, String)>) {
        for (name, text) in rows {
            let parsed = match inventory {
                store::Inventory::Sites => self
                    .parse_record(&name, &text)
                    .map(|r| drop(self.inventory.sites().insert(name.clone(), r))),
                store::Inventory::Agents => self
                    .parse_record(&name, &text)
                    .map(|r| drop(self.inventory.agents().insert(name.clone(), r))),
            };
            if let Err(e) = parsed {
                tracing::error!(record = name, error = %e, "A record another node wrote could not be read.");
            }
        }
    }

    fn parse_record<T: serde::de::DeserializeOwned>(&self, name: &str, text: &str) -> Result<T, ServerError> {
        serde_json::from_str(text).map_err(|e| ServerError::Config {
            path: self.config().store_target(self.layout()).describe(),
            detail: format!("inventory record {name}: {e}"),
        })
    }
}

/// A node's subscription to the change feed (PostgreSQL only).
pub struct Feed {
    /// The URL the feed connects with (it holds the password: never shown).
    url: String,
    /// Where it is shown instead.
    shown: String,
    listener: PgListener,
}

impl std::fmt::Debug for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Feed").field("database", &self.shown).finish_non_exhaustive()
    }
}

/// A listener on `url` subscribed to the change feed.
async fn listen(url: &str) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

impl Feed {
    /// Subscribes `server` to the change feed of its database: `None` on SQLite. Once this
    /// returns, every change committed after is seen by [`Feed::follow`].
    pub async fn subscribe(server: &Server) -> Result<Option<Feed>, ServerError> {
        let Target::Postgres(pg) = server.config().store_target(server.layout()) else {
            return Ok(None);
        };
        let url = pg.listener_url()?;
        let listener = listen(&url).await.map_err(|e| ServerError::DatabaseUnreachable {
            url: pg.url.clone(),
            detail: format!("the change feed: {e}"),
        })?;
        Ok(Some(Feed { url, shown: pg.url, listener }))
    }

    /// Applies every change announced until the task is dropped; after the connection was
    /// lost and made again, reads everything again.
    pub async fn follow(mut self, server: Arc<Server>) {
        let (records, queued) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(reload_records(server.clone(), queued));
        loop {
            match self.listener.try_recv().await {
                Ok(Some(notice)) => {
                    let Some(change) = Change::parse(notice.payload()) else {
                        tracing::debug!(notice = notice.payload(), "An unknown change notice was ignored.");
                        continue;
                    };
                    if matches!(change, Change::Site(_) | Change::Agent(_)) {
                        let _ = records.send(change);
                        continue;
                    }
                    if let Err(e) = server.reload(&change).await {
                        tracing::error!(change = notice.payload(), error = %e, "A change of another node could not be read.");
                    }
                    continue;
                }
                // Lost, and already made again (eager reconnection).
                Ok(None) => tracing::warn!("The change feed's connection was lost and made again."),
                Err(e) => {
                    tracing::error!(database = %self.shown, error = %e, "The change feed failed; connecting again.");
                    self.reconnect().await;
                }
            }
            // Notices sent while the connection was down are lost: read everything again.
            if let Err(e) = server.reload_all().await {
                tracing::error!(error = %e, "The store could not be read again after the change feed reconnected.");
            }
        }
    }

    /// Connects the feed again, waiting longer after each failure (up to [`RETRY_MAX`]).
    async fn reconnect(&mut self) {
        let mut wait = Duration::from_millis(100);
        loop {
            tokio::time::sleep(wait).await;
            match listen(&self.url).await {
                Ok(listener) => {
                    self.listener = listener;
                    tracing::info!(database = %self.shown, "The change feed is connected again.");
                    return;
                }
                Err(e) => {
                    tracing::warn!(database = %self.shown, error = %e, "The change feed cannot connect yet.")
                }
            }
            wait = (wait * 2).min(RETRY_MAX);
        }
    }
}

/// Reads again the site and agent records other nodes wrote, apart from the feed's loop, so
/// a revision or an `update-config` never waits behind them: a change answers thousands of
/// agents, whose check-ins then arrive as thousands of record notices at once. The notices
/// already queued are taken together, and their records read a few hundred to a query.
async fn reload_records(server: Arc<Server>, mut queued: tokio::sync::mpsc::UnboundedReceiver<Change>) {
    while let Some(first) = queued.recv().await {
        let (mut sites, mut agents) = (std::collections::BTreeSet::new(), std::collections::BTreeSet::new());
        let mut next = Some(first);
        while let Some(change) = next {
            match change {
                Change::Site(name) => sites.insert(name),
                Change::Agent(host) => agents.insert(host),
                _ => false,
            };
            next = queued.try_recv().ok();
        }
        for (inventory, names) in [(store::Inventory::Sites, sites), (store::Inventory::Agents, agents)] {
            if let Err(e) = server.reload_named(inventory, names.into_iter().collect()).await {
                tracing::error!(error = %e, "Records another node wrote could not be read.");
            }
        }
    }
}

#[cfg(test)]
mod tests;
