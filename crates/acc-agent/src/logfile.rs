//! `acc.log` with size-based rotation: when a write would take the file past its limit, it
//! becomes `acc.log.1` (`.1` → `.2` …, the oldest dropped) and a new `acc.log` starts. The
//! folder is created on first use; the file is 0640.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Default size of one log file.
pub const MAX_BYTES: u64 = 10 * 1024 * 1024;
/// Rotated files kept.
pub const KEEP: u32 = 3;

/// A log file that rotates by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: PathBuf,
    max_bytes: u64,
    keep: u32,
    file: File,
    size: u64,
}

fn open(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o640);
    }
    options.open(path)
}

impl RotatingFile {
    /// Opens (creating its folder) `path`, rotating at `max_bytes`, keeping `keep` old files.
    pub fn open(path: &Path, max_bytes: u64, keep: u32) -> std::io::Result<RotatingFile> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let file = open(path)?;
        let size = file.metadata()?.len();
        Ok(RotatingFile { path: path.to_path_buf(), max_bytes, keep, file, size })
    }

    fn rotated(&self, n: u32) -> PathBuf {
        let mut name = self.path.as_os_str().to_owned();
        name.push(format!(".{n}"));
        PathBuf::from(name)
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        for n in (1..self.keep).rev() {
            let _ = std::fs::rename(self.rotated(n), self.rotated(n + 1));
        }
        if self.keep > 0 {
            std::fs::rename(&self.path, self.rotated(1))?;
        } else {
            std::fs::remove_file(&self.path)?;
        }
        self.file = open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Write for RotatingFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.size > 0 && self.size + buf.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_rotates_by_size_and_keeps_a_few() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("log/acc.log");
        let mut f = RotatingFile::open(&path, 100, 2).unwrap();
        for i in 0..10 {
            writeln!(f, "line {i:02} {}", "x".repeat(40)).unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() <= 100);
        assert!(d.path().join("log/acc.log.1").exists() && d.path().join("log/acc.log.2").exists());
        assert!(!d.path().join("log/acc.log.3").exists());
        assert!(std::fs::read_to_string(&path).unwrap().contains("line 09"));
    }
}
