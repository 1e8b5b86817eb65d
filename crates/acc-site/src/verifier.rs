//! Password hashing and verification for local accounts: Argon2id (argon2 0.6 defaults:
//! m = 19,456 KiB, t = 2, p = 1, PHC strings), run on blocking threads behind a semaphore
//! sized to the cores, so a storm of logons cannot starve the async threads.
//!
//! A storm of *correct* passwords from thousands of agents sharing one ACC must not cost
//! one Argon2 hash each: results are cached under an HMAC-SHA-256 (process-random key) of
//! (account SID, stored hash, presented password), for a short time and a bounded number
//! of entries. The stored hash is part of the key, so a password change or a re-created
//! account never matches an old entry. Wrong passwords are cached too: the cache saves CPU
//! only, every attempt still goes through the lockout engine and counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acc_core::password::Secret;
use aws_lc_rs::hmac;
use aws_lc_rs::rand::{SecureRandom, SystemRandom};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// How long a verification result is reused.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Most cached results.
pub const CACHE_MAX: usize = 100_000;

/// Verifies passwords against stored PHC hashes.
pub struct Verifier {
    key: hmac::Key,
    cache: Mutex<HashMap<[u8; 32], (bool, Instant)>>,
    permits: Arc<Semaphore>,
    hashes: std::sync::atomic::AtomicU64,
    /// Verifications under way, so that a crowd presenting the same credential at once
    /// waits for one hash instead of computing one each (single flight).
    in_flight: Mutex<HashMap<[u8; 32], Arc<tokio::sync::OnceCell<bool>>>>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier").field("permits", &self.permits.available_permits()).finish_non_exhaustive()
    }
}

/// Why hashing failed (never expected with valid input).
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

/// Hashes a password into a PHC string with acc-core's one Argon2id hash, under a fresh
/// random salt.
pub fn hash_password(password: &str) -> Result<String, HashError> {
    let salt =
        acc_pki::sealed::random_bytes(acc_core::password::SALT_LEN).map_err(|e| HashError(e.to_string()))?;
    acc_core::password::hash_password(&Secret::new(password), &salt).map_err(|e| HashError(e.to_string()))
}

impl Verifier {
    /// A verifier allowing `parallelism` concurrent Argon2 computations.
    pub fn new(parallelism: usize) -> Verifier {
        let mut key = [0u8; 32];
        // The key only has to be unpredictable to clients; SystemRandom does not fail on
        // supported platforms, and a zero key would still keep entries apart per input.
        let _ = SystemRandom::new().fill(&mut key);
        Verifier {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
            cache: Mutex::new(HashMap::new()),
            permits: Arc::new(Semaphore::new(parallelism.max(1))),
            hashes: std::sync::atomic::AtomicU64::new(0),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    fn cache_key(&self, sid: &str, phc: &str, password: &str) -> [u8; 32] {
        self.digest(&[b"verification", sid.as_bytes(), phc.as_bytes(), password.as_bytes()])
    }

    /// The keyed MAC (process-random key) of length-prefixed `parts`: a digest of secrets
    /// that can be compared and kept in memory without keeping the secrets. The first
    /// part names the purpose, so digests for different uses never collide.
    pub fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        for part in parts {
            ctx.update(&(part.len() as u64).to_be_bytes());
            ctx.update(part);
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    /// A cached result, if fresh.
    pub fn cached(&self, sid: &str, phc: &str, password: &str) -> Option<bool> {
        let key = self.cache_key(sid, phc, password);
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.get(&key).filter(|(_, at)| at.elapsed() < CACHE_TTL).map(|(ok, _)| *ok)
    }

    /// Verifies `password` against `phc` (from the cache when possible).
    pub async fn verify(&self, sid: &str, phc: &str, password: &str) -> bool {
        if let Some(ok) = self.cached(sid, phc, password) {
            return ok;
        }
        let key = self.cache_key(sid, phc, password);
        let cell = {
            let mut in_flight = self.in_flight.lock().unwrap_or_else(|p| p.into_inner());
            in_flight.entry(key).or_insert_with(|| Arc::new(tokio::sync::OnceCell::new())).clone()
        };
        let ok = *cell.get_or_init(|| self.compute(phc, password)).await;
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner()).remove(&key);
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= CACHE_MAX {
            cache.retain(|_, (_, at)| at.elapsed() < CACHE_TTL);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        cache.insert(key, (ok, Instant::now()));
        ok
    }

    async fn compute(&self, phc: &str, password: &str) -> bool {
        self.hashes.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match self.permits.clone().acquire_owned().await {
            Ok(permit) => {
                let (phc_owned, pw) = (phc.to_string(), password.to_string());
                tokio::task::spawn_blocking(move || {
                    let _permit = permit;
                    acc_core::password::verify_password(&phc_owned, &Secret::new(pw))
                })
                .await
                .unwrap_or(false)
            }
            Err(_) => false,
        }
    }

    /// Argon2 computations so far (cache misses).
    pub fn hashes(&self) -> u64 {
        self.hashes.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Number of cached results (for tests and metrics).
    pub fn cache_len(&self) -> usize {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn verifies_and_caches_by_hash() {
        let v = Verifier::new(2);
        let phc = hash_password("Correct horse battery staple").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$"));
        assert!(v.verify("S-1", &phc, "Correct horse battery staple").await);
        assert!(!v.verify("S-1", &phc, "wrong").await);
        assert_eq!(v.cached("S-1", &phc, "Correct horse battery staple"), Some(true));
        assert_eq!(v.cached("S-1", &phc, "wrong"), Some(false));
        // Another hash (a password change) never reuses an entry.
        let other = hash_password("Correct horse battery staple").unwrap();
        assert_eq!(v.cached("S-1", &other, "Correct horse battery staple"), None);
        assert!(!v.verify("S-1", "", "anything").await, "an empty hash never verifies");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_crowd_with_one_credential_costs_one_hash() {
        let v = Arc::new(Verifier::new(2));
        let phc = hash_password("Correct horse battery staple").unwrap();
        let tasks: Vec<_> = (0..32)
            .map(|_| {
                let (v, phc) = (v.clone(), phc.clone());
                tokio::spawn(async move { v.verify("S-1", &phc, "Correct horse battery staple").await })
            })
            .collect();
        for t in tasks {
            assert!(t.await.unwrap());
        }
        assert_eq!(v.hashes(), 1);
    }
}
