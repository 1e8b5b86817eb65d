//! Sign-in failures, rate limited by acc-core's lockout engine in classic mode, twice: one
//! engine counts per user name, one per address. Classic mode with a finite duration: a
//! lock ends by itself ([`USER_POLICY`]: 5 failures in 5 minutes lock the name for 5
//! minutes), so an attacker can slow an operator down but never lock them out for good.
//!
//! [`sign_in`] holds the limiter's lock only to decide and to count, never across the
//! password check (Argon2), so sign-ins verify concurrently — the split acc-site makes
//! for agents' logons (`precheck`, verify, `complete`).

use std::future::Future;
use std::net::IpAddr;

use acc_core::lockout::{Attempt, LockoutMode, LockoutPolicy, PasswordHash, SiteIdentity, SiteState, Source};
use acc_core::time::Timestamp;

/// Failures per user name that lock it, and for how long (seconds).
pub const USER_THRESHOLD: u32 = 5;
/// Failures per address that block it.
pub const ADDRESS_THRESHOLD: u32 = 20;
/// The window and the lock's duration, seconds.
pub const WINDOW_SECS: u64 = 300;
/// Addresses tracked before the address engine starts afresh (bounds its memory).
pub const MAX_ADDRESSES: usize = 100_000;

fn policy(threshold: u32) -> LockoutPolicy {
    LockoutPolicy {
        mode: LockoutMode::Classic,
        threshold,
        reset_after: WINDOW_SECS,
        duration: WINDOW_SECS,
        reenable_locked_local_account: false,
        create_acc_on_site_servers: false,
        ..LockoutPolicy::default()
    }
}

/// Why a sign-in is refused before its password is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures for this user name; seconds left.
    User(u64),
    /// Too many failures from this address; seconds left.
    Address(u64),
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::User(s) => {
                write!(f, "Too many failed sign-ins for this user name; try again in {s} seconds.")
            }
            Refusal::Address(s) => {
                write!(f, "Too many failed sign-ins from this address; try again in {s} seconds.")
            }
        }
    }
}

/// The two engines.
#[derive(Debug)]
pub struct SignInLimiter {
    users: SiteState,
    addresses: SiteState,
    address_count: usize,
}

fn identity() -> SiteIdentity {
    SiteIdentity {
        computer: "CONSOLE".into(),
        site_id: "console".into(),
        fleet_name: "console".into(),
        domain_sid: "S-1-5-21-0-0-17".into(),
    }
}

/// The engine's account name of an address (a local account name is short: a digest).
fn address_key(ip: IpAddr) -> String {
    let digest = acc_net::client::sha256_hex(ip.to_string().as_bytes());
    format!("a{}", &digest[..16])
}

impl Default for SignInLimiter {
    fn default() -> Self {
        SignInLimiter {
            users: SiteState::new(identity()),
            addresses: SiteState::new(identity()),
            address_count: 0,
        }
    }
}

impl SignInLimiter {
    /// Whether a sign-in as `user` from `ip` may be tried at `now`.
    pub fn check(&self, user: &str, ip: IpAddr, now: Timestamp) -> Result<(), Refusal> {
        let left = |state: &SiteState, policy: &LockoutPolicy, name: &str| {
            state
                .displayed_state(policy, name, now)
                .filter(|d| d.lock_scope.is_some())
                .map(|d| d.retry_after.unwrap_or(WINDOW_SECS))
        };
        if let Some(s) = left(&self.addresses, &policy(ADDRESS_THRESHOLD), &address_key(ip)) {
            return Err(Refusal::Address(s));
        }
        if let Some(s) = left(&self.users, &policy(USER_THRESHOLD), &user.to_lowercase()) {
            return Err(Refusal::User(s));
        }
        Ok(())
    }

    /// Counts a checked attempt; `Err` when it locked the name or the address, or when
    /// another attempt locked them while this one was verified (then it is not counted).
    pub fn record(&mut self, user: &str, ip: IpAddr, ok: bool, now: Timestamp) -> Result<(), Refusal> {
        self.check(user, ip, now)?;
        let source = Source::new(ip, "console");
        let name = user.to_lowercase();
        if self.users.account(&name).is_none() {
            let _ = self.users.add_unmanaged_account(&name, PasswordHash::new("-"));
        }
        let key = address_key(ip);
        if self.addresses.account(&key).is_none() {
            if self.address_count >= MAX_ADDRESSES {
                self.addresses = SiteState::new(identity());
                self.address_count = 0;
            }
            let _ = self.addresses.add_unmanaged_account(&key, PasswordHash::new("-"));
            self.address_count += 1;
        }
        let attempt = |name: &str| Attempt::password(name, source.clone(), 0);
        self.users.authenticate(&policy(USER_THRESHOLD), attempt(&name), now, |_| ok);
        self.addresses.authenticate(&policy(ADDRESS_THRESHOLD), attempt(&key), now, |_| ok);
        // The attempt that reaches a threshold is itself a wrong password (Windows
        // semantics); the lock it set answers the next one.
        if ok { Ok(()) } else { self.check(&name, ip, now) }
    }
}

/// How a sign-in attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision<T> {
    /// Refused before its password was checked.
    Refused(Refusal),
    /// A wrong password, or a right one that a lock set meanwhile refuses; the refusal
    /// when the name or the address is locked now.
    Failed(Option<Refusal>),
    /// Signed in as `T`.
    SignedIn(T),
}

/// One sign-in as `user` from `ip`: decided under the limiter's lock, `verify` awaited with
/// no lock held, its result counted under the lock again. `verify`'s error is returned as
/// is, uncounted.
pub async fn sign_in<T, E>(
    limiter: &tokio::sync::Mutex<SignInLimiter>,
    user: &str,
    ip: IpAddr,
    now: impl Fn() -> Timestamp,
    verify: impl Future<Output = Result<Option<T>, E>>,
) -> Result<Decision<T>, E> {
    if let Err(refusal) = limiter.lock().await.check(user, ip, now()) {
        return Ok(Decision::Refused(refusal));
    }
    let verified = verify.await?;
    let counted = limiter.lock().await.record(user, ip, verified.is_some(), now());
    Ok(match (verified, counted) {
        (Some(user), Ok(())) => Decision::SignedIn(user),
        (_, counted) => Decision::Failed(counted.err()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7));

    #[test]
    fn five_failures_lock_the_name_for_five_minutes_only() {
        let mut l = SignInLimiter::default();
        let t = |s: i64| Timestamp(1_000_000 + s * 1000);
        for i in 0..4 {
            assert_eq!(l.record("Alice", IP, false, t(i)), Ok(()));
        }
        assert!(matches!(l.record("alice", IP, false, t(4)), Err(Refusal::User(_))));
        assert!(matches!(l.check("ALICE", IP, t(5)), Err(Refusal::User(s)) if s <= 300));
        assert_eq!(l.check("bob", IP, t(5)), Ok(()), "another name from the same address may try");
        assert_eq!(l.check("alice", IP, t(4 + 301)), Ok(()), "the lock ends by itself");
    }

    #[test]
    fn an_address_spraying_names_is_blocked() {
        let mut l = SignInLimiter::default();
        let t = |s: i64| Timestamp(1_000_000 + s * 1000);
        for i in 0..19 {
            assert_eq!(l.record(&format!("user{i}"), IP, false, t(i)), Ok(()));
        }
        assert!(matches!(l.record("user19", IP, false, t(19)), Err(Refusal::Address(_))));
        assert!(matches!(l.check("admin", IP, t(20)), Err(Refusal::Address(_))));
        let other: IpAddr = "10.0.0.8".parse().unwrap();
        assert_eq!(l.check("admin", other, t(20)), Ok(()), "the operator at another address signs in");
        assert!(Refusal::Address(42).to_string().contains("try again in 42 seconds"));
    }

    #[test]
    fn a_success_raced_by_a_lock_is_refused_and_not_counted() {
        let mut l = SignInLimiter::default();
        let t = |s: i64| Timestamp(1_000_000 + s * 1000);
        assert_eq!(l.check("alice", IP, t(0)), Ok(()), "checked before the others fail");
        for i in 0..5 {
            let _ = l.record("alice", IP, false, t(i));
        }
        assert!(matches!(l.record("alice", IP, true, t(5)), Err(Refusal::User(_))));
    }

    /// Runs four sign-ins whose verification waits until all four are verifying at once:
    /// they complete only if no sign-in holds the limiter's lock while it verifies.
    async fn concurrent() -> [Decision<String>; 4] {
        let limiter = tokio::sync::Mutex::new(SignInLimiter::default());
        let barrier = tokio::sync::Barrier::new(4);
        let now = || Timestamp(1_000_000);
        let one = |i: usize| {
            let (limiter, barrier) = (&limiter, &barrier);
            async move {
                let name = format!("user{i}");
                let verify = async {
                    assert!(limiter.try_lock().is_ok(), "the limiter is not locked during a verify");
                    barrier.wait().await;
                    Ok::<_, std::convert::Infallible>(i.is_multiple_of(2).then(|| name.clone()))
                };
                sign_in(limiter, &name, IP, now, verify).await.unwrap()
            }
        };
        let all = async { tokio::join!(one(0), one(1), one(2), one(3)) };
        let (a, b, c, d) = tokio::time::timeout(std::time::Duration::from_secs(10), all)
            .await
            .expect("sign-ins verify concurrently, not one at a time");
        [a, b, c, d]
    }

    #[tokio::test]
    async fn sign_ins_verify_concurrently_and_are_counted() {
        let decisions = concurrent().await;
        assert_eq!(decisions[0], Decision::SignedIn("user0".into()));
        assert_eq!(decisions[1], Decision::Failed(None));
        assert_eq!(decisions[2], Decision::SignedIn("user2".into()));
    }

    #[tokio::test]
    async fn a_refused_sign_in_is_never_verified() {
        let limiter = tokio::sync::Mutex::new(SignInLimiter::default());
        let now = || Timestamp(1_000_000);
        for _ in 0..5 {
            let _ = limiter.lock().await.record("alice", IP, false, now());
        }
        let verified = std::sync::atomic::AtomicBool::new(false);
        let verify = async {
            verified.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::convert::Infallible>(Some(()))
        };
        let d = sign_in(&limiter, "alice", IP, now, verify).await.unwrap();
        assert!(matches!(d, Decision::Refused(Refusal::User(_))), "{d:?}");
        assert!(
            !verified.load(std::sync::atomic::Ordering::SeqCst),
            "a locked name's password is not checked"
        );
    }
}
