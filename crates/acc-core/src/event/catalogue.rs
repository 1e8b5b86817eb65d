//! Constructors for every event acc-core writes (specification 4.2 and 4.3), each with the
//! exact field names and field order of the specification.
//!
//! Conventions (4.1): a site acting on its own behalf is [`Subject::site`]
//! (`S-1-5-18`, `<SITE>$`, the fleet name, `0x3e7`); for local accounts `TargetDomainName`
//! is the site server's name. Numbers are JSON numbers, codes such as `0xC000006D` strings.

use serde::{Deserialize, Serialize};

use super::{Event, EventId, Keywords};
use crate::lockout::{DisabledBy, LockScope, LockoutMode};
use crate::time::Timestamp;

/// The Subject fields of an event: who performed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// `SubjectUserSid`.
    pub user_sid: String,
    /// `SubjectUserName`.
    pub user_name: String,
    /// `SubjectDomainName`.
    pub domain_name: String,
    /// `SubjectLogonId`.
    pub logon_id: String,
}

impl Subject {
    /// A site (or management server) acting on its own behalf: `S-1-5-18`, `<SITE>$`,
    /// the fleet name (`ACC`), `0x3e7`.
    pub fn site(computer: &str, fleet: &str) -> Self {
        Subject {
            user_sid: "S-1-5-18".into(),
            user_name: format!("{computer}$"),
            domain_name: fleet.into(),
            logon_id: "0x3e7".into(),
        }
    }

    /// An administrator: SID, user name, the management server's name and session id.
    pub fn admin(sid: &str, user_name: &str, domain_name: &str, session_id: &str) -> Self {
        Subject {
            user_sid: sid.into(),
            user_name: user_name.into(),
            domain_name: domain_name.into(),
            logon_id: session_id.into(),
        }
    }

    fn write(&self, e: Event) -> Event {
        e.with("SubjectUserSid", &self.user_sid)
            .with("SubjectUserName", &self.user_name)
            .with("SubjectDomainName", &self.domain_name)
            .with("SubjectLogonId", &self.logon_id)
    }
}

/// The account an account-management event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// `TargetUserName`.
    pub user_name: &'a str,
    /// `TargetDomainName` (the site server's name for local accounts).
    pub domain_name: &'a str,
    /// `TargetSid`.
    pub sid: &'a str,
}

impl Target<'_> {
    fn write(&self, e: Event) -> Event {
        e.with("TargetUserName", self.user_name)
            .with("TargetDomainName", self.domain_name)
            .with("TargetSid", self.sid)
    }
}

/// `AuthenticationPackageName` of 4624/4625.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum AuthPackage {
    /// `acc-password`: an ACC user name and password.
    #[default]
    Password,
    /// `acc-app-id`: the App ID (application mode).
    AppId,
    /// `acc-mtls`: a client certificate.
    Mtls,
}

impl AuthPackage {
    /// The package name.
    pub const fn as_str(self) -> &'static str {
        match self {
            AuthPackage::Password => "acc-password",
            AuthPackage::AppId => "acc-app-id",
            AuthPackage::Mtls => "acc-mtls",
        }
    }
}

/// Network information of 4624/4625.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network<'a> {
    /// `WorkstationName` (= CallerComputerName).
    pub workstation: &'a str,
    /// `IpAddress`.
    pub ip: &'a str,
    /// `IpPort`.
    pub port: u16,
}

/// Why an authentication failed: the Status/SubStatus/FailureReason rows of 4.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// Unknown user name (including deleted).
    UnknownUser,
    /// Wrong password.
    BadPassword,
    /// Account disabled.
    Disabled,
    /// Locked (any scope).
    LockedOut,
    /// Directory unreachable (domain form).
    NoLogonServers,
}

impl FailureKind {
    /// `Status`.
    pub const fn status(self) -> &'static str {
        match self {
            FailureKind::UnknownUser | FailureKind::BadPassword => "0xC000006D",
            FailureKind::Disabled => "0xC000006E",
            FailureKind::LockedOut => "0xC0000234",
            FailureKind::NoLogonServers => "0xC000005E",
        }
    }

    /// `SubStatus`.
    pub const fn sub_status(self) -> &'static str {
        match self {
            FailureKind::UnknownUser => "0xC0000064",
            FailureKind::BadPassword => "0xC000006A",
            FailureKind::Disabled => "0xC0000072",
            FailureKind::LockedOut | FailureKind::NoLogonServers => "0x0",
        }
    }

    /// `FailureReason`.
    pub const fn reason(self) -> &'static str {
        match self {
            FailureKind::UnknownUser | FailureKind::BadPassword => "Unknown user name or bad password.",
            FailureKind::Disabled => "Account currently disabled.",
            FailureKind::LockedOut => "Account locked out.",
            FailureKind::NoLogonServers => "There are currently no logon servers available.",
        }
    }
}

/// Why a client certificate was refused, for its 4625: Status 0xC000006D ("bad user name
/// or authentication information", the Status whose SubStatus carries the reason) and the
/// SubStatus Windows gives a refused smart-card certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertificateRefusal {
    /// Not issued by a trusted CA (unknown issuer, self-signed, bad signature):
    /// STATUS_ISSUING_CA_UNTRUSTED.
    Untrusted,
    /// Listed on a CRL: STATUS_SMARTCARD_CERT_REVOKED.
    Revoked,
    /// Outside its validity period: STATUS_SMARTCARD_CERT_EXPIRED.
    Expired,
    /// Anything else (not for client authentication, X.509 v1, malformed):
    /// STATUS_PKINIT_CLIENT_FAILURE.
    Invalid,
}

impl CertificateRefusal {
    /// `Status`.
    pub const fn status(self) -> &'static str {
        "0xC000006D"
    }

    /// `SubStatus`.
    pub const fn sub_status(self) -> &'static str {
        match self {
            CertificateRefusal::Untrusted => "0xC000038A",
            CertificateRefusal::Revoked => "0xC0000389",
            CertificateRefusal::Expired => "0xC000038D",
            CertificateRefusal::Invalid => "0xC000038C",
        }
    }
}

/// `LogonProcessName` of acc's authentication events.
pub const LOGON_PROCESS: &str = "acc-site";
/// `LogonType` of acc's authentication events: 3, Network.
pub const LOGON_TYPE_NETWORK: u64 = 3;
/// `TargetUserSid` of a 4625 whose user name is unknown.
pub const NULL_SID: &str = "S-1-0-0";

/// Contents of a 4624.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogonSuccess<'a> {
    /// Subject (the site).
    pub subject: &'a Subject,
    /// `TargetUserSid`, `TargetUserName`, `TargetDomainName`.
    pub target: Target<'a>,
    /// `TargetLogonId`.
    pub logon_id: &'a str,
    /// `AuthenticationPackageName`.
    pub package: AuthPackage,
    /// `WorkstationName`, `IpAddress`, `IpPort`.
    pub network: Network<'a>,
    /// `AccGeneration` and `AccPhase` (`active`/`retiring`), for ACC accounts.
    pub generation: Option<(u32, &'a str)>,
    /// `Familiar` (smart mode).
    pub familiar: Option<bool>,
}

/// 4624 An account was successfully logged on.
pub fn logon_success(t: Timestamp, mode: LockoutMode, e: &LogonSuccess<'_>) -> Event {
    let ev = Event::new(EventId::LOGON_SUCCESS, t, Keywords::AuditSuccess).with_mode(mode);
    e.subject
        .write(ev)
        .with("TargetUserSid", e.target.sid)
        .with("TargetUserName", e.target.user_name)
        .with("TargetDomainName", e.target.domain_name)
        .with("TargetLogonId", e.logon_id)
        .with("LogonType", LOGON_TYPE_NETWORK)
        .with("LogonProcessName", LOGON_PROCESS)
        .with("AuthenticationPackageName", e.package.as_str())
        .with("WorkstationName", e.network.workstation)
        .with("IpAddress", e.network.ip)
        .with("IpPort", e.network.port)
        .with_opt("AccGeneration", e.generation.map(|(g, _)| g))
        .with_opt("AccPhase", e.generation.map(|(_, p)| p))
        .with_opt("Familiar", e.familiar)
}

/// Contents of a 4625.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogonFailure<'a> {
    /// Subject (the site).
    pub subject: &'a Subject,
    /// `TargetUserSid` (`S-1-0-0` when unknown), `TargetUserName` (as presented),
    /// `TargetDomainName`.
    pub target: Target<'a>,
    /// Status, SubStatus, FailureReason.
    pub failure: FailureKind,
    /// `AuthenticationPackageName`.
    pub package: AuthPackage,
    /// `WorkstationName`, `IpAddress`, `IpPort`.
    pub network: Network<'a>,
    /// `LockScope`, written only when the failure is [`FailureKind::LockedOut`].
    pub lock_scope: Option<LockScope>,
    /// `Verified`: was the password checked.
    pub verified: bool,
    /// `Familiar` (smart mode).
    pub familiar: Option<bool>,
    /// `AccGeneration`, if the account was resolved to an ACC generation.
    pub generation: Option<u32>,
}

/// 4625 An account failed to log on (Audit Failure).
pub fn logon_failure(t: Timestamp, mode: LockoutMode, e: &LogonFailure<'_>) -> Event {
    let ev = Event::new(EventId::LOGON_FAILURE, t, Keywords::AuditFailure).with_mode(mode);
    let scope = match e.failure {
        FailureKind::LockedOut => e.lock_scope.map(LockScope::as_str),
        _ => None,
    };
    e.subject
        .write(ev)
        .with("TargetUserSid", e.target.sid)
        .with("TargetUserName", e.target.user_name)
        .with("TargetDomainName", e.target.domain_name)
        .with("Status", e.failure.status())
        .with("SubStatus", e.failure.sub_status())
        .with("FailureReason", e.failure.reason())
        .with("LogonType", LOGON_TYPE_NETWORK)
        .with("LogonProcessName", LOGON_PROCESS)
        .with("AuthenticationPackageName", e.package.as_str())
        .with("WorkstationName", e.network.workstation)
        .with("IpAddress", e.network.ip)
        .with("IpPort", e.network.port)
        .with_opt("LockScope", scope)
        .with("Verified", e.verified)
        .with_opt("Familiar", e.familiar)
        .with_opt("AccGeneration", e.generation)
}

/// `DisplayName` of a managed account.
pub fn display_name(generation: u32) -> String {
    format!("Agent Connectivity Credential (generation {generation})")
}

/// userAccountControl of a new (disabled) managed account: ACCOUNTDISABLE | NORMAL_ACCOUNT |
/// DONT_EXPIRE_PASSWORD.
pub const UAC_DISABLED: &str = "0x10202";
/// userAccountControl of an enabled managed account: NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD.
pub const UAC_ENABLED: &str = "0x10200";

/// 4720 A user account was created (the account starts disabled).
pub fn account_created(t: Timestamp, subject: &Subject, target: Target<'_>, generation: u32) -> Event {
    created(t, subject, target, &display_name(generation), Some(generation))
}

/// 4720 for a local account an administrator created on the site server itself (not an
/// ACC generation): `DisplayName` = `Local account`, no `AccGeneration`.
pub fn local_account_created(t: Timestamp, subject: &Subject, target: Target<'_>) -> Event {
    created(t, subject, target, "Local account", None)
}

fn created(
    t: Timestamp,
    subject: &Subject,
    target: Target<'_>,
    display: &str,
    generation: Option<u32>,
) -> Event {
    let ev = Event::new(EventId::ACCOUNT_CREATED, t, Keywords::AuditSuccess);
    target
        .write(subject.write(ev))
        .with("SamAccountName", target.user_name)
        .with("DisplayName", display)
        .with("UserPrincipalName", "-")
        .with("PasswordLastSet", "-")
        .with("AccountExpires", "Never")
        .with("PrimaryGroupId", 513u32)
        .with("OldUacValue", "0x0")
        .with("NewUacValue", UAC_DISABLED)
        .with("UserAccountControl", "Account Disabled, Normal Account, Don't Expire Password")
        .with_opt("AccGeneration", generation)
}

/// 4722 A user account was enabled.
pub fn account_enabled(t: Timestamp, subject: &Subject, target: Target<'_>) -> Event {
    target.write(subject.write(Event::new(EventId::ACCOUNT_ENABLED, t, Keywords::AuditSuccess)))
}

/// 4724 An attempt was made to reset an account's password. `succeeded = false` is the
/// Audit Failure variant (the hash was rejected).
pub fn password_reset(t: Timestamp, subject: &Subject, target: Target<'_>, succeeded: bool) -> Event {
    let kw = if succeeded { Keywords::AuditSuccess } else { Keywords::AuditFailure };
    target.write(subject.write(Event::new(EventId::PASSWORD_RESET, t, kw)))
}

/// 4725 A user account was disabled.
pub fn account_disabled(t: Timestamp, subject: &Subject, target: Target<'_>, by: DisabledBy) -> Event {
    target
        .write(subject.write(Event::new(EventId::ACCOUNT_DISABLED, t, Keywords::AuditSuccess)))
        .with("DisabledBy", by.as_str())
}

/// 4726 A user account was deleted.
pub fn account_deleted(t: Timestamp, subject: &Subject, target: Target<'_>) -> Event {
    target
        .write(subject.write(Event::new(EventId::ACCOUNT_DELETED, t, Keywords::AuditSuccess)))
        .with("PrivilegeList", "-")
}

/// What a 4738 reports as changed; attributes that did not change are written as `-`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountChange {
    /// The last event of a creation: password set and account enabled.
    Created {
        /// When the password was set (t).
        password_set: Timestamp,
    },
    /// Password set (drift repair).
    PasswordSet(Timestamp),
    /// Enabled by an administrator.
    Enabled,
    /// Disabled (admin or rotation).
    Disabled,
}

/// 4738 A user account was changed.
pub fn account_changed(t: Timestamp, subject: &Subject, target: Target<'_>, change: AccountChange) -> Event {
    let (old, new, uac, pwd) = match change {
        AccountChange::Created { password_set } => {
            (UAC_DISABLED, UAC_ENABLED, "Account Enabled", password_set.to_rfc3339())
        }
        AccountChange::PasswordSet(at) => ("-", "-", "-", at.to_rfc3339()),
        AccountChange::Enabled => (UAC_DISABLED, UAC_ENABLED, "Account Enabled", "-".into()),
        AccountChange::Disabled => (UAC_ENABLED, UAC_DISABLED, "Account Disabled", "-".into()),
    };
    target
        .write(subject.write(Event::new(EventId::ACCOUNT_CHANGED, t, Keywords::AuditSuccess)))
        .with("OldUacValue", old)
        .with("NewUacValue", new)
        .with("UserAccountControl", uac)
        .with("PasswordLastSet", pwd)
}

/// Contents of a 4740.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockedOut<'a> {
    /// Subject (the site or the directory's system identity).
    pub subject: &'a Subject,
    /// `TargetUserName`.
    pub user_name: &'a str,
    /// `TargetSid`.
    pub sid: &'a str,
    /// `CallerComputerName` of the attempt that locked (the address itself for address
    /// scope, rule M8a).
    pub caller: &'a str,
    /// `LockScope`.
    pub scope: LockScope,
    /// `IpAddress` of the attempt that locked.
    pub ip: &'a str,
    /// `BlockSeconds` (source and address scope) or `LockoutDurationSeconds`
    /// (account/unfamiliar scope; 0 = until unlocked).
    pub seconds: u64,
    /// `ReportingSite` (written by the directory only).
    pub reporting_site: Option<&'a str>,
}

/// 4740 A user account was locked out (or one source, or one address, was blocked).
pub fn account_locked_out(t: Timestamp, e: &LockedOut<'_>) -> Event {
    let seconds_field = match e.scope {
        LockScope::Source | LockScope::Address => "BlockSeconds",
        LockScope::Account | LockScope::Unfamiliar => "LockoutDurationSeconds",
    };
    e.subject
        .write(Event::new(EventId::ACCOUNT_LOCKED_OUT, t, Keywords::AuditSuccess))
        .with("TargetUserName", e.user_name)
        .with("TargetSid", e.sid)
        .with("CallerComputerName", e.caller)
        .with("LockScope", e.scope.as_str())
        .with("IpAddress", e.ip)
        .with(seconds_field, e.seconds)
        .with_opt("ReportingSite", e.reporting_site)
}

/// `Reason` of a 4767.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UnlockReason {
    /// An administrator unlocked (3.1.4).
    Admin,
    /// The ACC refresh re-enabled (3.1.3 A5).
    Reenable,
}

impl UnlockReason {
    /// `admin` or `reenable`.
    pub const fn as_str(self) -> &'static str {
        match self {
            UnlockReason::Admin => "admin",
            UnlockReason::Reenable => "reenable",
        }
    }
}

/// 4767 A user account was unlocked. `caller` is written for source scope only.
pub fn account_unlocked(
    t: Timestamp,
    subject: &Subject,
    target: Target<'_>,
    scope: LockScope,
    caller: Option<&str>,
    reason: UnlockReason,
) -> Event {
    let caller = if scope == LockScope::Source { caller } else { None };
    target
        .write(subject.write(Event::new(EventId::ACCOUNT_UNLOCKED, t, Keywords::AuditSuccess)))
        .with("LockScope", scope.as_str())
        .with_opt("CallerComputerName", caller)
        .with("Reason", reason.as_str())
}

/// `acc.refresh` (3.1.3 A7).
pub fn acc_refresh(t: Timestamp, trigger: &str, actions: Vec<String>, next_refresh_at: Timestamp) -> Event {
    Event::new(EventId::ACC_REFRESH, t, Keywords::AuditSuccess)
        .with("Trigger", trigger)
        .with("Actions", actions)
        .with("NextRefreshAt", next_refresh_at.to_rfc3339())
}

/// `acc.lockout_loop` (3.1.6); `top_callers` as `name:count`, most first.
pub fn acc_lockout_loop(
    t: Timestamp,
    user_name: &str,
    lockouts_24h: usize,
    top_callers: Vec<String>,
) -> Event {
    Event::new(EventId::ACC_LOCKOUT_LOOP, t, Keywords::AuditSuccess)
        .with("TargetUserName", user_name)
        .with("Lockouts24h", lockouts_24h)
        .with("TopCallers", top_callers)
}

/// `acc.clock` with `Kind = backwards` (1.5 T2): the wall clock read `wall`, below the
/// high-water mark `hwm`; `DeltaMs = wall - hwm` (negative). The event time is `hwm`.
pub fn acc_clock_backwards(wall: Timestamp, hwm: Timestamp) -> Event {
    Event::new(EventId::ACC_CLOCK, hwm, Keywords::AuditSuccess)
        .with("Kind", "backwards")
        .with("Wall", wall.to_rfc3339())
        .with("HighWaterMark", hwm.to_rfc3339())
        .with("DeltaMs", wall.millis_since(hwm))
}

/// `acc.crl` with `Kind = expired`: the CRL of `issuer` (`source` = `fleet` or
/// `operator`) passed its nextUpdate at `next_update` without a fresh one; the site keeps
/// refusing the `revoked` certificates it lists (and accepts the others) until one arrives.
pub fn acc_crl_expired(t: Timestamp, source: &str, issuer: &str, next_update: &str, revoked: usize) -> Event {
    Event::new(EventId::ACC_CRL, t, Keywords::AuditFailure)
        .with("Kind", "expired")
        .with("Source", source)
        .with("Issuer", issuer)
        .with("NextUpdate", next_update)
        .with("RevokedCertificates", revoked)
        .with(
            "Message",
            format!(
                "the {source} CRL of '{issuer}' expired at {next_update}; this site keeps refusing the {revoked} certificates it lists and accepts the others; check that it reaches the management server (acc ctl sites) or install a fresh CRL"
            ),
        )
}

/// What one removal from a full event log took away (`acc.event_log`, `Kind = pruned`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// `Removed`: how many events (each counts as one, however it was stored).
    pub removed: u64,
    /// `FirstSeq`, `LastSeq`: the range removed (a site's `Seq`; on the management server,
    /// its store's own order).
    pub seqs: (u64, u64),
    /// `Oldest`, `Newest`: `TimeCreated` of the first and last removed.
    pub times: (Timestamp, Timestamp),
    /// `Unforwarded`: how many the management server had not acknowledged (joined sites).
    pub unforwarded: Option<u64>,
    /// `MaxSize`: the log's maximum size in bytes.
    pub max_size: u64,
    /// `Reason`.
    pub reason: super::retention::Reason,
}

/// `acc.event_log` with `Kind = pruned`: the oldest events of a full log were removed.
/// Audit Failure when events the management server never received were among them.
pub fn acc_event_log_pruned(t: Timestamp, p: &Pruned) -> Event {
    let lost = p.unforwarded.unwrap_or(0);
    let kw = if lost > 0 { Keywords::AuditFailure } else { Keywords::AuditSuccess };
    let size = super::retention::format_size(p.max_size);
    let (first, last) = p.seqs;
    let message = match p.reason {
        super::retention::Reason::MaxSize => format!(
            "the event log reached its maximum size ({size}); its {} oldest events (Seq {first}-{last}) were removed",
            p.removed
        ),
        super::retention::Reason::HardLimit => format!(
            "the event log reached twice its maximum size ({size}) with events the management server has not acknowledged; its {} oldest events (Seq {first}-{last}) were removed, {lost} of them never forwarded; check that this site reaches its management server",
            p.removed
        ),
    };
    Event::new(EventId::ACC_EVENT_LOG, t, kw)
        .with("Kind", "pruned")
        .with("Reason", p.reason.as_str())
        .with("Removed", p.removed)
        .with("FirstSeq", first)
        .with("LastSeq", last)
        .with("Oldest", p.times.0.to_rfc3339())
        .with("Newest", p.times.1.to_rfc3339())
        .with_opt("Unforwarded", p.unforwarded)
        .with("MaxSize", p.max_size)
        .with("Message", message)
}
