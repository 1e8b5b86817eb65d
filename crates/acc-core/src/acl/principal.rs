//! Who an ACE names.
//!
//! A [`Principal`] is what an ACE grants to or denies: a local account, a domain account or
//! group, a certificate identity (`cert:CN=acclinux`) or one of the well-known groups
//! `Everyone`, `Authenticated Users`, `Users`, `Agents`. This module owns parsing
//! principals from text and comparing them (case-insensitively, as Windows does); who holds
//! which principals is [`super::Caller`]'s (`caller.rs`); it does not evaluate ACLs.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::name::{AccountName, DirectoryNames, NameParts, UserNameForm};

/// Longest certificate identity accepted, in characters.
pub const MAX_CERT_IDENTITY_CHARS: usize = 1024;
/// Longest local account name, in code points (F26, 5.4).
pub const MAX_LOCAL_NAME_CHARS: usize = 20;
/// Longest domain part, in characters: a NetBIOS name (`CORP`) or a DNS name
/// (`corp.example`, which 5.4 accepts in `corp.example\name`).
pub const MAX_DOMAIN_CHARS: usize = 255;
/// Longest account or group name after `DOMAIN\` (sAMAccountName of a group), in characters.
pub const MAX_DOMAIN_MEMBER_CHARS: usize = 256;

/// The groups every site server knows without a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WellKnownGroup {
    /// Every caller, authenticated or not (only authenticated callers reach shares).
    Everyone,
    /// Every authenticated caller.
    AuthenticatedUsers,
    /// The local accounts of the site server.
    Users,
    /// Every principal that authenticated as an agent: ACC, App ID or client certificate.
    Agents,
}

impl WellKnownGroup {
    /// Every well-known group, in display order.
    pub const ALL: [WellKnownGroup; 4] = [
        WellKnownGroup::Everyone,
        WellKnownGroup::AuthenticatedUsers,
        WellKnownGroup::Users,
        WellKnownGroup::Agents,
    ];

    /// The group's name as written in ACLs.
    pub const fn as_str(self) -> &'static str {
        match self {
            WellKnownGroup::Everyone => "Everyone",
            WellKnownGroup::AuthenticatedUsers => "Authenticated Users",
            WellKnownGroup::Users => "Users",
            WellKnownGroup::Agents => "Agents",
        }
    }

    /// Recognises the group's name (any case), also in the Windows qualified forms
    /// `NT AUTHORITY\Authenticated Users` and `BUILTIN\Users`.
    fn recognise(text: &str) -> Option<WellKnownGroup> {
        let folded = text.to_lowercase();
        let bare = folded
            .strip_prefix("nt authority\\")
            .or_else(|| folded.strip_prefix("builtin\\"))
            .unwrap_or(&folded);
        WellKnownGroup::ALL.into_iter().find(|g| g.as_str().to_lowercase() == bare)
    }
}

/// The domain part of `DOMAIN\name`: a NetBIOS name (`CORP`) or a DNS name
/// (`corp.example`), compared case-insensitively. The two spellings of one domain are
/// different principals here (only the directory knows they are the same); write ACLs with
/// the NetBIOS name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(AccountName);

impl DomainName {
    /// The name as typed.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl FromStr for DomainName {
    type Err = PrincipalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let chars = s.chars().count();
        if chars == 0 || chars > MAX_DOMAIN_CHARS {
            return Err(PrincipalError::DomainLength { domain: s.to_owned(), max: MAX_DOMAIN_CHARS });
        }
        if s.starts_with('.') || s.ends_with('.') {
            return Err(PrincipalError::DotDomain(s.to_owned()));
        }
        if let Some(c) = s.chars().find(|c| c.is_control() || "\"/\\[]:;|=,+*?<>@".contains(*c)) {
            return Err(PrincipalError::DomainCharacter { domain: s.to_owned(), character: c });
        }
        Ok(DomainName(AccountName::new(s)))
    }
}

/// The identity of a client certificate: its subject as acc-pki prints it (RFC 4514 style,
/// e.g. `CN=acclinux` or `CN=acclinux,O=Fleet`), written `cert:<subject>` in ACLs.
///
/// Compared as X.500 `caseIgnoreMatch` does for the common attributes: case-insensitively,
/// ignoring spaces around the separators `,`, `+` and `=` (so `cn = AccLinux` matches
/// `CN=acclinux`). Attribute order matters.
#[derive(Clone)]
pub struct CertIdentity {
    subject: String,
    key: String,
}

impl CertIdentity {
    /// The subject as typed (without the `cert:` prefix).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Parses a subject (without the `cert:` prefix).
    pub fn parse(subject: &str) -> Result<CertIdentity, PrincipalError> {
        let subject = subject.trim();
        if subject.is_empty() {
            return Err(PrincipalError::EmptyCertIdentity);
        }
        if subject.chars().count() > MAX_CERT_IDENTITY_CHARS {
            return Err(PrincipalError::CertIdentityLength { max: MAX_CERT_IDENTITY_CHARS });
        }
        if subject.chars().any(char::is_control) {
            return Err(PrincipalError::CertIdentityControl);
        }
        if !subject.contains('=') {
            return Err(PrincipalError::CertIdentityForm(subject.to_owned()));
        }
        Ok(CertIdentity { subject: subject.to_owned(), key: comparison_key(subject) })
    }
}

/// Lower case, spaces around unescaped `,`, `+`, `=` removed.
fn comparison_key(subject: &str) -> String {
    let mut key = String::with_capacity(subject.len());
    let mut escaped = false;
    let mut after_separator = false;
    for c in subject.chars() {
        if escaped {
            key.extend(c.to_lowercase());
            escaped = false;
            after_separator = false;
        } else if c == '\\' {
            key.push(c);
            escaped = true;
            after_separator = false;
        } else if matches!(c, ',' | '+' | '=') {
            while key.ends_with(' ') && !key.ends_with("\\ ") {
                key.pop();
            }
            key.push(c);
            after_separator = true;
        } else if c != ' ' || !after_separator {
            // Spaces right after a separator are skipped; everything else is folded.
            key.extend(c.to_lowercase());
            after_separator = false;
        }
    }
    key
}

impl PartialEq for CertIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for CertIdentity {}

impl Hash for CertIdentity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key.hash(state);
    }
}

impl PartialOrd for CertIdentity {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for CertIdentity {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

impl fmt::Debug for CertIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.subject)
    }
}

/// What an ACE names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Principal {
    /// A local account of the site server (`ACC_user`, `.\ACC_user`).
    Local(AccountName),
    /// A domain account or group (`CORP\ACC_user`, `CORP\Domain Users`).
    Domain {
        /// NetBIOS domain name.
        domain: DomainName,
        /// Account or group name in the domain.
        name: AccountName,
    },
    /// A client certificate identity (`cert:CN=acclinux`).
    Certificate(CertIdentity),
    /// A well-known group.
    Group(WellKnownGroup),
}

/// Text that is not a principal. Every message is one line and names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrincipalError {
    /// Empty or blank.
    #[error("principal is empty: expected an account name, DOMAIN\\name, cert:<subject> or a group")]
    Empty,
    /// Local name too long.
    #[error("account name '{name}' is longer than {max} characters")]
    LocalLength {
        /// The name.
        name: String,
        /// The limit.
        max: usize,
    },
    /// Local name ends in a period.
    #[error("account name '{0}' ends with a period, which Windows does not allow")]
    TrailingPeriod(String),
    /// Local name or domain member holds a forbidden character.
    #[error("account name '{name}' contains {character:?}, which is not allowed in account names")]
    NameCharacter {
        /// The name.
        name: String,
        /// The first forbidden character.
        character: char,
    },
    /// UPN form.
    #[error("'{0}' is a user principal name; write the account as DOMAIN\\name in ACLs")]
    Upn(String),
    /// Domain part of the wrong length.
    #[error("domain '{domain}' must be 1 to {max} characters")]
    DomainLength {
        /// The domain.
        domain: String,
        /// The limit.
        max: usize,
    },
    /// A domain part starting or ending with `.` (`.\` itself is the local form).
    #[error("domain '{0}' is not a domain name")]
    DotDomain(String),
    /// Domain part holds a forbidden character.
    #[error("domain '{domain}' contains {character:?}, which is not allowed in domain names")]
    DomainCharacter {
        /// The domain.
        domain: String,
        /// The first forbidden character.
        character: char,
    },
    /// Name after `DOMAIN\` of the wrong length.
    #[error("name after '{domain}\\' must be 1 to {max} characters")]
    DomainMemberLength {
        /// The domain.
        domain: String,
        /// The limit.
        max: usize,
    },
    /// `cert:` with nothing after it.
    #[error("certificate identity is empty: expected cert:<subject>, e.g. cert:CN=acclinux")]
    EmptyCertIdentity,
    /// `cert:` subject too long.
    #[error("certificate identity is longer than {max} characters")]
    CertIdentityLength {
        /// The limit.
        max: usize,
    },
    /// `cert:` subject with control characters.
    #[error("certificate identity contains control characters")]
    CertIdentityControl,
    /// `cert:` subject without an attribute.
    #[error("certificate identity '{0}' is not a subject: expected ATTR=value, e.g. cert:CN=acclinux")]
    CertIdentityForm(String),
}

/// Characters 5.4 forbids in account names (besides control characters).
const FORBIDDEN_NAME_CHARS: &str = "\"/\\[]:;|=,+*?<>@";

fn validate_local(name: &str) -> Result<AccountName, PrincipalError> {
    if name.chars().count() > MAX_LOCAL_NAME_CHARS {
        return Err(PrincipalError::LocalLength { name: name.to_owned(), max: MAX_LOCAL_NAME_CHARS });
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || FORBIDDEN_NAME_CHARS.contains(*c)) {
        return Err(PrincipalError::NameCharacter { name: name.to_owned(), character: c });
    }
    if name.ends_with('.') {
        return Err(PrincipalError::TrailingPeriod(name.to_owned()));
    }
    Ok(AccountName::new(name))
}

fn validate_domain_member(domain: &str, name: &str) -> Result<AccountName, PrincipalError> {
    let chars = name.chars().count();
    if chars == 0 || chars > MAX_DOMAIN_MEMBER_CHARS {
        return Err(PrincipalError::DomainMemberLength {
            domain: domain.to_owned(),
            max: MAX_DOMAIN_MEMBER_CHARS,
        });
    }
    // Group names may hold spaces (`Domain Users`); the other rules are those of 5.4.
    if let Some(c) = name.chars().find(|c| c.is_control() || FORBIDDEN_NAME_CHARS.contains(*c)) {
        return Err(PrincipalError::NameCharacter { name: name.to_owned(), character: c });
    }
    if name.ends_with('.') {
        return Err(PrincipalError::TrailingPeriod(name.to_owned()));
    }
    Ok(AccountName::new(name))
}

impl FromStr for Principal {
    type Err = PrincipalError;

    /// Parses, in this order: `cert:<subject>` (prefix in any case); a well-known group
    /// name (any case; also `NT AUTHORITY\Authenticated Users`, `BUILTIN\Users`), so a local
    /// account cannot be called `Users`; `.\name` (local); `DOMAIN\name`; `name@domain` is
    /// refused; anything else is a local account name (5.4 rules).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.is_empty() {
            return Err(PrincipalError::Empty);
        }
        if text.len() >= 5 && text[..5].eq_ignore_ascii_case("cert:") {
            return CertIdentity::parse(&text[5..]).map(Principal::Certificate);
        }
        if let Some(group) = WellKnownGroup::recognise(text) {
            return Ok(Principal::Group(group));
        }
        if let Some(name) = text.strip_prefix(".\\") {
            return validate_local(name).map(Principal::Local);
        }
        if let Some((domain, name)) = text.split_once('\\') {
            let domain: DomainName = domain.parse()?;
            let name = validate_domain_member(domain.as_str(), name)?;
            return Ok(Principal::Domain { domain, name });
        }
        if text.contains('@') {
            return Err(PrincipalError::Upn(text.to_owned()));
        }
        validate_local(text).map(Principal::Local)
    }
}

impl Principal {
    /// The principal a user name stands for in ACLs (3.2.3), read with the user-name forms
    /// of 5.4 (`acc_core::name`, the one rule for them): a local form (`name`, `.\name`)
    /// is the local account; a domain form (`DOMAIN\name`, `name@dns.domain`) is the
    /// directory account, written as ACLs write it: `NETBIOS\name` when its domain part is
    /// the directory's NetBIOS or DNS name, otherwise `DOMAIN\name` as typed. So the ACC
    /// `acc_svc@corp.example` is `CORP\acc_svc` here, while an ACL entry written as a UPN is
    /// still refused (parse).
    pub fn for_user_name(typed: &str, directory: &DirectoryNames) -> Result<Principal, PrincipalError> {
        let parts = NameParts::split(typed);
        match (parts.form(), parts.domain) {
            (UserNameForm::Domain, Some(domain)) => {
                let ours = |n: &str| !n.is_empty() && domain.eq_ignore_ascii_case(n);
                let domain = if ours(&directory.netbios) || ours(&directory.dns) {
                    directory.netbios.as_str()
                } else {
                    domain
                };
                let domain: DomainName = domain.parse()?;
                let name = validate_domain_member(domain.as_str(), parts.account)?;
                Ok(Principal::Domain { domain, name })
            }
            _ => validate_local(parts.account).map(Principal::Local),
        }
    }
}

impl TryFrom<String> for Principal {
    type Error = PrincipalError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Principal> for String {
    fn from(p: Principal) -> String {
        p.to_string()
    }
}

/// The form that parses back to the same principal: `ACC_user`, `CORP\name`,
/// `cert:CN=acclinux`, `Authenticated Users`.
impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Principal::Local(name) => write!(f, "{name}"),
            Principal::Domain { domain, name } => write!(f, "{domain}\\{name}"),
            Principal::Certificate(id) => write!(f, "cert:{}", id.subject()),
            Principal::Group(g) => f.write_str(g.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Principal {
        s.parse().unwrap()
    }

    #[test]
    fn parses_every_form() {
        assert_eq!(p("ACC_user"), Principal::Local(AccountName::new("acc_USER")));
        assert_eq!(p(".\\ACC_user"), p("ACC_user"));
        assert_eq!(p("  ACC_user "), p("ACC_user"));
        assert!(matches!(p("CORP\\svc_appid"), Principal::Domain { .. }));
        assert_eq!(p("corp\\SVC_APPID"), p("CORP\\svc_appid"));
        assert_eq!(p("CORP\\Domain Users").to_string(), "CORP\\Domain Users");
        assert_eq!(p("everyone"), Principal::Group(WellKnownGroup::Everyone));
        assert_eq!(
            p("NT AUTHORITY\\Authenticated Users"),
            Principal::Group(WellKnownGroup::AuthenticatedUsers)
        );
        assert_eq!(p("builtin\\users"), Principal::Group(WellKnownGroup::Users));
        assert_eq!(p("AGENTS"), Principal::Group(WellKnownGroup::Agents));
        assert_eq!(p("cert:CN=acclinux").to_string(), "cert:CN=acclinux");
        assert_eq!(p("CERT:cn = AccLinux"), p("cert:CN=acclinux"));
        assert_eq!(p("cert:CN=a, O=Fleet"), p("cert:cn=A,o=fleet"));
        assert_ne!(p("cert:CN=a,O=Fleet"), p("cert:O=Fleet,CN=a"));
        assert_ne!(p("cert:CN=acclinux"), p("acclinux"));
        assert_ne!(p("CORP\\ACC_user"), p("ACC_user"));
        assert_ne!(p("ACC_user"), p("ACC_user2"));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "ACC_user",
            "CORP\\Domain Users",
            "cert:CN=acclinux,O=Fleet",
            "Everyone",
            "Authenticated Users",
            "Users",
            "Agents",
        ] {
            assert_eq!(p(s).to_string(), s);
            assert_eq!(p(&p(s).to_string()), p(s));
        }
        let json = serde_json::to_string(&p("cert:CN=acclinux")).unwrap();
        assert_eq!(json, "\"cert:CN=acclinux\"");
        let back: Principal = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p("cert:CN=acclinux"));
        assert!(serde_json::from_str::<Principal>("\"a@b\"").is_err());
    }

    #[test]
    fn a_user_name_in_either_domain_form_is_the_directory_account() {
        let dir = DirectoryNames { netbios: "CORP".into(), dns: "corp.example".into() };
        let of = |typed: &str| Principal::for_user_name(typed, &dir).unwrap().to_string();
        assert_eq!(of("acc_svc@corp.example"), "CORP\\acc_svc");
        assert_eq!(of("acc_svc@CORP"), "CORP\\acc_svc");
        assert_eq!(of("corp.example\\acc_svc"), "CORP\\acc_svc");
        assert_eq!(of("CORP\\acc_svc"), "CORP\\acc_svc");
        assert_eq!(of("OTHER\\acc_svc"), "OTHER\\acc_svc");
        assert_eq!(of("acc_svc@other.example"), "other.example\\acc_svc");
        assert_eq!(of("ACC_user"), "ACC_user");
        assert_eq!(of(".\\ACC_user"), "ACC_user");
        assert_eq!(of("ACC_user"), p("ACC_user").to_string());
        assert!(Principal::for_user_name("acc*user", &dir).is_err());
    }

    #[test]
    fn refuses_with_one_line_messages() {
        let cases = [
            ("", "principal is empty: expected an account name, DOMAIN\\name, cert:<subject> or a group"),
            (
                "ACC_user_with_a_long_name",
                "account name 'ACC_user_with_a_long_name' is longer than 20 characters",
            ),
            ("acc.", "account name 'acc.' ends with a period, which Windows does not allow"),
            ("acc*user", "account name 'acc*user' contains '*', which is not allowed in account names"),
            (
                "acc@corp.example",
                "'acc@corp.example' is a user principal name; write the account as DOMAIN\\name in ACLs",
            ),
            ("\\acc", "domain '' must be 1 to 255 characters"),
            ("CORP\\", "name after 'CORP\\' must be 1 to 256 characters"),
            ("CORP:X\\acc", "domain 'CORP:X' contains ':', which is not allowed in domain names"),
            ("cert:", "certificate identity is empty: expected cert:<subject>, e.g. cert:CN=acclinux"),
            (
                "cert:acclinux",
                "certificate identity 'acclinux' is not a subject: expected ATTR=value, e.g. cert:CN=acclinux",
            ),
            ("cert:CN=a\u{7}", "certificate identity contains control characters"),
        ];
        for (input, message) in cases {
            let err = input.parse::<Principal>().unwrap_err().to_string();
            assert_eq!(err, message, "input {input:?}");
            assert!(!err.contains('\n'));
        }
        assert!(".\\a\\b".parse::<Principal>().is_err());
        assert!("..\\acc".parse::<Principal>().is_err());
        assert!("corp.\\acc".parse::<Principal>().is_err());
        assert_eq!(p("corp.example\\svc_appid").to_string(), "corp.example\\svc_appid");
        assert!("acc\u{1}".parse::<Principal>().is_err());
    }
}
