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

use acc_core::acl::Share;
use acc_core::share_path::ShareName;
use arc_swap::ArcSwap;
use sqlx::{Row, SqlitePool};

use crate::error::{ShareError, SiteError};
use crate::init::DEFAULT_SHARES;
use crate::layout::Layout;
use crate::store::Write;
use crate::writer::Writer;

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
                .map_err(SiteError::from)?;
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
        self.table.load().values().map(|e| view(e)).collect()
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
        let (share, ..) = g.target.parse().map_err(ShareError::Edit)?;
        let _edit = self.edits.lock().await;
        let mut acl = self.current(&share)?;
        let changed = acc_core::acl::grant_ace(&mut acl, g).map_err(ShareError::Edit)?;
        self.stored_if(writer, &share, acl, changed).await
    }

    /// Stores `acl` when `changed`; the share as it is now, and `changed`.
    async fn stored_if(
        &self,
        writer: &Writer,
        share: &ShareName,
        acl: Share,
        changed: bool,
    ) -> Result<(ShareView, bool), SiteError> {
        let view = if changed { self.store(writer, acl).await? } else { view(&*self.entry(share)?) };
        Ok((view, changed))
    }

    /// `acc site shares revoke SHARE PRINCIPAL --level share|file [--path P]`: removes the
    /// principal's Allow at that level (on that object). Returns the share as it is now and
    /// whether the revocation changed anything (nothing when there was no such Allow).
    pub async fn revoke(&self, writer: &Writer, target: &AceTarget) -> Result<(ShareView, bool), SiteError> {
        let (share, ..) = target.parse().map_err(ShareError::Edit)?;
        let _edit = self.edits.lock().await;
        let mut acl = self.current(&share)?;
        let changed = acc_core::acl::revoke_ace(&mut acl, target).map_err(ShareError::Edit)?;
        self.stored_if(writer, &share, acl, changed).await
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
        writer.submit(vec![share_write(&acl)]).durable().await.map_err(SiteError::from)?;
        let entry = Arc::new(ShareEntry::new(acl, &self.shares_dir));
        let shown = view(&entry);
        let mut table = ShareTable::clone(&self.table.load());
        table.insert(entry.acl.name().clone(), entry);
        self.table.store(Arc::new(table));
        Ok(shown)
    }
}

fn share_write(acl: &Share) -> Write {
    Write::Share { name: acl.name().to_string(), acl: serde_json::to_string(acl).unwrap_or_default() }
}

pub use acc_core::acl::{AceTarget, GrantArgs};

pub use acc_core::acl::{AceView, ObjectAcl, ShareView};

/// The view of a share entry: its ACLs and its folder.
fn view(entry: &ShareEntry) -> ShareView {
    ShareView::of_acl(&entry.acl, entry.dir.display().to_string())
}
