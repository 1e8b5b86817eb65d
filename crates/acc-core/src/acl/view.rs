//! A share's ACLs as people and scripts see them (`acc site shares list`, `acc ctl share
//! list`): each ACE with its right's name at its level.

use serde::{Deserialize, Serialize};

use super::rights::{AccessMask, AclLevel, FileRight, ShareRight};
use super::share::{Ace, Share};

/// A share as the share listings show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareView {
    /// The name.
    pub name: String,
    /// Its folder (empty when the share has none here).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dir: String,
    /// The share-level ACL.
    pub share_acl: Vec<AceView>,
    /// The file-level ACLs, by object (`""` is the root).
    pub file_acls: Vec<ObjectAcl>,
}

/// The explicit file-level ACEs of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectAcl {
    /// The folder or file (`""` for the root).
    pub path: String,
    /// Its ACEs.
    pub aces: Vec<AceView>,
}

/// One ACE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AceView {
    /// `Allow` or `Deny`.
    pub kind: String,
    /// Whom it names.
    pub principal: String,
    /// The right's name (`Read`, `Change`, `Full Control`, `Modify` …) or the mask.
    pub right: String,
    /// The Windows access mask.
    pub mask: String,
}

impl ShareView {
    /// The view of `acl`, whose folder is `dir` (empty: none).
    pub fn of_acl(acl: &Share, dir: String) -> ShareView {
        let aces = |level: AclLevel, aces: &[Ace]| {
            aces.iter()
                .map(|a| AceView {
                    kind: a.kind.to_string(),
                    principal: a.principal.to_string(),
                    right: right_name(level, a.mask),
                    mask: a.mask.to_string(),
                })
                .collect::<Vec<_>>()
        };
        ShareView {
            name: acl.name().to_string(),
            dir,
            share_acl: aces(AclLevel::Share, acl.share_acl()),
            file_acls: acl
                .file_acls()
                .map(|(p, a)| ObjectAcl { path: p.to_string(), aces: aces(AclLevel::File, a) })
                .collect(),
        }
    }
}

/// The name of a mask at a level, or the mask itself when it is no standard right.
fn right_name(level: AclLevel, mask: AccessMask) -> String {
    let named = match level {
        AclLevel::Share => [ShareRight::Read, ShareRight::Change, ShareRight::Full]
            .into_iter()
            .find(|r| r.mask() == mask)
            .map(|r| r.as_str()),
        AclLevel::File => FileRight::ALL.into_iter().find(|r| r.mask() == mask).map(|r| r.as_str()),
    };
    named.map_or_else(|| mask.to_string(), str::to_owned)
}
