//! The directory's domain accounts as the admin API shows them (`GET /v1/directory`),
//! their state, an account created and one unlocked.

use serde::{Deserialize, Serialize};

/// A domain account's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryAccountState {
    /// It may log on.
    Enabled,
    /// Locked out.
    Locked,
    /// Disabled.
    Disabled,
}

impl DirectoryAccountState {
    /// The word on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            DirectoryAccountState::Enabled => "enabled",
            DirectoryAccountState::Locked => "locked",
            DirectoryAccountState::Disabled => "disabled",
        }
    }
}

/// One domain account of `GET /v1/directory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryAccount {
    /// `DOMAIN\name`.
    pub name: String,
    /// Its state.
    pub state: DirectoryAccountState,
    /// Seconds until it may try again.
    pub retry_after: Option<u64>,
    /// It is the App ID.
    pub app_id: bool,
}

/// `GET /v1/directory`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryList {
    /// The accounts.
    pub accounts: Vec<DirectoryAccount>,
}

/// `POST /v1/directory`: the account created.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryAdded {
    /// `DOMAIN\name`.
    pub name: String,
}

/// `POST /v1/directory/{name}/unlock`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DirectoryUnlocked {
    /// The account.
    pub name: String,
    /// It was locked and is no longer.
    pub unlocked: bool,
}
