//! Bearer tokens for the REST API and their roles. A token is `acc_` followed by 32 random
//! bytes (base64url); the server keeps only its SHA-256, so a database copy does not let
//! anyone sign in.

use aws_lc_rs::digest;
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::error::ServerError;

/// What a token may do. Each role includes the ones before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// `viewer`, `operator` or `admin`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Parses a role name.
    pub fn parse(s: &str) -> Result<Role, ServerError> {
        match s {
            "viewer" => Ok(Role::Viewer),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            _ => Err(ServerError::Invalid(format!("role '{s}' is not one of viewer, operator, admin"))),
        }
    }
}

impl From<Role> for acc_proto::admin::Role {
    fn from(r: Role) -> Self {
        match r {
            Role::Viewer => acc_proto::admin::Role::Viewer,
            Role::Operator => acc_proto::admin::Role::Operator,
            Role::Admin => acc_proto::admin::Role::Admin,
        }
    }
}

/// A new token's text (shown once).
pub fn new_token(prefix: &str) -> Result<String, ServerError> {
    let bytes = crate::vault::random_bytes(32)?;
    Ok(format!("{prefix}_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// The stored form of a token: SHA-256, hex.
pub fn digest_hex(token: &str) -> String {
    hex::encode(digest::digest(&digest::SHA256, token.trim().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_as_digests() {
        let a = new_token("acc").unwrap();
        let b = new_token("acc").unwrap();
        assert!(a.starts_with("acc_") && a.len() == 47 && a != b);
        assert_eq!(digest_hex(&a), digest_hex(&format!("{a}\n")), "a token file's newline is not part of it");
        assert_eq!(digest_hex(&a).len(), 64);
        assert!(Role::Viewer < Role::Operator && Role::Operator < Role::Admin);
        assert_eq!(Role::parse("operator").unwrap(), Role::Operator);
        assert!(Role::parse("root").unwrap_err().to_string().contains("viewer, operator, admin"));
    }
}
