//! The admin API's answers: what the management server returns to `acc ctl` (and, next,
//! the console) for settings, revisions and their diffs, site servers, agents,
//! certificates, lockouts, the credential rotation, a saved change, packages, package
//! sources, the directory and API tokens; and [`ApiErrorBody`], every refusal. The server
//! answers `Json(T)` of these types and `acc ctl` reads them back, so both sides agree on
//! each field. Words from a closed set are enums.

use std::collections::BTreeMap;

use acc_core::generation::GenerationPhase;
use acc_core::lockout::GenerationAck;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::admin::policy::PolicyDocument;
use crate::agent::AuthMode;
use crate::package::{PackageState, ReplicationStatus};
use crate::site::AccountState;

/// Every refusal: `{error, message}`, plus `errors[]` where the specification defines
/// them (a save's problems, one per field).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiErrorBody {
    /// A code (`malformed`, `forbidden`, `invalid_settings` …).
    pub error: String,
    /// One line for people.
    pub message: String,
    /// The problems of a refused save, in the specification's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<Problem>,
}

/// One refused field: the field label of 5.5, the message id when the specification has
/// one, and the exact message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Problem {
    /// `user name`, `password`, `lockout and site settings`, `rotation`, `share access`.
    pub field: String,
    /// `P-CLASSES`, `L-T` … (empty when the specification has no id for it).
    pub id: String,
    /// The message.
    pub message: String,
}

impl Problem {
    /// A problem of `field` with the specification's `id` (or none) and `message`.
    pub fn new(field: &str, id: &str, message: impl Into<String>) -> Problem {
        Problem { field: field.into(), id: id.into(), message: message.into() }
    }
}

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

/// What an API token may do. Each role includes the ones before it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads settings, revisions, inventory and events.
    Viewer,
    /// Also sends tasks, creates join and enrollment tokens, unlocks.
    Operator,
    /// Also changes settings, credentials, trust, and creates API tokens.
    Admin,
}

impl Role {
    /// A role's name; the error names the word and the roles there are.
    pub fn parse(s: &str) -> Result<Role, UnknownRole> {
        s.parse()
    }

    /// `viewer`, `operator` or `admin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

/// A word that is not a role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("role '{0}' is not one of viewer, operator, admin")]
pub struct UnknownRole(pub String);

impl std::str::FromStr for Role {
    type Err = UnknownRole;

    /// A role's name; the error names the word and the roles there are.
    fn from_str(s: &str) -> Result<Role, UnknownRole> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(UnknownRole(s.to_string())),
        }
    }
}

/// An API token (never its text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ApiToken {
    /// What it may do.
    pub role: Role,
    /// What it is for.
    pub description: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds (`None`: it does not expire).
    pub expires_at: Option<i64>,
}

/// `GET /v1/tokens`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TokenList {
    /// The tokens, oldest first.
    pub tokens: Vec<ApiToken>,
}

/// `POST /v1/tokens`: the new token, its text shown once.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CreatedApiToken {
    /// The token.
    #[serde(flatten)]
    pub info: ApiToken,
    /// Its text.
    pub token: String,
}

impl std::fmt::Debug for CreatedApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedApiToken").field("info", &self.info).finish_non_exhaustive()
    }
}

/// One site server as the management server knows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteView {
    /// Its name (its certificate's CN).
    pub name: String,
    /// Where agents reach it.
    pub url: String,
    /// Its client certificate's serial (upper-case hex).
    pub serial_hex: String,
    /// When it joined (Unix milliseconds).
    pub joined_at: i64,
    /// Its last request (Unix milliseconds).
    pub last_contact: i64,
    /// The revision it last applied.
    pub applied_revision: Option<i64>,
    /// Its acknowledgements of the generations of that revision.
    #[schemars(with = "Vec<serde_json::Value>", description = "As acc-core defines it.")]
    pub acks: Vec<GenerationAck>,
    /// The managed accounts' states there.
    pub accounts: Vec<AccountState>,
    /// The last failure to apply, if any.
    pub error: Option<String>,
    /// thisUpdate of the fleet CRL it enforces (Unix milliseconds).
    #[serde(default)]
    pub crl_this_update_ms: Option<i64>,
    /// nextUpdate of that CRL.
    #[serde(default)]
    pub crl_next_update_ms: Option<i64>,
    /// When the server signed that CRL.
    #[serde(default)]
    pub crl_issued_ms: Option<i64>,
    /// The CA certificate (PEM) of its TLS server certificate.
    #[serde(default)]
    pub tls_ca_pem: Option<String>,
    /// Its replication of the packages assigned to it.
    #[serde(default)]
    pub packages: Vec<PackageState>,
    /// Where its events come from in the event store.
    #[serde(default)]
    pub origin: String,
}

impl SiteView {
    /// The age of the CRL the site enforces, from its issuance (its thisUpdate is
    /// backdated), `EXPIRED` past its nextUpdate, `-` before its first acknowledgement.
    pub fn crl_age(&self, now_ms: i64) -> String {
        match (self.crl_issued_ms, self.crl_next_update_ms) {
            (_, Some(next)) if next <= now_ms => "EXPIRED".into(),
            (Some(issued), _) => format!("{}m", (now_ms - issued).max(0) / 60_000),
            _ => "-".into(),
        }
    }
}

/// `GET /v1/sites`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteList {
    /// The revision in force.
    pub revision: i64,
    /// The site servers.
    pub sites: Vec<SiteView>,
}

/// Where an agent stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// Enrolled, not yet checked in.
    Enrolled,
    /// Checked in, has applied no policy yet.
    Polling,
    /// Runs the revision in force.
    Current,
    /// Runs an older revision.
    Behind,
    /// Could not apply its last policy.
    PolicyFailed,
}

impl AgentStatus {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Enrolled => "enrolled",
            AgentStatus::Polling => "polling",
            AgentStatus::Current => "current",
            AgentStatus::Behind => "behind",
            AgentStatus::PolicyFailed => "policy_failed",
        }
    }
}

/// One agent of `GET /v1/agents`: its certificate and its last check-in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentView {
    /// Its host name (the certificate's CN).
    pub name: String,
    /// Its certificate's serial (upper-case hex).
    pub serial: String,
    /// Its certificate's issuer.
    pub issuer: String,
    /// Its certificate's expiry (Unix milliseconds).
    pub cert_not_after: Option<i64>,
    /// Its certificate is revoked.
    pub revoked: bool,
    /// Where it stands.
    pub status: AgentStatus,
    /// The revision it runs (`None`: not checked in).
    pub revision: Option<i64>,
    /// The revision it failed to apply.
    #[serde(default)]
    pub failed_revision: Option<i64>,
    /// Why.
    #[serde(default)]
    pub failure: Option<String>,
    /// How it authenticates to site servers.
    #[serde(default)]
    pub auth_mode: Option<AuthMode>,
    /// The credential's user name.
    #[serde(default)]
    pub user_name: Option<String>,
    /// The credential's generation.
    #[serde(default)]
    pub generation: Option<u32>,
    /// The site server it uses.
    #[serde(default)]
    pub site_server: Option<String>,
    /// Whether it reached it.
    #[serde(default)]
    pub site_reachable: Option<bool>,
    /// The packages it holds.
    #[serde(default)]
    pub packages: Vec<String>,
    /// The agent's version.
    #[serde(default)]
    pub version: Option<String>,
    /// Its last check-in (Unix milliseconds).
    pub last_check_in: Option<i64>,
    /// The address it checked in from.
    #[serde(default)]
    pub address: Option<String>,
    /// Another machine that checked in with this identity.
    pub duplicate: Option<String>,
}

/// `GET /v1/agents`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct AgentList {
    /// The agents, by name.
    pub agents: Vec<AgentView>,
}

/// Whom a fleet certificate was issued to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum CertificateKind {
    /// A site server.
    Site,
    /// An agent.
    Agent,
}

/// A word that is not a [`CertificateKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("certificate kind '{0}' is not site or agent")]
pub struct UnknownCertificateKind(pub String);

impl std::str::FromStr for CertificateKind {
    type Err = UnknownCertificateKind;

    /// `site` or `agent`; the error names the word.
    fn from_str(s: &str) -> Result<CertificateKind, UnknownCertificateKind> {
        match s {
            "site" => Ok(CertificateKind::Site),
            "agent" => Ok(CertificateKind::Agent),
            _ => Err(UnknownCertificateKind(s.to_string())),
        }
    }
}

impl CertificateKind {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            CertificateKind::Site => "site",
            CertificateKind::Agent => "agent",
        }
    }
}

/// One certificate the fleet CA issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertificateView {
    /// Serial, upper-case hex.
    pub serial: String,
    /// A site server's or an agent's.
    pub kind: CertificateKind,
    /// The site's or agent's name (the CN).
    pub name: String,
    /// The subject on one line.
    pub subject: String,
    /// Unix milliseconds.
    pub issued_at: i64,
    /// Unix milliseconds.
    pub not_after: i64,
    /// When it was revoked (Unix milliseconds).
    pub revoked_at: Option<i64>,
}

/// `GET /v1/certificates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CertificateList {
    /// Every certificate the fleet CA issued.
    pub certificates: Vec<CertificateView>,
}

/// One lock or block and its culprit (`GET /v1/lockouts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Lockout {
    /// The site server that locked (`Computer`).
    pub site: String,
    /// The account (`TargetUserName`).
    pub account: String,
    /// `account`, `unfamiliar`, `source` or `address`.
    pub scope: String,
    /// The caller machine (`CallerComputerName`; the address itself for address scope).
    pub caller: String,
    /// Its IP address.
    pub ip: String,
    /// How many 4740 this caller caused on this account and site.
    pub lockouts: u32,
    /// Failed logons (4625) of this caller for this account on this site.
    pub failures: u32,
    /// The last 4740's time.
    pub last_lockout: String,
    /// A 4767 (unlock by an admin or the re-enable) came after the last 4740.
    pub cleared: bool,
    /// The policy revision the caller's agent last acknowledged.
    pub agent_revision: Option<i64>,
    /// What to do.
    pub advice: String,
}

/// `GET /v1/lockouts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LockoutList {
    /// The locks and blocks.
    pub lockouts: Vec<Lockout>,
}

/// Where the credential rotation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum RotationPhase {
    /// A new generation is being created on the sites.
    Provisioning,
    /// The previous generation waits for its retirement.
    Retiring,
    /// One active generation.
    Steady,
}

impl RotationPhase {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            RotationPhase::Provisioning => "provisioning",
            RotationPhase::Retiring => "retiring",
            RotationPhase::Steady => "steady",
        }
    }
}

/// One generation of `GET /v1/credential/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GenerationView {
    /// Its number.
    pub generation: u32,
    /// Its user name.
    pub user_name: String,
    /// Its phase.
    #[schemars(with = "String")]
    pub phase: GenerationPhase,
    /// When it was saved (Unix milliseconds).
    pub saved_at: i64,
    /// When it retires (Unix milliseconds).
    pub retire_deadline: Option<i64>,
}

/// The generation in provisioning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Provisioning {
    /// Its number.
    pub generation: u32,
    /// Its user name.
    pub user_name: String,
    /// The sites that have not created it.
    pub pending_sites: Vec<String>,
    /// It waits longer than it should.
    pub stalled: bool,
}

/// One site's acknowledgements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SiteRotation {
    /// The site.
    pub site: String,
    /// The revision it applied.
    pub applied_revision: Option<i64>,
    /// Its acknowledgements of the generations of that revision.
    #[schemars(with = "Vec<serde_json::Value>", description = "As acc-core defines it.")]
    pub acks: Vec<GenerationAck>,
    /// The managed accounts' states there.
    pub accounts: Vec<AccountState>,
}

/// The agents' adoption of the active generation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Adoption {
    /// The active generation.
    pub generation: Option<u32>,
    /// Agents.
    pub agents: usize,
    /// Agents that hold it (or use certificates).
    pub holding: usize,
    /// The first 100 that do not.
    pub pending: Vec<String>,
}

/// `GET /v1/credential/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RotationStatus {
    /// The revision in force.
    pub revision: i64,
    /// Where the rotation stands.
    pub phase: RotationPhase,
    /// `rotation.grace`, seconds.
    pub rotation_grace: u64,
    /// The generations.
    pub generations: Vec<GenerationView>,
    /// The generation in provisioning.
    pub provisioning: Option<Provisioning>,
    /// Each site's acknowledgements.
    pub sites: Vec<SiteRotation>,
    /// The agents' adoption.
    pub adoption: Adoption,
}

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

/// A domain account's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryAccountState {
    /// It may log on.
    Enabled,
    /// Locked out.
    Locked,
    /// Disabled.
    Disabled,
}

impl DirectoryAccountState {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            DirectoryAccountState::Enabled => "enabled",
            DirectoryAccountState::Locked => "locked",
            DirectoryAccountState::Disabled => "disabled",
        }
    }
}

/// One domain account of `GET /v1/directory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryAccount {
    /// `DOMAIN\name`.
    pub name: String,
    /// Its state.
    pub state: DirectoryAccountState,
    /// Seconds until it may try again.
    pub retry_after: Option<u64>,
    /// It is the App ID.
    pub app_id: bool,
}

/// `GET /v1/directory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryList {
    /// The accounts.
    pub accounts: Vec<DirectoryAccount>,
}

/// `POST /v1/directory`: the account created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryAdded {
    /// `DOMAIN\name`.
    pub name: String,
}

/// `POST /v1/directory/{name}/unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryUnlocked {
    /// The account.
    pub name: String,
    /// It was locked and is no longer.
    pub unlocked: bool,
}

/// A management server node serving the fleet's store (`GET /v1/nodes`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeView {
    /// Its name (`server.json`'s `name`).
    pub name: String,
    /// Where sites, agents and `acc ctl` reach it (`https://host:port`).
    pub url: String,
    /// When it joined or first ran (Unix milliseconds).
    pub joined_at_ms: i64,
    /// When it last said it runs (Unix milliseconds; a running node says so every few seconds).
    pub last_seen_ms: i64,
}

/// The management server nodes, the most recently seen first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NodeList {
    /// The nodes.
    pub nodes: Vec<NodeView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_error_body_has_errors_only_when_there_are_problems() {
        let plain = ApiErrorBody { error: "malformed".into(), message: "m".into(), errors: Vec::new() };
        assert_eq!(serde_json::to_value(&plain).unwrap(), json!({"error": "malformed", "message": "m"}));
        let refused = ApiErrorBody { errors: vec![Problem::new("auth.mode", "V1", "x")], ..plain };
        assert_eq!(
            serde_json::to_value(&refused).unwrap()["errors"],
            json!([{"field": "auth.mode", "id": "V1", "message": "x"}])
        );
    }

    #[test]
    fn closed_sets_are_words_on_the_wire() {
        assert_eq!(json!(AgentStatus::PolicyFailed), json!("policy_failed"));
        assert_eq!(json!(AssignedTo::All(AllSites::All)), json!("all"));
        assert_eq!(json!(AssignedTo::Sites(vec!["S1".into()])), json!(["S1"]));
        assert_eq!(
            serde_json::from_value::<AssignedTo>(json!("all")).unwrap(),
            AssignedTo::All(AllSites::All)
        );
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().unwrap_err().to_string().contains("'root'"));
        for s in [AgentStatus::Enrolled, AgentStatus::Polling, AgentStatus::Behind] {
            assert_eq!(json!(s), json!(s.as_str()));
        }
        assert_eq!(json!(ReplicaStatus::from(ReplicationStatus::Failed)), json!("failed"));
        assert_eq!("site".parse::<CertificateKind>(), Ok(CertificateKind::Site));
        assert!("ca".parse::<CertificateKind>().unwrap_err().to_string().contains("'ca'"));
    }

    #[test]
    fn a_created_api_token_hides_its_text_from_debug() {
        let t = CreatedApiToken {
            info: ApiToken { role: Role::Admin, description: "ci".into(), created_at: 1, expires_at: None },
            token: "acc_secret".into(),
        };
        assert!(!format!("{t:?}").contains("acc_secret"));
        assert_eq!(serde_json::to_value(&t).unwrap()["token"], "acc_secret");
        assert_eq!(serde_json::to_value(&t).unwrap()["role"], "admin");
    }
}
