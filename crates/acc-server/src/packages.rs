//! Packages on the management server: a version is uploaded against its manifest
//! (`acc ctl package add`: begin, chunks at offsets, so an interrupted upload resumes,
//! then commit, which verifies every size and SHA-256 and makes the version immutable),
//! assigned to site servers as a policy revision (`acc ctl package assign`), and read by
//! those sites as the connectivity credential: the package source's two ACL levels are
//! checked for the ACC (the App ID in `application` and `certificate` mode), and a denial
//! is the package-refresh error of 5.6 plus one `acc.package_access` event.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use acc_core::acl::{AccessDenied, Caller, Principal, Share, check_read};
use acc_core::generation::GenerationPhase;
use acc_core::share_path::SharePath;
use acc_proto::admin::{
    AllSites, AssignedTo, PackageView, Replica, ReplicaStatus, UploadBegun, UploadStatus,
};
use acc_proto::{PackageFile, PackageManifest, PackageReport};
use serde_json::Value;

use crate::document::{Assignment, AuthMode, PolicyDocument, Problem};
use crate::error::ServerError;
use crate::server::{SaveError, SaveOutcome, Server};
use crate::store::{self, PackageRow};

/// The largest chunk of one upload or download request.
pub const MAX_CHUNK: usize = 8 * 1024 * 1024;

/// Why a package request was refused.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A bad value (422).
    #[error("{0}")]
    Invalid(String),
    /// No such package, version or upload (404).
    #[error("{0}")]
    NotFound(String),
    /// A state conflict (409): the version exists with other content, a chunk at the
    /// wrong offset.
    #[error("{0}")]
    Conflict(String),
    /// The ACC may not read the package source (403).
    #[error("{}", .0.package_refresh_message())]
    Denied(Box<AccessDenied>),
    /// The server failed.
    #[error(transparent)]
    Server(#[from] ServerError),
}

fn io(path: &Path, e: std::io::Error) -> PackageError {
    PackageError::Server(ServerError::io(path, e))
}

/// Checks a name or version: 1 to 64 of letters, digits, `.`, `_`, `-`, not starting
/// with `.`.
fn check_token(what: &str, value: &str) -> Result<(), String> {
    let ok = (1..=64).contains(&value.len())
        && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !value.starts_with('.');
    if ok {
        Ok(())
    } else {
        Err(format!("{what} '{value}': use 1 to 64 letters, digits, '.', '_' or '-', not starting with '.'"))
    }
}

/// Checks a manifest against the package sources of `doc`: names, paths, sizes, digests.
pub fn check_manifest(m: &PackageManifest, doc: &PolicyDocument) -> Result<(), String> {
    check_token("package name", &m.name)?;
    check_token("version", &m.version)?;
    if !doc.shares.iter().any(|s| s.name().as_str() == m.share) {
        let names: Vec<&str> = doc.shares.iter().map(|s| s.name().as_str()).collect();
        return Err(format!("share '{}' is not a package source; they are {}", m.share, names.join(", ")));
    }
    if m.files.is_empty() || m.files.len() > acc_proto::package::MAX_FILES {
        return Err(format!("files: a package holds 1 to {} files", acc_proto::package::MAX_FILES));
    }
    let mut seen = std::collections::HashSet::new();
    for f in &m.files {
        SharePath::from_plain(&f.path).map_err(|e| format!("file '{}': {e}", f.path))?;
        if !seen.insert(f.path.as_str()) {
            return Err(format!("file '{}' is listed twice", f.path));
        }
        if f.sha256.len() != 64 || !f.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!("file '{}': sha256 must be 64 lower-case hex digits", f.path));
        }
    }
    Ok(())
}

/// The principal site servers replicate as: the active ACC in `credential` mode, the App ID
/// otherwise.
pub fn replication_principal(doc: &PolicyDocument, app_id_display: &str) -> String {
    match (doc.auth.mode, doc.generation_in(GenerationPhase::Active)) {
        (AuthMode::Credential, Some(g)) => g.user_name.clone(),
        _ => app_id_display.to_string(),
    }
}

/// Whether `caller` may read package `name` (and `path` in it) in the source `acl`, at
/// both levels.
pub fn check_replica_read(
    acl: &Share,
    caller: &Caller,
    name: &str,
    path: Option<&str>,
) -> Result<(), Box<AccessDenied>> {
    let mut components = vec![name.to_string()];
    if let Some(p) = path {
        components.extend(p.split('/').map(str::to_string));
    }
    let object = SharePath::from_components(components).unwrap_or_else(|_| SharePath::root());
    check_read(acl, caller, &object)
}

impl Server {
    /// Begins (or resumes) the upload of a package version.
    pub async fn package_begin(&self, m: PackageManifest, author: &str) -> Result<UploadBegun, PackageError> {
        let (_, doc) = self.in_force();
        check_manifest(&m, &doc).map_err(PackageError::Invalid)?;
        let key = (m.name.clone(), m.version.clone());
        let existing = self.catalog().versions().get(&key).cloned();
        if let Some(row) = &existing {
            if row.committed && row.manifest == m {
                return Ok(UploadBegun { status: UploadStatus::Exists, received: BTreeMap::new() });
            }
            if row.committed {
                return Err(PackageError::Conflict(format!(
                    "package {} version {} already exists with other content; give a new --version",
                    m.name, m.version
                )));
            }
        }
        let staging = self.layout().package_staging(&m.name, &m.version);
        if existing.as_ref().is_some_and(|r| r.manifest != m) {
            // A different manifest for an unfinished upload: start over.
            let _ = std::fs::remove_dir_all(&staging);
        }
        std::fs::create_dir_all(&staging).map_err(|e| io(&staging, e))?;
        let received = m
            .files
            .iter()
            .map(|f| {
                let len = std::fs::metadata(staging.join(&f.path)).map(|md| md.len()).unwrap_or(0);
                (f.path.clone(), len.min(f.size))
            })
            .collect();
        let row = PackageRow {
            manifest: m,
            created_at: self.now_ms(),
            author: author.to_string(),
            committed: false,
        };
        store::put_package(&self.pool, &row).await?;
        self.catalog().versions().insert(key, row);
        Ok(UploadBegun { status: UploadStatus::Upload, received })
    }

    /// The upload in progress of `name` `version`, and the file `path` of its manifest.
    fn upload_file(
        &self,
        name: &str,
        version: &str,
        path: &str,
    ) -> Result<(PathBuf, PackageFile), PackageError> {
        let packages = self.catalog().versions();
        let row = packages
            .get(&(name.to_string(), version.to_string()))
            .filter(|r| !r.committed)
            .ok_or_else(|| PackageError::NotFound(format!("no upload of package {name} version {version} is in progress; begin it with acc ctl package add")))?;
        let file = row.manifest.files.iter().find(|f| f.path == path).cloned().ok_or_else(|| {
            PackageError::NotFound(format!("file '{path}' is not in the manifest of {name} {version}"))
        })?;
        Ok((self.layout().package_staging(name, version).join(path), file))
    }

    /// Appends `bytes` at `offset` to an upload's file; the offset must be what the server
    /// holds. Returns the bytes now held.
    pub async fn package_chunk(
        &self,
        name: &str,
        version: &str,
        path: &str,
        offset: u64,
        bytes: axum::body::Bytes,
    ) -> Result<u64, PackageError> {
        let (target, file) = self.upload_file(name, version, path)?;
        tokio::task::spawn_blocking(move || {
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
            }
            let mut f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&target)
                .map_err(|e| io(&target, e))?;
            let held = f.metadata().map_err(|e| io(&target, e))?.len();
            if held != offset {
                return Err(PackageError::Conflict(format!(
                    "file '{}': the server holds {held} bytes, not {offset}; resume at {held}",
                    file.path
                )));
            }
            if held + bytes.len() as u64 > file.size {
                return Err(PackageError::Invalid(format!(
                    "file '{}': {} bytes at {offset} go past its size in the manifest ({})",
                    file.path,
                    bytes.len(),
                    file.size
                )));
            }
            f.write_all(&bytes).map_err(|e| io(&target, e))?;
            Ok(held + bytes.len() as u64)
        })
        .await
        .map_err(|e| PackageError::Server(ServerError::Invalid(e.to_string())))?
    }

    /// Verifies every file of an upload against its manifest and makes it a committed,
    /// immutable version.
    pub async fn package_commit(&self, name: &str, version: &str) -> Result<PackageRow, PackageError> {
        let row =
            self.catalog().versions().get(&(name.to_string(), version.to_string())).cloned().ok_or_else(
                || PackageError::NotFound(format!("package {name} version {version} does not exist")),
            )?;
        if row.committed {
            return Ok(row);
        }
        let staging = self.layout().package_staging(name, version);
        let fin = self.layout().package_dir(name, version);
        let manifest = row.manifest.clone();
        tokio::task::spawn_blocking(move || -> Result<(), PackageError> {
            for f in &manifest.files {
                let p = staging.join(&f.path);
                let (size, sha) = acc_proto::package::hash_file(&p).map_err(|e| {
                    PackageError::Conflict(format!("file '{}' has not been uploaded ({e})", f.path))
                })?;
                if size != f.size {
                    return Err(PackageError::Conflict(format!(
                        "file '{}': {size} of {} bytes uploaded; resume the upload",
                        f.path, f.size
                    )));
                }
                if sha != f.sha256 {
                    let _ = std::fs::remove_file(&p);
                    return Err(PackageError::Conflict(format!(
                        "file '{}': its SHA-256 is {sha}, the manifest says {}; it was discarded, upload it again",
                        f.path, f.sha256
                    )));
                }
            }
            if let Some(parent) = fin.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::rename(&staging, &fin).map_err(|e| io(&fin, e))
        })
        .await
        .map_err(|e| PackageError::Server(ServerError::Invalid(e.to_string())))??;
        let row = PackageRow { committed: true, ..row };
        store::put_package(&self.pool, &row).await?;
        self.catalog().versions().insert((name.to_string(), version.to_string()), row.clone());
        tracing::info!(package = name, version, files = row.manifest.files.len(), "Package committed.");
        Ok(row)
    }

    /// The manifest of package `name` `version` (committed or being uploaded).
    pub fn package_manifest(&self, name: &str, version: &str) -> Option<PackageManifest> {
        self.catalog().versions().get(&(name.to_string(), version.to_string())).map(|r| r.manifest.clone())
    }

    /// Every package version with its assignment and each site's replication.
    pub fn package_list(&self) -> Vec<PackageView> {
        let (_, doc) = self.in_force();
        let sites = self.inventory.sites_now();
        self.catalog()
            .versions()
            .values()
            .map(|r| {
                let m = &r.manifest;
                let assigned = doc.assignments.iter().find(|a| a.name == m.name && a.version == m.version);
                let replicas = sites
                    .values()
                    .filter(|s| assigned.is_some_and(|a| a.covers(&s.name)))
                    .map(|s| {
                        let state = s.packages.iter().find(|p| p.name == m.name && p.wanted == m.version);
                        Replica {
                            site: s.name.clone(),
                            status: state.map_or(ReplicaStatus::Pending, |p| p.status.into()),
                            version: state.and_then(|p| p.version.clone()),
                            message: state.and_then(|p| p.message.clone()),
                        }
                    })
                    .collect();
                PackageView {
                    name: m.name.clone(),
                    version: m.version.clone(),
                    share: m.share.clone(),
                    files: m.files.len(),
                    bytes: m.files.iter().map(|f| f.size).sum::<u64>(),
                    committed: r.committed,
                    created_at: r.created_at,
                    author: r.author.clone(),
                    assigned_to: assigned.map(|a| {
                        if a.sites.is_empty() {
                            AssignedTo::All(AllSites::All)
                        } else {
                            AssignedTo::Sites(a.sites.clone())
                        }
                    }),
                    replicas,
                }
            })
            .collect()
    }

    /// Assigns a committed version (the newest when `version` is `None`) to `sites`
    /// (empty: all), replacing the package's previous assignment, as a revision.
    pub async fn package_assign(
        &self,
        name: &str,
        version: Option<&str>,
        sites: Vec<String>,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        let refused = |m: String| SaveError::Refused(vec![Problem::new("package", "", m)]);
        let version = {
            let packages = self.catalog().versions();
            let mut committed: Vec<&PackageRow> =
                packages.values().filter(|r| r.committed && r.manifest.name == name).collect();
            committed.sort_by_key(|r| r.created_at);
            match version {
                Some(v) if committed.iter().any(|r| r.manifest.version == v) => v.to_string(),
                Some(v) => {
                    return Err(refused(format!(
                        "package {name} has no committed version {v}; see acc ctl package list"
                    )));
                }
                None => match committed.last() {
                    Some(r) => r.manifest.version.clone(),
                    None => {
                        return Err(refused(format!(
                            "package '{name}' does not exist; add it with acc ctl package add"
                        )));
                    }
                },
            }
        };
        let known = self.sites();
        for s in &sites {
            if !known.iter().any(|k| k.name == *s) {
                return Err(refused(format!("site '{s}' is not in the inventory; see acc ctl sites")));
            }
        }
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        let mut next = doc.clone();
        next.assignments.retain(|a| a.name != name);
        next.assignments.push(Assignment { name: name.to_string(), version, sites });
        next.assignments.sort_by(|a, b| a.name.cmp(&b.name));
        self.commit_document(guard, &doc, next, author).await
    }

    /// The manifests of the packages assigned to `site` in `doc`.
    pub fn site_packages(&self, site: &str, doc: &PolicyDocument) -> Vec<PackageManifest> {
        let packages = self.catalog().versions();
        doc.assignments
            .iter()
            .filter(|a| a.covers(site))
            .filter_map(|a| packages.get(&(a.name.clone(), a.version.clone())).map(|r| r.manifest.clone()))
            .collect()
    }

    /// A site's read of `length` bytes at `offset` of a file of an assigned package, as the
    /// connectivity credential. A denial writes one `acc.package_access` per site, package
    /// and principal.
    pub async fn package_read(
        &self,
        site: &str,
        name: &str,
        version: &str,
        path: &str,
        offset: u64,
    ) -> Result<(Vec<u8>, u64), PackageError> {
        let (_, doc) = self.in_force();
        let manifest = self
            .site_packages(site, &doc)
            .into_iter()
            .find(|m| m.name == name && m.version == version)
            .ok_or_else(|| {
                PackageError::NotFound(format!("package {name} {version} is not assigned to {site}"))
            })?;
        let file = manifest
            .files
            .iter()
            .find(|f| f.path == path)
            .ok_or_else(|| PackageError::NotFound(format!("file '{path}' is not in {name} {version}")))?;
        let principal = replication_principal(&doc, &self.config().app_id_display());
        let caller = Principal::for_user_name(&principal, &self.config().directory())
            .map(Caller::for_principal)
            .map_err(|e| PackageError::Invalid(format!("the connectivity credential '{principal}': {e}")))?;
        let acl = doc.shares.iter().find(|s| s.name().as_str() == manifest.share).ok_or_else(|| {
            PackageError::NotFound(format!("share '{}' is no package source any more", manifest.share))
        })?;
        let check = check_replica_read(acl, &caller, name, None)
            .and_then(|()| check_replica_read(acl, &caller, name, Some(path)));
        if let Err(denied) = check {
            let first =
                self.catalog().denials().insert((site.to_string(), name.to_string(), principal.clone()));
            if first {
                let mut fields = serde_json::Map::new();
                for (k, v) in denied.package_access_fields() {
                    fields.insert(k.to_string(), Value::from(v));
                }
                fields.insert("ReportingSite".into(), Value::from(site));
                tracing::warn!(site, package = name, "{}", denied.package_refresh_message());
                self.record_event(
                    "acc.package_access",
                    "Audit Failure",
                    Some(&principal),
                    Value::Object(fields),
                )
                .await;
            }
            return Err(PackageError::Denied(denied));
        }
        self.catalog().denials().retain(|(s, n, _)| !(s == site && n == name));
        let full = self.layout().package_dir(name, version).join(path);
        let size = file.size;
        let data = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, PackageError> {
            let mut f = std::fs::File::open(&full).map_err(|e| io(&full, e))?;
            let length = size.saturating_sub(offset).min(MAX_CHUNK as u64);
            f.seek(SeekFrom::Start(offset)).map_err(|e| io(&full, e))?;
            let mut buf = Vec::with_capacity(usize::try_from(length).unwrap_or(MAX_CHUNK));
            f.take(length).read_to_end(&mut buf).map_err(|e| io(&full, e))?;
            Ok(buf)
        })
        .await
        .map_err(|e| PackageError::Server(ServerError::Invalid(e.to_string())))??;
        Ok((data, size))
    }

    /// Records a site's package report.
    pub async fn package_report(&self, site: &str, report: PackageReport) -> Result<(), ServerError> {
        self.update_site(site, |r| r.packages = report.packages).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> PackageManifest {
        PackageManifest {
            share: "software-library".into(),
            name: "acc-agent".into(),
            version: "1.2.0".into(),
            files: vec![PackageFile { path: "bin/acc".into(), size: 3, sha256: "ab".repeat(32) }],
        }
    }

    #[test]
    fn manifests_are_checked_field_by_field() {
        let doc = PolicyDocument::default();
        assert_eq!(check_manifest(&manifest(), &doc), Ok(()));
        let bad = |edit: fn(&mut PackageManifest), wanted: &str| {
            let mut m = manifest();
            edit(&mut m);
            let e = check_manifest(&m, &doc).unwrap_err();
            assert!(e.contains(wanted), "{e}");
        };
        bad(
            |m| m.share = "c$".into(),
            "is not a package source; they are software-library, nscap, patch-downloads",
        );
        bad(|m| m.name = "../x".into(), "package name '../x'");
        bad(|m| m.version = String::new(), "version ''");
        bad(|m| m.files.clear(), "files: a package holds 1 to");
        bad(|m| m.files[0].path = "/etc/passwd".into(), "file '/etc/passwd'");
        bad(|m| m.files.push(m.files[0].clone()), "listed twice");
        bad(|m| m.files[0].sha256 = "AB".repeat(32), "64 lower-case hex");
    }

    #[test]
    fn sites_replicate_as_the_active_acc_or_the_app_id() {
        let mut doc = PolicyDocument::default();
        assert_eq!(replication_principal(&doc, "CORP\\svc_acc_app"), "CORP\\svc_acc_app");
        doc.auth.mode = AuthMode::Credential;
        doc.generations.push(crate::document::Generation {
            number: 1,
            user_name: "ACC_user".into(),
            phase: GenerationPhase::Active,
            password_hash: None,
            saved_at: 0,
            retire_deadline: None,
        });
        assert_eq!(replication_principal(&doc, "CORP\\svc_acc_app"), "ACC_user");
        let caller = Caller::for_principal("ACC_user".parse().unwrap());
        assert_eq!(check_replica_read(&doc.shares[0], &caller, "pkg", Some("a/b")), Ok(()));
        let closed = Share::new(doc.shares[0].name().clone());
        let denied = check_replica_read(&closed, &caller, "pkg", None).unwrap_err();
        assert_eq!(
            denied.package_refresh_message(),
            "package refresh: access denied reading 'software-library/pkg' as 'ACC_user' (share and file level); grant Read or Full Control at both the share and the file level"
        );
    }
}
