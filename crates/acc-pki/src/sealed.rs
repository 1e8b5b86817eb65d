//! Secrets at rest: AES-256-GCM under a 32-byte key kept in a file of its own (0600). A
//! sealed value is `nonce (12) || ciphertext || tag (16)` with the secret's name as
//! associated data, so a value moved to another name does not open. The management
//! server's vault and the agent's credential cache both seal with it.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::{PkiError, Result};

/// Length of a sealing key.
pub const KEY_LEN: usize = 32;

/// Mode of a key file: read and write for the owner only.
pub const KEY_FILE_MODE: u32 = 0o600;

/// `n` random bytes from the system's CSPRNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| PkiError::Sealing("the system random generator failed".into()))?;
    Ok(bytes)
}

/// A key that seals and opens named secrets.
pub struct SealingKey {
    key: LessSafeKey,
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey([REDACTED])")
    }
}

impl SealingKey {
    /// Makes a new key file (0600); fails if it exists.
    pub fn create(path: &Path) -> Result<SealingKey> {
        let key = random_bytes(KEY_LEN)?;
        crate::fsutil::write_file(path, &key, KEY_FILE_MODE, false)?;
        SealingKey::from_bytes(path, &key)
    }

    /// Opens a key file; refuses one that others may read, or of the wrong length.
    pub fn open(path: &Path) -> Result<SealingKey> {
        let key = std::fs::read(path).map_err(|e| PkiError::io(path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(|e| PkiError::io(path, e))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(PkiError::Sealing(format!(
                    "{}: mode {:04o} lets others read the key; run `chmod 0600 {}`",
                    path.display(),
                    mode & 0o777,
                    path.display()
                )));
            }
        }
        SealingKey::from_bytes(path, &key)
    }

    /// Opens the key file, or makes it when there is none.
    pub fn open_or_create(path: &Path) -> Result<SealingKey> {
        match SealingKey::create(path) {
            Err(PkiError::Exists(_)) => SealingKey::open(path),
            other => other,
        }
    }

    /// A key derived from a high-entropy `secret` (a join token's) with HKDF-SHA256 under
    /// `salt`, for the use `info` names: both ends of a transfer derive the same key from
    /// the secret they share, and a key derived for one use does not open another's.
    pub fn derive(secret: &[u8], salt: &[u8], info: &str) -> Result<SealingKey> {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(secret);
        let info = [info.as_bytes()];
        let okm = prk
            .expand(&info, hkdf::HKDF_SHA256)
            .map_err(|_| PkiError::Sealing("the key derivation failed".into()))?;
        let mut key = [0u8; KEY_LEN];
        okm.fill(&mut key).map_err(|_| PkiError::Sealing("the key derivation failed".into()))?;
        SealingKey::from_key(&key)
    }

    /// A key from its 32 bytes (one derived from a passphrase, say); refuses another length.
    pub fn from_key(key: &[u8]) -> Result<SealingKey> {
        SealingKey::from_bytes(Path::new("derived key"), key)
    }

    fn from_bytes(path: &Path, key: &[u8]) -> Result<SealingKey> {
        if key.len() != KEY_LEN {
            return Err(PkiError::Sealing(format!(
                "{}: is {} bytes; a sealing key is {KEY_LEN}",
                path.display(),
                key.len()
            )));
        }
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| PkiError::Sealing("unusable sealing key".into()))?;
        Ok(SealingKey { key: LessSafeKey::new(unbound) })
    }

    /// Seals `plain` under `name`.
    pub fn seal(&self, name: &str, plain: &[u8]) -> Result<Vec<u8>> {
        let nonce_bytes = random_bytes(NONCE_LEN)?;
        let nonce =
            Nonce::try_assume_unique_for_key(&nonce_bytes).map_err(|_| PkiError::Sealing("nonce".into()))?;
        let mut data = plain.to_vec();
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(name.as_bytes()), &mut data)
            .map_err(|_| PkiError::Sealing(format!("cannot seal '{name}'")))?;
        let mut out = nonce_bytes;
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Opens what [`SealingKey::seal`] made for `name`; `None` when it does not open (another
    /// key, another name, damaged).
    pub fn open_sealed(&self, name: &str, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut data = data.to_vec();
        let plain = self.key.open_in_place(nonce, Aad::from(name.as_bytes()), &mut data).ok()?;
        Some(plain.to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_derived_key_opens_only_with_the_same_secret_salt_and_use() {
        let secret = b"node_0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
        let sealed =
            SealingKey::derive(secret, b"fleet", "join NODE2").unwrap().seal("bundle", b"k").unwrap();
        let opens = |s: &[u8], salt: &[u8], info: &str| {
            SealingKey::derive(s, salt, info).unwrap().open_sealed("bundle", &sealed)
        };
        assert_eq!(opens(secret, b"fleet", "join NODE2").as_deref(), Some(&b"k"[..]));
        assert_eq!(opens(b"node_another", b"fleet", "join NODE2"), None, "another secret");
        assert_eq!(opens(secret, b"other", "join NODE2"), None, "another salt");
        assert_eq!(opens(secret, b"fleet", "join NODE3"), None, "another use");
        assert_eq!(format!("{:?}", SealingKey::derive(secret, b"", "x").unwrap()), "SealingKey([REDACTED])");
    }
}
