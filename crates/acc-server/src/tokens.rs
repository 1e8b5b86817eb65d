//! Bearer tokens for the REST API and their roles. A token is `acc_` followed by 32 random
//! bytes (base64url); the server keeps only its SHA-256, so a database copy does not let
//! anyone sign in.

use aws_lc_rs::digest;
use base64::Engine as _;

use crate::error::ServerError;

/// What a token (or a console user) may do: the one role type of the admin API.
pub use acc_proto::admin::Role;

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
