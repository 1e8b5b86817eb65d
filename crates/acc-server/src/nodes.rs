//! The registry of management server nodes: every `acc server run` on the same store
//! records itself (name and URL) at start and says it still runs every few seconds
//! ([`heartbeat_loop`]); [`Server::node_urls`] is the list clients fail over along, the
//! most recently seen first; `GET /v1/nodes` and `DELETE /v1/nodes/{name}` (`acc ctl node
//! list|remove`) show and forget nodes. Joining a new node is `node_join`.

use std::sync::Arc;
use std::time::Duration;

use acc_proto::admin::{NodeList, NodeView};

use crate::error::ServerError;
use crate::server::{Server, lock};
use crate::store::{self, NodeRow};

/// How often a running node says so.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A node not seen for this long is taken for stopped (several heartbeats missed).
pub const STALE_MS: i64 = 20_000;

/// The URLs of `rows` (the most recently seen first, each once), with `own` first when
/// no row has it yet (before the node's first heartbeat).
pub fn ordered_urls(rows: &[NodeRow], own: &str) -> Vec<String> {
    let mut sorted: Vec<&NodeRow> = rows.iter().collect();
    sorted.sort_by(|a, b| b.last_seen_ms.cmp(&a.last_seen_ms).then_with(|| a.name.cmp(&b.name)));
    let mut urls: Vec<String> = Vec::with_capacity(rows.len() + 1);
    if !sorted.iter().any(|r| r.url == own) {
        urls.push(own.to_string());
    }
    for r in sorted {
        if !urls.contains(&r.url) {
            urls.push(r.url.clone());
        }
    }
    urls
}

/// Why a node may not be removed at `now`: it runs (seen within [`STALE_MS`]) and would
/// register again, or it is the node answering.
pub fn removal_refused(row: &NodeRow, own_name: &str, now: i64) -> Option<String> {
    if row.name == own_name {
        return Some(format!(
            "node '{}' is the node answering this request; ask another node to remove it once it is stopped",
            row.name
        ));
    }
    let age = now.saturating_sub(row.last_seen_ms);
    (age < STALE_MS).then(|| {
        format!(
            "node '{}' was seen running {} s ago; stop its acc server run first (a running node registers again)",
            row.name,
            age / 1000
        )
    })
}

impl Server {
    /// The URLs of the known management server nodes, the most recently seen (the
    /// healthiest) first; this node's own URL when no other is known.
    pub fn node_urls(&self) -> Vec<String> {
        ordered_urls(&lock(self.node_registry()), &self.url())
    }

    /// Records that this node runs (name and URL) and reads every node again.
    pub async fn heartbeat(&self) -> Result<(), ServerError> {
        store::touch_node(&self.pool, &self.config().name, &self.url(), self.now_ms()).await?;
        let rows = store::nodes(&self.pool).await?;
        *lock(self.node_registry()) = rows;
        Ok(())
    }

    /// The nodes, the most recently seen first.
    pub async fn nodes(&self) -> Result<NodeList, ServerError> {
        let rows = store::nodes(&self.pool).await?;
        let nodes = rows
            .iter()
            .map(|r| NodeView {
                name: r.name.clone(),
                url: r.url.clone(),
                joined_at_ms: r.joined_at_ms,
                last_seen_ms: r.last_seen_ms,
            })
            .collect();
        *lock(self.node_registry()) = rows;
        Ok(NodeList { nodes })
    }

    /// Forgets a stopped node (an `acc.node` event); a running one, or this one, is refused.
    pub async fn remove_node(&self, name: &str, by: &str) -> Result<(), ServerError> {
        let unknown = || {
            ServerError::Invalid(format!(
                "node '{}' is not known; see acc ctl node list",
                name.escape_debug()
            ))
        };
        let rows = store::nodes(&self.pool).await?;
        let row = rows.iter().find(|r| r.name == name).ok_or_else(unknown)?;
        if let Some(why) = removal_refused(row, &self.config().name, self.now_ms()) {
            return Err(ServerError::Invalid(why));
        }
        if !store::remove_node(&self.pool, name).await? {
            return Err(unknown());
        }
        lock(self.node_registry()).retain(|r| r.name != name);
        self.node_event("removed", name, &row.url, by).await;
        Ok(())
    }

    /// An `acc.node` event: a node `action` (`joined`, `removed`) by `by`.
    pub(crate) async fn node_event(&self, action: &str, node: &str, url: &str, by: &str) {
        let fields =
            serde_json::json!({ "Action": action, "NodeName": node, "Url": url, "SubjectUserName": by });
        self.record_event("acc.node", "Audit Success", None, fields).await;
    }
}

/// Says every [`HEARTBEAT`] that this node runs, until aborted.
pub async fn heartbeat_loop(server: Arc<Server>) {
    let mut every = tokio::time::interval(HEARTBEAT);
    loop {
        every.tick().await;
        if let Err(e) = server.heartbeat().await {
            tracing::warn!(error = %e, "The node registry could not be updated.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, url: &str, seen: i64) -> NodeRow {
        NodeRow { name: name.into(), url: url.into(), joined_at_ms: 0, last_seen_ms: seen }
    }

    #[test]
    fn urls_come_most_recently_seen_first_with_the_own_one_before_its_first_heartbeat() {
        let rows = [row("A", "https://a:1", 10), row("B", "https://b:1", 30), row("C", "https://c:1", 20)];
        assert_eq!(ordered_urls(&rows, "https://b:1"), ["https://b:1", "https://c:1", "https://a:1"]);
        assert_eq!(ordered_urls(&[], "https://me:1"), ["https://me:1"]);
        assert_eq!(ordered_urls(&rows[..1], "https://me:1"), ["https://me:1", "https://a:1"]);
    }

    #[test]
    fn a_running_node_or_the_answering_one_is_not_removed() {
        let r = row("NODE2", "https://b:1", 100_000);
        assert!(removal_refused(&r, "NODE1", 100_000 + STALE_MS - 1).unwrap().contains("seen running"));
        assert!(removal_refused(&r, "NODE2", 10_000_000).unwrap().contains("answering"));
        assert_eq!(removal_refused(&r, "NODE1", 100_000 + STALE_MS), None);
    }
}
