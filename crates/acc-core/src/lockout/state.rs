//! The lockout state of one site server (1.2, 1.5): its identity, the account records,
//! the familiar-source map, the clock high-water mark, the refresh schedule and the event
//! sequence. Everything here is persisted by the site server on every change (T5).
//!
//! This module owns effective time (T1, T2) and event stamping; the attempt rules live in
//! `attempt`, administration in `admin`, the ACC refresh in `refresh`.

use serde::{Deserialize, Serialize};

use super::familiar::FamiliarSet;
use super::record::{AccountRecord, Lifecycle};
use crate::event::catalogue::{self, Subject, Target};
use crate::event::{Event, StampedEvent};
use crate::name::NameParts;
use crate::time::Timestamp;

/// A backwards clock reading more than this far below the high-water mark writes
/// `acc.clock` (T2).
pub const CLOCK_BACKWARDS_TOLERANCE_MS: i64 = 2000;

/// Who a site server is: the names its events and subjects carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteIdentity {
    /// `Computer` of its events, `TargetDomainName` of its local accounts (`SITE-01`).
    pub computer: String,
    /// `SiteId` of its events (a uuid).
    pub site_id: String,
    /// `SubjectDomainName` of its own actions: the fleet name (`ACC`).
    pub fleet_name: String,
    /// The domain part of its local SIDs, `S-1-5-21-a-b-c`.
    pub domain_sid: String,
}

/// The first RID given to an account created by acc (Windows starts local users at 1000;
/// 1000 itself is often taken by the first interactive user).
pub const FIRST_RID: u32 = 1001;

/// The first `TargetLogonId` handed out by 4624s.
const FIRST_LOGON_ID: u64 = 0x10000;

/// The lockout state of one site server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteState {
    /// Who this site is.
    pub identity: SiteIdentity,
    /// Account records, live ones and tombstones (S1); at most one live record per name.
    pub accounts: Vec<AccountRecord>,
    /// Familiar sources (smart mode).
    pub familiar: FamiliarSet,
    /// `hwm`: the largest wall time seen (T1); `None` before the first reading.
    pub hwm: Option<Timestamp>,
    /// True while readings are more than 2 s below `hwm` (T2: one `acc.clock` per step).
    pub clock_behind: bool,
    /// `next_refresh_at` (3.1.2); `None` until the first refresh.
    pub next_refresh_at: Option<Timestamp>,
    /// `seq`: the last `Seq` stamped (0 before the first event).
    pub seq: u64,
    /// The RID of the next account created.
    pub next_rid: u32,
    /// The next `TargetLogonId` of a 4624.
    pub next_logon_id: u64,
}

/// The local account name a presented user name denotes (`name`, `.\name` → `name`,
/// 5.4); a domain form is returned unchanged (it names no local account).
pub fn local_name(presented: &str) -> &str {
    NameParts::split(presented).local_account().unwrap_or(presented)
}

/// Case-insensitive comparison exactly as `AccountName`'s (Unicode lower case), without
/// allocating for ASCII names: this runs on every attempt, including every refused one.
fn same_name(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

impl SiteState {
    /// A fresh site with no accounts.
    pub fn new(identity: SiteIdentity) -> Self {
        SiteState {
            identity,
            accounts: Vec::new(),
            familiar: FamiliarSet::default(),
            hwm: None,
            clock_behind: false,
            next_refresh_at: None,
            seq: 0,
            next_rid: FIRST_RID,
            next_logon_id: FIRST_LOGON_ID,
        }
    }

    /// Effective time `t = max(now, hwm)`, then `hwm := t` (T1). Returns the `acc.clock`
    /// event when this reading is the first one more than 2 s below `hwm` after a normal
    /// one (T2).
    pub fn effective_time(&mut self, now: Timestamp) -> (Timestamp, Vec<Event>) {
        let mut events = Vec::new();
        let t = match self.hwm {
            None => now,
            Some(hwm) => {
                if now.millis_since(hwm) < -CLOCK_BACKWARDS_TOLERANCE_MS {
                    if !self.clock_behind {
                        events.push(catalogue::acc_clock_backwards(now, hwm));
                    }
                    self.clock_behind = true;
                } else {
                    self.clock_behind = false;
                }
                now.max(hwm)
            }
        };
        self.hwm = Some(t);
        (t, events)
    }

    /// The effective time `now` would give, without recording it (for read-only views).
    pub fn peek_time(&self, now: Timestamp) -> Timestamp {
        self.hwm.map_or(now, |h| now.max(h))
    }

    /// The live (not deleted) account named `name` (`.\name` accepted), if any.
    pub fn account(&self, name: &str) -> Option<&AccountRecord> {
        self.account_index(name).map(|i| &self.accounts[i])
    }

    pub(crate) fn account_index(&self, name: &str) -> Option<usize> {
        let wanted = local_name(name);
        self.accounts.iter().position(|r| r.is_live() && same_name(r.name.as_str(), wanted))
    }

    /// Tombstones of deleted accounts (name, SID, generation), for name-reuse checks (S1).
    pub fn tombstones(&self) -> impl Iterator<Item = &AccountRecord> {
        self.accounts.iter().filter(|r| r.lifecycle == Lifecycle::Deleted)
    }

    /// This site acting on its own behalf (4.1).
    pub fn site_subject(&self) -> Subject {
        Subject::site(&self.identity.computer, &self.identity.fleet_name)
    }

    /// The `Target` fields of a record on this site.
    pub(crate) fn target<'a>(&'a self, record: &'a AccountRecord) -> Target<'a> {
        Target { user_name: record.name.as_str(), domain_name: &self.identity.computer, sid: &record.sid }
    }

    /// A fresh SID `S-1-5-21-a-b-c-rid` (a re-created account gets a new one).
    pub(crate) fn new_sid(&mut self) -> String {
        let rid = self.next_rid;
        self.next_rid = self.next_rid.saturating_add(1);
        format!("{}-{rid}", self.identity.domain_sid)
    }

    /// A fresh `TargetLogonId` for a 4624.
    pub(crate) fn new_logon_id(&mut self) -> String {
        let id = self.next_logon_id;
        self.next_logon_id = self.next_logon_id.wrapping_add(1);
        format!("0x{id:x}")
    }

    /// Stamps events in order with this site's `Seq` (from 1, +1 per event), `Computer`
    /// and `SiteId`. Call it once per batch, in the order the events are written.
    pub fn stamp(&mut self, events: Vec<Event>) -> Vec<StampedEvent> {
        events
            .into_iter()
            .map(|e| {
                self.seq += 1;
                e.stamp(self.seq, &self.identity.computer, &self.identity.site_id)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::AccountName;

    #[test]
    fn same_name_agrees_with_account_name() {
        for (a, b) in [
            ("ACC_user", "acc_USER"),
            ("Straße", "STRASSE"),
            ("ÉTÉ", "été"),
            ("İx", "i̇x"),
            ("ACC_user", "ACC_user2"),
            ("Σσ", "σς"),
            ("AΣ", "aς"),
        ] {
            assert_eq!(same_name(a, b), AccountName::new(a) == AccountName::new(b), "{a} {b}");
        }
    }
}
