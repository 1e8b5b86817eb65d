//! The payload of event 5145 ("A network share object was checked to see whether client
//! can be granted desired access"), which the site server writes for every share access
//! check. Plain data: the ordered `(field, value)` pairs; the event envelope (EventID, Seq,
//! TimeCreated, Computer, SiteId) is built elsewhere.
//!
//! Field choices:
//! - `ShareName` is the share's name (`software-library`), not Windows' `\\*\name`.
//! - `RelativeTargetName` is the path with `/` separators; the share root is `/` (Windows
//!   writes `\` for it).
//! - `AccessMask` is the access requested, in Windows hex: a download asks for
//!   `ReadData` (`FILE_READ_DATA` / `FILE_LIST_DIRECTORY`), `0x1`. The bit table is on
//!   [`AccessMask`].
//! - `Keywords` is `Audit Success` when access was accepted and `Audit Failure` when it was
//!   denied (5145 is the one share event; 4.1's rule on Keywords covers the account events).
//! - `DeniedBy` (denials only, a project field) is the level that denied, in the wording
//!   of 5.6.

use super::caller::Caller;
use super::check::AccessDenied;
use super::rights::AccessMask;
use crate::share_path::{ShareName, SharePath};

/// The event number.
pub const SHARE_ACCESS_EVENT_ID: u16 = 5145;

/// The fields of one 5145 event, in order: `ShareName`, `RelativeTargetName`,
/// `AccessMask`, `SubjectUserName`, `IpAddress` (only when given), `Keywords`, then
/// `DeniedBy` for a denial. `outcome` is what [`super::check_read`] returned.
pub fn share_access_event(
    share: &ShareName,
    path: &SharePath,
    requested: AccessMask,
    caller: &Caller,
    ip_address: Option<&str>,
    outcome: &Result<(), Box<AccessDenied>>,
) -> Vec<(&'static str, String)> {
    let target = if path.is_root() { "/".to_owned() } else { path.to_string() };
    let mut fields = vec![
        ("ShareName", share.to_string()),
        ("RelativeTargetName", target),
        ("AccessMask", requested.to_string()),
        ("SubjectUserName", caller.identity().to_string()),
    ];
    if let Some(ip) = ip_address {
        fields.push(("IpAddress", ip.to_owned()));
    }
    match outcome {
        Ok(()) => fields.push(("Keywords", "Audit Success".to_owned())),
        Err(denied) => {
            fields.push(("Keywords", "Audit Failure".to_owned()));
            fields.push(("DeniedBy", denied.level().to_string()));
        }
    }
    fields
}
