//! API tokens as the admin API shows them: the [`Role`] a token grants, a token's terms
//! (never its text) and the one answer that shows its text once.

use serde::{Deserialize, Serialize};

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_role_is_parsed_from_its_word() {
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().unwrap_err().to_string().contains("'root'"));
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
