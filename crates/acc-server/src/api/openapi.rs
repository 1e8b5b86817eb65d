//! `GET /v1/openapi.json`: the API described as OpenAPI 3.1, built from [`OPERATIONS`],
//! the one table of routes, roles and summaries (a test requests every entry), and
//! [`BODIES`], which names the `acc_proto` type of each request and answer: their schemas
//! are generated from those types (schemars, which follows their serde attributes), so the
//! document cannot drift from what the server parses. `docs/openapi/server.json` is the
//! document checked in; a test keeps it equal to the generated one.

use acc_proto::admin::{
    AgentList, ApiTokenRequest, AuthChange, CertificateList, ChunkReceived, CreatedApiToken, CreatedToken,
    DirectoryAccountAdd, DirectoryAdded, DirectoryList, DirectoryUnlocked, LockoutList, NodeList,
    PackageAssign, PackageCommitted, PackageList, RevisionDiff, RevisionHistory, RevisionShown,
    RotationStatus, SaveOutcome, SettingsView, ShareAdd, ShareList, SiteList, SiteSettingsChange, TokenList,
    TokenTerms, TrustAdd, TrustRemove, UploadBegun,
};
use acc_proto::agent::CheckInAnswer;
use acc_proto::openapi::{Bodies, Operation, schema};
use acc_proto::site::{EventsStored, Recorded};
use acc_proto::task::{TaskRequest, TaskSent};
use acc_proto::users::{UserAdd, UserList, UserPassword};
use acc_proto::{
    AgentCheckIn, AgentPolicy, DirectoryAnswer, DirectoryLogon, EnrollRequest, EventBatch, EventPage, Health,
    JoinRequest, JoinResponse, NodeJoinRequest, NodeJoinResponse, PackageManifest, PackageReport, SiteAck,
    SitePolicy,
};
use axum::Json;
use serde_json::{Value, json};

/// The typed bodies: method, path, the request's type, the answer's type (`None`: no
/// body, or an answer the document does not type yet).
pub const BODIES: &Bodies = &[
    ("get", "/v1/health", None, Some(schema::<Health>)),
    ("get", "/v1/settings", None, Some(schema::<SettingsView>)),
    ("put", "/v1/settings/auth", Some(schema::<AuthChange>), Some(schema::<SaveOutcome>)),
    ("put", "/v1/settings/site", Some(schema::<SiteSettingsChange>), Some(schema::<SaveOutcome>)),
    ("get", "/v1/policy/revisions", None, Some(schema::<RevisionHistory>)),
    ("get", "/v1/policy/revisions/{number}", None, Some(schema::<RevisionShown>)),
    ("get", "/v1/policy/diff", None, Some(schema::<RevisionDiff>)),
    ("post", "/v1/site-tokens", Some(schema::<TokenTerms>), Some(schema::<CreatedToken>)),
    ("get", "/v1/sites", None, Some(schema::<SiteList>)),
    ("post", "/v1/sites/join", Some(schema::<JoinRequest>), Some(schema::<JoinResponse>)),
    ("get", "/v1/site/policy", None, Some(schema::<SitePolicy>)),
    ("post", "/v1/site/ack", Some(schema::<SiteAck>), Some(schema::<Recorded>)),
    ("post", "/v1/credential/rotate", Some(schema::<AuthChange>), Some(schema::<SaveOutcome>)),
    ("post", "/v1/credential/force-switch", None, Some(schema::<SaveOutcome>)),
    ("post", "/v1/credential/cancel", None, Some(schema::<SaveOutcome>)),
    ("get", "/v1/credential/status", None, Some(schema::<RotationStatus>)),
    ("post", "/v1/site/events", Some(schema::<EventBatch>), Some(schema::<EventsStored>)),
    ("get", "/v1/events", None, Some(schema::<EventPage>)),
    ("get", "/v1/lockouts", None, Some(schema::<LockoutList>)),
    ("post", "/v1/enroll-tokens", Some(schema::<TokenTerms>), Some(schema::<CreatedToken>)),
    ("post", "/v1/agent/enroll", Some(schema::<EnrollRequest>), Some(schema::<JoinResponse>)),
    ("post", "/v1/agent/renew", None, Some(schema::<JoinResponse>)),
    ("get", "/v1/agents", None, Some(schema::<AgentList>)),
    ("get", "/v1/agent/policy", None, Some(schema::<AgentPolicy>)),
    ("post", "/v1/agent/checkin", Some(schema::<AgentCheckIn>), Some(schema::<CheckInAnswer>)),
    ("post", "/v1/tasks", Some(schema::<TaskRequest>), Some(schema::<TaskSent>)),
    ("get", "/v1/packages", None, Some(schema::<PackageList>)),
    ("post", "/v1/packages", Some(schema::<PackageManifest>), Some(schema::<UploadBegun>)),
    ("put", "/v1/packages/{name}/{version}/file", None, Some(schema::<ChunkReceived>)),
    ("post", "/v1/packages/{name}/{version}/commit", None, Some(schema::<PackageCommitted>)),
    ("post", "/v1/packages/{name}/assign", Some(schema::<PackageAssign>), Some(schema::<SaveOutcome>)),
    ("post", "/v1/site/packages", Some(schema::<PackageReport>), Some(schema::<Recorded>)),
    ("post", "/v1/site/directory/logon", Some(schema::<DirectoryLogon>), Some(schema::<DirectoryAnswer>)),
    ("get", "/v1/directory", None, Some(schema::<DirectoryList>)),
    ("post", "/v1/directory", Some(schema::<DirectoryAccountAdd>), Some(schema::<DirectoryAdded>)),
    ("post", "/v1/directory/{name}/unlock", None, Some(schema::<DirectoryUnlocked>)),
    ("get", "/v1/certificates", None, Some(schema::<CertificateList>)),
    ("post", "/v1/certificates/{serial}/revoke", None, Some(schema::<SaveOutcome>)),
    ("post", "/v1/trust", Some(schema::<TrustAdd>), Some(schema::<SaveOutcome>)),
    ("post", "/v1/trust/remove", Some(schema::<TrustRemove>), Some(schema::<SaveOutcome>)),
    ("get", "/v1/shares", None, Some(schema::<ShareList>)),
    ("post", "/v1/shares", Some(schema::<ShareAdd>), Some(schema::<SaveOutcome>)),
    ("post", "/v1/shares/grant", None, Some(schema::<SaveOutcome>)),
    ("post", "/v1/shares/revoke", None, Some(schema::<SaveOutcome>)),
    ("get", "/v1/tokens", None, Some(schema::<TokenList>)),
    ("post", "/v1/tokens", Some(schema::<ApiTokenRequest>), Some(schema::<CreatedApiToken>)),
    ("get", "/v1/users", None, Some(schema::<UserList>)),
    ("post", "/v1/users", Some(schema::<UserAdd>), Some(schema::<UserList>)),
    ("delete", "/v1/users/{name}", None, Some(schema::<UserList>)),
    ("put", "/v1/users/{name}/password", Some(schema::<UserPassword>), Some(schema::<UserList>)),
    ("get", "/v1/nodes", None, Some(schema::<NodeList>)),
    ("delete", "/v1/nodes/{name}", None, Some(schema::<NodeList>)),
    ("post", "/v1/node-tokens", Some(schema::<TokenTerms>), Some(schema::<CreatedToken>)),
    ("post", "/v1/nodes/join", Some(schema::<NodeJoinRequest>), Some(schema::<NodeJoinResponse>)),
];

/// One operation: method, path, least role (`None`: no token; `site certificate`: a joined
/// site's fleet client certificate; `agent certificate`: an agent's), summary.
pub const OPERATIONS: &[(&str, &str, Option<&str>, &str)] = &[
    ("get", "/v1/health", None, "Liveness: {\"status\":\"ok\"}."),
    ("get", "/v1/openapi.json", None, "This document."),
    (
        "get",
        "/healthz",
        None,
        "Alive, for load balancers and systemd: 200 {\"status\":\"ok\"} while the process answers.",
    ),
    (
        "get",
        "/readyz",
        None,
        "Ready to serve: 200 {\"status\":\"ready\"} when the database answers (the policy in force is loaded before the listener opens); else 503 (also while stopping) {\"status\":\"not_ready\",\"reason\"}.",
    ),
    (
        "get",
        "/v1/settings",
        Some("viewer"),
        "The settings in force: revision, authentication, site settings, generations, package sources (hashes redacted).",
    ),
    (
        "put",
        "/v1/settings/auth",
        Some("admin"),
        "Global agent settings, Authentication: mode, credential (user_name, password, confirmation), password_policy, grant_read. Refusals are 422 with errors[] in the order and wording of the specification's 5.5 and 5.6.",
    ),
    (
        "put",
        "/v1/settings/site",
        Some("admin"),
        "Global site server settings: any lockout policy field (mode, threshold, reset_after, duration, source_threshold, …, create_acc_on_site_servers, reenable_locked_local_account, acc_refresh_interval).",
    ),
    ("get", "/v1/policy/revisions", Some("viewer"), "Revision history, newest first (?limit=N)."),
    (
        "get",
        "/v1/policy/revisions/{number}",
        Some("viewer"),
        "One revision with its document (secrets redacted).",
    ),
    (
        "get",
        "/v1/policy/diff",
        Some("viewer"),
        "Changes between two revisions (?from=A&to=B), secrets redacted.",
    ),
    (
        "post",
        "/v1/site-tokens",
        Some("operator"),
        "Create a site server join token {ttl_secs? (3600), uses? (1)}: {token}, printed by acc ctl site-token create.",
    ),
    (
        "get",
        "/v1/sites",
        Some("viewer"),
        "The site servers: applied revision, ACC account states, acknowledgements, last contact.",
    ),
    (
        "post",
        "/v1/sites/join",
        None,
        "Join a site server {secret, name, url, csr_pem, replace? (false)}: its client certificate from the fleet CA (and the site it replaced, when replace takes over a name in use; otherwise a name in use is a 409). The join token's secret is the credential.",
    ),
    (
        "get",
        "/v1/site/policy",
        Some("site certificate"),
        "Long-poll (?after=REV&wait=S, at most 60 s) for the site policy of a newer revision; 204 when none came.",
    ),
    (
        "post",
        "/v1/site/ack",
        Some("site certificate"),
        "A site's acknowledgement {revision, generations[], accounts[], error}.",
    ),
    (
        "post",
        "/v1/credential/rotate",
        Some("admin"),
        "Rotate the ACC {user_name, password, confirmation?, grace_secs?, grant_read?}: checks V1-V7, a new generation in provisioning, the switch when every site created it.",
    ),
    (
        "post",
        "/v1/credential/force-switch",
        Some("admin"),
        "Switch to the provisioning generation now (pending sites create it when they return).",
    ),
    (
        "post",
        "/v1/credential/cancel",
        Some("admin"),
        "Cancel the provisioning generation (it becomes removed).",
    ),
    (
        "get",
        "/v1/credential/status",
        Some("viewer"),
        "The rotation: phase, generations, pending sites, stalled, per-site acknowledgements.",
    ),
    (
        "post",
        "/v1/site/events",
        Some("site certificate"),
        "A site's security events {events: [{seq, event_id, time_ms, target_user, body}]}, at least once; stored once per (origin, seq), the origin being the site's join certificate.",
    ),
    (
        "get",
        "/v1/events",
        Some("viewer"),
        "Every site's security events and the server's own (?id=4740&site=S&user=U&machine=M&address=A&since_ms=T&before_seq=Q with site, limit=N newest (default 1000) or all=true), a page of at most 1000 oldest first: {events, next}; pass next back as cursor=C for the following page.",
    ),
    (
        "get",
        "/v1/lockouts",
        Some("viewer"),
        "Locked accounts and blocked sources of every site (?since_ms=T, default 24 h): culprit machine and IP, failures, cleared, what to do.",
    ),
    (
        "post",
        "/v1/enroll-tokens",
        Some("operator"),
        "Create an agent enrollment token {ttl_secs? (86400), uses? (1)}: {token}.",
    ),
    (
        "post",
        "/v1/agent/enroll",
        None,
        "Enroll an agent {secret, host_name, csr_pem}: a client certificate from the fleet CA (CN = host name, 90 days). The token's secret is the credential.",
    ),
    (
        "post",
        "/v1/agent/renew",
        None,
        "Renew an agent certificate {certificate_pem, csr_pem}: the CSR is for the certificate's key (proof of possession); valid, or expired at most 30 days; not revoked.",
    ),
    (
        "get",
        "/v1/agents",
        Some("viewer"),
        "The agent inventory: host name, status (enrolled, polling, current, behind, policy_failed), revision, auth mode, credential user name, generation, site server and its reachability, last check-in, certificate serial, issuer and expiry, duplicate (two machines with one identity).",
    ),
    (
        "get",
        "/v1/agent/policy",
        Some("agent certificate"),
        "Long-poll (?after=REV&force=F&wait=S, at most 60 s) for the agent policy: mode, credential (over mTLS only), retry limits, site servers with their CA; 204 when nothing changed.",
    ),
    (
        "post",
        "/v1/agent/checkin",
        Some("agent certificate"),
        "An agent's check-in {seq, revision, failed_revision?, failure?, auth_mode, user_name?, generation?, site_server?, site_reachable?, packages[], version}.",
    ),
    (
        "post",
        "/v1/tasks",
        Some("operator"),
        "Send {type: update-config, to: sites|agents|all}: every target fetches its policy now.",
    ),
    (
        "get",
        "/v1/packages",
        Some("viewer"),
        "Package versions: share, files, bytes, assignment and each site's replication (status, version in place, message).",
    ),
    (
        "post",
        "/v1/packages",
        Some("operator"),
        "Begin or resume an upload against a manifest {share, name, version, files: [{path, size, sha256}]}: {status: upload|exists, received: {path: bytes}}.",
    ),
    (
        "put",
        "/v1/packages/{name}/{version}/file",
        Some("operator"),
        "Append a chunk (at most 8 MiB, application/octet-stream) to a file of an upload (?path=P&offset=N, N = the bytes the server holds).",
    ),
    (
        "post",
        "/v1/packages/{name}/{version}/commit",
        Some("operator"),
        "Verify every size and SHA-256 of an upload and make it an immutable version.",
    ),
    (
        "post",
        "/v1/packages/{name}/assign",
        Some("admin"),
        "Assign a version {version? (newest), sites: [..] | all: true} to site servers (a revision).",
    ),
    (
        "get",
        "/v1/site/packages/{name}/{version}/file",
        Some("site certificate"),
        "A chunk of a package file (?path=P&offset=N), read as the connectivity credential; 403 with the package-refresh error when it may not read the source.",
    ),
    (
        "post",
        "/v1/site/packages",
        Some("site certificate"),
        "A site's replication report {packages: [{share, name, wanted, version, status, message, bytes}]}.",
    ),
    (
        "post",
        "/v1/site/directory/logon",
        Some("site certificate"),
        "A domain-form attempt {user_name, password, workstation, ip, port} for the directory to decide (2.4 D2): {outcome, sid, domain}.",
    ),
    ("get", "/v1/directory", Some("viewer"), "The directory's domain accounts with their state."),
    ("post", "/v1/directory", Some("admin"), "Create a domain account {name, password}."),
    (
        "post",
        "/v1/directory/{name}/unlock",
        Some("operator"),
        "Clear a domain account's lockout (4767 Reason admin).",
    ),
    (
        "get",
        "/v1/certificates",
        Some("viewer"),
        "Every certificate the fleet CA issued (sites and agents), with revoked_at.",
    ),
    (
        "post",
        "/v1/certificates/{serial}/revoke",
        Some("admin"),
        "Revoke a fleet certificate: a policy revision whose CRL reaches every site.",
    ),
    (
        "post",
        "/v1/trust",
        Some("admin"),
        "Trust an operator CA {pem} for agent certificates on every site (a policy revision).",
    ),
    (
        "post",
        "/v1/trust/remove",
        Some("admin"),
        "Stop trusting an operator CA {fingerprint | pem, force?}; refused with the impact while agents hold its certificates.",
    ),
    ("get", "/v1/shares", Some("viewer"), "The package sources with their share-level and file-level ACLs."),
    (
        "post",
        "/v1/shares",
        Some("admin"),
        "Add a package source {name, agents_read? (false: no access; true: Agents Read at both levels)} (a revision).",
    ),
    (
        "post",
        "/v1/shares/grant",
        Some("admin"),
        "Grant {share, principal, level: share|file, path?, right: read|change|full} on a package source (a revision).",
    ),
    (
        "post",
        "/v1/shares/revoke",
        Some("admin"),
        "Remove {share, principal, level, path?}'s Allow on a package source (a revision).",
    ),
    ("get", "/v1/tokens", Some("admin"), "API tokens (never their text)."),
    (
        "post",
        "/v1/tokens",
        Some("admin"),
        "Create an API token {role, description, ttl_secs?}; the token is in the response only.",
    ),
    (
        "get",
        "/v1/users",
        Some("admin"),
        "The web console's users: name, role, when made and when the password was set.",
    ),
    (
        "post",
        "/v1/users",
        Some("admin"),
        "Create a console user {name, role, password}; the password follows the rules of the specification's 5.5 (NIST policy).",
    ),
    ("delete", "/v1/users/{name}", Some("admin"), "Remove a console user (never the last admin)."),
    ("put", "/v1/users/{name}/password", Some("admin"), "Set a console user's password {password}."),
    (
        "get",
        "/v1/nodes",
        Some("viewer"),
        "The management server nodes on this store: name, URL, joined and last seen (a running node says so every 5 s), the most recently seen first.",
    ),
    (
        "delete",
        "/v1/nodes/{name}",
        Some("admin"),
        "Forget a stopped node (one seen in the last 20 s, or the node answering, is refused); answers the nodes left.",
    ),
    (
        "post",
        "/v1/node-tokens",
        Some("admin"),
        "Create a one-use node join token {ttl_secs? (3600)} for acc server join: {token}, printed by acc ctl node-token create. Refused (422) when the store is SQLite, which one node only can serve.",
    ),
    (
        "post",
        "/v1/nodes/join",
        None,
        "Join a management server node {secret, name, url}: {sealed_bundle}, the vault master key, the fleet CA and key and server.json's shared fields (the database without password), AES-256-GCM under a key derived (HKDF-SHA256) from the token's secret. The node token's secret is the credential; it is spent.",
    ),
];

pub(super) async fn document() -> Json<Value> {
    Json(generate())
}

/// The document, generated from [`OPERATIONS`] and the types of [`BODIES`].
pub fn generate() -> Value {
    acc_proto::openapi::document(
        "acc management server",
        env!("CARGO_PKG_VERSION"),
        &operations(),
        BODIES,
        json!({
            "bearer": { "type": "http", "scheme": "bearer" },
            "mutualTLS": { "type": "mutualTLS", "description": "A site server's or an agent's client certificate (fleet CA, or an operator CA for agents)." }
        }),
    )
}

/// [`OPERATIONS`] as the generator takes them.
fn operations() -> Vec<Operation<'static>> {
    OPERATIONS
        .iter()
        .map(|&(method, path, role, summary)| {
            let (security, role) = match role {
                Some("site certificate" | "agent certificate") => (json!([{ "mutualTLS": [] }]), None),
                Some(r) => (json!([{ "bearer": [] }]), Some(r)),
                None => (json!([]), None),
            };
            Operation { method, path, summary, security, role, answer: None }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in document, relative to this crate.
    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi/server.json");
    #[test]
    fn the_router_the_operations_and_the_typed_bodies_agree() {
        let problems = acc_proto::openapi::disagreements(env!("CARGO_MANIFEST_DIR"), &operations(), BODIES);
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn the_generated_document_types_the_bodies_and_equals_the_checked_in_one() {
        let doc = generate();
        let checked_in = acc_proto::openapi::check_checked_in(
            &doc,
            std::path::Path::new(CHECKED_IN),
            "cargo test -p acc-server openapi",
        );
        assert_eq!(
            acc_proto::openapi::request_ref(&doc, "post", "/v1/credential/rotate"),
            "#/components/schemas/AuthChange"
        );
        let task = &doc["components"]["schemas"]["TaskRequest"];
        assert_eq!(task["properties"]["to"]["$ref"], "#/components/schemas/TaskTarget", "{task}");
        let words: Vec<&Value> = doc["components"]["schemas"]["TaskTarget"]["oneOf"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| &v["const"])
            .collect();
        assert_eq!(words, [&json!("sites"), &json!("agents"), &json!("all")]);
        checked_in.unwrap();
    }
}
