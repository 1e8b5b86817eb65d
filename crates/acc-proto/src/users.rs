//! The console's users over the admin API: `acc ctl user add|list|remove|set-password`
//! sends these, the management server parses exactly these.

use acc_core::password::Secret;
use serde::{Deserialize, Serialize};

/// `POST /v1/users`: a new console user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserAdd {
    /// The user name (letters, digits, `.`, `_`, `-`; 1 to 64 characters).
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// Its password (the password rules of the specification's 5.5).
    #[schemars(with = "String")]
    pub password: Secret,
}

/// `PUT /v1/users/{name}/password`: a user's new password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPassword {
    /// The new password.
    #[schemars(with = "String")]
    pub password: Secret,
}

/// One console user (never its password or hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct User {
    /// The user name.
    pub name: String,
    /// `viewer`, `operator` or `admin`.
    pub role: String,
    /// When it was created, Unix milliseconds.
    pub created_at: i64,
    /// When its password was last set, Unix milliseconds.
    pub password_changed_at: i64,
}

/// `GET /v1/users`, and the answer of the user routes that change one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UserList {
    /// The users, by name.
    pub users: Vec<User>,
}
