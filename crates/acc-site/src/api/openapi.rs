//! `GET /v1/openapi.json`: the site server's agent API described as OpenAPI 3.1, built
//! from [`OPERATIONS`] (every route of the router) and [`BODIES`] (the `acc_proto` type of
//! each request and answer) by `acc_proto::openapi`, as the management server's is.
//! `docs/openapi/site.json` is the document checked in; a test keeps it equal to the
//! generated one.

use acc_proto::agent_site::{Registered, Registration, TaskList, TaskResult};
use acc_proto::openapi::{Bodies, Operation, schema};
use acc_proto::{Health, PackageManifest};
use axum::Json;
use serde_json::{Value, json};

/// The typed bodies: method, path, the request's type, the answer's type.
pub const BODIES: &Bodies = &[
    ("get", "/v1/health", None, Some(schema::<Health>)),
    ("post", "/v1/register", Some(schema::<Registration>), Some(schema::<Registered>)),
    ("get", "/v1/tasks", None, Some(schema::<TaskList>)),
    ("post", "/v1/tasks/{id}/result", Some(schema::<TaskResult>), None),
    ("get", "/v1/packages/{name}", None, Some(schema::<PackageManifest>)),
];

/// Who may call an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// Anyone.
    Anyone,
    /// An agent: the ACC (Basic) or a client certificate.
    Agent,
}

/// One operation: method, path, who may call it, summary, what a success answers when it
/// is not JSON.
pub const OPERATIONS: &[(&str, &str, Caller, &str, Option<&str>)] = &[
    ("get", "/v1/health", Caller::Anyone, "Liveness: {\"status\":\"ok\"}.", None),
    ("get", "/v1/openapi.json", Caller::Anyone, "This document.", None),
    (
        "get",
        "/healthz",
        Caller::Anyone,
        "Alive, for load balancers and systemd: 200 {\"status\":\"ok\"} while the process answers.",
        None,
    ),
    (
        "get",
        "/readyz",
        Caller::Anyone,
        "Ready to serve: 200 {\"status\":\"ready\"} when its database answers and, under a management server, its first policy is applied; else 503 (also while stopping) {\"status\":\"not_ready\",\"reason\"}.",
        None,
    ),
    (
        "post",
        "/v1/register",
        Caller::Agent,
        "Register the agent (a logon: 4624 or 4625); the answer's agent_token binds the agent id to it (send it as Acc-Agent-Token).",
        None,
    ),
    (
        "get",
        "/v1/tasks",
        Caller::Agent,
        "The agent's tasks (Acc-Agent-Id and its token); ?wait=SECONDS long-polls until one arrives.",
        None,
    ),
    (
        "post",
        "/v1/tasks/{id}/result",
        Caller::Agent,
        "The result of one of the agent's tasks, accepted once.",
        None,
    ),
    (
        "get",
        "/v1/shares/{path}",
        Caller::Agent,
        "A file of a share the caller may read (share and file level), ranged (Range: bytes=...).",
        Some("The file's bytes (206 for a range)."),
    ),
    ("get", "/v1/packages", Caller::Agent, "The packages of the package share the caller may read.", None),
    (
        "get",
        "/v1/packages/{name}",
        Caller::Agent,
        "A package's manifest: its files with their sizes and SHA-256.",
        None,
    ),
];

pub(super) async fn document() -> Json<Value> {
    Json(generate())
}

/// The document, generated from [`OPERATIONS`] and the types of [`BODIES`].
pub fn generate() -> Value {
    acc_proto::openapi::document(
        "acc site server",
        env!("CARGO_PKG_VERSION"),
        &operations(),
        BODIES,
        json!({
            "acc": { "type": "http", "scheme": "basic", "description": "The Agent Connectivity Credential (or the App ID in application mode)." },
            "mutualTLS": { "type": "mutualTLS", "description": "An agent's client certificate (fleet CA or a trusted operator CA)." }
        }),
    )
}

/// [`OPERATIONS`] as the generator takes them.
fn operations() -> Vec<Operation<'static>> {
    OPERATIONS
        .iter()
        .map(|&(method, path, caller, summary, answer)| Operation {
            method,
            path,
            summary,
            security: match caller {
                Caller::Anyone => json!([]),
                Caller::Agent => json!([{ "acc": [] }, { "mutualTLS": [] }]),
            },
            role: None,
            answer,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The checked-in document, relative to this crate.
    const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi/site.json");
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
            "cargo test -p acc-site openapi",
        );
        assert_eq!(
            acc_proto::openapi::request_ref(&doc, "post", "/v1/tasks/{id}/result"),
            "#/components/schemas/TaskResult"
        );
        let status = &doc["components"]["schemas"]["ResultStatus"];
        assert!(
            status.to_string().contains("completed") && status.to_string().contains("failed"),
            "{status}"
        );
        assert_eq!(doc["paths"]["/v1/health"]["get"]["security"], json!([]));
        checked_in.unwrap();
    }
}
