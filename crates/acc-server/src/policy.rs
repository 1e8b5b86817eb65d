//! The policy in force: the latest revision's number and document, the lock that makes
//! saves one at a time (validate against the document in force, store the next revision,
//! publish it), and the channel long-polls wait on. The save path itself is
//! `Server::commit` in [`crate::server`]; the document's rules are [`crate::document`].

use std::sync::{Mutex, MutexGuard, PoisonError};

use crate::document::PolicyDocument;

/// The revision in force and what serialises its successors.
#[derive(Debug)]
pub struct PolicyState {
    /// The revision in force and its document.
    current: Mutex<(i64, PolicyDocument)>,
    /// Serialises saves: each is validated against the document it replaces.
    save_lock: tokio::sync::Mutex<()>,
    /// The revision in force, for long-polls.
    revision_tx: tokio::sync::watch::Sender<i64>,
}

impl PolicyState {
    /// Revision `number` with `document` in force.
    pub fn new(number: i64, document: PolicyDocument) -> PolicyState {
        PolicyState {
            current: Mutex::new((number, document)),
            save_lock: tokio::sync::Mutex::new(()),
            revision_tx: tokio::sync::watch::Sender::new(number),
        }
    }

    fn locked(&self) -> MutexGuard<'_, (i64, PolicyDocument)> {
        self.current.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The revision in force and its document.
    pub(crate) fn current(&self) -> (i64, PolicyDocument) {
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

    /// Puts revision `number` in force and wakes every long-poll.
    pub(crate) fn publish(&self, number: i64, document: PolicyDocument) {
        *self.locked() = (number, document);
        self.revision_tx.send_replace(number);
    }

    /// A receiver that wakes when a new revision is in force.
    pub(crate) fn subscribe(&self) -> tokio::sync::watch::Receiver<i64> {
        self.revision_tx.subscribe()
    }
}
