//! Writing PKI files safely: complete or not at all, and private keys never readable by
//! anyone else, not even for an instant.
//!
//! A file is written to a temporary name in the destination directory (created with its
//! final mode, so a key is 0400 from its first byte, or on Windows has its DACL), synced,
//! then moved into place: by `rename` when replacing is allowed, by `link` (which fails if
//! the name exists) when not.
//! A crash leaves either the old file or the new one, never half of one.
//!
//! Databases (SQLite, with their `-wal` and `-shm`) are private too: [`private_database`]
//! makes them 0600 before SQLite opens them.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{PkiError, Result};

/// Mode for private keys: read-only for the owner.
pub const KEY_MODE: u32 = 0o400;
/// Mode for certificates, CSRs and CRLs.
pub const PUBLIC_MODE: u32 = 0o644;

/// Writes `contents` to `path` with `mode`; refuses an existing file unless `replace`.
pub fn write_file(path: &Path, contents: &[u8], mode: u32, replace: bool) -> Result<()> {
    if !replace && path.symlink_metadata().is_ok() {
        return Err(PkiError::Exists(path.display().to_string()));
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (tmp, mut file) = create_temp(&dir, &name, mode)?;
    let written = file.write_all(contents).and_then(|()| file.sync_all()).map_err(|e| PkiError::io(path, e));
    drop(file);
    let placed = written.and_then(|()| {
        if replace {
            fs::rename(&tmp, path).map_err(|e| PkiError::io(path, e))
        } else {
            fs::hard_link(&tmp, path).map_err(|e| {
                if e.kind() == std::io::ErrorKind::AlreadyExists {
                    PkiError::Exists(path.display().to_string())
                } else {
                    PkiError::io(path, e)
                }
            })
        }
    });
    // After a rename the temporary name is gone; after a link (or a failure) remove it.
    let _ = fs::remove_file(&tmp);
    placed?;
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

fn create_temp(dir: &Path, name: &str, mode: u32) -> Result<(PathBuf, File)> {
    for attempt in 0..100u32 {
        let tmp = dir.join(format!(".{name}.tmp{}.{attempt}", std::process::id()));
        match create_new(&tmp, mode) {
            Ok(f) => return Ok((tmp, f)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(PkiError::io(dir, e)),
        }
    }
    Err(PkiError::io(dir, std::io::Error::other("could not create a temporary file")))
}

/// Creates `path` new with `mode` on Unix; on Windows a key (`KEY_MODE`) gets the DACL of
/// `acc_windows::acl::key_sddl` for the account running this (read for it, full control
/// for SYSTEM and Administrators, nothing inherited), other files the folder's.
fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
    #[cfg(windows)]
    if mode == KEY_MODE {
        let sid = acc_windows::sys::current_user_sid()?;
        return acc_windows::sys::create_new_with_dacl(path, &acc_windows::acl::key_sddl(&sid));
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    options.open(path)
}

/// Reads a whole file, naming it in the error.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    fs::read(path).map_err(|e| PkiError::io(path, e))
}

/// Mode for databases and other private state: read-write for the owner only.
pub const PRIVATE_MODE: u32 = 0o600;

/// Makes the SQLite database `path` private before SQLite opens it: creates it empty with
/// [`PRIVATE_MODE`] when missing (SQLite gives its `-wal` and `-shm` files the mode of the
/// database), and narrows an existing database and its `-wal`/`-shm` to that mode (files
/// made by older versions at 0644).
pub fn private_database(path: &Path) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(PRIVATE_MODE);
    }
    drop(options.open(path).map_err(|e| PkiError::io(path, e))?);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let sibling = |suffix: &str| {
            let mut name = path.as_os_str().to_owned();
            name.push(suffix);
            PathBuf::from(name)
        };
        for p in [path.to_path_buf(), sibling("-wal"), sibling("-shm")] {
            match fs::metadata(&p) {
                Ok(m) if m.permissions().mode() & 0o777 != PRIVATE_MODE => {
                    fs::set_permissions(&p, fs::Permissions::from_mode(PRIVATE_MODE))
                        .map_err(|e| PkiError::io(&p, e))?;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(PkiError::io(&p, e)),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(unix)]
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn keys_are_0400_and_not_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("acc.key");
        write_file(&p, b"one", KEY_MODE, false).unwrap();
        #[cfg(unix)]
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o400);
        assert!(matches!(write_file(&p, b"two", KEY_MODE, false), Err(PkiError::Exists(_))));
        assert_eq!(fs::read(&p).unwrap(), b"one");
        write_file(&p, b"three", KEY_MODE, true).unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"three");
        let leftovers: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_missing_directory_is_an_error_naming_it() {
        let err = write_file(Path::new("/nonexistent-acc-dir/x.crt"), b"x", PUBLIC_MODE, true).unwrap_err();
        assert!(err.to_string().contains("/nonexistent-acc-dir"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn databases_are_made_private_and_old_ones_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("site.db");
        private_database(&db).unwrap();
        assert_eq!(fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);
        for p in [db.clone(), dir.path().join("site.db-wal"), dir.path().join("site.db-shm")] {
            fs::write(&p, b"x").unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o644)).unwrap();
        }
        private_database(&db).unwrap();
        for name in ["site.db", "site.db-wal", "site.db-shm"] {
            let mode = fs::metadata(dir.path().join(name)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{name}");
        }
        assert_eq!(fs::read(&db).unwrap(), b"x", "an existing database is left as it is");
    }
}
