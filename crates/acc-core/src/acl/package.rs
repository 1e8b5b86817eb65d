//! The package sources and the share-access check of specification 3.2.3, run by the
//! management server before a credential is saved (V5), after provisioning and at every
//! package refresh as the ACC; the exact messages of 5.6; and `--grant-read`, the minimal
//! ACL change that makes the check pass in the same policy revision.
//!
//! Per source, in the order `software-library`, `nscap`, `patch-downloads`:
//! - share level: the share ACL allows Read, Change or Full to one of the caller's
//!   principals and denies Read to none of them;
//! - file level: the root's own ACL allows Read, ReadAndExecute, Modify or FullControl to
//!   one of them (`Write` alone is not Read) and denies Read to none of them, and no object
//!   below the root carries a Deny of Read for any of them.
//!
//! The principals are those of [`Caller`] (see `principal` for the implicit groups). A
//! package source missing from the list given fails at `share and file level` (there is
//! no ACL to grant anything).

use std::fmt;

use super::caller::Caller;
use super::check::{AccessDenied, DenialLevel, LevelVerdict, share_verdict};
use super::principal::Principal;
use super::rights::{AccessMask, AclLevel, FileRight, ShareRight};
use super::share::{AceKind, Share};
use crate::share_path::{ShareName, SharePath};

/// The three package sources every management server has, in the fixed check order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PackageSource {
    /// `software-library`: the Software Library.
    SoftwareLibrary,
    /// `nscap`: the NSCAP share.
    Nscap,
    /// `patch-downloads`: the Patch Download location.
    PatchDownloads,
}

impl PackageSource {
    /// Every source, in the order of 3.2.3 and 5.6.
    pub const ALL: [PackageSource; 3] =
        [PackageSource::SoftwareLibrary, PackageSource::Nscap, PackageSource::PatchDownloads];

    /// The share name.
    pub const fn as_str(self) -> &'static str {
        match self {
            PackageSource::SoftwareLibrary => "software-library",
            PackageSource::Nscap => "nscap",
            PackageSource::PatchDownloads => "patch-downloads",
        }
    }

    /// The share name, typed.
    pub fn share_name(self) -> ShareName {
        ShareName::parse(self.as_str()).unwrap_or_else(|_| unreachable!("constant share name"))
    }

    /// The source whose share is `name`, if any.
    pub fn from_share_name(name: &ShareName) -> Option<PackageSource> {
        PackageSource::ALL.into_iter().find(|s| s.as_str() == name.as_str())
    }

    /// The three default shares ([`Share::readable_by_agents`]), in order.
    pub fn default_shares() -> Vec<Share> {
        PackageSource::ALL.into_iter().map(|s| Share::readable_by_agents(s.share_name())).collect()
    }
}

impl fmt::Display for PackageSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One package source that failed the check, with both levels' verdicts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFailure {
    /// The source.
    pub source: PackageSource,
    /// The share level's verdict.
    pub share_level: LevelVerdict,
    /// The file level's verdict (3.2.3 rules).
    pub file_level: LevelVerdict,
}

impl SourceFailure {
    /// The level that denied, in the wording of 5.6.
    pub fn level(&self) -> DenialLevel {
        DenialLevel::from_verdicts(&self.share_level, &self.file_level).unwrap_or(DenialLevel::ShareAndFile)
    }
}

/// The save refused by V5: Display is the exact message of 5.6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareAccessRefusal {
    /// The new ACC's own identity.
    pub principal: Principal,
    /// The failing sources, in check order (never empty).
    pub failures: Vec<SourceFailure>,
}

impl fmt::Display for ShareAccessRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let k = self.failures.len();
        let list = self
            .failures
            .iter()
            .map(|x| format!("{} ({})", x.source, x.level()))
            .collect::<Vec<_>>()
            .join(", ");
        write!(
            f,
            "share access: '{}' cannot read {k} package source{}: {list}; grant Read or Full Control at both the share and the file level, then save again",
            self.principal,
            if k == 1 { "" } else { "s" }
        )
    }
}

impl std::error::Error for ShareAccessRefusal {}

fn find(shares: &[Share], source: PackageSource) -> Option<&Share> {
    shares.iter().find(|s| s.name().as_str() == source.as_str())
}

/// The file level of 3.2.3 for one share: the root's own ACL, then every object below.
fn source_file_verdict(share: &Share, caller: &Caller) -> LevelVerdict {
    let mut below: Option<(&SharePath, &Principal)> = None;
    let mut root_allowed = AccessMask::NONE;
    let mut root_denied = AccessMask::NONE;
    let mut root_deny_principal = None;
    for (path, aces) in share.file_acls() {
        for ace in aces.iter().filter(|a| caller.holds(&a.principal)) {
            if path.is_root() {
                if ace.denies_read() && root_deny_principal.is_none() {
                    root_deny_principal = Some(&ace.principal);
                }
                match ace.kind {
                    AceKind::Allow => root_allowed = root_allowed.union(ace.mask),
                    AceKind::Deny => root_denied = root_denied.union(ace.mask),
                }
            } else if ace.denies_read() {
                // The shallowest Deny wins the report; ties go to path order.
                let shallower = below.is_none_or(|(p, _)| path.depth() < p.depth());
                if shallower {
                    below = Some((path, &ace.principal));
                }
            }
        }
    }
    if let Some((on, principal)) = below {
        return LevelVerdict::Denied { on: on.clone(), principal: principal.clone() };
    }
    if let Some(principal) = root_deny_principal {
        return LevelVerdict::Denied { on: SharePath::root(), principal: principal.clone() };
    }
    if root_allowed.difference(root_denied).allows_read() {
        LevelVerdict::Granted
    } else {
        LevelVerdict::NotGranted
    }
}

/// The 3.2.3 check of one source; `None` when it passes.
pub fn check_source(source: PackageSource, shares: &[Share], caller: &Caller) -> Option<SourceFailure> {
    let (share_level, file_level) = match find(shares, source) {
        Some(share) => (share_verdict(share, caller), source_file_verdict(share, caller)),
        None => (LevelVerdict::NotGranted, LevelVerdict::NotGranted),
    };
    DenialLevel::from_verdicts(&share_level, &file_level)?;
    Some(SourceFailure { source, share_level, file_level })
}

/// V5 of 3.2.2: the share-access check of 3.2.3 over the three package sources, in order.
/// `shares` is the management server's share list; `caller` the new ACC.
pub fn check_package_sources(shares: &[Share], caller: &Caller) -> Result<(), ShareAccessRefusal> {
    let failures: Vec<SourceFailure> =
        PackageSource::ALL.into_iter().filter_map(|s| check_source(s, shares, caller)).collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(ShareAccessRefusal { principal: caller.identity().clone(), failures })
    }
}

/// The check a package refresh runs as the ACC before it replicates `package` from
/// `source`: the 3.2.3 check of that source. The denial's
/// [`AccessDenied::package_refresh_message`] is the 5.6 refresh error and
/// [`AccessDenied::package_access_fields`] the `acc.package_access` event.
pub fn check_package_refresh(
    source: PackageSource,
    package: &SharePath,
    shares: &[Share],
    caller: &Caller,
) -> Result<(), Box<AccessDenied>> {
    match check_source(source, shares, caller) {
        None => Ok(()),
        Some(failure) => Err(Box::new(AccessDenied {
            principal: caller.identity().clone(),
            share: source.share_name(),
            path: package.clone(),
            share_level: failure.share_level,
            file_level: failure.file_level,
            missing: AccessMask::READ_DATA,
        })),
    }
}

/// One ACE added by [`grant_read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantChange {
    /// The source.
    pub source: PackageSource,
    /// Share ACL or the root's file-level ACL.
    pub level: AclLevel,
    /// Who got Read.
    pub principal: Principal,
}

impl fmt::Display for GrantChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.level {
            AclLevel::Share => write!(f, "allow Read to '{}' on share {}", self.principal, self.source),
            AclLevel::File => {
                write!(f, "allow Read to '{}' on the root folder of {}", self.principal, self.source)
            }
        }
    }
}

/// `--grant-read` could not make the check pass.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantReadError {
    /// A Deny of Read for one of the ACC's principals; an Allow cannot override it.
    #[error(
        "--grant-read cannot give '{principal}' Read on {package_source}: {place} denies Read to '{denied}', and a Deny beats every Allow; remove that Deny, then save again"
    )]
    Denied {
        /// The ACC's identity.
        principal: Principal,
        /// The source.
        package_source: PackageSource,
        /// `the share ACL`, `the root folder` or `'source/path' (file level)`.
        place: String,
        /// The principal the Deny names.
        denied: Principal,
    },
    /// The source is not in the share list.
    #[error("--grant-read cannot give '{principal}' Read on {package_source}: the share does not exist")]
    MissingSource {
        /// The ACC's identity.
        principal: Principal,
        /// The source.
        package_source: PackageSource,
    },
}

/// `--grant-read`: the minimal change after which [`check_package_sources`] passes for
/// `caller`: where the share level does not grant Read, an Allow of share `Read` to the
/// caller's own identity; where the root's file-level ACL does not, an Allow of file `Read`
/// at the root. Denies are never removed: if one names any of the caller's principals (at
/// the share level, on the root or on any object below it) nothing is changed and the error
/// says where it is (boxed to keep `Result` small). All-or-nothing: on error `shares` is untouched. Returns the ACEs added
/// (empty when the check already passed), for the revision's record.
pub fn grant_read(shares: &mut [Share], caller: &Caller) -> Result<Vec<GrantChange>, Box<GrantReadError>> {
    let principal = caller.identity().clone();
    for source in PackageSource::ALL {
        let share = find(shares, source).ok_or_else(|| {
            Box::new(GrantReadError::MissingSource { principal: principal.clone(), package_source: source })
        })?;
        let denied = |place: String, denied: &Principal| {
            Box::new(GrantReadError::Denied {
                principal: principal.clone(),
                package_source: source,
                place,
                denied: denied.clone(),
            })
        };
        if let LevelVerdict::Denied { principal: p, .. } = share_verdict(share, caller) {
            return Err(denied("the share ACL".to_owned(), &p));
        }
        if let LevelVerdict::Denied { on, principal: p } = source_file_verdict(share, caller) {
            let place = if on.is_root() {
                "the root folder".to_owned()
            } else {
                format!("'{source}/{on}' (file level)")
            };
            return Err(denied(place, &p));
        }
    }
    let mut changes = Vec::new();
    for source in PackageSource::ALL {
        let Some(share) = shares.iter_mut().find(|s| s.name().as_str() == source.as_str()) else {
            continue;
        };
        if !share_verdict(share, caller).is_granted() {
            share.allow_share(principal.clone(), ShareRight::Read.mask());
            changes.push(GrantChange { source, level: AclLevel::Share, principal: principal.clone() });
        }
        if !source_file_verdict(share, caller).is_granted() {
            share.allow_file(SharePath::root(), principal.clone(), FileRight::Read.mask());
            changes.push(GrantChange { source, level: AclLevel::File, principal: principal.clone() });
        }
    }
    Ok(changes)
}
