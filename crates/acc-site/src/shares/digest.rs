//! What identifies one version of a served file ([`FileVersion`]: device, inode, size,
//! modification time) and its SHA-256, computed once per version and kept in a bounded
//! in-memory cache, so that `Repr-Digest` and package manifests never reread a file that
//! did not change. Concurrent first requests for one version share one computation.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, Metadata};
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest::{Context, SHA256};

/// Versions remembered; the oldest entry goes first when full (8192 × ~100 bytes).
pub const MAX_ENTRIES: usize = 8192;
/// Read size while hashing.
const HASH_CHUNK: usize = 1 << 20;

/// One version of a file: a change of content through the usual tools changes at least one
/// of these (an atomic replace changes the inode, an in-place write the mtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileVersion {
    /// Device.
    pub dev: u64,
    /// Inode.
    pub ino: u64,
    /// Size in bytes.
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
}

impl FileVersion {
    /// The version of an open file's metadata.
    pub fn of(meta: &Metadata) -> FileVersion {
        use std::os::unix::fs::MetadataExt;
        FileVersion {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.len(),
            mtime_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
        }
    }

    /// The strong entity tag: `"<inode>-<size>-<mtime ns>"` in hex, quoted.
    pub fn etag(&self) -> String {
        format!("\"{:x}-{:x}-{:x}\"", self.ino, self.size, self.mtime_ns)
    }
}

/// The cache. Cheap to share behind the site.
#[derive(Debug, Default)]
pub struct DigestCache {
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    cells: HashMap<FileVersion, Arc<tokio::sync::OnceCell<[u8; 32]>>>,
    order: VecDeque<FileVersion>,
}

impl DigestCache {
    /// The SHA-256 of `file`, whose metadata gave `version`. Computed off the async threads
    /// on first use; `None` when the file changed while it was hashed (nothing is cached
    /// then) or could not be read.
    pub async fn sha256(&self, version: FileVersion, file: Arc<File>) -> Option<[u8; 32]> {
        let cell = self.cell(version);
        let result = cell
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || hash_file(&file, version))
                    .await
                    .map_err(|_| ())?
                    .ok_or(())
            })
            .await;
        result.ok().copied()
    }

    /// The digest if already known (no computation).
    pub fn cached(&self, version: &FileVersion) -> Option<[u8; 32]> {
        self.lock().cells.get(version).and_then(|c| c.get().copied())
    }

    /// Versions currently remembered.
    pub fn len(&self) -> usize {
        self.lock().cells.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn cell(&self, version: FileVersion) -> Arc<tokio::sync::OnceCell<[u8; 32]>> {
        let mut g = self.lock();
        if let Some(c) = g.cells.get(&version) {
            return c.clone();
        }
        while g.cells.len() >= MAX_ENTRIES {
            match g.order.pop_front() {
                Some(old) => {
                    g.cells.remove(&old);
                }
                None => break,
            }
        }
        let cell = Arc::new(tokio::sync::OnceCell::new());
        g.cells.insert(version, cell.clone());
        g.order.push_back(version);
        cell
    }
}

/// Hashes the open file with positioned reads, then checks that it is still `version`.
fn hash_file(file: &File, version: FileVersion) -> Option<[u8; 32]> {
    use std::os::unix::fs::FileExt;
    let mut ctx = Context::new(&SHA256);
    let mut buf = vec![0u8; HASH_CHUNK];
    let mut offset = 0u64;
    loop {
        let n = file.read_at(&mut buf, offset).ok()?;
        if n == 0 {
            break;
        }
        ctx.update(&buf[..n]);
        offset += n as u64;
    }
    let after = FileVersion::of(&file.metadata().ok()?);
    if after != version || offset != version.size {
        return None;
    }
    let digest = ctx.finish();
    digest.as_ref().try_into().ok()
}
