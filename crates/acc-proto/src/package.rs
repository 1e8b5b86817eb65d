//! Package content on disk, the same way on every side: the SHA-256 of a file (streamed),
//! and the manifest of a folder (`acc ctl package add` builds it, the management server
//! checks an upload against it, a site server verifies a replica with it).

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use std::io::Read;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Most files in one package.
pub const MAX_FILES: usize = 10_000;

/// The size and SHA-256 (lower-case hex) of the file at `path`, read in 1 MiB chunks.
pub fn hash_file(path: &Path) -> std::io::Result<(u64, String)> {
    let mut file = std::fs::File::open(path)?;
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(ctx.finish())))
}

/// Every byte but the unreserved characters of RFC 3986 (letters, digits, `-._~`).
const NOT_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
/// The same, `/` kept.
const NOT_UNRESERVED_OR_SLASH: &AsciiSet = &NOT_UNRESERVED.remove(b'/');

/// Percent-encodes a URL query value (a package name, version or file path); `/` stays.
pub fn encode_query(v: &str) -> String {
    utf8_percent_encode(v, NOT_UNRESERVED_OR_SLASH).to_string()
}

/// Percent-encodes one URL path component or query value: all but the unreserved characters.
pub fn encode_component(v: &str) -> String {
    utf8_percent_encode(v, NOT_UNRESERVED).to_string()
}

/// Why a folder cannot be a package.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// An I/O error, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        source: std::io::Error,
    },
    /// Something that is not a regular file or folder (a link, a device).
    #[error("{0}: not a regular file or folder; a package holds files and folders only")]
    NotRegular(String),
    /// A name that is not valid UTF-8.
    #[error("{0}: the name is not valid UTF-8")]
    Name(String),
    /// No files.
    #[error("{0}: the folder holds no files")]
    Empty(String),
    /// Too many files.
    #[error("{0}: more than {MAX_FILES} files")]
    TooMany(String),
}

/// Every regular file below `dir`, by its path relative to `dir` (`/` between
/// components), with its size and SHA-256, sorted by path. Symbolic links are refused, not
/// followed.
pub fn manifest_files(dir: &Path) -> Result<Vec<PackageFile>, ManifestError> {
    let io = |p: &Path, source| ManifestError::Io { path: p.display().to_string(), source };
    let mut files = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((fs_dir, prefix)) = stack.pop() {
        for entry in std::fs::read_dir(&fs_dir).map_err(|e| io(&fs_dir, e))? {
            let entry = entry.map_err(|e| io(&fs_dir, e))?;
            let path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| ManifestError::Name(path.display().to_string()))?;
            let relative = if prefix.is_empty() { name } else { format!("{prefix}/{name}") };
            let kind = entry.file_type().map_err(|e| io(&path, e))?;
            if kind.is_dir() {
                stack.push((path, relative));
            } else if kind.is_file() {
                if files.len() == MAX_FILES {
                    return Err(ManifestError::TooMany(dir.display().to_string()));
                }
                let (size, sha256) = hash_file(&path).map_err(|e| io(&path, e))?;
                files.push(PackageFile { path: relative, size, sha256 });
            } else {
                return Err(ManifestError::NotRegular(path.display().to_string()));
            }
        }
    }
    if files.is_empty() {
        return Err(ManifestError::Empty(dir.display().to_string()));
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(files)
}

/// One file of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageFile {
    /// Its path in the package, `/` between components.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
}

/// A package version: where it lives (a package source share) and its files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PackageManifest {
    /// The package source (share), e.g. `software-library`.
    pub share: String,
    /// The package's name: its top-level folder in the share.
    pub name: String,
    /// The version.
    pub version: String,
    /// Its files, sorted by path.
    pub files: Vec<PackageFile>,
}

/// A site's replication of one assigned package, as reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageState {
    /// The share.
    pub share: String,
    /// The package.
    pub name: String,
    /// The version assigned.
    pub wanted: String,
    /// The version in place on the site (the previous one while a refresh fails).
    pub version: Option<String>,
    /// How far it is.
    pub status: ReplicationStatus,
    /// Why it failed (the package-refresh error of 5.6 for an access denial).
    pub message: Option<String>,
    /// Bytes in place of the wanted version.
    #[serde(default)]
    pub bytes: u64,
}

/// How far a site's replication of a package is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReplicationStatus {
    /// The wanted version is in place and verified.
    Replicated,
    /// It is being copied.
    Replicating,
    /// The last attempt failed (the message says why).
    Failed,
}

impl ReplicationStatus {
    /// `replicated`, `replicating` or `failed`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ReplicationStatus::Replicated => "replicated",
            ReplicationStatus::Replicating => "replicating",
            ReplicationStatus::Failed => "failed",
        }
    }
}

/// `POST /v1/site/packages`: the state of every assigned package on the site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PackageReport {
    /// One per assigned package.
    pub packages: Vec<PackageState>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_lists_every_file_with_its_digest_and_refuses_links() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("bin/x")).unwrap();
        std::fs::write(d.path().join("setup.sh"), b"abc").unwrap();
        std::fs::write(d.path().join("bin/x/tool"), b"").unwrap();
        let m = manifest_files(d.path()).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].path.as_str(), m[0].size), ("bin/x/tool", 0));
        assert_eq!(m[0].sha256, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(
            (m[1].path.as_str(), m[1].sha256.as_str()),
            ("setup.sh", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        std::os::unix::fs::symlink("setup.sh", d.path().join("link")).unwrap();
        let e = manifest_files(d.path()).unwrap_err().to_string();
        assert!(e.contains("link: not a regular file"), "{e}");
        let empty = tempfile::tempdir().unwrap();
        assert!(manifest_files(empty.path()).unwrap_err().to_string().contains("holds no files"));
    }
}
