//! The rotation of 3.2 as the server drives it beyond a save: `--force-switch`,
//! `--cancel`, the removal of a retiring generation at its deadline (a tick), stalled
//! detection, and `credential status`.

use acc_core::generation::GenerationPhase;
use acc_proto::admin::{Adoption, GenerationView, Provisioning, RotationPhase, RotationStatus, SiteRotation};
use serde_json::{Value, json};

use crate::document::{self, Problem, Saved};
use crate::server::{SaveError, SaveOutcome, Server};
use crate::sites;

pub use crate::rules::PROVISIONING_TIMEOUT_MS;

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
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        let mut next = doc.clone();
        let steps = match action {
            RotationAction::ForceSwitch => document::force_switch(&mut next, self.now_ms()),
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
        let saved = Saved { document: next, warnings: Vec::new(), granted: Vec::new() };
        self.commit_steps(guard, &doc, saved, Vec::new(), author, steps).await
    }

    /// P4: one `acc.rotation` event (Reason `stalled`, the pending sites) when the
    /// provisioning generation has waited `provisioning_timeout`; the rotation itself waits
    /// for the admin's force-switch or cancel.
    pub async fn report_stalled(&self) {
        let (_, doc) = self.in_force();
        let Some(g) = stalled(&doc, self.now_ms()) else {
            return;
        };
        let mark = format!("stalled:{}", g.number);
        match crate::store::mark_once(self.pool(), &mark, &self.config().name, self.now_ms()).await {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => {
                tracing::error!(generation = g.number, error = %e, "A stalled rotation could not be recorded.");
                return;
            }
        }
        let pending = sites::pending_sites(&doc, &self.inventory.sites_now());
        tracing::warn!(generation = g.number, pending = %pending.join(", "), "Rotation stalled: force-switch or cancel it.");
        let fields = json!({
            "Generation": g.number, "UserName": g.user_name,
            "From": g.phase, "To": g.phase, "Reason": "stalled", "RetireDeadline": Value::Null,
            "PendingSites": pending, "Stalled": true,
        });
        self.record_event("acc.rotation", "Audit Failure", Some(&g.user_name), fields).await;
    }

    /// Removes retiring generations past their deadline (P6) as a new revision; called
    /// every second by the running server.
    pub async fn tick(&self) {
        if !crate::rules::retirement_due(&self.current().1, self.now_ms()) {
            return;
        }
        let guard = match self.saving().await {
            Ok(g) => g,
            Err(e) => return tracing::error!(error = %e, "The rotation tick could not take the save lock."),
        };
        let (_, doc) = self.current();
        if !crate::rules::retirement_due(&doc, self.now_ms()) {
            return; // another node saved it first
        }
        match self.commit_document(guard, &doc, doc.clone(), "rotation (grace ended)").await {
            Ok(_) | Err(SaveError::Refused(_)) => {}
            Err(SaveError::Server(e)) => {
                tracing::error!(error = %e, "The rotation tick could not save a revision.")
            }
        }
    }

    /// `credential status`: every generation's phase, the pending sites and whether the
    /// rotation has stalled, each site's acknowledgements, and the agents' adoption of the
    /// active generation.
    pub fn credential_status(&self) -> RotationStatus {
        let (revision, doc) = self.in_force();
        let registry = self.inventory.sites_now();
        let now = self.now_ms();
        let generations = doc
            .generations
            .iter()
            .map(|g| GenerationView {
                generation: g.number,
                user_name: g.user_name.clone(),
                phase: g.phase,
                saved_at: g.saved_at,
                retire_deadline: g.retire_deadline,
            })
            .collect();
        let provisioning = doc.generation_in(GenerationPhase::Provisioning).map(|g| Provisioning {
            generation: g.number,
            user_name: g.user_name.clone(),
            pending_sites: sites::pending_sites(&doc, &registry),
            stalled: stalled(&doc, now).is_some(),
        });
        let per_site = registry
            .values()
            .map(|s| SiteRotation {
                site: s.name.clone(),
                applied_revision: s.applied_revision,
                acks: s.acks.clone(),
                accounts: s.accounts.clone(),
            })
            .collect();
        // Per-agent adoption: who runs with the active generation (P6).
        let agents = self.inventory.agents_now();
        let active = doc.generation_in(GenerationPhase::Active).map(|g| g.number);
        let holds = |a: &crate::agents::AgentRecord| {
            a.state.auth_mode == acc_proto::AuthMode::Certificate
                || (active.is_some() && a.state.generation >= active)
        };
        let adoption = Adoption {
            generation: active,
            agents: agents.len(),
            holding: agents.values().filter(|a| holds(a)).count(),
            pending: agents.values().filter(|a| !holds(a)).map(|a| a.name.clone()).take(100).collect(),
        };
        let phase = match (provisioning.is_some(), doc.generation_in(GenerationPhase::Retiring).is_some()) {
            (true, _) => RotationPhase::Provisioning,
            (false, true) => RotationPhase::Retiring,
            (false, false) => RotationPhase::Steady,
        };
        RotationStatus {
            revision,
            phase,
            rotation_grace: doc.rotation_grace,
            generations,
            provisioning,
            sites: per_site,
            adoption,
        }
    }
}

pub use crate::rules::stalled;
