//! The file-system side of serving a share: a validated [`SharePath`] is joined to the
//! share's canonical root, canonicalised (symlinks resolved), refused if it leaves the
//! share, and only then opened; small files are read in the same blocking call, large ones
//! are streamed with positioned reads of [`CHUNK`] bytes. Never reads outside the share,
//! never opens anything but a regular file (a FIFO would block, a device is no package).

use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use acc_core::share_path::{PathError, SharePath, relative_to_root};
use axum::http::HeaderValue;
use bytes::Bytes;

use super::digest::FileVersion;

/// Files up to this size are read whole while opening (one blocking call per request).
pub const SMALL_FILE: u64 = 64 * 1024;
/// Read size when streaming a large file.
pub const CHUNK: usize = 256 * 1024;

/// An opened regular file in a share.
#[derive(Debug)]
pub struct Opened {
    /// The path that was asked for (share root joined with the request's path).
    pub requested: PathBuf,
    /// The file, open for reading.
    pub file: Arc<File>,
    /// Its metadata (from the open file).
    pub meta: Metadata,
    /// Where it really is in the share (symlinks resolved).
    pub canonical: SharePath,
    /// The whole content when the file is at most [`SMALL_FILE`] bytes.
    pub small: Option<Bytes>,
    /// What responses say of this version, made on first use.
    validators: OnceLock<Validators>,
    /// `Repr-Digest`'s value once the digest is known.
    repr_digest: OnceLock<HeaderValue>,
}

/// The validators of one opened version, as response header values.
#[derive(Debug)]
pub struct Validators {
    /// Device, inode, size, modification time.
    pub version: FileVersion,
    /// The strong entity tag.
    pub etag: HeaderValue,
    /// `Last-Modified`.
    pub last_modified: HeaderValue,
    /// Modification time, Unix seconds (for `If-Modified-Since`).
    pub mtime: i64,
}

impl Opened {
    /// The file's validators, computed once per opened file (every request of a hot
    /// file shares them).
    pub fn validators(&self) -> &Validators {
        self.validators.get_or_init(|| {
            use std::os::unix::fs::MetadataExt;
            let version = FileVersion::of(&self.meta);
            let mtime = self.meta.mtime();
            Validators {
                version,
                etag: header_value(version.etag()),
                last_modified: header_value(super::range::http_date(mtime)),
                mtime,
            }
        })
    }

    /// `Repr-Digest` (RFC 9530) of this version once known.
    pub fn repr_digest(&self) -> Option<&HeaderValue> {
        self.repr_digest.get()
    }

    /// Remembers the SHA-256 of this version as its `Repr-Digest` value.
    pub fn set_sha256(&self, sha: &[u8; 32]) -> &HeaderValue {
        use base64::Engine;
        self.repr_digest.get_or_init(|| {
            header_value(format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(sha)))
        })
    }
}

/// A header value from text acc made (ASCII by construction).
fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// What a path in a share turned out to be.
#[derive(Debug)]
pub enum Resolved {
    /// A regular file.
    File(Box<Opened>),
    /// Nothing there (or a component is not a folder).
    Missing,
    /// A folder.
    Folder,
    /// Something that is neither file nor folder (FIFO, socket, device).
    Special,
    /// The canonical path leaves the share, or is not a path acc would serve.
    Refused(PathError),
}

/// Resolves and opens `path` below `root` (canonical). Blocking: call it from
/// `spawn_blocking`.
pub fn open(root: &Path, path: &SharePath) -> io::Result<Resolved> {
    let joined = path.join_to(root);
    let canonical_fs = match std::fs::canonicalize(&joined) {
        Ok(p) => p,
        Err(e) if is_missing(&e) => return Ok(Resolved::Missing),
        Err(e) => return Err(e),
    };
    let canonical = match relative_to_root(root, &canonical_fs) {
        Ok(p) => p,
        Err(e) => return Ok(Resolved::Refused(e)),
    };
    let meta = match std::fs::metadata(&canonical_fs) {
        Ok(m) => m,
        Err(e) if is_missing(&e) => return Ok(Resolved::Missing),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        return Ok(Resolved::Folder);
    }
    if !meta.is_file() {
        return Ok(Resolved::Special);
    }
    let file = match open_nofollow(&canonical_fs) {
        Ok(f) => f,
        Err(e) if is_missing(&e) => return Ok(Resolved::Missing),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        // Replaced by something else between the checks.
        return Ok(Resolved::Special);
    }
    let small = if meta.len() <= SMALL_FILE { Some(read_at(&file, 0, meta.len() as usize)?) } else { None };
    Ok(Resolved::File(Box::new(Opened {
        requested: joined,
        file: Arc::new(file),
        meta,
        canonical,
        small,
        validators: OnceLock::new(),
        repr_digest: OnceLock::new(),
    })))
}

/// Opens without following a symlink in the last component (`O_NOFOLLOW`) and without
/// blocking on a FIFO swapped in after the checks (`O_NONBLOCK`, harmless on files).
pub(super) fn open_nofollow(path: &PathBuf) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(path)
}

pub(super) fn is_missing(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory)
}

/// Reads up to `len` bytes at `offset` (fewer at the end of the file). Blocking.
pub fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    use std::os::unix::fs::FileExt;
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = file.read_at(&mut buf[filled..], offset + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(Bytes::from(buf))
}

/// Bytes `start..start + len` of `file` as a stream of chunks read off the async threads.
/// A file that shrinks while streaming ends the stream with an error (the client sees a
/// short body and retries with `Range`).
pub fn stream(
    file: Arc<File>,
    start: u64,
    len: u64,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    futures_util::stream::unfold((file, start, len), |(file, offset, left)| async move {
        if left == 0 {
            return None;
        }
        let want = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
        let f = file.clone();
        let read = tokio::task::spawn_blocking(move || read_at(&f, offset, want))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)));
        match read {
            Ok(b) if b.is_empty() => Some((
                Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the file shrank while it was sent")),
                (file, offset, 0),
            )),
            Ok(b) => {
                let n = b.len() as u64;
                Some((Ok(b), (file, offset + n, left - n)))
            }
            Err(e) => Some((Err(e), (file, offset, 0))),
        }
    })
}
