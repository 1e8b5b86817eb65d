//! The management server's inventory: the site servers and agents it knows, in memory as
//! loaded from the store, and the lock that orders inventory writes (memory and store
//! change in one order). Policy (revisions) lives in [`crate::policy`], persistence in
//! [`crate::store`].

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::agents::AgentRecord;
use crate::sites::SiteRecord;

/// The site servers and agents, by name.
#[derive(Debug)]
pub struct Inventory {
    /// The site server inventory, by name.
    sites: Mutex<BTreeMap<String, SiteRecord>>,
    /// The agent inventory, by host name.
    agents: Mutex<BTreeMap<String, AgentRecord>>,
    /// Serialises inventory writes (memory and store change in one order).
    write: tokio::sync::Mutex<()>,
}

impl Inventory {
    /// The inventory as loaded from the store.
    pub fn new(sites: BTreeMap<String, SiteRecord>, agents: BTreeMap<String, AgentRecord>) -> Inventory {
        Inventory { sites: Mutex::new(sites), agents: Mutex::new(agents), write: tokio::sync::Mutex::new(()) }
    }

    /// The site servers, locked (hold it briefly, never across an `await`).
    pub(crate) fn sites(&self) -> MutexGuard<'_, BTreeMap<String, SiteRecord>> {
        self.sites.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The agents, locked (hold it briefly, never across an `await`).
    pub(crate) fn agents(&self) -> MutexGuard<'_, BTreeMap<String, AgentRecord>> {
        self.agents.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the site servers.
    pub(crate) fn sites_now(&self) -> BTreeMap<String, SiteRecord> {
        self.sites().clone()
    }

    /// A copy of the agents.
    pub(crate) fn agents_now(&self) -> BTreeMap<String, AgentRecord> {
        self.agents().clone()
    }

    /// Waits for the right to write the inventory (memory, then store); held until the
    /// guard drops.
    pub(crate) async fn writing(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.write.lock().await
    }
}
