//! Certificate serial numbers: random 128-bit by default; or a serial file in openssl's
//! `-CAserial`/`-CAcreateserial` format (one hexadecimal number, the last serial used),
//! so that acc and openssl can take turns signing with the same CA.

use std::path::Path;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::{PkiError, Result};
use crate::fsutil;

/// A fresh positive 128-bit serial (the high bit cleared so the INTEGER needs no padding,
/// and never zero).
pub fn random() -> Result<Vec<u8>> {
    let mut bytes = [0u8; 16];
    SystemRandom::new().fill(&mut bytes).map_err(|e| PkiError::Crypto(e.to_string()))?;
    bytes[0] &= 0x7f;
    bytes[0] |= 0x40;
    Ok(bytes.to_vec())
}

/// Parses a serial given on the command line: hexadecimal, optional `0x`, optional colons.
pub fn parse_hex(text: &str) -> Result<Vec<u8>> {
    let bad = || PkiError::BadSerial(text.to_string());
    let t = text.trim();
    let t = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    let digits: String = t.chars().filter(|c| *c != ':').collect();
    if digits.is_empty() || digits.len() > 40 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(bad());
    }
    let padded = if digits.len() % 2 == 1 { format!("0{digits}") } else { digits };
    let bytes = hex::decode(padded).map_err(|_| bad())?;
    Ok(normalize(&bytes))
}

/// Strips leading zero bytes (keeping one byte for zero).
pub fn normalize(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count().min(bytes.len().saturating_sub(1));
    bytes[skip..].to_vec()
}

/// Upper-case hexadecimal without separators, as `openssl x509 -serial` prints it.
pub fn to_hex(bytes: &[u8]) -> String {
    let n = normalize(bytes);
    hex::encode_upper(n)
}

/// `bytes + 1` as a big-endian unsigned number.
pub(crate) fn increment(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for b in out.iter_mut().rev() {
        let (v, carry) = b.overflowing_add(1);
        *b = v;
        if !carry {
            return out;
        }
    }
    out.insert(0, 1);
    out
}

/// Takes the next serial from an openssl-format serial file: the stored value plus one
/// (a random start when the file does not exist yet), written back before it is used.
pub fn next_from_file(path: &Path) -> Result<Vec<u8>> {
    let next = match std::fs::read_to_string(path) {
        Ok(text) => {
            let line = text.lines().next().unwrap_or("").trim();
            let current = parse_hex(line).map_err(|_| {
                PkiError::BadSerialFile(format!(
                    "{}: expected one hexadecimal serial, found '{line}'",
                    path.display()
                ))
            })?;
            increment(&current)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => random()?,
        Err(e) => return Err(PkiError::io(path, e)),
    };
    let next = normalize(&next);
    if next.len() > 20 {
        return Err(PkiError::BadSerialFile(format!("{}: serial would exceed 20 bytes", path.display())));
    }
    fsutil::write_file(path, format!("{}\n", to_hex(&next)).as_bytes(), fsutil::PUBLIC_MODE, true)?;
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_serials_are_positive_and_distinct() {
        let a = random().unwrap();
        let b = random().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a[0] & 0x80 == 0 && a[0] != 0);
    }

    #[test]
    fn hex_parsing_accepts_openssl_forms() {
        assert_eq!(parse_hex("5A3F").unwrap(), vec![0x5a, 0x3f]);
        assert_eq!(parse_hex("5a:3f").unwrap(), vec![0x5a, 0x3f]);
        assert_eq!(parse_hex("0x0abc").unwrap(), vec![0x0a, 0xbc]);
        assert_eq!(parse_hex("00").unwrap(), vec![0]);
        for bad in ["", "xyz", "0x", &"f".repeat(41)] {
            assert!(parse_hex(bad).is_err(), "{bad}");
        }
        assert_eq!(to_hex(&[0, 0x0a, 0xbc]), "0ABC");
    }

    #[test]
    fn serial_files_count_up_like_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ca.srl");
        std::fs::write(&p, "01FF\n").unwrap();
        assert_eq!(next_from_file(&p).unwrap(), vec![0x02, 0x00]);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "0200\n");
        std::fs::write(&p, "FF\n").unwrap();
        assert_eq!(next_from_file(&p).unwrap(), vec![0x01, 0x00]);
        let fresh = dir.path().join("new.srl");
        let first = next_from_file(&fresh).unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), format!("{}\n", to_hex(&first)));
        std::fs::write(&p, "garbage\n").unwrap();
        assert!(next_from_file(&p).is_err());
    }
}
