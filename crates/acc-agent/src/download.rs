//! Package downloads (`acc agent download NAME`, the `download-package` task) and their
//! verification (`verify-package`). The manifest comes from the site server
//! (`GET /v1/packages/NAME`); each file is fetched in ranged chunks into
//! `state-dir/downloads/NAME/` (so an interrupted transfer resumes with `Range` where it
//! stopped), checked against its SHA-256, and the whole package is moved into
//! `state-dir/packages/NAME/` in one rename, with its manifest beside it
//! (`NAME.manifest.json`). A site server that fails is left for the next one; a
//! bandwidth limit paces the chunks; progress goes to a callback (a bar on a terminal, a
//! line in the log otherwise).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use acc_net::client::ClientError;
use serde::{Deserialize, Serialize};

use crate::site::{SiteFailure, SiteSession};

/// Bytes per ranged request.
pub const CHUNK: u64 = 4 * 1024 * 1024;

/// One file of a site's manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    /// Its path in the package.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
    /// Where to fetch it on the site (`/v1/shares/…`).
    pub url: String,
}

/// A site's manifest of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The package.
    pub name: String,
    /// The share it is in.
    pub share: String,
    /// The version replicated from the management server, when known.
    #[serde(default)]
    pub version: Option<String>,
    /// Its files.
    pub files: Vec<ManifestFile>,
}

impl Manifest {
    /// `name@version` (or `name@sha256:first-12` of the file digests when unversioned).
    pub fn label(&self) -> String {
        match &self.version {
            Some(v) => format!("{}@{v}", self.name),
            None => {
                let all: String = self.files.iter().map(|f| format!("{}:{};", f.path, f.sha256)).collect();
                let d = acc_net::client::sha256_hex(all.as_bytes());
                format!("{}@sha256:{}", self.name, &d[..12])
            }
        }
    }

    /// Total bytes.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// How a download went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downloaded {
    /// `name@version`.
    pub label: String,
    /// Bytes fetched now (less than the size when resumed).
    pub fetched: u64,
    /// The package's size.
    pub size: u64,
    /// Where it is.
    pub dir: PathBuf,
}

/// Why a package could not be downloaded or verified.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The package name could leave the cache.
    #[error("package name '{0}': use letters, digits, '.', '_' and '-'")]
    Name(String),
    /// A manifest's file path could leave the package's folder.
    #[error("manifest path '{0}' is not a plain relative path")]
    ManifestPath(String),
    /// The site refused the manifest.
    #[error("package {name}: {status} {message}")]
    Refused {
        /// The package.
        name: String,
        /// The status as HTTP says it.
        status: String,
        /// The site's reason.
        message: String,
    },
    /// The manifest does not read.
    #[error("package {name}: manifest: {error}")]
    Manifest {
        /// The package.
        name: String,
        /// Why.
        error: serde_json::Error,
    },
    /// The site refused a file's range.
    #[error("{path}: {status} {message}")]
    FileRefused {
        /// The file in the package.
        path: String,
        /// The status as HTTP says it.
        status: String,
        /// The site's reason.
        message: String,
    },
    /// The site answered a range with nothing.
    #[error("{path}: the site sent no data at {offset}")]
    NoData {
        /// The file in the package.
        path: String,
        /// Where.
        offset: u64,
    },
    /// A file's content is not the manifest's.
    #[error(
        "{path}: SHA-256 {sha256} does not match the manifest's {expected}; the file was discarded and will be fetched again"
    )]
    Digest {
        /// The file in the package.
        path: String,
        /// Its SHA-256.
        sha256: String,
        /// The manifest's.
        expected: String,
    },
    /// A local file or folder.
    #[error("{}: {error}", path.display())]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The package is not in the cache.
    #[error("package {0} is not in the cache; download it first")]
    NotCached(String),
    /// The request to the site failed.
    #[error(transparent)]
    Connection(#[from] ClientError),
    /// Hashing a file stopped (its task ended).
    #[error("{0}")]
    Hashing(String),
    /// A site server could not be used.
    #[error("{0}")]
    Site(SiteFailure),
    /// The policy carries no credential to reach the site servers with.
    #[error(transparent)]
    Credential(crate::site::NoCredential),
    /// There is no site server to download from.
    #[error("download {0}: no site server to download from")]
    NoSite(String),
    /// Every site server failed; the last one's reason.
    #[error("download {name}: {url}: {reason}")]
    Failed {
        /// The package.
        name: String,
        /// The last site server tried.
        url: String,
        /// How it failed.
        reason: Box<DownloadError>,
    },
}

/// A local I/O failure at `path`.
fn io(path: &Path) -> impl FnOnce(std::io::Error) -> DownloadError + '_ {
    move |error| DownloadError::Io { path: path.to_path_buf(), error }
}

/// Progress: (bytes in place, total bytes).
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

fn checked_path(state_dir: &Path, sub: &str, name: &str) -> Result<PathBuf, DownloadError> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        && !name.starts_with('.');
    if !valid {
        return Err(DownloadError::Name(name.to_string()));
    }
    Ok(state_dir.join(sub).join(name))
}

/// A relative file path of a manifest, refused when it could leave its folder.
fn file_path(root: &Path, rel: &str) -> Result<PathBuf, DownloadError> {
    let ok = !rel.is_empty()
        && !rel.starts_with('/')
        && rel.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\\'));
    if !ok {
        return Err(DownloadError::ManifestPath(rel.to_string()));
    }
    Ok(root.join(rel))
}

/// Fetches the manifest of `name` from the site.
pub async fn manifest(session: &mut SiteSession, name: &str) -> Result<Manifest, DownloadError> {
    let resp = session.send("GET", &format!("/v1/packages/{name}"), None).await?;
    if !resp.status.is_success() {
        let (status, message) = (resp.status.to_string(), crate::run::message(&resp.body));
        return Err(DownloadError::Refused { name: name.to_string(), status, message });
    }
    serde_json::from_slice(&resp.body)
        .map_err(|error| DownloadError::Manifest { name: name.to_string(), error })
}

/// Downloads `name` through `session` into `state_dir`, resuming what is there.
pub async fn download(
    session: &mut SiteSession,
    state_dir: &Path,
    name: &str,
    limit: Option<u64>,
    progress: Progress<'_>,
) -> Result<Downloaded, DownloadError> {
    let staging = checked_path(state_dir, "downloads", name)?;
    let target = checked_path(state_dir, "packages", name)?;
    let manifest = manifest(session, name).await?;
    let total = manifest.size();
    let mut done: u64 = 0;
    let mut fetched = 0u64;
    for f in &manifest.files {
        let part = file_path(&staging, &f.path)?;
        if let Some(dir) = part.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let mut held = std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0);
        if held > f.size {
            std::fs::remove_file(&part).map_err(io(&part))?;
            held = 0;
        }
        progress(done + held, total);
        while held < f.size {
            let started = Instant::now();
            let last = (held + CHUNK).min(f.size) - 1;
            let range = format!("bytes={held}-{last}");
            let resp = session.send_with("GET", &f.url, &[("range", &range)]).await?;
            let body = match resp.status.as_u16() {
                206 => resp.body,
                // The whole file (a server that ignores Range): start it over.
                200 => {
                    held = 0;
                    std::fs::write(&part, b"").map_err(io(&part))?;
                    resp.body
                }
                _ => {
                    return Err(DownloadError::FileRefused {
                        path: f.path.clone(),
                        status: resp.status.to_string(),
                        message: crate::run::message(&resp.body),
                    });
                }
            };
            if body.is_empty() {
                return Err(DownloadError::NoData { path: f.path.clone(), offset: held });
            }
            let mut file =
                std::fs::OpenOptions::new().create(true).append(true).open(&part).map_err(io(&part))?;
            file.write_all(&body).map_err(io(&part))?;
            held += body.len() as u64;
            fetched += body.len() as u64;
            progress(done + held, total);
            if let Some(rate) = limit {
                let due = Duration::from_secs_f64(body.len() as f64 / rate as f64);
                if let Some(pause) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(pause).await;
                }
            }
        }
        let p = part.clone();
        let (size, sha) = tokio::task::spawn_blocking(move || acc_proto::package::hash_file(&p))
            .await
            .map_err(|e| DownloadError::Hashing(e.to_string()))?
            .map_err(io(&part))?;
        if size != f.size || sha != f.sha256 {
            let _ = std::fs::remove_file(&part);
            return Err(DownloadError::Digest {
                path: f.path.clone(),
                sha256: sha,
                expected: f.sha256.clone(),
            });
        }
        done += f.size;
    }
    // Into the cache in one step; the previous copy goes once the new one is in place.
    let old = state_dir.join("downloads").join(format!(".old-{name}"));
    let _ = std::fs::remove_dir_all(&old);
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    if target.exists() {
        std::fs::rename(&target, &old).map_err(io(&target))?;
    }
    std::fs::create_dir_all(&staging).map_err(io(&staging))?;
    std::fs::rename(&staging, &target).map_err(io(&target))?;
    let _ = std::fs::remove_dir_all(&old);
    let record = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
    let manifest_path = state_dir.join("packages").join(format!("{name}.manifest.json"));
    std::fs::write(&manifest_path, record).map_err(io(&manifest_path))?;
    Ok(Downloaded { label: manifest.label(), fetched, size: total, dir: target })
}

/// The packages in the cache, as `name@version`.
pub fn cached(state_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("packages")) else { return Vec::new() };
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".manifest.json")?;
            let m: Manifest = serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok()?;
            (m.name == stem).then(|| m.label())
        })
        .collect();
    out.sort();
    out
}

/// Checks the cached copy of `name` against its manifest; the files that differ.
pub fn verify(state_dir: &Path, name: &str) -> Result<Vec<String>, DownloadError> {
    let dir = checked_path(state_dir, "packages", name)?;
    let manifest_path = state_dir.join("packages").join(format!("{name}.manifest.json"));
    let bytes = std::fs::read(&manifest_path).map_err(|_| DownloadError::NotCached(name.to_string()))?;
    let m: Manifest = serde_json::from_slice(&bytes)
        .map_err(|e| io(&manifest_path)(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    let mut bad = Vec::new();
    for f in &m.files {
        let path = file_path(&dir, &f.path)?;
        match acc_proto::package::hash_file(&path) {
            Ok((size, sha)) if size == f.size && sha == f.sha256 => {}
            Ok(_) => bad.push(format!("{} (changed)", f.path)),
            Err(_) => bad.push(format!("{} (missing)", f.path)),
        }
    }
    Ok(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths_cannot_leave_the_cache() {
        let root = Path::new("/var/lib/acc");
        assert!(checked_path(root, "packages", "tools").is_ok());
        for bad in ["", "../x", ".hidden", "a/b"] {
            assert!(checked_path(root, "packages", bad).is_err(), "{bad}");
        }
        assert!(file_path(root, "bin/tool").is_ok());
        for bad in ["/etc/passwd", "../x", "a/../b", "a//b", ""] {
            assert!(file_path(root, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn labels_name_the_version_or_the_content() {
        let f = |sha: &str| ManifestFile {
            path: "a".into(),
            size: 1,
            sha256: sha.into(),
            url: "/v1/shares/s/p/a".into(),
        };
        let mut m = Manifest {
            name: "tools".into(),
            share: "s".into(),
            version: Some("2.0".into()),
            files: vec![f("ab")],
        };
        assert_eq!(m.label(), "tools@2.0");
        m.version = None;
        let one = m.label();
        m.files = vec![f("cd")];
        assert!(one.starts_with("tools@sha256:") && one != m.label());
    }
}
