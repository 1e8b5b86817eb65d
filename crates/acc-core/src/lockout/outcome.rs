//! The vocabulary of an authentication attempt: what comes in ([`Attempt`]), what the
//! engine answers ([`Outcome`], mapped to the HTTP responses of 2.5), and the two-phase
//! protocol between the engine and the caller that hashes ([`Step`], [`PendingVerify`]).
//! The rules that produce them live in `attempt`.

use serde::{Deserialize, Serialize};

use super::record::PasswordHash;
use super::source::Source;
use crate::event::Event;
use crate::event::catalogue::AuthPackage;
use crate::name::{DirectoryNames, NameParts, UserNameRules};

/// One authentication of a user name from a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The user name as presented (`ACC_user` or `.\ACC_user`).
    pub user_name: String,
    /// The normalised source.
    pub source: Source,
    /// The peer port (`IpPort`).
    pub port: u16,
    /// `AuthenticationPackageName`.
    pub package: AuthPackage,
    /// The site server that forwarded the attempt to the directory (D2), written as
    /// `ReportingSite` in the directory's 4740.
    pub reporting_site: Option<String>,
}

impl Attempt {
    /// A password attempt (`acc-password`).
    pub fn password(user_name: &str, source: Source, port: u16) -> Self {
        Attempt {
            user_name: user_name.to_owned(),
            source,
            port,
            package: AuthPackage::Password,
            reporting_site: None,
        }
    }

    /// A user-name-and-password attempt with the `AuthenticationPackageName` its name
    /// calls for (4.2): `acc-app-id` when the name is the App ID ("Use Application
    /// Credentials"), recognised by the detection rule of 5.4 in any of its forms
    /// (`CORP\svc_appid`, `svc_appid@corp.example` …), `acc-password` otherwise.
    pub fn named(user_name: &str, source: Source, port: u16, app_id: Option<&AppIdName>) -> Self {
        Attempt {
            package: AppIdName::package(app_id, user_name),
            ..Attempt::password(user_name, source, port)
        }
    }
}

/// The App ID as site servers recognise it in logons: its sAMAccountName and the names of
/// its directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppIdName {
    /// The sAMAccountName, e.g. `svc_appid`.
    pub account: String,
    /// The directory's NetBIOS and DNS names.
    pub directory: DirectoryNames,
}

impl AppIdName {
    /// The package of a logon as `user_name` when `app_id` is the App ID (none known:
    /// `acc-password`); see [`Attempt::named`].
    pub fn package(app_id: Option<&AppIdName>, user_name: &str) -> AuthPackage {
        let is_app_id = app_id.is_some_and(|a| {
            let rules = UserNameRules { app_id: &a.account, directory: &a.directory, site_servers: &[] };
            rules.is_app_id(&NameParts::split(user_name))
        });
        if is_app_id { AuthPackage::AppId } else { AuthPackage::Password }
    }
}

/// The answer to an agent (2.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Outcome {
    /// 200. `policy_stale`: the success used a retiring generation (P5).
    Ok {
        /// The agent should fetch its policy at once.
        policy_stale: bool,
    },
    /// 401: unknown name or wrong password, indistinguishable.
    InvalidCredentials,
    /// 403 with `Retry-After` unless the lock lasts until unlocked.
    LockedOut {
        /// Seconds until the lock or block ends; absent when `D = 0`.
        retry_after: Option<u64>,
    },
    /// 403.
    AccountDisabled,
    /// 503 with `Retry-After: 30`: the directory is unreachable (D3).
    Unavailable,
}

impl Outcome {
    /// HTTP status of the response.
    pub const fn http_status(self) -> u16 {
        match self {
            Outcome::Ok { .. } => 200,
            Outcome::InvalidCredentials => 401,
            Outcome::LockedOut { .. } | Outcome::AccountDisabled => 403,
            Outcome::Unavailable => 503,
        }
    }

    /// Body `error`, absent on success.
    pub const fn error(self) -> Option<&'static str> {
        match self {
            Outcome::Ok { .. } => None,
            Outcome::InvalidCredentials => Some("invalid_credentials"),
            Outcome::LockedOut { .. } => Some("locked_out"),
            Outcome::AccountDisabled => Some("account_disabled"),
            Outcome::Unavailable => Some("directory_unavailable"),
        }
    }

    /// `Retry-After` header value, if any.
    pub const fn retry_after(self) -> Option<u64> {
        match self {
            Outcome::LockedOut { retry_after } => retry_after,
            Outcome::Unavailable => Some(30),
            _ => None,
        }
    }

    /// `policy_stale` of the body.
    pub const fn policy_stale(self) -> bool {
        matches!(self, Outcome::Ok { policy_stale: true })
    }
}

/// The end of an attempt: the answer and the events to write, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptResult {
    /// The answer to the agent.
    pub outcome: Outcome,
    /// Events in write order (`acc.clock`, 4624/4625, 4740…, `acc.lockout_loop`).
    pub events: Vec<Event>,
}

/// What to do next with an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Decided; write the events and answer.
    Done(AttemptResult),
    /// Verify the password against [`PendingVerify::password_hash`], then call
    /// [`SiteState::complete`](super::SiteState::complete).
    Verify(PendingVerify),
}

/// An attempt waiting for its password check. Carries the events already decided (an
/// `acc.clock`), which `complete` writes first. Its `Debug` shows no hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingVerify {
    pub(super) attempt: Attempt,
    pub(super) sid: String,
    pub(super) hash: PasswordHash,
    pub(super) events: Vec<Event>,
}

impl PendingVerify {
    /// The stored hash the presented password must match.
    pub fn password_hash(&self) -> &PasswordHash {
        &self.hash
    }

    /// The attempt.
    pub fn attempt(&self) -> &Attempt {
        &self.attempt
    }
}

/// True when a presented user name is a local form (`name` or `.\name`) that this engine
/// decides; domain forms (`DOMAIN\name`, `name@dns.domain`) go to the directory (D2).
pub fn is_local_form(presented: &str) -> bool {
    crate::name::form_of(presented) == crate::name::UserNameForm::Local
}
