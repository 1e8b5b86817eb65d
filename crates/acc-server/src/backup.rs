//! `acc server backup` and `acc server restore`: the whole SQLite management server — a
//! consistent snapshot of the database (`VACUUM INTO` on a connection of its own, so the
//! running server keeps serving), the vault key, the fleet CA and its key, the TLS
//! certificate, `server.json`, the admin token and the package store — in one file sealed
//! under a passphrase the operator gives (see [`stream`] for the format, [`archive`] for
//! the entries). Nothing in the file is in clear, and the file is 0600.
//!
//! Restore opens the file (a wrong passphrase is refused before anything is written),
//! unpacks it into a fresh directory next to the target, checks the database
//! (`PRAGMA integrity_check`) and the files a server needs, and only then renames it into
//! place: a failed restore leaves no partial directory.

pub mod archive;
mod fsmode;
pub mod stream;

use std::fs::{self, File};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use acc_core::password::Secret;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

use crate::error::ServerError;
use crate::layout::Layout;
use crate::run::DirLock;
use stream::{KdfCost, SealedReader, SealedWriter};

/// Files of the data directory's top level that a backup leaves out: the database (its
/// snapshot goes in instead), its journals, and the running server's lock.
const LEFT_OUT: [&str; 5] =
    ["server.db", "server.db-wal", "server.db-shm", "server.db-journal", "server.lock"];
/// Prefix of the database snapshot taken while a backup runs (inside the data directory).
const SNAPSHOT_PREFIX: &str = ".backup-snapshot-";
/// What a restored directory must hold before it is put in place.
const REQUIRED: [&str; 5] = ["server.json", "server.db", "vault.key", "tls/ca.crt", "tls/ca.key"];

/// An error of backup or restore: one line saying what is wrong.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// The file does not start with the backup magic.
    #[error("not an acc server backup (it does not start with the ACC-BKP header)")]
    NotABackup,
    /// A format version this code does not read.
    #[error("backup format version {0}: this acc reads version {v}; restore with the acc that made it", v = stream::VERSION)]
    Version(u16),
    /// The passphrase does not open the backup.
    #[error("wrong passphrase: the backup does not open with it")]
    WrongPassphrase,
    /// Truncated, altered or malformed content.
    #[error("damaged backup: {0}")]
    Damaged(String),
    /// The restore target cannot be used.
    #[error("{0}")]
    Target(String),
    /// The restored database fails its integrity check.
    #[error("the backup's database fails PRAGMA integrity_check: {0}")]
    Integrity(String),
    /// A read or write failed (the file is named by the caller).
    #[error("{0}")]
    Read(#[from] std::io::Error),
    /// A file of the data directory could not be read or written.
    #[error(transparent)]
    Server(#[from] ServerError),
}

impl From<acc_pki::PkiError> for BackupError {
    fn from(e: acc_pki::PkiError) -> Self {
        BackupError::Server(ServerError::Pki(e))
    }
}

impl From<sqlx::Error> for BackupError {
    fn from(e: sqlx::Error) -> Self {
        BackupError::Server(ServerError::Database(e))
    }
}

impl BackupError {
    /// The error a [`stream::SealedReader`] carried through `std::io`, an early end as damage.
    pub fn from_io(e: std::io::Error) -> BackupError {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            return BackupError::Damaged("the payload ends early".into());
        }
        match e.downcast::<BackupError>() {
            Ok(inner) => inner,
            Err(e) => BackupError::Read(e),
        }
    }
}

/// What a backup holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Files (the database included).
    pub files: u64,
    /// Their bytes before sealing.
    pub bytes: u64,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |e| BackupError::Server(ServerError::io(path, e))
}

fn random_suffix() -> Result<String, BackupError> {
    Ok(hex::encode(acc_pki::sealed::random_bytes(8)?))
}

/// A path removed when dropped (a file or a whole directory), unless kept.
struct Removed(Option<PathBuf>);

impl Removed {
    fn keep(mut self) {
        self.0 = None;
    }
}

impl Drop for Removed {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            let _ = if p.is_dir() { fs::remove_dir_all(&p) } else { fs::remove_file(&p) };
        }
    }
}

async fn sqlite(path: &Path) -> Result<SqliteConnection, BackupError> {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(false)
        .busy_timeout(std::time::Duration::from_secs(30));
    Ok(SqliteConnection::connect_with(&options).await?)
}

/// Writes a backup of the data directory of `layout` to `file` (0600), sealed under
/// `passphrase` with the Argon2id costs `cost`; `replace` overwrites an existing file.
/// Runs while `acc server run` serves from the directory.
pub async fn backup(
    layout: &Layout,
    file: &Path,
    passphrase: &Secret,
    cost: KdfCost,
    replace: bool,
) -> Result<Summary, BackupError> {
    let root = layout.root();
    if !layout.config().exists() {
        return Err(ServerError::NotInitialised(root.display().to_string()).into());
    }
    let config = crate::config::ServerConfig::load(&layout.config())?;
    if let Some(pg) = &config.database {
        return Err(BackupError::Target(format!(
            "{}: its store is the PostgreSQL database {}; back that up with pg_dump and the data \
             directory's files as docs/server.md (Backup and restore) says",
            root.display(),
            pg.url
        )));
    }
    if !replace && file.symlink_metadata().is_ok() {
        return Err(BackupError::Target(format!(
            "{}: exists; choose another name or give --force to replace it",
            file.display()
        )));
    }
    let out_dir = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let (canon_out, canon_root) =
        (out_dir.canonicalize().map_err(io(&out_dir))?, root.canonicalize().map_err(io(root))?);
    if canon_out.starts_with(&canon_root) {
        return Err(BackupError::Target(format!(
            "{}: is inside the data directory {}; write the backup elsewhere",
            file.display(),
            root.display()
        )));
    }

    // The snapshot first: package files committed after it are harmless extras.
    let snapshot = root.join(format!("{SNAPSHOT_PREFIX}{}.db", random_suffix()?));
    let snapshot_guard = Removed(Some(snapshot.clone()));
    let mut conn = sqlite(&layout.database()).await?;
    sqlx::query("VACUUM INTO $1").bind(snapshot.display().to_string()).execute(&mut conn).await?;
    conn.close().await?;

    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = out_dir.join(format!(".{name}.tmp-{}", random_suffix()?));
    let out = fsmode::create_private(&tmp).map_err(io(&tmp))?;
    let tmp_guard = Removed(Some(tmp.clone()));
    let mut writer = SealedWriter::new(BufWriter::new(out), passphrase, cost)?;
    let mut summary = Summary { files: 0, bytes: 0 };
    let db_mode = fsmode::mode(&fs::metadata(layout.database()).map_err(io(&layout.database()))?);
    add_file(&mut writer, &snapshot, "server.db", db_mode, &mut summary)?;
    add_dir(&mut writer, root, "", &mut summary)?;
    archive::write_end(&mut writer)?;
    let out = writer.finish()?.into_inner().map_err(|e| io(&tmp)(e.into_error()))?;
    out.sync_all().map_err(io(&tmp))?;
    drop(out);
    fs::rename(&tmp, file).map_err(io(file))?;
    tmp_guard.keep();
    if let Ok(d) = File::open(&out_dir) {
        let _ = d.sync_all();
    }
    drop(snapshot_guard);
    Ok(summary)
}

fn add_file<W: Write>(
    out: &mut W,
    path: &Path,
    rel: &str,
    mode: u32,
    summary: &mut Summary,
) -> Result<(), BackupError> {
    let f = File::open(path).map_err(io(path))?;
    let size = f.metadata().map_err(io(path))?.len();
    archive::write_file(out, rel, mode, size, BufReader::new(f)).map_err(|e| match e {
        BackupError::Read(e) => io(path)(e),
        e => e,
    })?;
    summary.files += 1;
    summary.bytes += size;
    Ok(())
}

/// Adds the entries under `dir` (`rel` is its path in the backup, empty for the root).
fn add_dir<W: Write>(out: &mut W, dir: &Path, rel: &str, summary: &mut Summary) -> Result<(), BackupError> {
    let mut entries = fs::read_dir(dir).map_err(io(dir))?.collect::<Result<Vec<_>, _>>().map_err(io(dir))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            return Err(BackupError::Target(format!(
                "{}: a file name that is not UTF-8",
                entry.path().display()
            )));
        };
        if rel.is_empty() && (LEFT_OUT.contains(&name) || name.starts_with(SNAPSHOT_PREFIX)) {
            continue;
        }
        if rel == "packages" && name == ".staging" {
            continue; // uploads in progress: the client resumes them against the restored server
        }
        let path = entry.path();
        let child = if rel.is_empty() { name.to_string() } else { format!("{rel}/{name}") };
        let meta = fs::symlink_metadata(&path).map_err(io(&path))?;
        let mode = fsmode::mode(&meta);
        if meta.is_dir() {
            archive::write_dir(out, &child, mode)?;
            add_dir(out, &path, &child, summary)?;
        } else if meta.is_file() {
            add_file(out, &path, &child, mode, summary)?;
        } else {
            return Err(BackupError::Target(format!(
                "{}: neither a file nor a directory; a data directory holds only those",
                path.display()
            )));
        }
    }
    Ok(())
}

/// Restores the backup `file` into `target` (a new or empty directory; `force` replaces a
/// non-empty one no server runs on). Returns what was restored.
pub async fn restore(
    file: &Path,
    target: &Path,
    passphrase: &Secret,
    force: bool,
) -> Result<Summary, BackupError> {
    let _lock = check_target(target, force)?;
    let input = File::open(file).map_err(io(file))?;
    let mut reader = SealedReader::new(BufReader::new(input), passphrase)?;

    let parent = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "data".into());
    let staging = parent.join(format!(".{name}.restore-{}", random_suffix()?));
    fsmode::mkdir_private(&staging, false).map_err(io(&staging))?;
    let staging_guard = Removed(Some(staging.clone()));
    let summary = unpack(&mut reader, &staging)?;
    for required in REQUIRED {
        if !staging.join(required).is_file() {
            return Err(BackupError::Damaged(format!("it holds no {required}")));
        }
    }
    check_integrity(&staging.join("server.db")).await?;

    if target.exists() {
        let old = parent.join(format!(".{name}.replaced-{}", random_suffix()?));
        fs::rename(target, &old).map_err(io(target))?;
        let old_guard = Removed(Some(old));
        fs::rename(&staging, target).map_err(io(target))?;
        drop(old_guard);
    } else {
        fs::rename(&staging, target).map_err(io(target))?;
    }
    staging_guard.keep();
    if let Ok(d) = File::open(&parent) {
        let _ = d.sync_all();
    }
    Ok(summary)
}

/// Refuses a target that is not a directory, or is not empty without `force`; with
/// `force`, holds the directory's lock so that no server starts on it meanwhile.
fn check_target(target: &Path, force: bool) -> Result<Option<DirLock>, BackupError> {
    let Ok(meta) = fs::symlink_metadata(target) else { return Ok(None) };
    if !meta.is_dir() {
        return Err(BackupError::Target(format!("{}: exists and is not a directory", target.display())));
    }
    let empty = fs::read_dir(target).map_err(io(target))?.next().is_none();
    if empty {
        return Ok(None);
    }
    if !force {
        return Err(BackupError::Target(format!(
            "{}: not empty; restore into a new directory, or give --force to replace it",
            target.display()
        )));
    }
    Ok(Some(DirLock::acquire(&Layout::new(target))?))
}

/// Unpacks the payload into `dir`, then checks that nothing follows it.
fn unpack<R: Read>(reader: &mut R, dir: &Path) -> Result<Summary, BackupError> {
    let mut summary = Summary { files: 0, bytes: 0 };
    let mut dir_modes = Vec::new();
    while let Some(entry) = archive::read_entry(reader)? {
        match entry {
            archive::Entry::Dir(rel, mode) => {
                let path = dir.join(&rel);
                fsmode::mkdir_private(&path, true).map_err(io(&path))?;
                dir_modes.push((path, mode));
            }
            archive::Entry::File(rel, mode, size) => {
                let path = dir.join(&rel);
                if let Some(p) = path.parent() {
                    fsmode::mkdir_private(p, true).map_err(io(p))?;
                }
                let mut out = fsmode::create_private(&path).map_err(|e| {
                    if e.kind() == std::io::ErrorKind::AlreadyExists {
                        BackupError::Damaged(format!("{rel} appears twice"))
                    } else {
                        io(&path)(e)
                    }
                })?;
                let copied =
                    std::io::copy(&mut (&mut *reader).take(size), &mut out).map_err(BackupError::from_io)?;
                if copied != size {
                    return Err(BackupError::Damaged("the payload ends early".into()));
                }
                out.sync_all().map_err(io(&path))?;
                fsmode::set_mode(&path, mode).map_err(io(&path))?;
                summary.files += 1;
                summary.bytes += size;
            }
        }
    }
    let mut extra = [0u8; 1];
    if reader.read(&mut extra).map_err(BackupError::from_io)? != 0 {
        return Err(BackupError::Damaged("data follows the end of the payload".into()));
    }
    // Deepest first, so that a directory's mode never stops its children's being set.
    for (path, mode) in dir_modes.into_iter().rev() {
        fsmode::set_mode(&path, mode).map_err(io(&path))?;
    }
    Ok(summary)
}

/// `PRAGMA integrity_check` on the database at `path`: one row `ok`, or the problems.
async fn check_integrity(path: &Path) -> Result<(), BackupError> {
    let mut conn = sqlite(path).await?;
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut conn).await?;
    conn.close().await?;
    if rows.len() == 1 && rows[0] == "ok" { Ok(()) } else { Err(BackupError::Integrity(rows.join("; "))) }
}

#[cfg(test)]
mod tests;
