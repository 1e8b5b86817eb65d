//! Packages: the top-level folders of the [`PACKAGE_SHARE`] share, and the files a
//! manifest lists. Blocking file-system code, run from `spawn_blocking` by
//! `api::packages`; the ACL filter is the caller's closure, the digests the site's
//! [`super::digest::DigestCache`].
//!
//! A walk lists regular files only, recursively; every entry is canonicalised, so a
//! symbolic link is listed under its own path when it leads to a file inside the share and
//! skipped when it leaves the share (it is never followed outside) or dangles. Folders are
//! entered once each (by device and inode), so link loops end. Names acc would refuse in a
//! request (see `acc_core::share_path`) are skipped: a manifest never lists a URL that
//! cannot be fetched. At most [`MAX_FILES`] regular files are looked at per package.

use std::collections::HashSet;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use acc_core::share_path::{PathError, SharePath, relative_to_root};

use super::digest::FileVersion;
use super::files::is_missing;

/// The share whose top-level folders are packages.
pub const PACKAGE_SHARE: &str = "software-library";
/// Most regular files in one package; a larger package has no manifest.
pub const MAX_FILES: usize = 10_000;

/// What a package's path turned out to be.
#[derive(Debug)]
pub enum Folder {
    /// A folder in the share: where it really is (symlinks resolved).
    Found {
        /// Its path in the share, canonical.
        canonical: SharePath,
        /// Its canonical path on disk.
        fs: PathBuf,
    },
    /// Nothing there.
    Missing,
    /// A file or something else.
    NotFolder,
    /// It resolves outside the share, or to a name acc does not serve.
    Refused(PathError),
}

/// A regular file of a package, as the walk found it.
#[derive(Debug, Clone)]
pub struct Found {
    /// Its path in the share as listed (through the package's own folder names).
    pub path: SharePath,
    /// Where it really is in the share.
    pub canonical: SharePath,
    /// Its canonical path on disk.
    pub fs: PathBuf,
    /// Its version when the walk looked at it.
    pub version: FileVersion,
}

/// The outcome of a walk.
#[derive(Debug)]
pub enum Walk {
    /// The files the filter let through, sorted by path.
    Files(Vec<Found>),
    /// More than [`MAX_FILES`] regular files.
    TooMany,
}

/// The names of the top-level entries of the share's `root` that are valid package names
/// (folder or not: [`resolve`] tells). Sorted. Blocking.
pub fn names(root: &Path) -> io::Result<Vec<SharePath>> {
    let mut out: Vec<SharePath> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| SharePath::from_components(vec![name]).ok())
        .collect();
    out.sort();
    Ok(out)
}

/// Resolves the package folder `path` below the share's canonical `root`. Blocking.
pub fn resolve(root: &Path, path: &SharePath) -> io::Result<Folder> {
    let fs = match std::fs::canonicalize(path.join_to(root)) {
        Ok(p) => p,
        Err(e) if is_missing(&e) => return Ok(Folder::Missing),
        Err(e) => return Err(e),
    };
    let canonical = match relative_to_root(root, &fs) {
        Ok(p) => p,
        Err(e) => return Ok(Folder::Refused(e)),
    };
    match std::fs::metadata(&fs) {
        Ok(m) if m.is_dir() => Ok(Folder::Found { canonical, fs }),
        Ok(_) => Ok(Folder::NotFolder),
        Err(e) if is_missing(&e) => Ok(Folder::Missing),
        Err(e) => Err(e),
    }
}

/// Every regular file below the package folder `package` (canonical on disk: `dir`) that
/// `readable` accepts, by its listed path and its canonical path. Blocking.
pub fn walk(
    root: &Path,
    package: &SharePath,
    dir: &Path,
    readable: &dyn Fn(&SharePath) -> bool,
) -> io::Result<Walk> {
    use std::os::unix::fs::MetadataExt;
    let mut seen = HashSet::new();
    let top = std::fs::metadata(dir)?;
    seen.insert((top.dev(), top.ino()));
    let mut stack = vec![(package.clone(), dir.to_path_buf())];
    let mut files = Vec::new();
    let mut count = 0usize;
    while let Some((folder, fs_dir)) = stack.pop() {
        let entries = match std::fs::read_dir(&fs_dir) {
            Ok(e) => e,
            // Removed or made unreadable while walking: it has no files to list.
            Err(e) if is_missing(&e) || e.kind() == io::ErrorKind::PermissionDenied => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let Ok(name) = entry?.file_name().into_string() else { continue };
            let mut components = folder.components().to_vec();
            components.push(name.clone());
            let Ok(path) = SharePath::from_components(components) else { continue };
            let Ok(fs) = std::fs::canonicalize(fs_dir.join(&name)) else { continue };
            let Ok(canonical) = relative_to_root(root, &fs) else {
                tracing::warn!(path = %path, "A package entry resolves outside its share; skipped.");
                continue;
            };
            let Ok(meta) = std::fs::metadata(&fs) else { continue };
            if meta.is_dir() {
                if seen.insert((meta.dev(), meta.ino())) {
                    stack.push((path, fs));
                }
            } else if meta.is_file() {
                count += 1;
                if count > MAX_FILES {
                    return Ok(Walk::TooMany);
                }
                if readable(&path) && (canonical == path || readable(&canonical)) {
                    files.push(Found { path, canonical, fs, version: FileVersion::of(&meta) });
                }
            }
        }
    }
    files.sort_by_cached_key(|f| f.path.to_string());
    Ok(Walk::Files(files))
}

/// Opens a found file for hashing (not following a symlink swapped in since the walk) and
/// gives its current version; `None` when it is gone or no longer a regular file. Blocking.
pub fn open(found: &Found) -> io::Result<Option<(Arc<File>, FileVersion)>> {
    let file = match super::files::open_nofollow(&found.fs) {
        Ok(f) => f,
        Err(e) if is_missing(&e) || e.raw_os_error() == Some(libc::ELOOP) => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Ok(None);
    }
    Ok(Some((Arc::new(file), FileVersion::of(&meta))))
}

/// `path` as a URL path: each component percent-encoded (everything but unreserved
/// characters), joined with `/`.
pub fn url_path(path: &SharePath) -> String {
    let mut out = String::new();
    for (i, c) in path.components().iter().enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(&acc_proto::package::encode_component(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_paths_encode_what_is_not_unreserved() {
        let p = SharePath::from_plain("a b/c%d/e-f_g~h.i").unwrap();
        assert_eq!(url_path(&p), "a%20b/c%25d/e-f_g~h.i");
        assert_eq!(SharePath::from_url(&url_path(&p)).unwrap(), p);
    }
}
