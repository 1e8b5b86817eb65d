//! OpenAPI 3.1 documents generated from the contract's own types: each role lists its
//! operations (method, path, summary, who may call) and names the `acc_proto` type of each
//! request and answer; the schemas come from those types (schemars, which follows their
//! serde attributes), so a document cannot drift from what the role parses. The
//! management server's and the site server's documents are both made here, and checked
//! here against each role's router ([`routes_in`]) and the copy checked in.

use std::collections::BTreeSet;

use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

/// Makes the schema of one type (a `$ref` into `components/schemas`).
pub type SchemaFn = fn(&mut SchemaGenerator) -> Schema;

/// The [`SchemaFn`] of `T`.
pub fn schema<T: JsonSchema>(g: &mut SchemaGenerator) -> Schema {
    g.subschema_for::<T>()
}

/// A typed body: method, path, the request's type, the answer's type (`None`: no body, or
/// an answer the document does not type).
pub type Bodies = [(&'static str, &'static str, Option<SchemaFn>, Option<SchemaFn>)];

/// One operation of a document.
#[derive(Debug, Clone)]
pub struct Operation<'a> {
    /// `get`, `post`, `put`, `delete`.
    pub method: &'a str,
    /// The path, with `{name}` parameters.
    pub path: &'a str,
    /// One or two sentences.
    pub summary: &'a str,
    /// The OpenAPI `security` requirement (`[]`: none).
    pub security: Value,
    /// The least role of an admin operation (`x-acc-role`).
    pub role: Option<&'a str>,
    /// What a success answers when it is not JSON (a file's bytes, say).
    pub answer: Option<&'a str>,
}

/// The document titled `title` of `operations`, with the schemas of `bodies` and the
/// security schemes `schemes`; every refusal is the JSON error format.
pub fn document(
    title: &str,
    version: &str,
    operations: &[Operation<'_>],
    bodies: &Bodies,
    schemes: Value,
) -> Value {
    let mut generator = SchemaSettings::draft2020_12()
        .with(|s| s.definitions_path = "/components/schemas".into())
        .into_generator();
    // Every refusal is one type (a `$ref` to it).
    let refusal = json_content(generator.subschema_for::<crate::admin::ApiErrorBody>());
    let mut paths = Map::new();
    for o in operations {
        let mut success = json!({ "description": o.answer.unwrap_or("Success (JSON).") });
        let mut op = json!({ "summary": o.summary });
        if let Some((_, _, request, response)) =
            bodies.iter().find(|(m, p, _, _)| *m == o.method && *p == o.path)
        {
            if let Some(request) = request {
                op["requestBody"] =
                    json!({ "required": true, "content": json_content(request(&mut generator)) });
            }
            if let Some(response) = response {
                success["content"] = json_content(response(&mut generator));
            }
        }
        op["responses"] = json!({
            "200": success,
            "default": { "description": "Refusal.", "content": refusal.clone() }
        });
        op["security"] = o.security.clone();
        if let Some(role) = o.role {
            op["x-acc-role"] = json!(role);
        }
        let entry = paths.entry(o.path.to_string()).or_insert_with(|| json!({}));
        entry[o.method] = op;
    }
    let schemas: Map<String, Value> = generator.take_definitions(true).into_iter().collect();
    json!({
        "openapi": "3.1.0",
        "info": { "title": title, "version": version },
        "paths": paths,
        "components": { "securitySchemes": schemes, "schemas": schemas }
    })
}

/// A JSON body of `schema`.
fn json_content(schema: Schema) -> Value {
    json!({ "application/json": { "schema": schema } })
}

/// The typed bodies that none of `operations` documents (a test of each role's tables
/// expects none).
pub fn undocumented(operations: &[Operation<'_>], bodies: &Bodies) -> Vec<String> {
    bodies
        .iter()
        .filter(|(m, p, _, _)| !operations.iter().any(|o| o.method == *m && o.path == *p))
        .map(|(m, p, _, _)| format!("{m} {p}"))
        .collect()
}

/// What disagrees between a role's router and its documented operations and bodies, one
/// line each (a test of each role expects none): the routes of `crate_dir`'s `src/api`
/// modules and of its `src/metrics.rs` (`/healthz`, `/readyz`) against `operations`
/// ([`unmatched_routes`]), and the typed bodies of no operation ([`undocumented`]).
pub fn disagreements(crate_dir: &str, operations: &[Operation<'_>], bodies: &Bodies) -> Vec<String> {
    let dir = std::path::Path::new(crate_dir);
    let routed = match routes_in(&[&dir.join("src/api"), &dir.join("src/metrics.rs")]) {
        Ok(routed) => routed,
        Err(e) => return vec![format!("the router's sources in {crate_dir} cannot be read: {e}")],
    };
    let mut out = unmatched_routes(&routed, operations);
    if routed.len() < operations.len() / 2 {
        out.push(format!("only {} routes found in {crate_dir}/src/api: is the reader broken?", routed.len()));
    }
    out.extend(undocumented(operations, bodies));
    out
}

/// The routes a router registers, as (method, path), read from the `.route("…", …)` calls
/// of each of `sources`: a `.rs` file, or a directory whose `.rs` files are read (an axum
/// router cannot list them at run time), wildcards written as OpenAPI parameters; a test
/// of each role compares them with its operations ([`unmatched_routes`]).
pub fn routes_in(sources: &[&std::path::Path]) -> std::io::Result<BTreeSet<(String, String)>> {
    let mut files = Vec::new();
    for source in sources {
        if source.is_dir() {
            for entry in std::fs::read_dir(source)? {
                files.push(entry?.path());
            }
        } else {
            files.push(source.to_path_buf());
        }
    }
    let mut out = BTreeSet::new();
    for path in files {
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path)?;
        for call in source.split(".route(").skip(1) {
            // rustfmt may break the line before the path.
            let Some(call) = call.trim_start().strip_prefix('"') else { continue };
            let Some((route, rest)) = call.split_once('"') else { continue };
            // The method router: up to the call's closing parenthesis.
            let mut depth = 1;
            let end = rest
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map_or(rest.len(), |(i, _)| i);
            let methods = &rest[..end];
            for m in ["get", "post", "put", "delete"] {
                let called = methods
                    .match_indices(&format!("{m}("))
                    .any(|(i, _)| !methods[..i].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_'));
                if called {
                    // axum's `{*rest}` is OpenAPI's `{rest}`.
                    out.insert((m.to_string(), route.replace("{*", "{")));
                }
            }
        }
    }
    Ok(out)
}

/// The routes `routed` that no operation documents, and the operations that are not
/// routed, one `routed but undocumented: get /v1/x` line each (a test expects none).
pub fn unmatched_routes(routed: &BTreeSet<(String, String)>, operations: &[Operation<'_>]) -> Vec<String> {
    let documented: BTreeSet<(String, String)> =
        operations.iter().map(|o| (o.method.to_string(), o.path.to_string())).collect();
    let undocumented =
        routed.difference(&documented).map(|(m, p)| format!("routed but undocumented: {m} {p}"));
    let unrouted = documented.difference(routed).map(|(m, p)| format!("documented but not routed: {m} {p}"));
    undocumented.chain(unrouted).collect()
}

/// The `$ref` of the JSON request body of `method path` in `doc` (`null` when it has none).
pub fn request_ref<'a>(doc: &'a Value, method: &str, path: &str) -> &'a Value {
    &doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
}

/// Whether `doc` is the document checked in at `file` (pretty JSON with a final newline).
/// With `ACC_OPENAPI_WRITE` set in the environment (after a reviewed change) it writes
/// the file first. The error says what differs and how to regenerate it.
pub fn check_checked_in(doc: &Value, file: &std::path::Path, regenerate: &str) -> Result<(), CheckedInError> {
    let shown = || file.display().to_string();
    let text = serde_json::to_string_pretty(doc).unwrap_or_default() + "\n";
    if std::env::var_os("ACC_OPENAPI_WRITE").is_some() {
        std::fs::write(file, &text).map_err(|source| CheckedInError::Write { file: shown(), source })?;
    }
    match std::fs::read_to_string(file) {
        Ok(checked_in) if checked_in == text => Ok(()),
        _ => Err(CheckedInError::Differs { file: shown(), regenerate: regenerate.to_string() }),
    }
}

/// Why the checked-in OpenAPI document is not the generated one.
#[derive(Debug, thiserror::Error)]
pub enum CheckedInError {
    /// `ACC_OPENAPI_WRITE` was set and the file could not be written.
    #[error("{file}: {source}")]
    Write {
        /// The checked-in file.
        file: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is missing or differs.
    #[error(
        "{file} differs from the document the types generate; review the change and run ACC_OPENAPI_WRITE=1 {regenerate}"
    )]
    Differs {
        /// The checked-in file.
        file: String,
        /// The command that regenerates it.
        regenerate: String,
    },
}
