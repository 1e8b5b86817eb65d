//! The policy in force: the latest revision's number and document, the lock that makes
//! saves one at a time (validate against the document in force, store the next revision,
//! publish it), and the channel long-polls wait on. The save path itself is
//! `Server::commit` in [`crate::server`]; the document's rules are [`crate::document`].

use std::sync::Mutex;

use crate::document::PolicyDocument;

/// The revision in force and what serialises its successors.
#[derive(Debug)]
pub struct PolicyState {
    /// The revision in force and its document.
    pub(crate) current: Mutex<(i64, PolicyDocument)>,
    /// Serialises saves: each is validated against the document it replaces.
    pub(crate) save_lock: tokio::sync::Mutex<()>,
    /// The revision in force, for long-polls.
    pub(crate) revision_tx: tokio::sync::watch::Sender<i64>,
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
}
