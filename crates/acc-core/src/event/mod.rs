//! Security events (specification section 4): the envelope every event carries and the
//! ordered list of fields that follows it.
//!
//! This module owns the *shape* of an event: its `EventID` (a Windows number such as 4625
//! or an `acc.*` name), its effective time `t`, its `Keywords`, the `Mode` of
//! authentication events, and its fields **in the order the specification lists them**.
//! Fields are an ordered `Vec` of (name, value) pairs rather than a map, so serialisation
//! keeps that order without relying on `serde_json`'s `preserve_order` feature.
//!
//! Engines produce [`Event`]s without a sequence number; the writer (the site or management
//! server process) stamps `Seq`, `Computer` and `SiteId` with [`Event::stamp`] in the order
//! it writes them. `TimeCreated` is always the engine's effective time (1.5).
//!
//! The constructors of every event type acc-core writes live in [`catalogue`]. Other
//! modules (for example the share-access check's 5145) add their own events with
//! [`Event::new`] and [`Event::with`]: any id and any ordered fields are accepted.
//!
//! Events never carry secrets: no constructor takes a password or a password hash.

pub mod catalogue;
pub mod compact;
pub mod retention;
mod serde_impl;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::fmt;

use crate::lockout::LockoutMode;
use crate::time::Timestamp;

/// An event identifier: a Windows Security log number or an `acc.*` name (4.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EventId {
    /// A Windows-numbered event (4624, 4625, 4720, …, 5145).
    Windows(u16),
    /// A project event named `acc.*`.
    Acc(Cow<'static, str>),
}

impl EventId {
    /// 4624 An account was successfully logged on.
    pub const LOGON_SUCCESS: EventId = EventId::Windows(4624);
    /// 4625 An account failed to log on.
    pub const LOGON_FAILURE: EventId = EventId::Windows(4625);
    /// 4720 A user account was created.
    pub const ACCOUNT_CREATED: EventId = EventId::Windows(4720);
    /// 4722 A user account was enabled.
    pub const ACCOUNT_ENABLED: EventId = EventId::Windows(4722);
    /// 4724 An attempt was made to reset an account's password.
    pub const PASSWORD_RESET: EventId = EventId::Windows(4724);
    /// 4725 A user account was disabled.
    pub const ACCOUNT_DISABLED: EventId = EventId::Windows(4725);
    /// 4726 A user account was deleted.
    pub const ACCOUNT_DELETED: EventId = EventId::Windows(4726);
    /// 4738 A user account was changed.
    pub const ACCOUNT_CHANGED: EventId = EventId::Windows(4738);
    /// 4740 A user account was locked out (or, in smart mode, one source was blocked).
    pub const ACCOUNT_LOCKED_OUT: EventId = EventId::Windows(4740);
    /// 4767 A user account was unlocked.
    pub const ACCOUNT_UNLOCKED: EventId = EventId::Windows(4767);
    /// `acc.refresh`: one ACC refresh ran (3.1.3 A7).
    pub const ACC_REFRESH: EventId = EventId::Acc(Cow::Borrowed("acc.refresh"));
    /// `acc.lockout_loop`: an account keeps getting locked (3.1.6).
    pub const ACC_LOCKOUT_LOOP: EventId = EventId::Acc(Cow::Borrowed("acc.lockout_loop"));
    /// `acc.clock`: the wall clock stepped backwards (1.5 T2).
    pub const ACC_CLOCK: EventId = EventId::Acc(Cow::Borrowed("acc.clock"));
    /// `acc.rotation`: a rotation changed phase (management server).
    pub const ACC_ROTATION: EventId = EventId::Acc(Cow::Borrowed("acc.rotation"));
    /// `acc.crl`: a CRL the site enforces is past its nextUpdate (an alert).
    pub const ACC_CRL: EventId = EventId::Acc(Cow::Borrowed("acc.crl"));
    /// `acc.package_access`: a package refresh could not read a source (management server).
    pub const ACC_PACKAGE_ACCESS: EventId = EventId::Acc(Cow::Borrowed("acc.package_access"));
    /// `acc.event_log`: the oldest events of a full event log were removed.
    pub const ACC_EVENT_LOG: EventId = EventId::Acc(Cow::Borrowed("acc.event_log"));
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventId::Windows(n) => write!(f, "{n}"),
            EventId::Acc(name) => f.write_str(name),
        }
    }
}

/// `Keywords` of the envelope: `Audit Failure` only for 4625 and a failed 4724 (4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Keywords {
    /// `Audit Success`.
    AuditSuccess,
    /// `Audit Failure`.
    AuditFailure,
}

impl Keywords {
    /// The text written in the event.
    pub const fn as_str(self) -> &'static str {
        match self {
            Keywords::AuditSuccess => "Audit Success",
            Keywords::AuditFailure => "Audit Failure",
        }
    }
}

/// The value of one event field, as it appears in JSON.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FieldValue {
    /// A string (`"0xC000006D"`, `"ACC_user"`, `"-"`).
    Str(String),
    /// A non-negative number (`3`, `300`, `513`).
    UInt(u64),
    /// A signed number (`DeltaMs` of `acc.clock`).
    Int(i64),
    /// A boolean (`Verified`, `Familiar`).
    Bool(bool),
    /// A list of strings (`Actions`, `TopCallers`).
    List(Vec<String>),
}

impl FieldValue {
    /// The string, when this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            FieldValue::Str(s) => Some(s),
            _ => None,
        }
    }
}

impl From<&str> for FieldValue {
    fn from(v: &str) -> Self {
        FieldValue::Str(v.to_owned())
    }
}
impl From<String> for FieldValue {
    fn from(v: String) -> Self {
        FieldValue::Str(v)
    }
}
impl From<&String> for FieldValue {
    fn from(v: &String) -> Self {
        FieldValue::Str(v.clone())
    }
}
impl From<u64> for FieldValue {
    fn from(v: u64) -> Self {
        FieldValue::UInt(v)
    }
}
impl From<u32> for FieldValue {
    fn from(v: u32) -> Self {
        FieldValue::UInt(u64::from(v))
    }
}
impl From<u16> for FieldValue {
    fn from(v: u16) -> Self {
        FieldValue::UInt(u64::from(v))
    }
}
impl From<usize> for FieldValue {
    fn from(v: usize) -> Self {
        FieldValue::UInt(v as u64)
    }
}
impl From<i64> for FieldValue {
    fn from(v: i64) -> Self {
        FieldValue::Int(v)
    }
}
impl From<bool> for FieldValue {
    fn from(v: bool) -> Self {
        FieldValue::Bool(v)
    }
}
impl From<Vec<String>> for FieldValue {
    fn from(v: Vec<String>) -> Self {
        FieldValue::List(v)
    }
}

/// One event as an engine produces it: everything but the writer's stamp.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `EventID`.
    pub id: EventId,
    /// `TimeCreated`: the effective time `t` of the operation that wrote it.
    pub time: Timestamp,
    /// `Keywords`.
    pub keywords: Keywords,
    /// `Mode`, present on authentication events (4624, 4625) only.
    pub mode: Option<LockoutMode>,
    /// The fields after the envelope, in the specification's order.
    pub fields: Vec<(String, FieldValue)>,
}

impl Event {
    /// An event with no fields yet.
    pub fn new(id: EventId, time: Timestamp, keywords: Keywords) -> Self {
        Event { id, time, keywords, mode: None, fields: Vec::new() }
    }

    /// Appends one field (builder style); fields keep the order in which they are added.
    pub fn with(mut self, name: &str, value: impl Into<FieldValue>) -> Self {
        self.fields.push((name.to_owned(), value.into()));
        self
    }

    /// Appends one field when `value` is present.
    pub fn with_opt<V: Into<FieldValue>>(self, name: &str, value: Option<V>) -> Self {
        match value {
            Some(v) => self.with(name, v),
            None => self,
        }
    }

    /// Sets `Mode`.
    pub fn with_mode(mut self, mode: LockoutMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// The value of field `name`, if present.
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The value of string field `name`, if present and a string.
    pub fn str_field(&self, name: &str) -> Option<&str> {
        self.field(name).and_then(FieldValue::as_str)
    }

    /// The field names in order.
    pub fn field_names(&self) -> Vec<&str> {
        self.fields.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Stamps the writer's envelope fields; `seq` is the writer's next sequence number.
    pub fn stamp(self, seq: u64, computer: &str, site_id: &str) -> StampedEvent {
        StampedEvent { seq, computer: computer.to_owned(), site_id: site_id.to_owned(), event: self }
    }
}

/// An event as written: the engine's [`Event`] plus `Seq`, `Computer` and `SiteId`.
///
/// Serialises as one JSON object in the order `EventID`, `Seq`, `TimeCreated`, `Computer`,
/// `SiteId`, `Keywords`, `Mode` (authentication events), then the fields in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StampedEvent {
    /// `Seq`: per writer, from 1, +1 per event, never reused.
    pub seq: u64,
    /// `Computer`: the writer's name (`SITE-01`).
    pub computer: String,
    /// `SiteId`: the writer's id.
    pub site_id: String,
    /// The event.
    pub event: Event,
}
