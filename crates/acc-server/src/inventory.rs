//! The management server's inventory: the site servers and agents it knows, in memory as
//! loaded from the store, and the lock that orders inventory writes (memory and store
//! change in one order). Policy (revisions) lives in [`crate::policy`], persistence in
//! [`crate::store`].

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::agents::AgentRecord;
use crate::sites::SiteRecord;

/// The site servers and agents, by name.
#[derive(Debug)]
pub struct Inventory {
    /// The site server inventory, by name.
    pub(crate) sites: Mutex<BTreeMap<String, SiteRecord>>,
    /// The agent inventory, by host name.
    pub(crate) agents: Mutex<BTreeMap<String, AgentRecord>>,
    /// Serialises inventory writes (memory and store change in one order).
    pub(crate) write: tokio::sync::Mutex<()>,
}

impl Inventory {
    /// The inventory as loaded from the store.
    pub fn new(sites: BTreeMap<String, SiteRecord>, agents: BTreeMap<String, AgentRecord>) -> Inventory {
        Inventory { sites: Mutex::new(sites), agents: Mutex::new(agents), write: tokio::sync::Mutex::new(()) }
    }
}
