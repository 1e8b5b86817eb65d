//! `GET /v1/openapi.json`: the API described as OpenAPI 3.1, built from [`OPERATIONS`],
//! the one table of routes, roles and summaries (a test requests every entry).

use axum::Json;
use serde_json::{Map, Value, json};

/// One operation: method, path, least role (`None`: no token; `site certificate`: a joined
/// site's fleet client certificate), summary.
pub const OPERATIONS: &[(&str, &str, Option<&str>, &str)] = &[
    ("get", "/v1/health", None, "Liveness: {\"status\":\"ok\"}."),
    ("get", "/v1/openapi.json", None, "This document."),
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
        "Join a site server {secret, name, url, csr_pem}: its client certificate from the fleet CA. The join token's secret is the credential.",
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
        "A site's security events {events: [{seq, event_id, time_ms, target_user, body}]}, at least once; stored once per (site, seq).",
    ),
    (
        "get",
        "/v1/events",
        Some("viewer"),
        "Every site's security events (?id=4740&site=S&user=U&since_ms=T&limit=N), oldest first.",
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
        "get",
        "/v1/agents",
        Some("viewer"),
        "Enrolled agents: host name, certificate serial and expiry, revocation.",
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
    ("get", "/v1/shares", Some("viewer"), "The package sources with their share-level and file-level ACLs."),
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
];

pub(super) async fn document() -> Json<Value> {
    let mut paths = Map::new();
    for (method, path, role, summary) in OPERATIONS {
        let mut op = json!({
            "summary": summary,
            "responses": {
                "200": { "description": "Success (JSON)." },
                "default": { "description": "Refusal.", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
            }
        });
        match role {
            Some("site certificate") => op["security"] = json!([{ "mutualTLS": [] }]),
            Some(r) => {
                op["security"] = json!([{ "bearer": [] }]);
                op["x-acc-role"] = json!(r);
            }
            None => op["security"] = json!([]),
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = op;
    }
    Json(json!({
        "openapi": "3.1.0",
        "info": { "title": "acc management server", "version": env!("CARGO_PKG_VERSION") },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer" },
                "mutualTLS": { "type": "mutualTLS", "description": "A site server's client certificate from the fleet CA." }
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": { "type": "string" },
                        "message": { "type": "string" },
                        "errors": { "type": "array", "items": { "type": "object", "properties": {
                            "field": { "type": "string" }, "id": { "type": "string" }, "message": { "type": "string" } } } }
                    }
                }
            }
        }
    }))
}
