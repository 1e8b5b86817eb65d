//! Packages and package sources as the admin API shows them: the versions and where
//! they are assigned and replicated, an upload's progress and commit, and the sources
//! (shares) with their ACLs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::package::ReplicationStatus;

/// The sites a package version is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum AssignedTo {
    /// Every site server: `"all"`.
    All(AllSites),
    /// These site servers.
    Sites(Vec<String>),
}

/// The word `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AllSites {
    /// Every site server.
    All,
}

/// How far a site's replication of an assigned version is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplicaStatus {
    /// The site has not reported on it yet.
    Pending,
    /// In place and verified.
    Replicated,
    /// Being copied.
    Replicating,
    /// The last attempt failed.
    Failed,
}

impl From<ReplicationStatus> for ReplicaStatus {
    fn from(s: ReplicationStatus) -> ReplicaStatus {
        match s {
            ReplicationStatus::Replicated => ReplicaStatus::Replicated,
            ReplicationStatus::Replicating => ReplicaStatus::Replicating,
            ReplicationStatus::Failed => ReplicaStatus::Failed,
        }
    }
}

impl ReplicaStatus {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReplicaStatus::Pending => "pending",
            ReplicaStatus::Replicated => "replicated",
            ReplicaStatus::Replicating => "replicating",
            ReplicaStatus::Failed => "failed",
        }
    }
}

/// One site's replica of a package version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Replica {
    /// The site.
    pub site: String,
    /// How far it is.
    pub status: ReplicaStatus,
    /// The version in place there.
    pub version: Option<String>,
    /// Why it failed.
    pub message: Option<String>,
}

/// One package version of `GET /v1/packages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageView {
    /// The package.
    pub name: String,
    /// The version.
    pub version: String,
    /// The package source it is in.
    pub share: String,
    /// Its files.
    pub files: usize,
    /// Their bytes.
    pub bytes: u64,
    /// It is an immutable version (else an upload).
    pub committed: bool,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Who uploaded it.
    pub author: String,
    /// The sites it is assigned to.
    pub assigned_to: Option<AssignedTo>,
    /// Each assigned site's replica.
    pub replicas: Vec<Replica>,
}

/// `GET /v1/packages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageList {
    /// The versions.
    pub packages: Vec<PackageView>,
}

/// What a begun upload needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum UploadStatus {
    /// The same version is committed: nothing to send.
    Exists,
    /// Send the files from the bytes received.
    Upload,
}

/// `POST /v1/packages`: for each file, the bytes the server already holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UploadBegun {
    /// What to do.
    pub status: UploadStatus,
    /// Bytes already received, by path.
    pub received: BTreeMap<String, u64>,
}

/// `PUT /v1/packages/{name}/{version}/file`: the bytes the server holds of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ChunkReceived {
    /// Bytes held.
    pub received: u64,
}

/// `POST /v1/packages/{name}/{version}/commit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageCommitted {
    /// The package.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its files.
    pub files: usize,
}

/// `GET /v1/shares`: the package sources with their ACLs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ShareList {
    /// The sources (name, dir, share_acl, file_acls).
    #[schemars(with = "Vec<serde_json::Value>", description = "As acc-core's ShareView defines it.")]
    pub shares: Vec<acc_core::acl::ShareView>,
}

/// `POST /v1/shares`: a new package source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareAdd {
    /// Its name.
    pub name: String,
    /// Grant `Agents` Read at both levels.
    #[serde(default)]
    pub agents_read: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn assignments_and_replica_statuses_are_words_on_the_wire() {
        assert_eq!(json!(AssignedTo::All(AllSites::All)), json!("all"));
        assert_eq!(json!(AssignedTo::Sites(vec!["S1".into()])), json!(["S1"]));
        assert_eq!(
            serde_json::from_value::<AssignedTo>(json!("all")).unwrap(),
            AssignedTo::All(AllSites::All)
        );
        assert_eq!(json!(ReplicaStatus::from(ReplicationStatus::Failed)), json!("failed"));
    }
}
