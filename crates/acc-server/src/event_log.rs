//! What the management server writes to its event store ([`crate::event_store`]): its own
//! events (numbered in one sequence under its origin `server:NAME`, [`Server::record_event`]
//! and [`Server::own_event`]), the batches its site servers forward (under each site's
//! origin), each counted toward the store's growth; and the retention that keeps the store
//! under its maximum size (an `acc.event_log` records each removal), run by the node that
//! holds its lease ([`retention_loop`]).

use std::sync::Arc;
use std::time::Duration;

use acc_core::event::catalogue::{self, Pruned};
use acc_core::event::retention;
use acc_core::event::{Event, StampedEvent};
use acc_core::time::Timestamp;
use acc_proto::ForwardedEvent;
use serde_json::{Value, json};

use crate::error::ServerError;
use crate::event_store;
use crate::server::Server;
use crate::sites::SiteRecord;

/// Most free pages given back to the file system in one transaction.
const VACUUM_STEP: u64 = 2048;

impl Server {
    /// Writes one event of the server's own (`acc.rotation`, `acc.package_access`) to its
    /// event log: the envelope of 4.1 (`EventID`, `Seq`, `TimeCreated`, `Computer`,
    /// `Keywords`) followed by `fields`.
    pub(crate) async fn record_event(
        &self,
        event_id: &str,
        keywords: &str,
        target_user: Option<&str>,
        fields: Value,
    ) {
        let n = self.own_events().next_seq();
        let now = self.now_ms();
        let mut body = json!({
            "EventID": event_id, "Seq": n, "TimeCreated": event_store::time_created(now), "Computer": self.config().name,
            "Keywords": keywords,
        });
        if let (Some(b), Value::Object(f)) = (body.as_object_mut(), fields) {
            b.extend(f);
        }
        let event = acc_proto::ForwardedEvent {
            seq: n,
            event_id: event_id.into(),
            time_ms: now,
            target_user: target_user.map(str::to_lowercase),
            body,
        };
        if let Err(e) = self.store_own_events(&[event]).await {
            tracing::error!(error = %e, event_id, "An event could not be stored.");
        }
    }

    /// The origin of the server's own events.
    pub fn own_origin(&self) -> String {
        event_store::own_origin(&self.config().name)
    }

    /// The origin of the joined site `name`'s events.
    pub fn site_origin(&self, name: &str) -> Option<String> {
        self.inventory.sites().get(name).map(SiteRecord::origin)
    }

    /// Stores events the server wrote itself.
    pub(crate) async fn store_own_events(&self, events: &[ForwardedEvent]) -> Result<u64, ServerError> {
        let started = std::time::Instant::now();
        let stored = event_store::insert(&self.pool, &self.own_origin(), &self.config().name, events).await?;
        crate::metrics::database("insert_events", started);
        crate::metrics::events_written("server", stored);
        self.own_events().growth().add(stored);
        Ok(stored)
    }

    /// Stores a batch a site forwarded.
    pub(crate) async fn store_site_events(
        &self,
        site: &str,
        events: &[ForwardedEvent],
    ) -> Result<u64, ServerError> {
        let origin = self
            .site_origin(site)
            .ok_or_else(|| ServerError::Invalid(format!("site {site} is not joined")))?;
        let started = std::time::Instant::now();
        let stored = event_store::insert(&self.pool, &origin, site, events).await?;
        crate::metrics::database("insert_events", started);
        crate::metrics::events_written("site", stored);
        self.own_events().growth().add(stored);
        Ok(stored)
    }

    /// An acc-core event of the server's own, stamped with its next sequence number, as
    /// the store keeps it.
    pub(crate) fn own_event(&self, event: Event, target_user: Option<&str>) -> ForwardedEvent {
        let n = self.own_events().next_seq();
        let time_ms = event.time.millis();
        let event_id = event.id.to_string();
        let stamped = StampedEvent {
            seq: u64::try_from(n).unwrap_or(0),
            computer: self.config().name.clone(),
            site_id: self.config().name.clone(),
            event,
        };
        ForwardedEvent {
            seq: n,
            event_id,
            time_ms,
            target_user: target_user.map(str::to_lowercase),
            body: serde_json::to_value(&stamped).unwrap_or(serde_json::Value::Null),
        }
    }

    /// Keeps the store under its maximum size: removes its oldest rows, each removal
    /// recorded, then gives back free pages it will not grow into. Returns the last measure.
    pub async fn enforce_event_store(&self) -> Result<event_store::Measure, ServerError> {
        let max = self.current().1.event_store_max_size;
        if max != self.own_events().growth().max_size() {
            self.own_events().growth().set_max_size(max);
        }
        let mut m = event_store::measure(&self.pool).await?;
        for _ in 0..64 {
            let Some(plan) = retention::plan(&m.usage(None), max) else { break };
            let (first, through) = m.range(&plan, None);
            self.remove_events(first, through, max).await?;
            m = event_store::measure(&self.pool).await?;
        }
        let mut pages = m.surplus_pages(max);
        while pages > 0 {
            let step = pages.min(VACUUM_STEP);
            let sql = format!("PRAGMA incremental_vacuum({step})");
            sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&self.pool).await?;
            pages -= step;
        }
        self.own_events().growth().measured(m.bytes, m.events);
        Ok(m)
    }

    /// Removes the rows `first..=through` and stores the `acc.event_log` that records it,
    /// in one transaction.
    async fn remove_events(&self, first: i64, through: i64, max_size: u64) -> Result<(), ServerError> {
        let mut tx = self.pool.begin().await?;
        let (removed, oldest, newest): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(time_ms), MAX(time_ms) FROM events WHERE n BETWEEN $1 AND $2",
        )
        .bind(first)
        .bind(through)
        .fetch_one(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM events WHERE n <= $1").bind(through).execute(&mut *tx).await?;
        let u = |v: i64| u64::try_from(v).unwrap_or(0);
        let pruned = Pruned {
            removed: u(removed),
            seqs: (u(first), u(through)),
            times: (Timestamp(oldest.unwrap_or(0)), Timestamp(newest.unwrap_or(0))),
            unforwarded: None,
            max_size,
            reason: retention::Reason::MaxSize,
        };
        let now = Timestamp(self.now_ms());
        let record = self.own_event(catalogue::acc_event_log_pruned(now, &pruned), None);
        sqlx::query(
            "INSERT INTO events (origin, seq, site, event_id, time_ms, target_user, body)
             VALUES ($1, $2, $3, $4, $5, NULL, $6)",
        )
        .bind(self.own_origin())
        .bind(record.seq)
        .bind(&self.config().name)
        .bind(&record.event_id)
        .bind(record.time_ms)
        .bind(record.body.to_string())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!(
            removed,
            first,
            through,
            max_size,
            "The event store is full; its oldest events were removed."
        );
        Ok(())
    }
}

/// Keeps the store under its maximum size until the task is dropped: looks every second
/// whether enough events arrived, and at least once a minute, while this node holds the
/// retention's lease (one node of several on PostgreSQL; see [`crate::cluster`]).
pub async fn retention_loop(server: Arc<Server>) {
    let mut idle = 0;
    loop {
        if !server.holds_lease(crate::cluster::RETENTION_JOB).await {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        if server.own_events().growth().due() || idle >= 60 {
            idle = 0;
            if let Err(e) = server.enforce_event_store().await {
                tracing::error!(error = %e, "The event store could not be kept under its maximum size.");
            }
        }
        idle += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
