//! The policy in force: the latest revision's number and document, the lock that makes
//! saves one at a time (validate against the document in force, store the next revision,
//! publish it), and the channel long-polls wait on. The save path itself is
//! `Server::commit` in [`crate::server`]; the document's rules are [`crate::document`].
//!
//! Across management servers on one PostgreSQL database a save is one at a time too: the
//! [`SaveGuard`] holds, besides this process's lock, a transaction holding the database's
//! save lock (`pg_advisory_xact_lock`) in which the revision is then stored; the revision
//! in force only ever moves forward (a node adopts the newer revisions of others).

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::document::PolicyDocument;

/// The revision in force and what serialises its successors.
#[derive(Debug)]
pub struct PolicyState {
    /// The revision in force and its document, shared: thousands of long-polls answered at
    /// once each read it, and a copy each would be a copy of every revoked serial.
    current: Mutex<(i64, Arc<PolicyDocument>)>,
    /// Serialises saves: each is validated against the document it replaces.
    save_lock: tokio::sync::Mutex<()>,
    /// The revision in force, for long-polls.
    revision_tx: tokio::sync::watch::Sender<i64>,
}

impl PolicyState {
    /// Revision `number` with `document` in force.
    pub fn new(number: i64, document: PolicyDocument) -> PolicyState {
        PolicyState {
            current: Mutex::new((number, Arc::new(document))),
            save_lock: tokio::sync::Mutex::new(()),
            revision_tx: tokio::sync::watch::Sender::new(number),
        }
    }

    fn locked(&self) -> MutexGuard<'_, (i64, Arc<PolicyDocument>)> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The revision in force and a copy of its document (to change and save).
    pub(crate) fn current(&self) -> (i64, PolicyDocument) {
        let (number, document) = self.shared();
        (number, PolicyDocument::clone(&document))
    }

    /// The revision in force and its document, shared (to read).
    pub(crate) fn shared(&self) -> (i64, Arc<PolicyDocument>) {
        self.locked().clone()
    }

    /// The number of the revision in force.
    pub(crate) fn revision(&self) -> i64 {
        self.locked().0
    }

    /// Waits for the right to save (validate against the document in force, store the
    /// next revision, publish it); held until the guard drops.
    pub(crate) async fn saving(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.save_lock.lock().await
    }

    /// Puts revision `number` in force and wakes every long-poll, unless a revision as new
    /// is already in force (another node's, adopted first); returns whether it did.
    pub(crate) fn publish(&self, number: i64, document: PolicyDocument) -> bool {
        let mut current = self.locked();
        if current.0 >= number {
            return false;
        }
        *current = (number, Arc::new(document));
        self.revision_tx.send_replace(number);
        true
    }

    /// A receiver that wakes when a new revision is in force.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.revision_tx.subscribe()
    }
}

/// The right to save a revision: this process's save lock and, on PostgreSQL, the save
/// transaction holding the database's save lock (released when it commits or rolls back).
#[derive(Debug)]
pub(crate) struct SaveGuard<'a> {
    /// This process's save lock.
    _local: tokio::sync::MutexGuard<'a, ()>,
    /// The save transaction (PostgreSQL), which the revision is stored in.
    tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
}

impl<'a> SaveGuard<'a> {
    /// The guard of `local`, with the save transaction `tx` if the database has one.
    pub(crate) fn new(
        local: tokio::sync::MutexGuard<'a, ()>,
        tx: Option<sqlx::Transaction<'static, sqlx::Any>>,
    ) -> SaveGuard<'a> {
        SaveGuard { _local: local, tx }
    }

    /// Stores the revision (in the save transaction when there is one, which commits and
    /// so releases the database's save lock), then gives up the right to save.
    pub(crate) async fn store(
        self,
        pool: &crate::store::Pool,
        row: &crate::store::RevisionRow,
        document: &str,
        secrets: &[crate::store::SealedSecret],
    ) -> Result<(), crate::error::ServerError> {
        match self.tx {
            Some(mut tx) => {
                crate::store::save_revision_in(&mut tx, row, document, secrets).await?;
                tx.commit().await?;
            }
            None => crate::store::save_revision(pool, row, document, secrets).await?,
        }
        Ok(())
    }
}
