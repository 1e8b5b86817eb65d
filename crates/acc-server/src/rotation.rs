//! The rotation of 3.2 as the server drives it beyond a save: `--force-switch`,
//! `--cancel`, the removal of a retiring generation at its deadline (a tick), stalled
//! detection, and `credential status`.

use acc_core::credential_check::GenerationPhase;
use serde_json::{Value, json};

use crate::document::{self, Problem};
use crate::init::now_millis;
use crate::server::{SaveError, SaveOutcome, Server, lock};
use crate::sites;

/// `rotation.provisioning_timeout` (3.2.1): after this a provisioning rotation is stalled.
pub const PROVISIONING_TIMEOUT_MS: i64 = 86_400_000;

/// A rotation command without a new credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotationAction {
    /// Switch now, whatever the sites acknowledged.
    ForceSwitch,
    /// Remove the provisioning generation.
    Cancel,
}

impl Server {
    /// `credential rotate --force-switch | --cancel`.
    pub async fn rotation_action(
        &self,
        action: RotationAction,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        let _guard = self.save_lock.lock().await;
        let (_, doc) = self.current();
        let mut next = doc.clone();
        let steps = match action {
            RotationAction::ForceSwitch => document::force_switch(&mut next, now_millis()),
            RotationAction::Cancel => document::cancel(&mut next),
        };
        if steps.is_empty() {
            return Err(SaveError::Refused(vec![Problem {
                field: "rotation".into(),
                id: String::new(),
                message:
                    "rotation: no generation is provisioning; there is nothing to force-switch or cancel"
                        .into(),
            }]));
        }
        for s in &steps {
            tracing::info!(generation = s.generation, user = %s.user_name, from = ?s.from, to = ?s.to, reason = s.reason, "acc.rotation");
        }
        self.commit_document(&doc, next, author).await
    }

    /// Removes retiring generations past their deadline (P6) as a new revision; called
    /// every second by the running server.
    pub async fn tick(&self) {
        let due = {
            let (_, doc) = self.current();
            let now = now_millis();
            doc.generations
                .iter()
                .any(|g| g.phase == GenerationPhase::Retiring && g.retire_deadline.is_some_and(|d| now >= d))
        };
        if !due {
            return;
        }
        let _guard = self.save_lock.lock().await;
        let (_, doc) = self.current();
        match self.commit_document(&doc, doc.clone(), "rotation (grace ended)").await {
            Ok(_) | Err(SaveError::Refused(_)) => {}
            Err(SaveError::Server(e)) => {
                tracing::error!(error = %e, "The rotation tick could not save a revision.")
            }
        }
    }

    /// `credential status`: every generation's phase, the pending sites and whether the
    /// rotation has stalled, and each site's acknowledgements.
    pub fn credential_status(&self) -> Value {
        let (revision, doc) = self.current();
        let registry = lock(&self.sites).clone();
        let now = now_millis();
        let generations: Vec<Value> = doc
            .generations
            .iter()
            .map(|g| {
                json!({
                    "generation": g.number,
                    "user_name": g.user_name,
                    "phase": g.phase,
                    "saved_at": g.saved_at,
                    "retire_deadline": g.retire_deadline,
                })
            })
            .collect();
        let provisioning = doc.generation_in(GenerationPhase::Provisioning).map(|g| {
            json!({
                "generation": g.number,
                "user_name": g.user_name,
                "pending_sites": sites::pending_sites(&doc, &registry),
                "stalled": now - g.saved_at >= PROVISIONING_TIMEOUT_MS,
            })
        });
        let per_site: Vec<Value> = registry
            .values()
            .map(|s| json!({ "site": s.name, "applied_revision": s.applied_revision, "acks": s.acks, "accounts": s.accounts }))
            .collect();
        let phase = match (provisioning.is_some(), doc.generation_in(GenerationPhase::Retiring).is_some()) {
            (true, _) => "provisioning",
            (false, true) => "retiring",
            (false, false) => "steady",
        };
        json!({
            "revision": revision,
            "phase": phase,
            "rotation_grace": doc.rotation_grace,
            "generations": generations,
            "provisioning": provisioning,
            "sites": per_site,
        })
    }
}
