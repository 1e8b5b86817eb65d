//! The payload inside a backup's sealed stream: the data directory's directories and files
//! with their modes, one entry after another, ended by an end marker.
//!
//! ```text
//! entry  kind u8 ('D' directory, 'F' file) | path length u16 | path (UTF-8, '/'-separated,
//!        relative) | permission bits u32 (0o777 at most) | for files: size u64 | content
//! end    'E'
//! ```
//!
//! Paths are checked when read: only plain relative components, so that a crafted backup
//! cannot write outside the directory it is restored into, and only permission bits (no
//! set-user-id) are kept.

use std::io::{Read, Write};

use super::BackupError;

/// One entry of the payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A directory (relative path, mode).
    Dir(String, u32),
    /// A file (relative path, mode, size); its content follows.
    File(String, u32, u64),
}

fn write_head<W: Write>(out: &mut W, kind: u8, path: &str, mode: u32) -> Result<(), BackupError> {
    check_path(path)?;
    let len =
        u16::try_from(path.len()).map_err(|_| BackupError::Damaged(format!("{path}: path too long")))?;
    out.write_all(&[kind])?;
    out.write_all(&len.to_be_bytes())?;
    out.write_all(path.as_bytes())?;
    out.write_all(&(mode & 0o777).to_be_bytes())?;
    Ok(())
}

/// Writes a directory entry.
pub fn write_dir<W: Write>(out: &mut W, path: &str, mode: u32) -> Result<(), BackupError> {
    write_head(out, b'D', path, mode)
}

/// Writes a file entry of `size` bytes read from `content` (exactly `size`, or an error).
pub fn write_file<W: Write, R: Read>(
    out: &mut W,
    path: &str,
    mode: u32,
    size: u64,
    content: R,
) -> Result<(), BackupError> {
    write_head(out, b'F', path, mode)?;
    out.write_all(&size.to_be_bytes())?;
    let copied = std::io::copy(&mut content.take(size), out)?;
    if copied != size {
        return Err(BackupError::Damaged(format!("{path}: changed size while it was read")));
    }
    Ok(())
}

/// Writes the end marker.
pub fn write_end<W: Write>(out: &mut W) -> Result<(), BackupError> {
    out.write_all(b"E")?;
    Ok(())
}

/// Refuses a path that is empty, absolute or has other than plain components.
pub fn check_path(path: &str) -> Result<(), BackupError> {
    let plain = !path.is_empty()
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains(['\\', '\0']));
    if plain { Ok(()) } else { Err(BackupError::Damaged(format!("'{path}' is not a plain relative path"))) }
}

fn read_n<R: Read, const N: usize>(input: &mut R) -> Result<[u8; N], BackupError> {
    let mut b = [0u8; N];
    input.read_exact(&mut b).map_err(BackupError::from_io)?;
    Ok(b)
}

/// Reads the next entry's head; `None` at the end marker. A file's content (its size in
/// bytes) must be read before the next call.
pub fn read_entry<R: Read>(input: &mut R) -> Result<Option<Entry>, BackupError> {
    let [kind] = read_n::<_, 1>(input)?;
    if kind == b'E' {
        return Ok(None);
    }
    if kind != b'D' && kind != b'F' {
        return Err(BackupError::Damaged(format!("unknown entry kind {kind}")));
    }
    let len = u16::from_be_bytes(read_n(input)?) as usize;
    let mut path = vec![0u8; len];
    input.read_exact(&mut path).map_err(BackupError::from_io)?;
    let path = String::from_utf8(path).map_err(|_| BackupError::Damaged("a path is not UTF-8".into()))?;
    check_path(&path)?;
    let mode = u32::from_be_bytes(read_n(input)?) & 0o777;
    Ok(Some(if kind == b'D' {
        Entry::Dir(path, mode)
    } else {
        Entry::File(path, mode, u64::from_be_bytes(read_n(input)?))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip() {
        let mut out = Vec::new();
        write_dir(&mut out, "tls", 0o700).unwrap();
        write_file(&mut out, "tls/ca.key", 0o4400, 3, &b"KEY"[..]).unwrap();
        write_end(&mut out).unwrap();
        let mut input = &out[..];
        assert_eq!(read_entry(&mut input).unwrap(), Some(Entry::Dir("tls".into(), 0o700)));
        assert_eq!(
            read_entry(&mut input).unwrap(),
            Some(Entry::File("tls/ca.key".into(), 0o400, 3)),
            "no set-user-id"
        );
        let mut content = [0u8; 3];
        input.read_exact(&mut content).unwrap();
        assert_eq!(&content, b"KEY");
        assert_eq!(read_entry(&mut input).unwrap(), None);
    }

    #[test]
    fn paths_that_leave_the_directory_are_refused() {
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a//b", "./a", "a\\..\\b"] {
            assert!(check_path(bad).is_err(), "{bad:?}");
            let mut out = vec![b'D'];
            out.extend_from_slice(&(bad.len() as u16).to_be_bytes());
            out.extend_from_slice(bad.as_bytes());
            out.extend_from_slice(&0o700u32.to_be_bytes());
            let err = read_entry(&mut &out[..]).unwrap_err().to_string();
            assert!(err.contains("not a plain relative path"), "{err}");
        }
        assert!(check_path("packages/tool/1.0/setup.exe").is_ok());
    }

    #[test]
    fn a_file_that_shrinks_while_read_is_refused_and_a_missing_end_is_damage() {
        let err = write_file(&mut Vec::new(), "server.json", 0o600, 10, &b"short"[..]).unwrap_err();
        assert!(err.to_string().contains("changed size"), "{err}");
        let err = read_entry(&mut &b""[..]).unwrap_err();
        assert!(matches!(err, BackupError::Damaged(_)), "{err}");
    }
}
