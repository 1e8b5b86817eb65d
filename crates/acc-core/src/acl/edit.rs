//! Editing a share's ACLs the way an administrator types it (`SHARE PRINCIPAL
//! read|change|full --level share|file [--path P]`): parsing the target, granting a
//! right, revoking an Allow. Shared by the site server's local shares and the management
//! server's package sources.

use serde::{Deserialize, Serialize};

use super::principal::{Principal, PrincipalError};
use super::rights::{AclLevel, GrantRight, RightParseError};
use super::share::{AceKind, GrantError, Share};
use crate::share_path::{PathError, ShareName, SharePath};

/// Which ACEs an edit touches: `SHARE PRINCIPAL --level share|file [--path P]`, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AceTarget {
    /// The share name.
    pub share: String,
    /// The principal (`ACC_user`, `cert:CN=acclinux`, `Agents`, `CORP\name`).
    pub principal: String,
    /// `share` or `file`.
    pub level: String,
    /// For the file level: the folder or file (default: the root).
    pub path: Option<String>,
}

/// `grant`'s arguments: the target and the right word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantArgs {
    /// Share, principal, level, path.
    #[serde(flatten)]
    pub target: AceTarget,
    /// `read`, `change` or `full`.
    pub right: String,
}

/// A refused ACL edit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AceEditError {
    /// A bad share name.
    #[error("{0}")]
    Name(PathError),
    /// A bad `--path`.
    #[error("--path '{path}': {problem}")]
    Path {
        /// The path as given (escaped).
        path: String,
        /// What is wrong with it.
        problem: PathError,
    },
    /// A bad principal.
    #[error("principal: {0}")]
    Principal(PrincipalError),
    /// A bad right or level word.
    #[error("{0}")]
    Word(RightParseError),
    /// `--path` with `--level share`.
    #[error("{0}")]
    Grant(GrantError),
}

impl AceTarget {
    /// The share, principal, level and path, validated.
    pub fn parse(&self) -> Result<(ShareName, Principal, AclLevel, Option<SharePath>), AceEditError> {
        let share = ShareName::parse(&self.share).map_err(AceEditError::Name)?;
        let principal: Principal = self.principal.parse().map_err(AceEditError::Principal)?;
        let level: AclLevel = self.level.parse().map_err(AceEditError::Word)?;
        let path = match &self.path {
            None => None,
            Some(p) => Some(SharePath::from_plain(p.trim_end_matches('/')).map_err(|problem| {
                AceEditError::Path {
                    path: p.chars().take(64).flat_map(char::escape_debug).collect(),
                    problem,
                }
            })?),
        };
        if level == AclLevel::Share && path.is_some() {
            return Err(AceEditError::Grant(GrantError::PathAtShareLevel));
        }
        Ok((share, principal, level, path))
    }
}

/// Grants `g` on `acl` (whose name the caller matched); returns whether it changed.
pub fn grant(acl: &mut Share, g: &GrantArgs) -> Result<bool, AceEditError> {
    let right: GrantRight = g.right.parse().map_err(AceEditError::Word)?;
    let (_, principal, level, path) = g.target.parse()?;
    acl.grant(principal, right, level, path).map_err(AceEditError::Grant)
}

/// Removes the principal's Allow at the target's level (on its object); returns whether
/// it changed anything (revoking what is not granted leaves the ACL as it is: it already
/// holds no such Allow, which is what was asked; the command says `unchanged`).
pub fn revoke(acl: &mut Share, target: &AceTarget) -> Result<bool, AceEditError> {
    let (_, principal, level, path) = target.parse()?;
    Ok(acl.remove_aces(level, &path.unwrap_or_default(), &principal, AceKind::Allow) > 0)
}
