//! Recently opened share files, in the spirit of nginx's `open_file_cache`: a download of
//! a file that was already resolved (symlinks followed, checked to stay inside its share,
//! a regular file) and opened reuses that open file, its metadata and, for a small file,
//! its content, with no system call for [`VALID_FOR`] (nginx's `open_file_cache_valid`,
//! whose default is a minute). After that, one `stat` of the requested path revalidates
//! the entry: if it no longer names the same version (device, inode, size, modification
//! time; see [`FileVersion`]) the path is resolved and opened again. So a replaced,
//! changed or removed file is served at most [`VALID_FOR`] after the change, always
//! consistently (the old content with the old validators and digest, from the file
//! handle that was opened), and a path that now leads elsewhere (a swapped symlink) never
//! reuses the old entry after that time. The `stat` runs on the async thread, as nginx's
//! open and fstat do; everything slower (the full resolution, reading a large file) stays
//! on the blocking pool. On a hot file the `stat` on every request cost ~8% of the
//! server's CPU, which is why it is not done every time.
//!
//! The ACL checks are not cached here: they run on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use acc_core::share_path::{ShareName, SharePath};

use super::digest::FileVersion;
use super::files::Opened;

/// Files remembered; when full, the cache starts again.
pub const MAX_ENTRIES: usize = 1024;
/// How long an entry is used without looking at the disk.
pub const VALID_FOR: Duration = Duration::from_secs(1);

/// An opened file and when its path last named it.
#[derive(Debug)]
struct Entry {
    opened: Arc<Opened>,
    checked: Instant,
}

/// The cache, one per site.
#[derive(Debug, Default)]
pub struct OpenFiles {
    /// By share, then path: looked up with borrowed keys, no clone per request.
    entries: Mutex<HashMap<ShareName, HashMap<SharePath, Entry>>>,
}

impl OpenFiles {
    /// The file opened earlier for `share`/`path`: as is when checked less than
    /// [`VALID_FOR`] before `now`, else if a `stat` of its path still names that version.
    pub fn get(&self, share: &ShareName, path: &SharePath, now: Instant) -> Option<Arc<Opened>> {
        let opened = {
            let entries = self.lock();
            let entry = entries.get(share)?.get(path)?;
            if now.checked_duration_since(entry.checked).is_some_and(|age| age < VALID_FOR) {
                return Some(entry.opened.clone());
            }
            entry.opened.clone()
        };
        let version = std::fs::metadata(&opened.requested).ok().map(|m| FileVersion::of(&m));
        let same = version == Some(FileVersion::of(&opened.meta));
        let mut entries = self.lock();
        if let Some(files) = entries.get_mut(share)
            && let Some(entry) = files.get_mut(path)
            && Arc::ptr_eq(&entry.opened, &opened)
        {
            if same {
                entry.checked = now;
            } else {
                files.remove(path);
            }
        }
        same.then_some(opened)
    }

    /// Remembers the file just opened for `share`/`path` at `now`.
    pub fn put(&self, share: &ShareName, path: &SharePath, opened: Arc<Opened>, now: Instant) {
        let mut entries = self.lock();
        if entries.values().map(HashMap::len).sum::<usize>() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.entry(share.clone()).or_default().insert(path.clone(), Entry { opened, checked: now });
    }

    /// Files remembered.
    pub fn len(&self) -> usize {
        self.lock().values().map(HashMap::len).sum()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ShareName, HashMap<SharePath, Entry>>> {
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

    /// A moment after the entry's [`VALID_FOR`]: the next `get` looks at the disk.
    fn later(t: Instant) -> Instant {
        t + VALID_FOR
    }

    #[test]
    fn an_entry_serves_without_the_disk_then_while_its_path_names_the_same_version() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.bin"), b"first").unwrap();
        let cache = OpenFiles::default();
        let (s, p) = key("a.bin");
        let t0 = Instant::now();
        assert!(cache.get(&s, &p, t0).is_none());
        cache.put(&s, &p, open(&root, &p), t0);
        assert_eq!(cache.get(&s, &p, t0).unwrap().small.as_deref(), Some(&b"first"[..]));
        assert!(cache.get(&"nscap".parse().unwrap(), &p, t0).is_none(), "keyed by share and path");

        // Replaced (new inode): still the old, consistent version within VALID_FOR …
        std::fs::write(root.join("a.bin.new"), b"second!").unwrap();
        std::fs::rename(root.join("a.bin.new"), root.join("a.bin")).unwrap();
        let within = t0 + VALID_FOR - Duration::from_millis(1);
        assert_eq!(cache.get(&s, &p, within).unwrap().small.as_deref(), Some(&b"first"[..]));
        // … and dropped once the entry is that old.
        assert!(cache.get(&s, &p, later(t0)).is_none());
        assert!(cache.is_empty());

        // Unchanged after VALID_FOR: revalidated, and trusted for another VALID_FOR.
        cache.put(&s, &p, open(&root, &p), t0);
        let t1 = later(t0);
        assert!(cache.get(&s, &p, t1).is_some());
        std::fs::remove_file(root.join("a.bin")).unwrap();
        assert!(cache.get(&s, &p, t1 + Duration::from_millis(1)).is_some(), "checked at t1");
        assert!(cache.get(&s, &p, later(t1)).is_none(), "removed");
    }

    #[test]
    fn a_change_in_place_or_a_swapped_symlink_is_a_miss_after_valid_for() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.bin"), b"first").unwrap();
        std::fs::write(root.join("b.bin"), b"other").unwrap();
        std::os::unix::fs::symlink("a.bin", root.join("link")).unwrap();
        let cache = OpenFiles::default();
        let t0 = Instant::now();
        let (s, p) = key("link");
        cache.put(&s, &p, open(&root, &p), t0);
        std::fs::remove_file(root.join("link")).unwrap();
        std::os::unix::fs::symlink("b.bin", root.join("link")).unwrap();
        assert!(cache.get(&s, &p, later(t0)).is_none(), "the link now leads to another file");

        let (s, p) = key("a.bin");
        cache.put(&s, &p, open(&root, &p), t0);
        std::fs::write(root.join("a.bin"), b"first, longer").unwrap();
        assert!(cache.get(&s, &p, later(t0)).is_none(), "same inode, new size");
    }

    #[test]
    fn a_clock_going_back_does_not_extend_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.bin"), b"first").unwrap();
        let cache = OpenFiles::default();
        let t0 = Instant::now() + Duration::from_secs(5);
        let (s, p) = key("a.bin");
        cache.put(&s, &p, open(&root, &p), t0);
        std::fs::remove_file(root.join("a.bin")).unwrap();
        assert!(cache.get(&s, &p, t0 - Duration::from_secs(1)).is_none(), "an earlier time revalidates");
    }

    #[test]
    fn the_cache_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("f.bin"), b"x").unwrap();
        let file = open(&root, &"f.bin".parse().unwrap());
        let cache = OpenFiles::default();
        let t0 = Instant::now();
        for i in 0..MAX_ENTRIES {
            let (s, p) = key(&format!("f{i}.bin"));
            cache.put(&s, &p, file.clone(), t0);
        }
        assert_eq!(cache.len(), MAX_ENTRIES);
        let (s, p) = key("one-more.bin");
        cache.put(&s, &p, file, t0);
        assert_eq!(cache.len(), 1);
    }
}
