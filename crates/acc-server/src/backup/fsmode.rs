//! File modes for backup and restore: new files and directories private to the owner
//! (0600, 0700), the modes of the data directory recorded and put back. On other systems
//! than Unix files take their folder's ACL and modes are recorded as 0600/0700.

use std::fs::{self, File, Metadata, OpenOptions};
use std::path::Path;

/// Creates `path` new, readable and writable by its owner only.
pub fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Creates the directory `path` (and its missing parents when `recursive`), 0700.
pub fn mkdir_private(path: &Path, recursive: bool) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(recursive);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// The mode recorded for a file or directory.
pub fn mode(meta: &Metadata) -> u32 {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        meta.permissions().mode() & 0o777
    }
    #[cfg(not(unix))]
    if meta.is_dir() { 0o700 } else { 0o600 }
}

/// Puts back a recorded mode.
pub fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}
