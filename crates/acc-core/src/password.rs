//! Password policy for the ACC (specification 5.1–5.3): length, control characters,
//! the complexity classes, the user name inside the password and the blocklist, checked
//! in the order of 5.5 with the exact console messages.
//!
//! It owns the rules a single password entry must satisfy and the [`Secret`] type that
//! carries it. It does not compare with the App ID's password or earlier generations'
//! passwords (the vault does, through `credential_check`), and it never logs: every
//! message is built from lengths, modes and public names only.

mod blocklist;
mod classes;

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

pub use classes::CharClass;

use crate::name::NameParts;

/// Longest accepted password, in code points after NFC (5.1).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Default and lowest minimum length of the `nist` mode (F31: single-factor secrets).
pub const NIST_MIN_LENGTH: u16 = 15;
/// Default and lowest minimum length of the `complexity` mode (F30, F32).
pub const COMPLEXITY_MIN_LENGTH: u16 = 8;
/// Highest configurable minimum length in both modes.
pub const MAX_MIN_LENGTH: u16 = 64;
/// The P-USERNAME rule applies to account names of at least this many code points.
pub const USERNAME_IN_PASSWORD_MIN_CHARS: usize = 3;

/// Product names refused as whole passwords in every installation (5.3 (2)).
pub const PRODUCT_WORDS: [&str; 4] = ["acc", "altiris", "symantec", "agent connectivity credential"];

// === impl Secret ===

/// A password (or any secret text): the one secret type of acc, from the command line to
/// the vault and the local admin socket. It cannot be printed: `Debug` is redacted and
/// there is no `Display`; the text is reachable only through [`Secret::expose`] and through
/// serde, which writes and reads it as a plain JSON string so that a request body can carry
/// it to where it is used (never serialise one into a log or an error). Equality does not
/// stop at the first differing byte. The buffer is overwritten with zeros when the value is
/// dropped (best effort: copies made by callers through `expose` are theirs to clear).
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps secret text.
    pub fn new(text: impl Into<String>) -> Self {
        Secret(text.into())
    }

    /// The secret text. Call sites are the places to audit.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `true` for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The NFC form: what acc counts, compares and hashes (5.1), so that a password typed
    /// with decomposed accents matches the composed one.
    pub fn nfc(&self) -> Secret {
        Secret(self.0.nfc().collect())
    }

    /// Length in code points (of this form; call [`Secret::nfc`] first to count as 5.1 does).
    pub fn code_points(&self) -> usize {
        self.0.chars().count()
    }

    /// Equality that does not stop at the first differing byte.
    pub fn matches(&self, other: &Secret) -> bool {
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
        diff == 0 && a.len() == b.len()
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Secret) -> bool {
        self.matches(other)
    }
}

impl Eq for Secret {}

impl From<String> for Secret {
    fn from(text: String) -> Self {
        Secret(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Self {
        Secret(text.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        bytes.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&bytes);
    }
}

// === Argon2id ===

/// Why a password could not be hashed (only a salt of the wrong size, in practice).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot hash a password: {0} (give a salt of {SALT_LEN} random bytes)")]
pub struct HashError(String);

/// Bytes of salt [`hash_password`] is given (the callers draw them from the system's
/// CSPRNG; the PHC string keeps them).
pub const SALT_LEN: usize = 16;

/// The argon2id PHC hash of `password` with `salt` (the `argon2` crate's defaults, as OWASP
/// recommends: m = 19 MiB, t = 2, p = 1): the one password hash of acc, for the management
/// server's directory and generations and the site server's local accounts. The salt is
/// passed in, so that this crate reads no randomness and the hash is reproducible in tests.
pub fn hash_password(password: &Secret, salt: &[u8]) -> Result<String, HashError> {
    use argon2::PasswordHasher as _;
    if salt.len() != SALT_LEN {
        return Err(HashError(format!("the salt has {} bytes", salt.len())));
    }
    argon2::Argon2::default()
        .hash_password_with_salt(password.expose().as_bytes(), salt)
        .map(|h| h.to_string())
        .map_err(|e| HashError(e.to_string()))
}

/// Whether `password` matches the argon2id PHC string `phc` (an empty or malformed hash
/// matches nothing). Costs one Argon2 computation: async callers run it on a blocking
/// thread.
pub fn verify_password(phc: &str, password: &Secret) -> bool {
    use argon2::PasswordVerifier as _;
    argon2::PasswordHash::new(phc)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.expose().as_bytes(), &h).is_ok())
}

// === impl PasswordPolicy ===

/// The password policy mode (5.1).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordMode {
    /// NIST SP 800-63B Rev. 4: length and blocklist, no composition rules. The default.
    #[default]
    Nist,
    /// The seed's four classes, for operators who must match an ITMS-era policy.
    Complexity,
}

impl PasswordMode {
    /// The lowest (and default) minimum length of this mode.
    pub const fn lowest_min_length(self) -> u16 {
        match self {
            PasswordMode::Nist => NIST_MIN_LENGTH,
            PasswordMode::Complexity => COMPLEXITY_MIN_LENGTH,
        }
    }

    /// `nist` or `complexity`, as in the messages.
    pub const fn as_str(self) -> &'static str {
        match self {
            PasswordMode::Nist => "nist",
            PasswordMode::Complexity => "complexity",
        }
    }
}

impl fmt::Display for PasswordMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated password policy: a mode and a minimum length within the mode's range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawPasswordPolicy", into = "RawPasswordPolicy")]
pub struct PasswordPolicy {
    mode: PasswordMode,
    min_length: u16,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPasswordPolicy {
    mode: PasswordMode,
    min_length: Option<u16>,
}

impl PasswordPolicy {
    /// A policy with an explicit minimum length: 15–64 for `nist`, 8–64 for `complexity`.
    pub fn new(mode: PasswordMode, min_length: u16) -> Result<Self, PasswordPolicyError> {
        let lowest = mode.lowest_min_length();
        if !(lowest..=MAX_MIN_LENGTH).contains(&min_length) {
            return Err(PasswordPolicyError::MinLength { mode, value: min_length, lowest });
        }
        Ok(PasswordPolicy { mode, min_length })
    }

    /// The mode with its default minimum length.
    pub const fn for_mode(mode: PasswordMode) -> Self {
        PasswordPolicy { mode, min_length: mode.lowest_min_length() }
    }

    /// The mode.
    pub const fn mode(&self) -> PasswordMode {
        self.mode
    }

    /// The minimum length in code points.
    pub const fn min_length(&self) -> u16 {
        self.min_length
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy::for_mode(PasswordMode::Nist)
    }
}

impl TryFrom<RawPasswordPolicy> for PasswordPolicy {
    type Error = PasswordPolicyError;

    fn try_from(raw: RawPasswordPolicy) -> Result<Self, Self::Error> {
        let min = raw.min_length.unwrap_or(raw.mode.lowest_min_length());
        PasswordPolicy::new(raw.mode, min)
    }
}

impl From<PasswordPolicy> for RawPasswordPolicy {
    fn from(policy: PasswordPolicy) -> Self {
        RawPasswordPolicy { mode: policy.mode, min_length: Some(policy.min_length) }
    }
}

/// A refused password policy setting. (Section 5.5 has no message for it; this one follows
/// the shape of the settings messages there.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordPolicyError {
    /// The minimum length is outside the mode's range.
    #[error("password.min_length: {value} is out of range; use {lowest} to 64 for the {mode} policy")]
    MinLength {
        /// The mode the range belongs to.
        mode: PasswordMode,
        /// The refused value.
        value: u16,
        /// The lowest allowed value of that mode.
        lowest: u16,
    },
}

// === check ===

/// The public names the blocklist's context words come from (5.3 (2)).
#[derive(Debug, Clone, Copy, Default)]
pub struct PasswordContext<'a> {
    /// The ACC user name as typed (its account part is derived from it).
    pub user_name: &'a str,
    /// The management server's name.
    pub management_server: &'a str,
    /// Every site server's name.
    pub site_servers: &'a [String],
    /// The organisation name setting (empty when unset).
    pub organisation: &'a str,
}

impl<'a> PasswordContext<'a> {
    fn words(&self) -> impl Iterator<Item = &'a str> + '_ {
        let parts = NameParts::split(self.user_name);
        [self.user_name, parts.account, self.management_server, self.organisation]
            .into_iter()
            .chain(PRODUCT_WORDS)
            .chain(self.site_servers.iter().map(String::as_str))
    }
}

/// Checks one password entry and its confirmation in the order of 5.5: P-EMPTY, P-CONFIRM,
/// P-CONTROL, P-LONG, P-SHORT, P-CLASSES and P-USERNAME (complexity mode), P-COMMON,
/// P-CONTEXT, P-PATTERN. Returns the first failure.
///
/// The confirmation is compared in NFC, the form that is hashed. P-APPID and P-REUSED need
/// the vault and are checked by `credential_check`.
pub fn check_password_entry(
    policy: &PasswordPolicy,
    password: &Secret,
    confirmation: &Secret,
    context: &PasswordContext<'_>,
) -> Result<(), PasswordError> {
    if password.is_empty() {
        return Err(PasswordError::Empty);
    }
    let nfc = password.nfc();
    if !nfc.matches(&confirmation.nfc()) {
        return Err(PasswordError::Confirm);
    }
    check_password(policy, &nfc, context)
}

/// The checks of [`check_password_entry`] after P-CONFIRM, for a password already in NFC.
pub fn check_password(
    policy: &PasswordPolicy,
    nfc: &Secret,
    context: &PasswordContext<'_>,
) -> Result<(), PasswordError> {
    if nfc.is_empty() {
        return Err(PasswordError::Empty);
    }
    if nfc.expose().chars().any(is_refused_control) {
        return Err(PasswordError::Control);
    }
    let n = nfc.code_points();
    if n > MAX_PASSWORD_CHARS {
        return Err(PasswordError::Long { n });
    }
    if n < usize::from(policy.min_length) {
        return Err(PasswordError::Short { n, mode: policy.mode, min: policy.min_length });
    }
    let folded = blocklist::fold(nfc.expose());
    if policy.mode == PasswordMode::Complexity {
        let missing = classes::missing(nfc.expose());
        if !missing.is_empty() {
            return Err(PasswordError::Classes { missing });
        }
        let account = NameParts::split(context.user_name).account;
        if account.chars().count() >= USERNAME_IN_PASSWORD_MIN_CHARS
            && folded.expose().contains(blocklist::fold(account).expose())
        {
            return Err(PasswordError::UserName { account: account.to_owned() });
        }
    }
    if blocklist::is_common(folded.expose()) {
        return Err(PasswordError::Common);
    }
    if blocklist::is_context_word(folded.expose(), context.words()) {
        return Err(PasswordError::Context);
    }
    if blocklist::is_pattern(folded.expose()) {
        return Err(PasswordError::Pattern);
    }
    Ok(())
}

/// U+0000–U+001F and U+007F–U+009F (5.1): exactly Unicode's control characters (Cc).
fn is_refused_control(c: char) -> bool {
    c.is_control()
}

/// `true` when the NFC-normalised, case-folded password is one of the shipped common or
/// breached passwords (5.3 (1)).
pub fn is_common_password(password: &Secret) -> bool {
    blocklist::is_common(blocklist::fold(password.expose()).expose())
}

/// `true` when the password is a repetition or a sequence (5.3 (3)).
pub fn is_pattern_password(password: &Secret) -> bool {
    blocklist::is_pattern(blocklist::fold(password.expose()).expose())
}

/// A refused password, with the exact console message of 5.5 as its `Display`. No variant
/// holds any part of the password except P-USERNAME's account name, which is public.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PasswordError {
    /// U-NOCHANGE: the active generation's name and password again.
    #[error("acc: nothing changed")]
    NoChange,
    /// U-PWCHANGE: the active generation's name with a different password (3.2.5).
    #[error("password: changing the password of the existing ACC '{}' would lock out every agent that still has the old one; rotate to a new user name instead (for example '{suggestion}')", crate::name::shown(.name))]
    PasswordChange {
        /// The active generation's user name.
        name: String,
        /// A fresh name, see `name::suggest_user_name`.
        suggestion: String,
    },
    /// P-EMPTY.
    #[error("password: is empty; enter a password")]
    Empty,
    /// P-CONFIRM.
    #[error("password: the two entries do not match; type the same password twice")]
    Confirm,
    /// P-CONTROL.
    #[error(
        "password: contains a control character (such as a tab or line break); use printable characters and spaces only"
    )]
    Control,
    /// P-LONG: more than 256 code points.
    #[error("password: too long: {n} characters; the limit is 256")]
    Long {
        /// Length in code points after NFC.
        n: usize,
    },
    /// P-SHORT: below the policy's minimum.
    #[error("password: too short: {n} characters; the {mode} policy needs at least {min}")]
    Short {
        /// Length in code points after NFC.
        n: usize,
        /// The policy mode.
        mode: PasswordMode,
        /// The policy's minimum length.
        min: u16,
    },
    /// P-CLASSES: complexity mode, classes missing.
    #[error("password: missing {}; the complexity policy needs an uppercase letter, a lowercase letter, a digit and a symbol", classes::describe_missing(.missing))]
    Classes {
        /// The missing classes, in the order of 5.5.
        missing: Vec<CharClass>,
    },
    /// P-USERNAME: complexity mode, the account part is inside the password.
    #[error("password: contains the user name '{}'; choose a password that does not include it", crate::name::shown(.account))]
    UserName {
        /// The account part of the user name.
        account: String,
    },
    /// P-COMMON: blocklist 5.3 (1).
    #[error("password: is a commonly used or breached password; choose a different one")]
    Common,
    /// P-CONTEXT: blocklist 5.3 (2).
    #[error(
        "password: is a name tied to this system (user name, product, site or organisation name); choose a different one"
    )]
    Context,
    /// P-PATTERN: blocklist 5.3 (3).
    #[error("password: is a repeated or sequential pattern; choose a different one")]
    Pattern,
    /// P-APPID: the App ID's password.
    #[error(
        "password: is the App ID's password; the ACC needs its own secret (or tick 'Use Application Credentials')"
    )]
    AppId,
    /// P-REUSED: an earlier generation's password.
    #[error("password: was used by ACC generation {generation} ('{}'); choose a password never used before", crate::name::shown(.name))]
    Reused {
        /// The generation that used it.
        generation: u32,
        /// That generation's user name.
        name: String,
    },
}

impl PasswordError {
    /// The message id of 5.5, e.g. `P-CLASSES`.
    pub fn id(&self) -> &'static str {
        match self {
            PasswordError::NoChange => "U-NOCHANGE",
            PasswordError::PasswordChange { .. } => "U-PWCHANGE",
            PasswordError::Empty => "P-EMPTY",
            PasswordError::Confirm => "P-CONFIRM",
            PasswordError::Control => "P-CONTROL",
            PasswordError::Long { .. } => "P-LONG",
            PasswordError::Short { .. } => "P-SHORT",
            PasswordError::Classes { .. } => "P-CLASSES",
            PasswordError::UserName { .. } => "P-USERNAME",
            PasswordError::Common => "P-COMMON",
            PasswordError::Context => "P-CONTEXT",
            PasswordError::Pattern => "P-PATTERN",
            PasswordError::AppId => "P-APPID",
            PasswordError::Reused { .. } => "P-REUSED",
        }
    }
}

#[cfg(test)]
mod tests;
