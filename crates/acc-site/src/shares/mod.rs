//! The site server's shares: named folders under `DIR/shares/NAME/` with their two ACL
//! levels (acc-core's [`Share`]). This module owns the in-memory snapshot every download
//! reads without a database round trip (an [`ArcSwap`], replaced whole on each edit), its
//! persistence (one `shares` row per share, the ACLs as JSON, written through the
//! group-commit writer before the snapshot changes), the default shares, and the edits of
//! `acc site shares add|grant|revoke`. Serving files is `api::shares`; the file system side
//! is [`files`] and [`open_cache`], digests [`digest`], byte ranges [`range`], package manifests [`packages`].
//!
//! Defaults: the first time a site opens its database with no share rows, it creates
//! `software-library`, `nscap` and `patch-downloads` readable by the group `Agents` at both
//! levels (share `Read`, file `Read` on the root), so that every authenticated agent can
//! download from a fresh site; operators narrow them with `revoke` and `grant`.

pub mod admin;
pub mod digest;
pub mod files;
pub mod open_cache;
pub mod packages;
pub mod range;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use acc_core::acl::{
    AccessMask, AceKind, AclLevel, FileRight, GrantError, GrantRight, Principal, PrincipalError,
    RightParseError, Share, ShareRight,
};
use acc_core::share_path::{PathError, ShareName, SharePath};
use arc_swap::ArcSwap;
use serde::Serialize;
use sqlx::{Row, SqlitePool};

use crate::error::SiteError;
use crate::init::DEFAULT_SHARES;
use crate::layout::Layout;
use crate::store::Write;
use crate::writer::Writer;

/// A share edit or lookup that cannot be done. Messages are one line and name the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShareError {
    /// No share of that name.
    #[error(
        "share '{0}' does not exist; see `acc site shares list`, or create it with `acc site shares add {0}`"
    )]
    UnknownShare(String),
    /// `add` of an existing share.
    #[error("share '{0}' already exists")]
    Exists(String),
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
    /// `revoke` of something that is not granted.
    #[error("'{principal}' has no Allow at the {level} level of '{target}'; nothing was revoked")]
    NothingToRevoke {
        /// The principal.
        principal: String,
        /// `share` or `file`.
        level: AclLevel,
        /// `share` or `share/path`.
        target: String,
    },
}

/// One share in the snapshot: its ACLs and its folder.
#[derive(Debug)]
pub struct ShareEntry {
    acl: Share,
    dir: PathBuf,
    root: OnceLock<PathBuf>,
}

impl ShareEntry {
    fn new(acl: Share, shares_dir: &Path) -> ShareEntry {
        let dir = shares_dir.join(acl.name().as_str());
        ShareEntry { acl, dir, root: OnceLock::new() }
    }

    /// The ACLs.
    pub fn acl(&self) -> &Share {
        &self.acl
    }

    /// The share's folder (`DIR/shares/NAME`) as configured.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The folder's canonical path (symlinks resolved), remembered once found. Blocking.
    pub fn canonical_root(&self) -> std::io::Result<PathBuf> {
        if let Some(root) = self.root.get() {
            return Ok(root.clone());
        }
        let root = std::fs::canonicalize(&self.dir)?;
        Ok(self.root.get_or_init(|| root).clone())
    }
}

/// Every share, by name: what one request reads.
pub type ShareTable = BTreeMap<ShareName, Arc<ShareEntry>>;

/// The shares of one site: snapshot, persistence, edits and the digest cache.
pub struct Shares {
    table: ArcSwap<ShareTable>,
    /// Edits are serialised so that two concurrent grants cannot lose one another.
    edits: tokio::sync::Mutex<()>,
    shares_dir: PathBuf,
    digests: digest::DigestCache,
    open_files: open_cache::OpenFiles,
}

impl std::fmt::Debug for Shares {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shares").field("shares", &self.table.load().len()).finish_non_exhaustive()
    }
}

impl Shares {
    /// Loads the shares from the database, creating the default ones on first use.
    pub async fn load(pool: &SqlitePool, writer: &Writer, layout: &Layout) -> Result<Shares, SiteError> {
        let shares_dir = layout.shares_dir();
        let mut table = ShareTable::new();
        for row in sqlx::query("SELECT name, acl FROM shares ORDER BY name").fetch_all(pool).await? {
            let name: String = row.get("name");
            let acl: Share = serde_json::from_str(row.get::<&str, _>("acl"))
                .map_err(|e| SiteError::Database(format!("stored share '{name}' does not parse: {e}")))?;
            table.insert(acl.name().clone(), Arc::new(ShareEntry::new(acl, &shares_dir)));
        }
        if table.is_empty() {
            let defaults: Vec<Share> = DEFAULT_SHARES
                .iter()
                .filter_map(|n| ShareName::parse(n).ok())
                .map(Share::readable_by_agents)
                .collect();
            writer
                .submit(defaults.iter().map(share_write).collect())
                .durable()
                .await
                .map_err(SiteError::Database)?;
            for acl in defaults {
                table.insert(acl.name().clone(), Arc::new(ShareEntry::new(acl, &shares_dir)));
            }
        }
        Ok(Shares {
            table: ArcSwap::from_pointee(table),
            edits: tokio::sync::Mutex::new(()),
            shares_dir,
            digests: digest::DigestCache::default(),
            open_files: open_cache::OpenFiles::default(),
        })
    }

    /// The current snapshot (cheap: one atomic load and reference count).
    pub fn snapshot(&self) -> Arc<ShareTable> {
        self.table.load_full()
    }

    /// One share, if it exists.
    pub fn get(&self, name: &ShareName) -> Option<Arc<ShareEntry>> {
        self.table.load().get(name).cloned()
    }

    /// The SHA-256 cache of served files.
    pub fn digests(&self) -> &digest::DigestCache {
        &self.digests
    }

    /// Recently opened files (see [`open_cache`]).
    pub fn open_files(&self) -> &open_cache::OpenFiles {
        &self.open_files
    }

    /// Every share as an administrator sees it.
    pub fn list(&self) -> Vec<ShareView> {
        self.table.load().values().map(|e| ShareView::of(e)).collect()
    }

    /// `acc site shares add NAME [--agents-read]`: creates the folder (if missing) and a
    /// share whose ACLs are empty (nobody can read it) or, with `agents_read`, the ACLs of
    /// the default shares.
    pub async fn add(&self, writer: &Writer, name: &str, agents_read: bool) -> Result<ShareView, SiteError> {
        let name = ShareName::parse(name).map_err(ShareError::Name)?;
        let _edit = self.edits.lock().await;
        if self.table.load().contains_key(&name) {
            return Err(ShareError::Exists(name.to_string()).into());
        }
        let dir = self.shares_dir.join(name.as_str());
        std::fs::create_dir_all(&dir).map_err(|e| SiteError::io(&dir, e))?;
        let acl = if agents_read { Share::readable_by_agents(name) } else { Share::new(name) };
        self.store(writer, acl).await
    }

    /// `acc site shares grant SHARE PRINCIPAL read|change|full --level share|file [--path P]`.
    /// Returns the share as it is now and whether the grant changed anything.
    pub async fn grant(&self, writer: &Writer, g: &GrantArgs) -> Result<(ShareView, bool), SiteError> {
        let right: GrantRight = g.right.parse().map_err(ShareError::Word)?;
        let (share, principal, level, path) = g.target.parse()?;
        let _edit = self.edits.lock().await;
        let mut acl = self.current(&share)?;
        let changed = acl.grant(principal, right, level, path).map_err(ShareError::Grant)?;
        let view = if changed {
            self.store(writer, acl).await?
        } else {
            let entry = self.entry(&share)?;
            ShareView::of(&entry)
        };
        Ok((view, changed))
    }

    /// `acc site shares revoke SHARE PRINCIPAL --level share|file [--path P]`: removes the
    /// principal's Allow at that level (on that object). Refused when there is none.
    pub async fn revoke(&self, writer: &Writer, target: &AceTarget) -> Result<ShareView, SiteError> {
        let (share, principal, level, path) = target.parse()?;
        let _edit = self.edits.lock().await;
        let mut acl = self.current(&share)?;
        let path = path.unwrap_or_default();
        if acl.remove_aces(level, &path, &principal, AceKind::Allow) == 0 {
            let target = if path.is_root() { share.to_string() } else { format!("{share}/{path}") };
            return Err(
                ShareError::NothingToRevoke { principal: principal.to_string(), level, target }.into()
            );
        }
        self.store(writer, acl).await
    }

    fn entry(&self, name: &ShareName) -> Result<Arc<ShareEntry>, ShareError> {
        self.get(name).ok_or_else(|| ShareError::UnknownShare(name.to_string()))
    }

    fn current(&self, name: &ShareName) -> Result<Share, ShareError> {
        Ok(self.entry(name)?.acl.clone())
    }

    /// Makes `acl` durable, then puts it in the snapshot: a request sees it as soon as the
    /// administrator's command returns, and never sees what a crash would lose.
    async fn store(&self, writer: &Writer, acl: Share) -> Result<ShareView, SiteError> {
        writer.submit(vec![share_write(&acl)]).durable().await.map_err(SiteError::Database)?;
        let entry = Arc::new(ShareEntry::new(acl, &self.shares_dir));
        let view = ShareView::of(&entry);
        let mut table = ShareTable::clone(&self.table.load());
        table.insert(entry.acl.name().clone(), entry);
        self.table.store(Arc::new(table));
        Ok(view)
    }
}

fn share_write(acl: &Share) -> Write {
    Write::Share { name: acl.name().to_string(), acl: serde_json::to_string(acl).unwrap_or_default() }
}

/// Which ACEs an edit touches: `SHARE PRINCIPAL --level share|file [--path P]`, as typed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
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

impl AceTarget {
    fn parse(&self) -> Result<(ShareName, Principal, AclLevel, Option<SharePath>), ShareError> {
        let share = ShareName::parse(&self.share).map_err(ShareError::Name)?;
        let principal: Principal = self.principal.parse().map_err(ShareError::Principal)?;
        let level: AclLevel = self.level.parse().map_err(ShareError::Word)?;
        let path = match &self.path {
            None => None,
            Some(p) => Some(SharePath::from_plain(p.trim_end_matches('/')).map_err(|problem| {
                ShareError::Path { path: p.chars().take(64).flat_map(char::escape_debug).collect(), problem }
            })?),
        };
        if level == AclLevel::Share && path.is_some() {
            return Err(ShareError::Grant(GrantError::PathAtShareLevel));
        }
        Ok((share, principal, level, path))
    }
}

/// `grant`'s arguments: the target and the right word.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct GrantArgs {
    /// Share, principal, level, path.
    #[serde(flatten)]
    pub target: AceTarget,
    /// `read`, `change` or `full`.
    pub right: String,
}

/// A share as `acc site shares list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShareView {
    /// The name.
    pub name: String,
    /// Its folder.
    pub dir: String,
    /// The share-level ACL.
    pub share_acl: Vec<AceView>,
    /// The file-level ACLs, by object (`""` is the root).
    pub file_acls: Vec<ObjectAcl>,
}

/// The explicit file-level ACEs of one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectAcl {
    /// The folder or file (`""` for the root).
    pub path: String,
    /// Its ACEs.
    pub aces: Vec<AceView>,
}

/// One ACE.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    fn of(entry: &ShareEntry) -> ShareView {
        let aces = |level: AclLevel, aces: &[acc_core::acl::Ace]| {
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
            name: entry.acl.name().to_string(),
            dir: entry.dir.display().to_string(),
            share_acl: aces(AclLevel::Share, entry.acl.share_acl()),
            file_acls: entry
                .acl
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
