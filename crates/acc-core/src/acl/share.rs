//! A share and its ACLs at the two levels: the share ACL (SMB share permissions) and the
//! file-level ACLs attached to the root and to any folder or file below it (NTFS
//! permissions). This module owns the data and the edits an operator makes
//! (`acc site shares grant`); evaluation lives in `check`.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use super::principal::{Principal, WellKnownGroup};
use super::rights::{AccessMask, AclLevel, FileRight, GrantRight, ShareRight};
use crate::share_path::{ShareName, SharePath};

/// Whether an ACE grants or takes away access.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AceKind {
    /// Grants the mask.
    Allow,
    /// Takes the mask away; beats every Allow at the same level (F25).
    Deny,
}

/// One access control entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ace {
    /// Allow or Deny.
    pub kind: AceKind,
    /// Whom it names.
    pub principal: Principal,
    /// What it grants or denies.
    pub mask: AccessMask,
}

impl Ace {
    /// An Allow ACE.
    pub fn allow(principal: Principal, mask: AccessMask) -> Ace {
        Ace { kind: AceKind::Allow, principal, mask }
    }

    /// A Deny ACE.
    pub fn deny(principal: Principal, mask: AccessMask) -> Ace {
        Ace { kind: AceKind::Deny, principal, mask }
    }

    /// Whether this is a Deny that takes away Read.
    pub fn denies_read(&self) -> bool {
        self.kind == AceKind::Deny && self.mask.allows_read()
    }
}

/// An edit that cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// `--path` names an object of the file level; the share ACL has no paths.
    #[error("--path applies to --level file only; the share level has one ACL for the whole share")]
    PathAtShareLevel,
}

/// A named directory served by a site server, with its two ACL levels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Share {
    name: ShareName,
    share_acl: Vec<Ace>,
    /// Own (explicit) ACEs per object; the root is the empty path. Objects without ACEs
    /// are absent. Inheritance is computed, never stored.
    file_acls: BTreeMap<SharePath, Vec<Ace>>,
}

impl Share {
    /// A share whose ACLs are empty at both levels: nobody can read it.
    pub fn new(name: ShareName) -> Share {
        Share { name, share_acl: Vec::new(), file_acls: BTreeMap::new() }
    }

    /// A share as acc creates the default package sources: `Agents` may read at both levels
    /// (share `Read`, file `Read` at the root), so that a fresh installation serves packages
    /// to every agent and the ACC passes the check of 3.2.3. Operators narrow it.
    pub fn readable_by_agents(name: ShareName) -> Share {
        let mut share = Share::new(name);
        let agents = Principal::Group(WellKnownGroup::Agents);
        share.add_share_ace(Ace::allow(agents.clone(), ShareRight::Read.mask()));
        share.add_file_ace(SharePath::root(), Ace::allow(agents, FileRight::Read.mask()));
        share
    }

    /// The share's name.
    pub fn name(&self) -> &ShareName {
        &self.name
    }

    /// The share-level ACL.
    pub fn share_acl(&self) -> &[Ace] {
        &self.share_acl
    }

    /// The explicit file-level ACEs of one object (empty when it has none).
    pub fn file_acl(&self, path: &SharePath) -> &[Ace] {
        self.file_acls.get(path).map_or(&[], Vec::as_slice)
    }

    /// Every object that carries explicit file-level ACEs, in path order (root first).
    pub fn file_acls(&self) -> impl Iterator<Item = (&SharePath, &[Ace])> {
        self.file_acls.iter().map(|(p, a)| (p, a.as_slice()))
    }

    /// Appends an ACE to the share ACL.
    pub fn add_share_ace(&mut self, ace: Ace) {
        self.share_acl.push(ace);
    }

    /// Appends an ACE to the explicit ACL of `path` (the root or any object below it).
    pub fn add_file_ace(&mut self, path: SharePath, ace: Ace) {
        self.file_acls.entry(path).or_default().push(ace);
    }

    /// Removes every explicit ACE of `principal` of the given kind at one level (for the
    /// file level, on `path` only). Returns how many were removed.
    pub fn remove_aces(
        &mut self,
        level: AclLevel,
        path: &SharePath,
        principal: &Principal,
        kind: AceKind,
    ) -> usize {
        let keep = |a: &Ace| !(a.kind == kind && &a.principal == principal);
        match level {
            AclLevel::Share => {
                let before = self.share_acl.len();
                self.share_acl.retain(keep);
                before - self.share_acl.len()
            }
            AclLevel::File => {
                let Some(aces) = self.file_acls.get_mut(path) else {
                    return 0;
                };
                let before = aces.len();
                aces.retain(keep);
                let removed = before - aces.len();
                if aces.is_empty() {
                    self.file_acls.remove(path);
                }
                removed
            }
        }
    }

    /// `acc site shares grant SHARE PRINCIPAL read|change|full --level share|file [--path P]`:
    /// adds the right to the principal's explicit Allow at that level (on `path`, default
    /// the root, for the file level). Grants add up, as `icacls /grant` does: granting
    /// `read` to a principal that has `full` changes nothing. Returns whether the ACL
    /// changed. A Deny elsewhere still beats the grant; the check functions say so.
    pub fn grant(
        &mut self,
        principal: Principal,
        right: GrantRight,
        level: AclLevel,
        path: Option<SharePath>,
    ) -> Result<bool, GrantError> {
        match level {
            AclLevel::Share if path.is_some() => Err(GrantError::PathAtShareLevel),
            AclLevel::Share => Ok(self.allow_share(principal, right.share_right().mask())),
            AclLevel::File => {
                Ok(self.allow_file(path.unwrap_or_default(), principal, right.file_right().mask()))
            }
        }
    }

    /// Adds `mask` to the principal's explicit Allow in the share ACL.
    pub(super) fn allow_share(&mut self, principal: Principal, mask: AccessMask) -> bool {
        merge_allow(&mut self.share_acl, principal, mask)
    }

    /// Adds `mask` to the principal's explicit Allow on `path`.
    pub(super) fn allow_file(&mut self, path: SharePath, principal: Principal, mask: AccessMask) -> bool {
        merge_allow(self.file_acls.entry(path).or_default(), principal, mask)
    }
}

/// Adds `mask` to the first explicit Allow of `principal`, or appends one.
fn merge_allow(aces: &mut Vec<Ace>, principal: Principal, mask: AccessMask) -> bool {
    if let Some(ace) = aces.iter_mut().find(|a| a.kind == AceKind::Allow && a.principal == principal) {
        let merged = ace.mask.union(mask);
        let changed = merged != ace.mask;
        ace.mask = merged;
        return changed;
    }
    aces.push(Ace::allow(principal, mask));
    true
}

impl fmt::Display for AceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AceKind::Allow => "Allow",
            AceKind::Deny => "Deny",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share() -> Share {
        Share::new(ShareName::parse("nscap").unwrap())
    }

    fn p(s: &str) -> Principal {
        s.parse().unwrap()
    }

    #[test]
    fn grants_merge_into_one_allow_per_principal() {
        let mut s = share();
        assert_eq!(s.grant(p("ACC_user"), GrantRight::Read, AclLevel::Share, None), Ok(true));
        assert_eq!(s.grant(p("acc_USER"), GrantRight::Read, AclLevel::Share, None), Ok(false));
        assert_eq!(s.grant(p("ACC_user"), GrantRight::Full, AclLevel::Share, None), Ok(true));
        assert_eq!(s.share_acl().len(), 1);
        assert_eq!(s.share_acl()[0].mask, ShareRight::Full.mask());
        assert_eq!(
            s.grant(p("ACC_user"), GrantRight::Read, AclLevel::Share, None),
            Ok(false),
            "read after full changes nothing"
        );
    }

    #[test]
    fn file_grants_go_to_the_path_or_the_root() {
        let mut s = share();
        let sub = SharePath::from_plain("pkg/sub").unwrap();
        s.grant(p("Agents"), GrantRight::Change, AclLevel::File, Some(sub.clone())).unwrap();
        s.grant(p("cert:CN=acclinux"), GrantRight::Read, AclLevel::File, None).unwrap();
        assert_eq!(s.file_acl(&sub)[0].mask, FileRight::Modify.mask());
        assert_eq!(s.file_acl(&SharePath::root())[0].mask, FileRight::Read.mask());
        assert!(s.file_acl(&SharePath::from_plain("pkg").unwrap()).is_empty());
        assert_eq!(
            s.grant(p("Agents"), GrantRight::Read, AclLevel::Share, Some(sub)),
            Err(GrantError::PathAtShareLevel)
        );
    }

    #[test]
    fn removing_aces_only_touches_the_named_kind_and_object() {
        let mut s = share();
        let sub = SharePath::from_plain("pkg").unwrap();
        s.add_file_ace(sub.clone(), Ace::deny(p("Everyone"), FileRight::Read.mask()));
        s.add_file_ace(sub.clone(), Ace::allow(p("Everyone"), FileRight::Read.mask()));
        assert_eq!(s.remove_aces(AclLevel::File, &sub, &p("everyone"), AceKind::Deny), 1);
        assert_eq!(s.file_acl(&sub).len(), 1);
        assert_eq!(s.remove_aces(AclLevel::File, &sub, &p("Everyone"), AceKind::Allow), 1);
        assert_eq!(s.file_acls().count(), 0);
        assert_eq!(s.remove_aces(AclLevel::Share, &sub, &p("Everyone"), AceKind::Allow), 0);
    }

    #[test]
    fn shares_round_trip_through_json() {
        let mut s = Share::readable_by_agents(ShareName::parse("software-library").unwrap());
        s.add_file_ace(
            SharePath::from_plain("pkg/secret").unwrap(),
            Ace::deny(p("cert:CN=acclinux"), FileRight::Read.mask()),
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(json.contains("\"pkg/secret\""), "{json}");
        let back: Share = serde_json::from_str(&json).unwrap();
        assert_eq!(back, s);
        let hostile = json.replace("pkg/secret", "pkg/../secret");
        assert!(serde_json::from_str::<Share>(&hostile).is_err());
    }
}
