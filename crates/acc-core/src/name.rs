//! Account names as Windows treats them: kept as typed, compared case-insensitively
//! (specification 1.2, 5.4). Parsing of the user-name forms (`name`, `.\name`,
//! `DOMAIN\name`, `name@dns.domain`) and their validation live here too.

use std::fmt;
use std::hash::{Hash, Hasher};

use serde::{Deserialize, Serialize};

/// A local account name (or the account part of a domain name). Displayed as created,
/// compared and hashed case-insensitively (Unicode lower case), as on Windows.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountName(String);

impl AccountName {
    /// Wraps a name without validating it; use the user-name rules to validate input.
    pub fn new(name: impl Into<String>) -> Self {
        AccountName(name.into())
    }

    /// The name as it was created.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The comparison key: the name in Unicode lower case.
    pub fn folded(&self) -> String {
        self.0.to_lowercase()
    }
}

impl PartialEq for AccountName {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0 || self.folded() == other.folded()
    }
}

impl Eq for AccountName {}

impl Hash for AccountName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.folded().hash(state);
    }
}

impl PartialOrd for AccountName {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AccountName {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.folded().cmp(&other.folded())
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

// === User-name forms (specification 5.4) ===

/// Longest local account name, and longest account part of a domain name, in code points
/// (F26: Windows account names allow at most 20 characters).
pub const MAX_ACCOUNT_NAME_CHARS: usize = 20;

/// The printable characters account names cannot contain (F26, 5.4). Control characters
/// are refused as well; `\` and `@` are allowed only as the form separators.
pub const FORBIDDEN_NAME_CHARS: [char; 16] =
    ['"', '/', '\\', '[', ']', ':', ';', '|', '=', ',', '+', '*', '?', '<', '>', '@'];

/// Where the accounts of a user name live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserNameForm {
    /// `name` or `.\name`: every site server holds its own local account of that name.
    Local,
    /// `DOMAIN\name` or `name@dns.domain`: one directory account, never created by site
    /// servers.
    Domain,
}

/// The character that separated the domain part from the account part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    /// `DOMAIN\name` (and `.\name`).
    Backslash,
    /// `name@dns.domain` (a user principal name).
    At,
}

/// A typed user name split at its form separator, before any judgement of its characters.
///
/// A separator only counts as one when both sides are non-empty: `\name`, `CORP\` and
/// `name@` are taken as one local name containing `\` or `@`, which the character rule
/// then refuses (U-CHAR). `\` takes precedence over `@`, so `CORP\a@b` has the account part
/// `a@b`; among several `@` the last one separates, as in `a@b@corp.example`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameParts<'a> {
    /// The domain part as typed (`.` for `.\name`); `None` for a plain name.
    pub domain: Option<&'a str>,
    /// The account part as typed.
    pub account: &'a str,
    /// The separator that was used, if any.
    pub separator: Option<Separator>,
}

impl<'a> NameParts<'a> {
    /// Splits `typed` into its domain and account parts.
    pub fn split(typed: &'a str) -> Self {
        let split_at = |i: usize, len: usize, sep: Separator, domain_first: bool| {
            let (left, right) = (&typed[..i], &typed[i + len..]);
            let (domain, account) = if domain_first { (left, right) } else { (right, left) };
            (!domain.is_empty() && !account.is_empty()).then_some(NameParts {
                domain: Some(domain),
                account,
                separator: Some(sep),
            })
        };
        let parts = match (typed.find('\\'), typed.rfind('@')) {
            (Some(i), _) => split_at(i, 1, Separator::Backslash, true),
            (None, Some(i)) => split_at(i, 1, Separator::At, false),
            (None, None) => None,
        };
        parts.unwrap_or(NameParts { domain: None, account: typed, separator: None })
    }

    /// Local for `name` and `.\name`, domain for everything else.
    pub fn form(&self) -> UserNameForm {
        match self.domain {
            None | Some(".") => UserNameForm::Local,
            Some(_) => UserNameForm::Domain,
        }
    }

    /// The local account a local-form name denotes (`name` and `.\name` both denote
    /// `name`); `None` for a domain form.
    pub fn local_account(&self) -> Option<&'a str> {
        (self.form() == UserNameForm::Local).then_some(self.account)
    }

    /// The comparison key of this name: two names denote the same account when their keys
    /// are equal (3.2.2 V3 compares the account part and the domain part case-insensitively).
    /// The directory's DNS name and NetBIOS name denote the same domain, so
    /// `corp.example\x`, `CORP\x` and `x@corp.example` share one key.
    pub fn key(&self, directory: &DirectoryNames) -> NameKey {
        let domain = match self.form() {
            UserNameForm::Local => None,
            UserNameForm::Domain => {
                let folded = self.domain.unwrap_or_default().to_lowercase();
                if !directory.dns.is_empty() && folded == directory.dns.to_lowercase() {
                    Some(directory.netbios.to_lowercase())
                } else {
                    Some(folded)
                }
            }
        };
        NameKey { domain, account: self.account.to_lowercase() }
    }
}

/// The form of a user name as presented by an agent or configured (5.4), by the one
/// splitting rule of [`NameParts::split`]: local for `name` and `.\name`, domain for
/// `DOMAIN\name` and `name@dns.domain`. Every role decides with this (which accounts a
/// site creates, which logons go to the directory).
pub fn form_of(typed: &str) -> UserNameForm {
    NameParts::split(typed).form()
}

/// The case-folded identity of a user name; see [`NameParts::key`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameKey {
    domain: Option<String>,
    account: String,
}

/// The names of the directory (the domain of the App ID) on the management server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectoryNames {
    /// The NetBIOS name, e.g. `CORP`.
    pub netbios: String,
    /// The DNS name, e.g. `corp.example`.
    pub dns: String,
}

/// What the user-name rules need to know about the installation.
#[derive(Debug, Clone, Copy)]
pub struct UserNameRules<'a> {
    /// The App ID's sAMAccountName, e.g. `svc_appid`.
    pub app_id: &'a str,
    /// The directory the App ID lives in.
    pub directory: &'a DirectoryNames,
    /// The names of every site server in the inventory.
    pub site_servers: &'a [String],
}

impl UserNameRules<'_> {
    /// App ID detection (5.4): the account part equals the App ID's sAMAccountName and the
    /// domain part is empty, `.`, the directory's NetBIOS name or its DNS name, all
    /// case-insensitively. A merely similar name (`svc_appid2`) is not the App ID.
    pub fn is_app_id(&self, parts: &NameParts<'_>) -> bool {
        let same = |a: &str, b: &str| !b.is_empty() && a.to_lowercase() == b.to_lowercase();
        same(parts.account, self.app_id)
            && match parts.domain {
                None | Some(".") => true,
                Some(domain) => same(domain, &self.directory.netbios) || same(domain, &self.directory.dns),
            }
    }

    /// `SITE\name` where SITE is the name of a site server (case-insensitively).
    pub fn is_site_qualified(&self, parts: &NameParts<'_>) -> bool {
        match (parts.separator, parts.domain) {
            (Some(Separator::Backslash), Some(domain)) if domain != "." => {
                let domain = domain.to_lowercase();
                self.site_servers.iter().any(|site| site.to_lowercase() == domain)
            }
            _ => false,
        }
    }
}

/// A user name that passed the syntax rules of 5.4 (checks U-EMPTY to U-DOT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName {
    typed: String,
    form: UserNameForm,
    domain: Option<String>,
    account: AccountName,
}

impl UserName {
    /// The name exactly as the administrator typed it.
    pub fn typed(&self) -> &str {
        &self.typed
    }

    /// Local or domain form.
    pub fn form(&self) -> UserNameForm {
        self.form
    }

    /// The domain part of a domain-form name (`CORP`, `corp.example`); `None` when local.
    pub fn domain(&self) -> Option<&str> {
        self.domain.as_deref()
    }

    /// The account part: the local account name, or the directory account's name.
    pub fn account(&self) -> &AccountName {
        &self.account
    }

    /// The form that is stored and delivered: `name` for both `name` and `.\name`, the
    /// typed text for a domain name.
    pub fn stored(&self) -> String {
        match self.form {
            UserNameForm::Local => self.account.as_str().to_owned(),
            UserNameForm::Domain => self.typed.clone(),
        }
    }

    /// The split parts of the typed name.
    pub fn parts(&self) -> NameParts<'_> {
        NameParts::split(&self.typed)
    }
}

/// Checks a typed user name against 5.4 in the order of 5.5 (U-EMPTY, U-APPID,
/// U-SITEQUALIFIED, U-LONG, U-CHAR, U-DOT) and returns the first failure.
///
/// A name of spaces only counts as empty. Nothing is trimmed otherwise.
pub fn validate_user_name(typed: &str, rules: &UserNameRules<'_>) -> Result<UserName, UserNameError> {
    if typed.trim().is_empty() {
        return Err(UserNameError::Empty);
    }
    let parts = NameParts::split(typed);
    if rules.is_app_id(&parts) {
        return Err(UserNameError::AppId { typed: typed.to_owned() });
    }
    let name = parts.account.to_owned();
    if rules.is_site_qualified(&parts) {
        return Err(UserNameError::SiteQualified { typed: typed.to_owned(), name });
    }
    let n = parts.account.chars().count();
    if n > MAX_ACCOUNT_NAME_CHARS {
        return Err(UserNameError::Long { name, n });
    }
    if let Some(c) = parts.account.chars().find(|c| c.is_control() || FORBIDDEN_NAME_CHARS.contains(c)) {
        return Err(UserNameError::Char { name, c });
    }
    if parts.account.ends_with('.') {
        return Err(UserNameError::Dot { name });
    }
    Ok(UserName {
        typed: typed.to_owned(),
        form: parts.form(),
        domain: match parts.form() {
            UserNameForm::Local => None,
            UserNameForm::Domain => parts.domain.map(str::to_owned),
        },
        account: AccountName::new(parts.account),
    })
}

/// The `{suggestion}` of U-REUSED and U-PWCHANGE: `{base}_v{generation}`, where `{base}` is
/// the account part without a trailing `_v<digits>` or `v<digits>` (case-insensitive),
/// shortened so that the result fits [`MAX_ACCOUNT_NAME_CHARS`].
pub fn suggest_user_name(account: &str, generation: u32) -> String {
    let suffix = format!("_v{generation}");
    let room = MAX_ACCOUNT_NAME_CHARS.saturating_sub(suffix.chars().count());
    let base: String = strip_generation_suffix(account).chars().take(room).collect();
    format!("{base}{suffix}")
}

/// `ACC_User_v1` -> `ACC_User`, `ACC_userV12` -> `ACC_user`, `ACC_user` unchanged.
fn strip_generation_suffix(account: &str) -> &str {
    let without_digits = account.trim_end_matches(|c: char| c.is_ascii_digit());
    if without_digits.len() == account.len() {
        return account;
    }
    match without_digits.strip_suffix(['v', 'V']) {
        Some(rest) => rest.strip_suffix('_').unwrap_or(rest),
        None => account,
    }
}

/// A refused user name, with the exact console message of 5.5 as its `Display`.
///
/// Names are echoed as typed, except that control characters are shown as `U+000A` so
/// that every message stays on one line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserNameError {
    /// U-EMPTY.
    #[error(
        "user name: is empty; enter a local name such as 'ACC_user' or a domain name such as 'CORP\\acc_svc'"
    )]
    Empty,
    /// U-APPID: the App ID in any form (5.4).
    #[error("user name: '{}' is the App ID; do not enter it here \u{2014} tick 'Use Application Credentials' instead", shown(.typed))]
    AppId {
        /// The name as typed.
        typed: String,
    },
    /// U-SITEQUALIFIED: `SITE\name`.
    #[error("user name: '{}' names one site server's local account; use the plain local form '{}' so every site server gets it", shown(.typed), shown(.name))]
    SiteQualified {
        /// The name as typed.
        typed: String,
        /// The account part.
        name: String,
    },
    /// U-LONG: more than 20 code points.
    #[error("user name: '{}' is {n} characters; a local account name allows at most 20", shown(.name))]
    Long {
        /// The account part.
        name: String,
        /// Its length in code points.
        n: usize,
    },
    /// U-CHAR: the first forbidden character of the account part.
    #[error("user name: '{}' contains '{}', which account names cannot contain (\" / \\ [ ] : ; | = , + * ? < > @ and control characters)", shown(.name), shown_char(*.c))]
    Char {
        /// The account part.
        name: String,
        /// The first forbidden character.
        c: char,
    },
    /// U-DOT: ends with a period.
    #[error("user name: '{}' ends with a period, which account names cannot do", shown(.name))]
    Dot {
        /// The account part.
        name: String,
    },
    /// U-REUSED: the name of an earlier (retiring or removed) generation.
    #[error("user name: '{}' was already used by ACC generation {generation}; rotate to a name never used before (for example '{suggestion}')", shown(.typed))]
    Reused {
        /// The name as typed.
        typed: String,
        /// The generation that used it.
        generation: u32,
        /// A fresh name, see [`suggest_user_name`].
        suggestion: String,
    },
    /// U-DOMAIN-NOT-FOUND.
    #[error("user name: domain account '{}' was not found in the directory", shown(.typed))]
    DomainNotFound {
        /// The name as typed.
        typed: String,
    },
    /// U-DOMAIN-DISABLED.
    #[error("user name: domain account '{}' is disabled in the directory", shown(.typed))]
    DomainDisabled {
        /// The name as typed.
        typed: String,
    },
}

impl UserNameError {
    /// The message id of 5.5, e.g. `U-CHAR`.
    pub fn id(&self) -> &'static str {
        match self {
            UserNameError::Empty => "U-EMPTY",
            UserNameError::AppId { .. } => "U-APPID",
            UserNameError::SiteQualified { .. } => "U-SITEQUALIFIED",
            UserNameError::Long { .. } => "U-LONG",
            UserNameError::Char { .. } => "U-CHAR",
            UserNameError::Dot { .. } => "U-DOT",
            UserNameError::Reused { .. } => "U-REUSED",
            UserNameError::DomainNotFound { .. } => "U-DOMAIN-NOT-FOUND",
            UserNameError::DomainDisabled { .. } => "U-DOMAIN-DISABLED",
        }
    }
}

/// Text as typed, with control characters written as `U+XXXX` (messages are single lines).
pub(crate) fn shown(text: &str) -> String {
    text.chars().map(shown_char).collect()
}

fn shown_char(c: char) -> String {
    if c.is_control() { format!("U+{:04X}", u32::from(c)) } else { c.to_string() }
}

#[cfg(test)]
mod tests;
