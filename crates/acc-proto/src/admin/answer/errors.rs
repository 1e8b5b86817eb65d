//! The admin API's refusals: [`ApiErrorBody`], the body of every error answer, and the
//! [`Problem`]s it lists, one per refused field.

use serde::{Deserialize, Serialize};

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
}
