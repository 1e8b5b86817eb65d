//! Recently opened share files, in the spirit of nginx's `open_file_cache`: a download of
//! a file that was already resolved (symlinks followed, checked to stay inside its share,
//! a regular file) and opened reuses that open file, its metadata and, for a small file,
//! its content. One `stat` of the requested path revalidates the entry on every use: if it
//! no longer names the same version (device, inode, size, modification time; see
//! [`FileVersion`]) the path is resolved and opened again, so a replaced, changed or
//! removed file is seen at once, and a path that now leads elsewhere (a swapped symlink)
//! never reuses the old entry. The `stat` runs on the async thread, as nginx's open and
//! fstat do: a microsecond-scale call on a local package store; everything slower (the
//! full resolution, reading a large file) stays on the blocking pool.
//!
//! The ACL checks are not cached here: they run on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use acc_core::share_path::{ShareName, SharePath};

use super::digest::FileVersion;
use super::files::Opened;

/// Files remembered; when full, the cache starts again.
pub const MAX_ENTRIES: usize = 1024;

type Key = (ShareName, SharePath);

/// The cache, one per site.
#[derive(Debug, Default)]
pub struct OpenFiles {
    entries: Mutex<HashMap<Key, Arc<Opened>>>,
}

impl OpenFiles {
    /// The file opened earlier for `share`/`path`, if its path still names that version.
    pub fn get(&self, share: &ShareName, path: &SharePath) -> Option<Arc<Opened>> {
        let key = (share.clone(), path.clone());
        let opened = self.lock().get(&key).cloned()?;
        let now = std::fs::metadata(&opened.requested).ok().map(|m| FileVersion::of(&m));
        if now == Some(FileVersion::of(&opened.meta)) {
            return Some(opened);
        }
        let mut entries = self.lock();
        if entries.get(&key).is_some_and(|e| Arc::ptr_eq(e, &opened)) {
            entries.remove(&key);
        }
        None
    }

    /// Remembers the file just opened for `share`/`path`.
    pub fn put(&self, share: &ShareName, path: &SharePath, opened: Arc<Opened>) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert((share.clone(), path.clone()), opened);
    }

    /// Files remembered.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Arc<Opened>>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shares::files::{self, Resolved};

    fn key(path: &str) -> (ShareName, SharePath) {
        ("software-library".parse().unwrap(), path.parse().unwrap())
    }

    fn open(root: &std::path::Path, path: &SharePath) -> Arc<Opened> {
        match files::open(root, path).unwrap() {
            Resolved::File(f) => Arc::from(f),
            other => panic!("not a file: {other:?}"),
        }
    }

    #[test]
    fn an_entry_serves_while_its_path_names_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.bin"), b"first").unwrap();
        let cache = OpenFiles::default();
        let (s, p) = key("a.bin");
        assert!(cache.get(&s, &p).is_none());
        cache.put(&s, &p, open(&root, &p));
        assert_eq!(cache.get(&s, &p).unwrap().small.as_deref(), Some(&b"first"[..]));
        assert!(cache.get(&"nscap".parse().unwrap(), &p).is_none(), "keyed by share and path");

        // Replaced (new inode): the entry is dropped at once.
        std::fs::write(root.join("a.bin.new"), b"second!").unwrap();
        std::fs::rename(root.join("a.bin.new"), root.join("a.bin")).unwrap();
        assert!(cache.get(&s, &p).is_none());
        assert!(cache.is_empty());

        // Removed: likewise.
        cache.put(&s, &p, open(&root, &p));
        std::fs::remove_file(root.join("a.bin")).unwrap();
        assert!(cache.get(&s, &p).is_none());
    }

    #[test]
    fn a_change_in_place_or_a_swapped_symlink_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.bin"), b"first").unwrap();
        std::fs::write(root.join("b.bin"), b"other").unwrap();
        std::os::unix::fs::symlink("a.bin", root.join("link")).unwrap();
        let cache = OpenFiles::default();
        let (s, p) = key("link");
        cache.put(&s, &p, open(&root, &p));
        assert!(cache.get(&s, &p).is_some());
        std::fs::remove_file(root.join("link")).unwrap();
        std::os::unix::fs::symlink("b.bin", root.join("link")).unwrap();
        assert!(cache.get(&s, &p).is_none(), "the link now leads to another file");

        let (s, p) = key("a.bin");
        cache.put(&s, &p, open(&root, &p));
        std::fs::write(root.join("a.bin"), b"first, longer").unwrap();
        assert!(cache.get(&s, &p).is_none(), "same inode, new size");
    }

    #[test]
    fn the_cache_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("f.bin"), b"x").unwrap();
        let file = open(&root, &"f.bin".parse().unwrap());
        let cache = OpenFiles::default();
        for i in 0..MAX_ENTRIES {
            let (s, p) = key(&format!("f{i}.bin"));
            cache.put(&s, &p, file.clone());
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        let (s, p) = key("one-more.bin");
        cache.put(&s, &p, file);
        assert_eq!(cache.len(), 1);
    }
}
