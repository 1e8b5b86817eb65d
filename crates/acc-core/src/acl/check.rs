//! Evaluation: the effective access of a caller on a path in a share, and the read check
//! the site server runs before serving a file, with a denial that says which level denied.
//!
//! Rules (F25 and the issue):
//! - at each level, allowed = union of the Allow masks naming any of the caller's
//!   principals, denied = union of the Deny masks naming any of them, and the level grants
//!   `allowed − denied`: a Deny beats every Allow at the same level, wherever it sits;
//! - an object's file-level ACL is its own ACEs plus those of all its ancestors up to the
//!   root, so a Deny of Read on a folder denies the folder and everything below it. (Stricter
//!   than NTFS, where an explicit Allow on a child outranks an inherited Deny: acc has no
//!   inheritance flags or ACE order for an operator to get wrong.)
//! - effective access = share level ∩ file level.

use std::fmt;

use super::caller::Caller;
use super::principal::Principal;
use super::rights::AccessMask;
use super::share::{Ace, AceKind, Share};
use crate::share_path::{ShareName, SharePath};

/// What one level decided about Read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LevelVerdict {
    /// The level grants Read.
    Granted,
    /// No Allow of Read names any of the caller's principals.
    NotGranted,
    /// A Deny of Read names one of them, on `on` (the root for the share level).
    Denied {
        /// The object carrying the Deny (the shallowest one when there are several).
        on: SharePath,
        /// The principal the Deny names.
        principal: Principal,
    },
}

impl LevelVerdict {
    /// Whether the level grants Read.
    pub fn is_granted(&self) -> bool {
        matches!(self, LevelVerdict::Granted)
    }
}

/// The level that denied, in the wording of specification 5.6.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DenialLevel {
    /// `share level`.
    Share,
    /// `file level`: the root (or the object's chain) grants no Read, or the root denies it.
    File,
    /// `file level: deny on '{path}'`: a Deny of Read on an object below the root.
    FileDeny(SharePath),
    /// `share and file level`.
    ShareAndFile,
}

impl DenialLevel {
    /// Combines the two verdicts; `None` when both grant Read. When both levels fail the
    /// answer is `share and file level` even if the file level failed by a Deny.
    pub fn from_verdicts(share: &LevelVerdict, file: &LevelVerdict) -> Option<DenialLevel> {
        match (share.is_granted(), file) {
            (true, LevelVerdict::Granted) => None,
            (false, LevelVerdict::Granted) => Some(DenialLevel::Share),
            (false, _) => Some(DenialLevel::ShareAndFile),
            (true, LevelVerdict::Denied { on, .. }) if !on.is_root() => {
                Some(DenialLevel::FileDeny(on.clone()))
            }
            (true, _) => Some(DenialLevel::File),
        }
    }

    /// The `Level` field of `acc.package_access` (4.3): `share`, `file` or `share and file`.
    pub fn event_value(&self) -> &'static str {
        match self {
            DenialLevel::Share => "share",
            DenialLevel::File | DenialLevel::FileDeny(_) => "file",
            DenialLevel::ShareAndFile => "share and file",
        }
    }
}

impl fmt::Display for DenialLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DenialLevel::Share => f.write_str("share level"),
            DenialLevel::File => f.write_str("file level"),
            DenialLevel::FileDeny(path) => write!(f, "file level: deny on '{path}'"),
            DenialLevel::ShareAndFile => f.write_str("share and file level"),
        }
    }
}

/// The masks each level grants a caller on one object, and their intersection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EffectiveAccess {
    /// What the share ACL grants (allowed − denied).
    pub share: AccessMask,
    /// What the object's file-level ACL, with inheritance, grants (allowed − denied).
    pub file: AccessMask,
}

impl EffectiveAccess {
    /// share ∩ file.
    pub fn effective(&self) -> AccessMask {
        self.share.intersection(self.file)
    }
}

/// Allowed and denied masks of one ACL (or chain of ACLs) for a caller.
#[derive(Default)]
struct Tally {
    allowed: AccessMask,
    denied: AccessMask,
}

impl Tally {
    fn add<'a>(&mut self, caller: &Caller, aces: impl IntoIterator<Item = &'a Ace>) {
        for ace in aces.into_iter().filter(|a| caller.holds(&a.principal)) {
            match ace.kind {
                AceKind::Allow => self.allowed = self.allowed.union(ace.mask),
                AceKind::Deny => self.denied = self.denied.union(ace.mask),
            }
        }
    }

    fn granted(&self) -> AccessMask {
        self.allowed.difference(self.denied)
    }
}

/// The first Deny of Read in `aces` that names one of the caller's principals.
fn read_deny<'a>(caller: &Caller, aces: &'a [Ace]) -> Option<&'a Ace> {
    aces.iter().find(|a| a.denies_read() && caller.holds(&a.principal))
}

/// The effective access of `caller` on `path` in `share`.
pub fn effective_access(share: &Share, caller: &Caller, path: &SharePath) -> EffectiveAccess {
    let mut share_level = Tally::default();
    share_level.add(caller, share.share_acl());
    let mut file_level = Tally::default();
    for object in path.ancestors_and_self() {
        file_level.add(caller, share.file_acl(&object));
    }
    EffectiveAccess { share: share_level.granted(), file: file_level.granted() }
}

/// The share level's verdict on Read.
pub(super) fn share_verdict(share: &Share, caller: &Caller) -> LevelVerdict {
    if let Some(ace) = read_deny(caller, share.share_acl()) {
        return LevelVerdict::Denied { on: SharePath::root(), principal: ace.principal.clone() };
    }
    let mut tally = Tally::default();
    tally.add(caller, share.share_acl());
    if tally.granted().allows_read() { LevelVerdict::Granted } else { LevelVerdict::NotGranted }
}

/// The file level's verdict on Read of `path` (its own ACEs and its ancestors').
fn file_verdict(share: &Share, caller: &Caller, path: &SharePath) -> LevelVerdict {
    for object in path.ancestors_and_self() {
        if let Some(ace) = read_deny(caller, share.file_acl(&object)) {
            return LevelVerdict::Denied { on: object, principal: ace.principal.clone() };
        }
    }
    if effective_access(share, caller, path).file.allows_read() {
        LevelVerdict::Granted
    } else {
        LevelVerdict::NotGranted
    }
}

/// Why a read was refused: enough to write the 403, the 5145 event, the package-refresh
/// error and `acc.package_access`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessDenied {
    /// The caller's own identity (not its groups).
    pub principal: Principal,
    /// The share.
    pub share: ShareName,
    /// The object that was to be read.
    pub path: SharePath,
    /// The share level's verdict.
    pub share_level: LevelVerdict,
    /// The file level's verdict.
    pub file_level: LevelVerdict,
    /// The right missing: always Read ([`AccessMask::READ_DATA`]) for the checks here.
    pub missing: AccessMask,
}

impl AccessDenied {
    /// The level that denied, in the wording of 5.6.
    pub fn level(&self) -> DenialLevel {
        DenialLevel::from_verdicts(&self.share_level, &self.file_level).unwrap_or(DenialLevel::ShareAndFile)
    }

    /// `share` or `share/path`, as messages quote the object.
    pub fn target(&self) -> String {
        target(&self.share, &self.path)
    }

    /// The package-refresh error of 5.6, verbatim; the package is [`Self::path`].
    pub fn package_refresh_message(&self) -> String {
        format!(
            "package refresh: access denied reading '{}' as '{}' ({}); grant Read or Full Control at both the share and the file level",
            self.target(),
            self.principal,
            self.level()
        )
    }

    /// The fields of `acc.package_access` (4.3) for a failed package refresh, in order:
    /// `Principal`, `Source`, `Level`, `Path` (the package), `Message` (the refresh error).
    pub fn package_access_fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("Principal", self.principal.to_string()),
            ("Source", self.share.to_string()),
            ("Level", self.level().event_value().to_owned()),
            ("Path", self.path.to_string()),
            ("Message", self.package_refresh_message()),
        ]
    }

    fn reason(&self) -> String {
        let share = match &self.share_level {
            LevelVerdict::Denied { .. } => "share level denies Read".to_owned(),
            _ => "share level grants no Read".to_owned(),
        };
        let file = match &self.file_level {
            LevelVerdict::Denied { on, .. } if !on.is_root() => DenialLevel::FileDeny(on.clone()).to_string(),
            LevelVerdict::Denied { .. } => "file level denies Read at the share root".to_owned(),
            _ => "file level grants no Read".to_owned(),
        };
        match (self.share_level.is_granted(), self.file_level.is_granted()) {
            (false, true) => share,
            (true, _) => file,
            (false, false)
                if self.share_level == LevelVerdict::NotGranted
                    && self.file_level == LevelVerdict::NotGranted =>
            {
                "share and file level grant no Read".to_owned()
            }
            (false, false) => format!("{share} and {file}"),
        }
    }

    fn remedy(&self) -> String {
        let deny = [&self.share_level, &self.file_level].into_iter().find_map(|v| match v {
            LevelVerdict::Denied { on, principal } => Some((on, principal)),
            _ => None,
        });
        match deny {
            Some((on, principal)) => {
                let place = if matches!(self.share_level, LevelVerdict::Denied { .. }) {
                    "the share ACL".to_owned()
                } else if on.is_root() {
                    "the share root".to_owned()
                } else {
                    format!("'{}'", target(&self.share, on))
                };
                format!(
                    "remove the Deny of Read for '{principal}' on {place} (a Deny beats every Allow), then grant Read or Full Control at both the share and the file level"
                )
            }
            None => "grant Read or Full Control at both the share and the file level".to_owned(),
        }
    }
}

/// The 403 body for the site server, one line: who, what, which level, what is missing,
/// what to do. E.g. `access denied: 'ACC_user' cannot read 'software-library/pkg/file.bin':
/// share level grants no Read; grant Read or Full Control at both the share and the file
/// level`.
impl fmt::Display for AccessDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "access denied: '{}' cannot read '{}': {}; {}",
            self.principal,
            self.target(),
            self.reason(),
            self.remedy()
        )
    }
}

impl std::error::Error for AccessDenied {}

/// `share` for the root, `share/path` otherwise.
pub(super) fn target(share: &ShareName, path: &SharePath) -> String {
    if path.is_root() { share.to_string() } else { format!("{share}/{path}") }
}

/// The site server's check before it serves `path` from `share` to `caller`: Read is
/// required at both levels. The denial is boxed to keep `Result` small. Evaluate it on the canonical path
/// ([`crate::share_path::relative_to_root`]), so a symlink is judged by where it leads.
pub fn check_read(share: &Share, caller: &Caller, path: &SharePath) -> Result<(), Box<AccessDenied>> {
    let share_level = share_verdict(share, caller);
    let file_level = file_verdict(share, caller, path);
    if share_level.is_granted() && file_level.is_granted() {
        return Ok(());
    }
    Err(Box::new(AccessDenied {
        principal: caller.identity().clone(),
        share: share.name().clone(),
        path: path.clone(),
        share_level,
        file_level,
        missing: AccessMask::READ_DATA,
    }))
}
