//! The credential vault: secrets at rest are sealed with AES-256-GCM under the master key
//! in `vault.key` (32 random bytes, 0600). Each sealed value is `nonce (12) || ciphertext
//! || tag (16)`, with the secret's name as associated data, so that a value moved to
//! another name does not open. Plaintext lives only in [`Plain`], which never prints.

use std::path::Path;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom, SystemRandom};

use crate::error::ServerError;

/// Length of the master key.
pub const KEY_LEN: usize = 32;

/// A secret's plaintext. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct Plain(String);

impl Plain {
    /// Wraps a plaintext.
    pub fn new(text: impl Into<String>) -> Plain {
        Plain(text.into())
    }

    /// The plaintext, for the one place that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// The vault's key.
pub struct Vault {
    key: LessSafeKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([REDACTED])")
    }
}

/// `n` random bytes from the system's CSPRNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, ServerError> {
    let mut bytes = vec![0u8; n];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| ServerError::Vault("the system random generator failed".into()))?;
    Ok(bytes)
}

/// A random password of `len` characters from letters, digits and symbols, with at least
/// one of each class (it passes the complexity policy).
pub fn random_password(len: usize) -> Result<Plain, ServerError> {
    const SETS: [&[u8]; 4] =
        [b"ABCDEFGHJKLMNPQRSTUVWXYZ", b"abcdefghijkmnopqrstuvwxyz", b"23456789", b"!#%+-=?@^_~"];
    loop {
        let bytes = random_bytes(len)?;
        let text: String = bytes
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let set = SETS[if i < 4 { i } else { usize::from(*b) % 4 }];
                char::from(set[usize::from(*b) % set.len()])
            })
            .collect();
        if SETS.iter().all(|set| text.bytes().any(|c| set.contains(&c))) {
            return Ok(Plain(text));
        }
    }
}

impl Vault {
    /// Makes a new master key file (0600); fails if it exists.
    pub fn create(path: &Path) -> Result<Vault, ServerError> {
        let key = random_bytes(KEY_LEN)?;
        acc_pki::fsutil::write_file(path, &key, 0o600, false)?;
        Vault::from_key(&key)
    }

    /// Opens the master key file; refuses one that others may read.
    pub fn open(path: &Path) -> Result<Vault, ServerError> {
        let key = std::fs::read(path).map_err(|e| ServerError::io(path, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path).map_err(|e| ServerError::io(path, e))?.permissions().mode();
            if mode & 0o077 != 0 {
                return Err(ServerError::Config {
                    path: path.display().to_string(),
                    detail: format!(
                        "mode {:04o} lets others read the vault's master key; run `chmod 0600 {}`",
                        mode & 0o777,
                        path.display()
                    ),
                });
            }
        }
        if key.len() != KEY_LEN {
            return Err(ServerError::Config {
                path: path.display().to_string(),
                detail: format!("is {} bytes; a vault master key is {KEY_LEN}", key.len()),
            });
        }
        Vault::from_key(&key)
    }

    fn from_key(key: &[u8]) -> Result<Vault, ServerError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| ServerError::Vault("unusable master key".into()))?;
        Ok(Vault { key: LessSafeKey::new(unbound) })
    }

    /// Seals `plain` under `name`.
    pub fn seal(&self, name: &str, plain: &Plain) -> Result<Vec<u8>, ServerError> {
        let nonce_bytes = random_bytes(NONCE_LEN)?;
        let nonce =
            Nonce::try_assume_unique_for_key(&nonce_bytes).map_err(|_| ServerError::Vault("nonce".into()))?;
        let mut data = plain.0.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(nonce, Aad::from(name.as_bytes()), &mut data)
            .map_err(|_| ServerError::Vault(format!("cannot seal '{name}'")))?;
        let mut out = nonce_bytes;
        out.extend_from_slice(&data);
        Ok(out)
    }

    /// Opens what [`Vault::seal`] made for `name`.
    pub fn open_sealed(&self, name: &str, sealed: &[u8]) -> Result<Plain, ServerError> {
        let fail = || {
            ServerError::Vault(format!(
                "'{name}' does not open with this master key (vault.key replaced, or the entry was damaged)"
            ))
        };
        if sealed.len() < NONCE_LEN {
            return Err(fail());
        }
        let (nonce, data) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| fail())?;
        let mut data = data.to_vec();
        let plain =
            self.key.open_in_place(nonce, Aad::from(name.as_bytes()), &mut data).map_err(|_| fail())?;
        String::from_utf8(plain.to_vec()).map(Plain).map_err(|_| fail())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_under_their_name_and_key() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("vault.key");
        let vault = Vault::create(&path).unwrap();
        let secret = Plain::new("S3cret!pass");
        let sealed = vault.seal("acc.generation.1", &secret).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"S3cret"));
        assert_eq!(vault.open_sealed("acc.generation.1", &sealed).unwrap(), secret);
        assert!(vault.open_sealed("acc.generation.2", &sealed).is_err());
        let reopened = Vault::open(&path).unwrap();
        assert_eq!(reopened.open_sealed("acc.generation.1", &sealed).unwrap(), secret);
        let other = Vault::create(&tmp.path().join("other.key")).unwrap();
        let err = other.open_sealed("acc.generation.1", &sealed).unwrap_err().to_string();
        assert!(err.contains("does not open"), "{err}");
        assert!(!err.contains("S3cret") && format!("{secret:?} {vault:?}") == "[REDACTED] Vault([REDACTED])");
        assert!(Vault::create(&path).is_err(), "an existing key is never overwritten");
    }

    #[cfg(unix)]
    #[test]
    fn a_readable_master_key_is_refused_with_the_fix() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("vault.key");
        Vault::create(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Vault::open(&path).unwrap_err().to_string();
        assert!(err.contains("chmod 0600"), "{err}");
    }

    #[test]
    fn random_passwords_have_every_class() {
        for _ in 0..50 {
            let p = random_password(24).unwrap();
            let s = p.expose();
            assert_eq!(s.len(), 24);
            assert!(s.chars().any(|c| c.is_ascii_uppercase()) && s.chars().any(|c| c.is_ascii_lowercase()));
            assert!(s.chars().any(|c| c.is_ascii_digit()) && s.chars().any(|c| !c.is_ascii_alphanumeric()));
        }
    }
}
