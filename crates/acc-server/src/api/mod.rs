//! The REST API, `/v1`, JSON. Every route but `/v1/health` and `/v1/openapi.json` needs a
//! bearer token (`Authorization: Bearer …`); each route names the least role it needs.
//! Errors are `{ "error": code, "message": text }`, plus `errors[]` (field, id, message)
//! and `warnings[]` where the specification defines them.

mod agents;
mod certs;
mod credential;
mod directory;
mod fleet;
mod nodes;
mod openapi;
mod packages;
mod settings;
mod sources;
mod token_routes;
mod users;

use std::sync::Arc;

use acc_proto::admin::{ApiErrorBody, SaveOutcome};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::document::Problem;
use crate::server::{Caller, SaveError, Server};
use crate::tokens::Role;

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// A refusal, rendered as JSON.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    problems: Vec<Problem>,
}

impl ApiError {
    /// A refusal with a status, a code and a message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, code, message: message.into(), problems: Vec::new() }
    }

    /// 400 `malformed`.
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

impl From<SaveError> for ApiError {
    fn from(e: SaveError) -> Self {
        match e {
            SaveError::Refused(problems) => ApiError {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "invalid_settings",
                message: problems.iter().map(|p| p.message.as_str()).collect::<Vec<_>>().join("\n"),
                problems,
            },
            SaveError::Server(e) => e.into(),
        }
    }
}

impl From<crate::ServerError> for ApiError {
    fn from(e: crate::ServerError) -> Self {
        match e {
            crate::ServerError::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", m),
            other => {
                tracing::error!(error = %other, "Request failed.");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "the server failed; see its log")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ApiErrorBody { error: self.code.into(), message: self.message, errors: self.problems };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

/// The caller must hold `role`.
pub fn require(caller: &Caller, role: Role) -> Result<(), ApiError> {
    if caller.role >= role {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!(
                "this needs the {} role; the token '{}' has {}",
                role.as_str(),
                caller.name,
                caller.role.as_str()
            ),
        ))
    }
}

/// Parses a JSON body into `T`, with a one-line error naming what is wrong.
pub fn parse_json<T: serde::de::DeserializeOwned>(headers: &HeaderMap, body: &Bytes) -> Result<T, ApiError> {
    let is_json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "malformed",
            "send the body as JSON (Content-Type: application/json)",
        ));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::malformed(format!("request body: {e}")))
}

/// Reads a request's JSON body (at most [`MAX_JSON_BODY`]) into `T`: for handlers that
/// also read the request's extensions (the TLS peer).
pub async fn read_json<T: serde::de::DeserializeOwned>(req: Request) -> Result<T, ApiError> {
    let headers = req.headers().clone();
    let body = axum::body::to_bytes(req.into_body(), MAX_JSON_BODY)
        .await
        .map_err(|e| ApiError::malformed(format!("request body: {e}")))?;
    parse_json(&headers, &body)
}

/// An admin's change: parses the JSON body as `T`, runs `save` with it and answers the
/// saved revision.
pub async fn admin_change<T, F, Fut>(
    caller: &Caller,
    headers: &HeaderMap,
    body: &Bytes,
    save: F,
) -> Result<axum::Json<SaveOutcome>, ApiError>
where
    T: serde::de::DeserializeOwned,
    F: FnOnce(T) -> Fut,
    Fut: std::future::Future<Output = Result<SaveOutcome, SaveError>>,
{
    require(caller, Role::Admin)?;
    let parsed: T = parse_json(headers, body)?;
    Ok(axum::Json(save(parsed).await?))
}

/// The value of query parameter `key` (the first one), percent-decoded (`+` is a space).
pub fn query_param(uri: &axum::http::Uri, key: &str) -> Option<String> {
    let query = uri.query()?.as_bytes();
    form_urlencoded::parse(query).find(|(k, _)| k == key).map(|(_, v)| v.into_owned())
}

/// Turns the bearer token into a [`Caller`], or answers 401.
async fn authenticate(State(server): State<Arc<Server>>, mut req: Request, next: Next) -> Response {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| acc_proto::authorization::credentials(v, "Bearer"));
    let Some(token) = token else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "no bearer token; give acc ctl --token-file FILE (or ACC_TOKEN_FILE), such as the server's admin-token",
        )
        .into_response();
    };
    match server.authenticate(token) {
        Some(caller) => {
            // No longer one of its address's unauthenticated connections (acc_net::Admission).
            if let Some(peer) = req.extensions().get::<Arc<acc_net::PeerInfo>>() {
                peer.admission.authenticated();
            }
            req.extensions_mut().insert(caller);
            next.run(req).await
        }
        None => ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "the bearer token is unknown or expired; ask an admin for a new one (acc ctl token create)",
        )
        .into_response(),
    }
}

/// The largest request body of a route, bytes: package chunks and forwarded event batches
/// are larger than the JSON of every other route. The listener answers a declared
/// `Content-Length` over it with 413 before reading the body.
pub fn body_limit(method: &axum::http::Method, path: &str) -> u64 {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let limit = match (method.as_str(), segments.as_slice()) {
        ("PUT", ["v1", "packages", _, _, "file"]) => crate::packages::MAX_CHUNK,
        ("POST", ["v1", "site", "events"]) => fleet::MAX_EVENT_BODY,
        ("POST", ["ui", "packages", "upload"]) => crate::console::packages::MAX_UPLOAD,
        _ => MAX_JSON_BODY,
    };
    limit as u64
}

/// The `/v1` routes.
pub fn router(server: Arc<Server>) -> Router {
    let authed = settings::routes()
        .merge(fleet::routes())
        .merge(credential::routes())
        .merge(certs::routes())
        .merge(sources::routes())
        .merge(agents::routes())
        .merge(packages::routes())
        .merge(directory::routes())
        .merge(users::routes())
        .merge(nodes::routes())
        .route_layer(middleware::from_fn_with_state(server.clone(), authenticate))
        .with_state(server.clone());
    Router::new()
        .route("/v1/health", get(|| async { axum::Json(acc_proto::Health::OK) }))
        .route("/v1/openapi.json", get(openapi::document))
        .merge(fleet::open_routes().with_state(server.clone()))
        .merge(certs::open_routes().with_state(server.clone()))
        .merge(agents::open_routes().with_state(server.clone()))
        .merge(packages::open_routes().with_state(server.clone()))
        .merge(directory::open_routes().with_state(server.clone()))
        .merge(nodes::open_routes().with_state(server.clone()))
        .merge(authed)
        .fallback(|| async { ApiError::not_found("no such API route; see /v1/openapi.json") })
        .layer(axum::extract::DefaultBodyLimit::max(MAX_JSON_BODY))
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    #[test]
    fn each_route_has_its_body_limit() {
        use super::body_limit;
        assert_eq!(body_limit(&Method::PUT, "/v1/packages/tools/1.0/file"), 8 * 1024 * 1024);
        assert_eq!(body_limit(&Method::POST, "/v1/site/events"), 4 * 1024 * 1024);
        assert_eq!(body_limit(&Method::POST, "/ui/packages/upload"), 1024 * 1024 * 1024);
        for (m, p) in [
            (Method::POST, "/v1/packages/tools/1.0/file"),
            (Method::PUT, "/v1/packages/tools/file"),
            (Method::POST, "/v1/agent/enroll"),
            (Method::POST, "/v1/site/events/x"),
        ] {
            assert_eq!(body_limit(&m, p), 64 * 1024, "{m} {p}");
        }
    }

    #[test]
    fn query_parameters_are_percent_decoded() {
        let uri: axum::http::Uri = "/v1/events?user=CORP%5Cacc_svc&id=4740&x=a+b&bad=%zz%4".parse().unwrap();
        assert_eq!(super::query_param(&uri, "user").as_deref(), Some("CORP\\acc_svc"));
        assert_eq!(super::query_param(&uri, "id").as_deref(), Some("4740"));
        assert_eq!(super::query_param(&uri, "x").as_deref(), Some("a b"));
        assert_eq!(super::query_param(&uri, "bad").as_deref(), Some("%zz%4"));
        assert_eq!(super::query_param(&uri, "none"), None);
    }
}
