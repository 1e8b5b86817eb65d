//! The task server's agent routes: `GET /v1/tasks?wait=SECONDS` (long-poll) and
//! `POST /v1/tasks/{id}/result`. Both authenticate like every route; the agent is the
//! one named by `Acc-Agent-Id` (required), and the request must prove it is that agent's
//! (`auth::acting_agent`) before anything about its tasks is looked at. The task logic
//! is in `crate::tasks`.

use std::sync::Arc;
use std::time::Duration;

use acc_proto::agent_site::TaskList;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::ApiPeer;
use super::auth;
use super::error::ApiError;
use super::register::json_body;
use crate::agents::Claim;
use crate::site::Site;

use crate::tasks::{MAX_WAIT_SECS, TaskError, TaskResult};

pub(super) async fn poll(
    State(site): State<Arc<Site>>,
    Extension(peer): Extension<ApiPeer>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<TaskList>, ApiError> {
    auth::authenticate(&site, &headers, &peer).await?;
    let (agent, claim) = agent_id(&site, &headers, &peer)?;
    let wait = parse_wait(uri.query())?;
    let tasks = site.poll_tasks(&agent, &claim, wait).await.map_err(refusal)?;
    Ok(Json(TaskList { tasks }))
}

pub(super) async fn result(
    State(site): State<Arc<Site>>,
    Extension(peer): Extension<ApiPeer>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    auth::authenticate(&site, &headers, &peer).await?;
    let (agent, _) = agent_id(&site, &headers, &peer)?;
    let Path(id) = id.map_err(|e| ApiError::malformed(format!("task id in the path: {e}")))?;
    let result: TaskResult = json_body(body)?;
    let state = site.post_task_result(&agent, &id, &result).await.map_err(refusal)?;
    Ok(Json(json!({ "id": id, "state": state })))
}

/// The agent's id from `Acc-Agent-Id` (required), once the request proved it is its.
fn agent_id(site: &Site, headers: &HeaderMap, peer: &ApiPeer) -> Result<(String, Claim), ApiError> {
    auth::acting_agent(site, headers, peer)?.ok_or_else(|| {
        ApiError::malformed(
            "missing the Acc-Agent-Id header; agents name themselves with Acc-Agent-Host and Acc-Agent-Id",
        )
    })
}

/// `wait=SECONDS`, 0 to [`MAX_WAIT_SECS`]; absent means 0 (answer at once). The query is
/// read as a form (`form_urlencoded`): escapes are decoded, `+` is a space.
fn parse_wait(query: Option<&str>) -> Result<Duration, ApiError> {
    let mut wait = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "wait" if wait.is_none() => wait = Some(value),
            "wait" => return Err(ApiError::malformed("query parameter 'wait' is given more than once")),
            _ => {
                let key: String = key.chars().take(64).collect();
                return Err(ApiError::malformed(format!(
                    "unknown query parameter '{key}'; GET /v1/tasks takes only 'wait'"
                )));
            }
        }
    }
    let Some(text) = wait else { return Ok(Duration::ZERO) };
    let range = format!("use a whole number of seconds from 0 to {MAX_WAIT_SECS}");
    let secs: u64 = if !text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().unwrap_or(u64::MAX)
    } else {
        let shown: String = text.chars().take(32).collect();
        return Err(ApiError::malformed(format!("wait: '{shown}' is not a number; {range}")));
    };
    if secs > MAX_WAIT_SECS {
        return Err(ApiError::malformed(format!("wait: {secs} is out of range; {range}")));
    }
    Ok(Duration::from_secs(secs))
}

/// The HTTP refusal of a task error.
fn refusal(e: TaskError) -> ApiError {
    let message = e.to_string();
    match e {
        TaskError::NotFound(_) => ApiError::new(StatusCode::NOT_FOUND, "not_found", message),
        TaskError::WrongAgent { .. } => ApiError::new(StatusCode::FORBIDDEN, "access_denied", message),
        TaskError::NotBound(e) => auth::not_bound(e),
        TaskError::Finished { .. } | TaskError::NotDelivered(_) => {
            ApiError::new(StatusCode::CONFLICT, "conflict", message)
        }
        TaskError::Database(_) | TaskError::Write(_) => {
            tracing::error!(error = %message, "A task operation could not be stored.");
            ApiError::internal("the site server could not store the task change; retry later")
        }
        _ => ApiError::malformed(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_is_bounded_and_strict() {
        assert_eq!(parse_wait(None).unwrap(), Duration::ZERO);
        assert_eq!(parse_wait(Some("wait=0")).unwrap(), Duration::ZERO);
        assert_eq!(parse_wait(Some("wait=60")).unwrap(), Duration::from_secs(60));
        assert_eq!(parse_wait(Some("wait=%32%35")).unwrap(), Duration::from_secs(25));
        for (bad, says) in [
            ("wait=61", "out of range"),
            ("wait=99999999999999999999", "out of range"),
            ("wait=-1", "not a number"),
            ("wait=+5", "not a number"),
            ("wait=", "not a number"),
            ("wait=1.5", "not a number"),
            ("wait=1&wait=2", "more than once"),
            ("wait=%31&wait=2", "more than once"),
            ("w%61it=1&wait=2", "more than once"),
            ("colour=red", "unknown query parameter 'colour'"),
        ] {
            let err = parse_wait(Some(bad)).unwrap_err();
            assert_eq!(err.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(err.message.contains(says), "{bad}: {}", err.message);
        }
    }
}
