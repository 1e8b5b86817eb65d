//! Errors of the agent-facing API: `{ "error": code, "message": text }` with the status of
//! the specification's 2.5 for authentication outcomes and plain HTTP codes for the rest.

use acc_core::lockout::Outcome;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// An API refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Machine-readable code (`invalid_credentials`, `locked_out`, `access_denied` …).
    pub code: &'static str,
    /// One line for people.
    pub message: String,
    /// `Retry-After` seconds.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A refusal with no `Retry-After`.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), retry_after: None }
    }

    /// 400 malformed request.
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed", message)
    }

    /// 500, for faults of the site server itself (logged by the caller).
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The refusal for a failed authentication outcome (2.5), or `None` for `ok`.
    pub fn from_outcome(outcome: Outcome, user: &str) -> Option<Self> {
        let code = outcome.error()?;
        let status = StatusCode::from_u16(outcome.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
        let message = match outcome {
            Outcome::InvalidCredentials if !acc_core::lockout::is_local_form(user) => format!(
                "'{user}' is a domain account: unknown user name or bad password for the management server's directory (a site server that has not joined one cannot verify domain accounts)"
            ),
            Outcome::InvalidCredentials => "unknown user name or bad password".to_string(),
            Outcome::LockedOut { retry_after: Some(s) } => {
                format!("account '{user}' is locked out for this client; retry in {s} s")
            }
            Outcome::LockedOut { retry_after: None } => {
                format!("account '{user}' is locked out until an administrator unlocks it")
            }
            Outcome::AccountDisabled => format!("account '{user}' is disabled"),
            Outcome::Unavailable => {
                "the directory that verifies domain accounts cannot be reached; retry later".to_string()
            }
            Outcome::Ok { .. } => return None,
        };
        Some(ApiError { status, code, message, retry_after: outcome.retry_after() })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = acc_proto::admin::ApiErrorBody {
            error: self.code.into(),
            message: self.message,
            errors: Vec::new(),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(s) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&s.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"acc\", charset=\"UTF-8\""),
            );
        }
        resp
    }
}
