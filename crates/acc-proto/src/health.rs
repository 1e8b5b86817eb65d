//! `GET /v1/health` of every role (management server and site server): unauthenticated,
//! for load balancers and `acc dev`, `{"status":"ok"}` while the role serves its API.

use serde::{Deserialize, Serialize};

/// The answer of `GET /v1/health`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Health {
    /// Whether the role serves its API.
    pub status: HealthStatus,
}

/// The closed set of health words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HealthStatus {
    /// Serving.
    Ok,
}

impl Health {
    /// A role that serves its API.
    pub const OK: Health = Health { status: HealthStatus::Ok };
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_wire_form_is_status_ok() {
        assert_eq!(serde_json::to_string(&super::Health::OK).unwrap(), r#"{"status":"ok"}"#);
    }
}
