//! Which connections have not authenticated yet, per address, and which one to close when
//! there is no room: the defence against an address (or a few) filling the listener with
//! connections that never get as far as a credential.
//!
//! A connection is *unauthenticated* from its accept until the application says one of
//! its requests authenticated ([`Admission::authenticated`]). Two rules use that:
//!
//! - one address holds at most [`crate::Limits::max_unauthenticated_per_address`]
//!   unauthenticated connections: a new one beyond that is closed at once, before any TLS
//!   work (so an address that keeps trying costs an accept and a close, not a handshake);
//! - when the listener is full ([`crate::Limits::max_connections`]), a new client is
//!   served by closing the oldest unauthenticated connection of the address holding the
//!   most of them, rather than left waiting in the backlog; only when every connection
//!   has authenticated does a new client wait, as before.
//!
//! [`Table`] is the pure bookkeeping (generic over what closes a connection, so it is
//! tested without sockets); [`Registry`] puts it behind a lock for the accept loop and the
//! connections.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;

/// Unauthenticated connections by address, oldest first, with an index by how many each
/// address holds. `H` is what closes one connection.
#[derive(Debug)]
pub(crate) struct Table<H> {
    by_addr: HashMap<IpAddr, BTreeMap<u64, H>>,
    /// (count, address) of every address in `by_addr`: the largest is the last.
    by_count: BTreeSet<(usize, IpAddr)>,
    total: usize,
}

impl<H> Default for Table<H> {
    fn default() -> Self {
        Table { by_addr: HashMap::new(), by_count: BTreeSet::new(), total: 0 }
    }
}

impl<H> Table<H> {
    /// Unauthenticated connections in all.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.total
    }

    /// Unauthenticated connections of `addr`.
    pub(crate) fn count(&self, addr: IpAddr) -> usize {
        self.by_addr.get(&addr).map_or(0, BTreeMap::len)
    }

    /// Adds connection `id` (ids grow with accept order) of `addr`.
    pub(crate) fn insert(&mut self, addr: IpAddr, id: u64, handle: H) {
        let before = self.count(addr);
        self.by_addr.entry(addr).or_default().insert(id, handle);
        self.recount(addr, before);
        self.total += 1;
    }

    /// Removes connection `id` of `addr` (it authenticated, ended or was chosen to go).
    pub(crate) fn remove(&mut self, addr: IpAddr, id: u64) -> Option<H> {
        let before = self.count(addr);
        let handle = self.by_addr.get_mut(&addr)?.remove(&id)?;
        self.total -= 1;
        self.recount(addr, before);
        Some(handle)
    }

    /// Removes and returns the oldest connection of the address holding the most.
    pub(crate) fn oldest_of_largest(&mut self) -> Option<(IpAddr, u64, H)> {
        let &(_, addr) = self.by_count.last()?;
        self.oldest_of(addr).map(|(id, h)| (addr, id, h))
    }

    fn oldest_of(&mut self, addr: IpAddr) -> Option<(u64, H)> {
        let id = *self.by_addr.get(&addr)?.keys().next()?;
        self.remove(addr, id).map(|h| (id, h))
    }

    fn recount(&mut self, addr: IpAddr, before: usize) {
        if before > 0 {
            self.by_count.remove(&(before, addr));
        }
        match self.by_addr.get(&addr).map_or(0, BTreeMap::len) {
            0 => {
                self.by_addr.remove(&addr);
            }
            n => {
                self.by_count.insert((n, addr));
            }
        }
    }
}

/// The listener's table of unauthenticated connections; each entry holds the sender that
/// tells its connection to close.
#[derive(Debug)]
pub(crate) struct Registry {
    table: Mutex<Table<oneshot::Sender<()>>>,
    next_id: std::sync::atomic::AtomicU64,
    per_address: usize,
}

impl Registry {
    pub(crate) fn new(per_address: usize) -> Arc<Registry> {
        Arc::new(Registry {
            table: Mutex::new(Table::default()),
            next_id: Default::default(),
            per_address: per_address.max(1),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table<oneshot::Sender<()>>> {
        self.table.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether `addr` already holds its cap of unauthenticated connections (a new one is
    /// then refused).
    pub(crate) fn at_cap(&self, addr: IpAddr) -> bool {
        self.lock().count(addr) >= self.per_address
    }

    /// Registers a new connection of `addr` as unauthenticated. Returns the connection's
    /// [`Admission`] and what resolves when it is told to close.
    pub(crate) fn admit(self: &Arc<Self>, addr: IpAddr) -> (Admission, Evicted) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        self.lock().insert(addr, id, tx);
        let admission = Admission(Some(Arc::new(Entry {
            registry: self.clone(),
            addr,
            id,
            authenticated: AtomicBool::new(false),
        })));
        (admission, Evicted(rx))
    }

    /// Tells the oldest unauthenticated connection of the address holding the most to
    /// close; false when every connection has authenticated.
    pub(crate) fn evict_one(&self) -> bool {
        let Some((addr, _, victim)) = self.lock().oldest_of_largest() else { return false };
        tracing::debug!(%addr, "Listener full; closing the oldest unauthenticated connection of the address holding the most.");
        let _ = victim.send(());
        true
    }

    /// Unauthenticated connections now.
    #[cfg(test)]
    pub(crate) fn unauthenticated(&self) -> usize {
        self.lock().len()
    }
}

/// Resolves when the connection was chosen to close; never when it authenticated first.
pub(crate) struct Evicted(oneshot::Receiver<()>);

impl Evicted {
    pub(crate) async fn wait(self) {
        if self.0.await.is_err() {
            // Authenticated (or ended): the sender is gone and nothing will evict it.
            std::future::pending::<()>().await;
        }
    }
}

struct Entry {
    registry: Arc<Registry>,
    addr: IpAddr,
    id: u64,
    authenticated: AtomicBool,
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.authenticated.load(Ordering::Acquire) {
            self.registry.lock().remove(self.addr, self.id);
        }
    }
}

/// A connection's standing with the listener's per-address cap on unauthenticated
/// connections: in every request's [`crate::PeerInfo`]. The application calls
/// [`Admission::authenticated`] when a request on the connection authenticated; from
/// then on the connection is never closed to make room.
#[derive(Clone, Default)]
pub struct Admission(Option<Arc<Entry>>);

impl Admission {
    /// Marks the connection as authenticated (idempotent, cheap after the first call).
    pub fn authenticated(&self) {
        if let Some(entry) = &self.0
            && !entry.authenticated.swap(true, Ordering::AcqRel)
        {
            entry.registry.lock().remove(entry.addr, entry.id);
        }
    }

    /// Whether [`Admission::authenticated`] was called on this connection.
    pub fn is_authenticated(&self) -> bool {
        self.0.as_ref().is_some_and(|e| e.authenticated.load(Ordering::Acquire))
    }
}

impl fmt::Debug for Admission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Admission").field("authenticated", &self.is_authenticated()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    #[test]
    fn a_full_listener_takes_from_the_address_holding_the_most() {
        let mut t = Table::default();
        t.insert(ip(1), 0, "a0");
        t.insert(ip(2), 1, "b1");
        t.insert(ip(2), 2, "b2");
        t.insert(ip(1), 3, "a3");
        t.insert(ip(2), 4, "b4");
        assert_eq!(t.oldest_of_largest(), Some((ip(2), 1, "b1")));
        // Now 2 each: either address may give; each gives its oldest.
        let (addr, id, _) = t.oldest_of_largest().unwrap();
        assert_eq!((addr, id), if addr == ip(1) { (ip(1), 0) } else { (ip(2), 2) });
        assert_eq!(t.len(), 3);
        while t.oldest_of_largest().is_some() {}
        assert_eq!((t.len(), t.count(ip(1)), t.count(ip(2))), (0, 0, 0));
        assert!(t.by_count.is_empty() && t.by_addr.is_empty(), "no empty entries left behind");
    }

    #[test]
    fn removed_connections_are_no_longer_candidates() {
        let mut t = Table::default();
        t.insert(ip(1), 0, 0);
        t.insert(ip(1), 1, 1);
        t.insert(ip(2), 2, 2);
        assert_eq!(t.remove(ip(1), 0), Some(0));
        assert_eq!(t.remove(ip(1), 0), None, "twice");
        // 1 each now; the index holds the new counts.
        assert_eq!(t.by_count.iter().copied().collect::<Vec<_>>(), vec![(1, ip(1)), (1, ip(2))]);
        assert_eq!((t.count(ip(1)), t.count(ip(2)), t.count(ip(3))), (1, 1, 0));
    }

    #[tokio::test]
    async fn authenticated_connections_leave_the_table_and_are_never_evicted() {
        let registry = Registry::new(2);
        let (a, evicted_a) = registry.admit(ip(1));
        let (b, evicted_b) = registry.admit(ip(1));
        assert_eq!(registry.unauthenticated(), 2);
        a.authenticated();
        a.authenticated();
        assert!(a.is_authenticated() && !b.is_authenticated());
        assert_eq!(registry.unauthenticated(), 1);
        // One unauthenticated (b) is under the cap of 2: a third is admitted.
        assert!(!registry.at_cap(ip(1)));
        let (_c, _evicted_c) = registry.admit(ip(1));
        assert_eq!(registry.unauthenticated(), 2);
        assert!(registry.at_cap(ip(1)), "b and c: a fourth would be refused");
        assert!(!registry.at_cap(ip(2)), "another address has room");
        // A full listener takes the oldest unauthenticated one, b.
        assert!(registry.evict_one());
        tokio::time::timeout(std::time::Duration::from_secs(5), evicted_b.wait()).await.unwrap();
        assert!(registry.evict_one(), "then c");
        assert!(!registry.evict_one(), "only the authenticated connection is left");
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), evicted_a.wait()).await;
        assert!(waited.is_err(), "an authenticated connection is never told to close");
        drop(b);
        assert_eq!(registry.unauthenticated(), 0);
    }

    #[tokio::test]
    async fn an_ended_connection_leaves_the_table() {
        let registry = Registry::new(8);
        let (a, evicted) = registry.admit(ip(3));
        drop(evicted);
        assert_eq!(registry.unauthenticated(), 1);
        drop(a);
        assert_eq!(registry.unauthenticated(), 0);
    }
}
