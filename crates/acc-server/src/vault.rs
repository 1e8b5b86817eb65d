//! The credential vault: secrets at rest are sealed with AES-256-GCM (`acc_pki::sealed`)
//! under the master key in `vault.key` (32 random bytes, 0600). Each sealed value is `nonce (12) || ciphertext
//! || tag (16)`, with the secret's name as associated data, so that a value moved to
//! another name does not open. Plaintext lives only in acc-core's [`Secret`], which never prints.
//! Also the server's randomness: random bytes, generated passwords, and the fresh salt of
//! every password hash it stores ([`hash_password`]).

use std::path::Path;

use acc_core::password::Secret;
use acc_pki::sealed::SealingKey;

use crate::error::ServerError;

/// The vault's key.
pub struct Vault {
    key: SealingKey,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Vault([REDACTED])")
    }
}

/// `n` random bytes from the system's CSPRNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>, ServerError> {
    Ok(acc_pki::sealed::random_bytes(n)?)
}

/// A random password of `len` characters from letters, digits and symbols, with at least
/// one of each class (it passes the complexity policy).
pub fn random_password(len: usize) -> Result<Secret, ServerError> {
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
            return Ok(Secret::new(text));
        }
    }
}

/// The argon2id PHC hash of a password (acc-core's one hash) under a fresh random salt.
pub fn hash_password(password: &Secret) -> Result<String, ServerError> {
    let salt = random_bytes(acc_core::password::SALT_LEN)?;
    acc_core::password::hash_password(password, &salt).map_err(|e| ServerError::Vault(e.to_string()))
}

impl Vault {
    /// Makes a new master key file (0600); fails if it exists.
    pub fn create(path: &Path) -> Result<Vault, ServerError> {
        Ok(Vault { key: SealingKey::create(path)? })
    }

    /// Opens the master key file; refuses one that others may read.
    pub fn open(path: &Path) -> Result<Vault, ServerError> {
        Ok(Vault { key: SealingKey::open(path)? })
    }

    /// Seals `plain` under `name`.
    pub fn seal(&self, name: &str, plain: &Secret) -> Result<Vec<u8>, ServerError> {
        Ok(self.key.seal(name, plain.expose().as_bytes())?)
    }

    /// Opens what [`Vault::seal`] made for `name`.
    pub fn open_sealed(&self, name: &str, sealed: &[u8]) -> Result<Secret, ServerError> {
        self.key
            .open_sealed(name, sealed)
            .and_then(|p| String::from_utf8(p).ok())
            .map(Secret::new)
            .ok_or_else(|| {
                ServerError::Vault(format!(
                    "'{name}' does not open with this master key (vault.key replaced, or the entry was damaged)"
                ))
            })
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
        let secret = Secret::new("S3cret!pass");
        let sealed = vault.seal("acc.generation.1", &secret).unwrap();
        assert!(!sealed.windows(6).any(|w| w == b"S3cret"));
        assert_eq!(vault.open_sealed("acc.generation.1", &sealed).unwrap(), secret);
        assert!(vault.open_sealed("acc.generation.2", &sealed).is_err());
        let reopened = Vault::open(&path).unwrap();
        assert_eq!(reopened.open_sealed("acc.generation.1", &sealed).unwrap(), secret);
        let other = Vault::create(&tmp.path().join("other.key")).unwrap();
        let err = other.open_sealed("acc.generation.1", &sealed).unwrap_err().to_string();
        assert!(err.contains("does not open"), "{err}");
        assert!(
            !err.contains("S3cret")
                && format!("{secret:?} {vault:?}") == "Secret(<redacted>) Vault([REDACTED])"
        );
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
