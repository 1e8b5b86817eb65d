//! The locks and blocks in force and their culprits (`GET /v1/lockouts`).

use serde::{Deserialize, Serialize};

/// One lock or block and its culprit (`GET /v1/lockouts`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Lockout {
    /// The site server that locked (`Computer`).
    pub site: String,
    /// The account (`TargetUserName`).
    pub account: String,
    /// `account`, `unfamiliar`, `source` or `address`.
    pub scope: String,
    /// The caller machine (`CallerComputerName`; the address itself for address scope).
    pub caller: String,
    /// Its IP address.
    pub ip: String,
    /// How many 4740 this caller caused on this account and site.
    pub lockouts: u32,
    /// Failed logons (4625) of this caller for this account on this site.
    pub failures: u32,
    /// The last 4740's time.
    pub last_lockout: String,
    /// A 4767 (unlock by an admin or the re-enable) came after the last 4740.
    pub cleared: bool,
    /// The policy revision the caller's agent last acknowledged.
    pub agent_revision: Option<i64>,
    /// What to do.
    pub advice: String,
}

/// `GET /v1/lockouts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LockoutList {
    /// The locks and blocks.
    pub lockouts: Vec<Lockout>,
}
