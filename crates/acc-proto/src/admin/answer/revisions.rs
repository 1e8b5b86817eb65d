//! The policy's answers: the settings in force, a saved change, the revision history,
//! one revision's document and the difference between two revisions.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::admin::policy::PolicyDocument;

/// A saved change: the new revision and what to show once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SaveOutcome {
    /// The new revision's number.
    pub revision: i64,
    /// Warnings to show once.
    pub warnings: Vec<String>,
    /// What `--grant-read` added.
    pub granted: Vec<String>,
    /// The one-line summary.
    pub summary: String,
}

/// `GET /v1/settings`: the settings in force, secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SettingsView {
    /// The revision in force.
    pub revision: i64,
    /// The App ID, as shown.
    pub app_id: String,
    /// The active generation's credential (`None`: no credential is active).
    pub credential: Option<ActiveCredential>,
    /// The policy document's sections (`auth`, `site`, `generations`, `shares` …),
    /// hashes redacted.
    #[serde(flatten)]
    pub document: PolicyDocument,
}

/// The credential of the active generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ActiveCredential {
    /// Its number.
    pub generation: u32,
    /// Its user name.
    pub user_name: String,
}

/// One policy revision: who saved it, when and what.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevisionInfo {
    /// 1, 2, 3 …
    pub number: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Who saved it (`admin`, a token description, `acc server init`).
    pub author: String,
    /// What changed, in one line.
    pub summary: String,
}

/// One entry of `GET /v1/policy/revisions`: a revision and how far it has reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevisionEntry {
    /// The revision.
    #[serde(flatten)]
    pub info: RevisionInfo,
    /// Site servers that run it or a later one.
    pub sites_acknowledged: usize,
    /// Site servers.
    pub sites: usize,
    /// Agents that run it or a later one.
    pub agents_acknowledged: usize,
    /// Agents.
    pub agents: usize,
}

/// `GET /v1/policy/revisions`: newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevisionHistory {
    /// The revisions.
    pub revisions: Vec<RevisionEntry>,
}

/// `GET /v1/policy/revisions/{number}`: one revision with its document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevisionShown {
    /// The revision.
    #[serde(flatten)]
    pub info: RevisionInfo,
    /// Its policy document, hashes redacted.
    pub document: PolicyDocument,
}

/// One difference between two revisions' documents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SettingChange {
    /// The setting's path, e.g. `site.threshold`, `generations[2].phase`.
    pub path: String,
    /// The value before (`null` when added).
    pub from: Value,
    /// The value after (`null` when removed).
    pub to: Value,
}

/// `GET /v1/policy/diff?from=A&to=B`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RevisionDiff {
    /// The older revision.
    pub from: i64,
    /// The newer one.
    pub to: i64,
    /// The differences, leaf by leaf in document order.
    pub changes: Vec<SettingChange>,
}
