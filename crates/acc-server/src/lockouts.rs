//! `acc ctl lockouts`: the seed's investigation made easy. From the 4740 and 4625 events
//! every site forwarded, one entry per locked account or blocked source: the caller
//! machine and IP (the culprit), how many failed attempts it made, when it was locked,
//! whether an actor cleared it since (4767), and what to do. The rules are pure (the events
//! passed in); [`Server::lockouts`] reads them from the event store for the `/v1/lockouts`
//! API and the console's Lockouts page alike.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;

use crate::agents::AgentRecord;

use crate::ServerError;
use crate::event_store::{EventFilter, search};
use crate::server::Server;

/// How far back the lockouts are searched when no start is given: one day, milliseconds.
pub const DEFAULT_WINDOW_MS: i64 = 86_400_000;

/// One lock or block and its culprit.
pub use acc_proto::admin::Lockout;

fn field(e: &Value, k: &str) -> String {
    match &e[k] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

fn advice(l: &Lockout) -> String {
    let who = format!("the agent on {} ({})", l.caller, l.ip);
    match l.scope.as_str() {
        "source" => format!(
            "{who} presents a wrong or stale password for {}; only it is blocked — update its configuration (acc ctl task send update-config --to agents) or retire it",
            l.account
        ),
        "address" => format!(
            "unfamiliar callers at {} are refused for {} on {} until the observation window passes: failures under two or more caller names came from that address (a client rotating names, or several agents behind one NAT with a wrong password); agents known there keep working — find the machines at {}",
            l.ip, l.account, l.site, l.ip
        ),
        "unfamiliar" => format!(
            "unfamiliar sources are locked out of {} on {}; familiar agents keep working — fix {who}, the source of the failures",
            l.account, l.site
        ),
        _ => format!(
            "{} is locked on {} for every agent; fix {who}, then unlock it (acc site accounts unlock) or let the re-enable clear it",
            l.account, l.site
        ),
    }
}

/// Builds the lockouts from `events` (any order; only 4740, 4625 and 4767 are read),
/// most recent first.
pub fn lockouts(events: &[Value]) -> Vec<Lockout> {
    let mut out = locks(events);
    count_failures(&mut out, events);
    finish(out)
}

/// The locks and blocks of `events` (their 4740 and 4767, any order), failures not yet
/// counted: the first step of [`lockouts`] for a caller that reads the 4625 a page at a time.
pub fn locks(events: &[Value]) -> Vec<Lockout> {
    let mut out: Vec<Lockout> = Vec::new();
    let mut sorted: Vec<&Value> = events.iter().collect();
    sorted.sort_by_key(|e| field(e, "TimeCreated"));
    for e in &sorted {
        let (id, site, account) = (field(e, "EventID"), field(e, "Computer"), field(e, "TargetUserName"));
        let same = |l: &Lockout| l.site == site && l.account.eq_ignore_ascii_case(&account);
        match id.as_str() {
            "4740" => {
                let (scope, caller) = (field(e, "LockScope"), field(e, "CallerComputerName"));
                let time = field(e, "TimeCreated");
                if let Some(l) = out.iter_mut().find(|l| same(l) && l.scope == scope && l.caller == caller) {
                    l.lockouts += 1;
                    l.last_lockout = time;
                    l.cleared = false;
                    l.ip = field(e, "IpAddress");
                } else {
                    out.push(Lockout {
                        site: site.clone(),
                        account: account.clone(),
                        scope,
                        caller,
                        ip: field(e, "IpAddress"),
                        lockouts: 1,
                        failures: 0,
                        last_lockout: time,
                        cleared: false,
                        agent_revision: None,
                        advice: String::new(),
                    });
                }
            }
            "4767" => {
                let scope = field(e, "LockScope");
                for l in out.iter_mut().filter(|l| same(l) && l.scope == scope) {
                    l.cleared = true;
                }
            }
            _ => {}
        }
    }
    out
}

/// Adds the failed logons (4625) among `events` to the lockouts of their caller.
pub fn count_failures(out: &mut [Lockout], events: &[Value]) {
    for e in events.iter().filter(|e| field(e, "EventID") == "4625") {
        let (site, account, caller) =
            (field(e, "Computer"), field(e, "TargetUserName"), field(e, "WorkstationName"));
        let ip = field(e, "IpAddress");
        let culprit = |l: &Lockout| if l.scope == "address" { l.ip == ip } else { l.caller == caller };
        for l in out
            .iter_mut()
            .filter(|l| l.site == site && l.account.eq_ignore_ascii_case(&account) && culprit(l))
        {
            l.failures += 1;
        }
    }
}

/// The advice of each lockout, most recent first.
pub fn finish(mut out: Vec<Lockout>) -> Vec<Lockout> {
    for l in &mut out {
        l.advice = advice(l);
    }
    out.sort_by(|a, b| b.last_lockout.cmp(&a.last_lockout));
    out
}

/// The revision each culprit's agent runs: the agent named as the caller, by its full or
/// its short (first label) name, any case; the first in name order when several match.
/// One pass over the agents, however many lockouts.
pub fn add_agent_revisions(found: &mut [Lockout], agents: &BTreeMap<String, AgentRecord>) {
    let mut wanted: HashMap<String, Option<i64>> =
        found.iter().map(|l| (l.caller.to_ascii_lowercase(), None)).collect();
    for a in agents.values() {
        let short = a.name.split('.').next().unwrap_or_default();
        for name in [a.name.as_str(), short] {
            if let Some(slot @ None) = wanted.get_mut(name) {
                *slot = Some(a.state.revision);
            }
        }
    }
    for l in found {
        l.agent_revision = wanted.get(&l.caller.to_ascii_lowercase()).copied().flatten();
    }
}

/// Every page of the events of `id` since `since_ms`, each handed to `each`.
async fn each_page(
    server: &Server,
    id: &str,
    since_ms: i64,
    mut each: impl FnMut(Vec<Value>),
) -> Result<(), ServerError> {
    let mut filter =
        EventFilter { id: Some(id.into()), since_ms: Some(since_ms), all: true, ..Default::default() };
    loop {
        let page = search(&server.pool, &filter).await?;
        each(page.events);
        match page.next.map(|n| n.parse::<acc_proto::EventCursor>()) {
            Some(Ok(c)) => filter.cursor = Some(c),
            _ => return Ok(()),
        }
    }
}

impl Server {
    /// The lockouts of every site since `since_ms` (Unix milliseconds), most recent first,
    /// each with the revision its culprit's agent runs when the server knows the agent.
    pub async fn lockouts(&self, since_ms: i64) -> Result<Vec<Lockout>, ServerError> {
        Ok(self.recent_lockouts(since_ms, usize::MAX).await?.0)
    }

    /// The `most` most recent of [`Server::lockouts`], and how many there are in all: only
    /// the lockouts shown have their failures counted (one indexed count each), so a page
    /// costs the same whether a day saw ten locks or ten thousand.
    pub async fn recent_lockouts(
        &self,
        since_ms: i64,
        most: usize,
    ) -> Result<(Vec<Lockout>, usize), ServerError> {
        // The locks and their clearing, then the failed logons of each culprit counted by
        // the store (along its machine or address index): a flood of 4625 is never read.
        let mut events = Vec::new();
        for id in ["4740", "4767"] {
            each_page(self, id, since_ms, |page| events.extend(page)).await?;
        }
        let mut found = finish(locks(&events));
        drop(events);
        let total = found.len();
        found.truncate(most);
        for l in &mut found {
            let by_address = l.scope == "address";
            let filter = EventFilter {
                id: Some("4625".into()),
                site: Some(l.site.clone()),
                user: Some(l.account.clone()),
                machine: (!by_address).then(|| l.caller.clone()),
                address: by_address.then(|| l.ip.clone()),
                since_ms: Some(since_ms),
                ..Default::default()
            };
            l.failures =
                u32::try_from(crate::event_store::count(&self.pool, &filter).await?).unwrap_or(u32::MAX);
        }
        // The revision the culprit's agent runs (a stale one is the usual cause).
        add_agent_revisions(&mut found, &self.inventory.agents());
        Ok((found, total))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fail(t: &str, site: &str, caller: &str) -> Value {
        json!({"EventID": 4625, "TimeCreated": t, "Computer": site, "TargetUserName": "ACC_user", "WorkstationName": caller, "IpAddress": "10.0.0.7"})
    }

    fn lock(t: &str, site: &str, scope: &str, caller: &str) -> Value {
        json!({"EventID": 4740, "TimeCreated": t, "Computer": site, "TargetUserName": "ACC_user", "LockScope": scope, "CallerComputerName": caller, "IpAddress": "10.0.0.7"})
    }

    #[test]
    fn each_lock_names_its_culprit_with_its_failures() {
        let events = vec![
            fail("2026-01-01T00:00:01Z", "SITE1", "STALE01"),
            fail("2026-01-01T00:00:02Z", "SITE1", "STALE01"),
            fail("2026-01-01T00:00:02Z", "SITE1", "GOOD01"),
            lock("2026-01-01T00:00:03Z", "SITE1", "source", "STALE01"),
            fail("2026-01-01T00:00:04Z", "SITE2", "STALE02"),
            lock("2026-01-01T00:00:05Z", "SITE2", "account", "STALE02"),
            json!({"EventID": 4767, "TimeCreated": "2026-01-01T00:00:06Z", "Computer": "SITE2", "TargetUserName": "acc_user", "LockScope": "account"}),
            json!({"EventID": 4624, "TimeCreated": "2026-01-01T00:00:07Z", "Computer": "SITE1", "TargetUserName": "ACC_user"}),
        ];
        let l = lockouts(&events);
        assert_eq!(l.len(), 2);
        assert_eq!(
            (l[0].site.as_str(), l[0].scope.as_str(), l[0].caller.as_str()),
            ("SITE2", "account", "STALE02")
        );
        assert!(l[0].cleared && l[0].advice.contains("locked on SITE2 for every agent"), "{:?}", l[0]);
        assert_eq!(
            (l[1].caller.as_str(), l[1].failures, l[1].lockouts, l[1].cleared),
            ("STALE01", 2, 1, false)
        );
        assert!(
            l[1].advice.starts_with("the agent on STALE01 (10.0.0.7) presents a wrong or stale password"),
            "{}",
            l[1].advice
        );
        // Address scope (rule M8a): the culprit is the address, whatever names it sent.
        let rotating = vec![
            fail("2026-01-01T00:00:01Z", "SITE1", "FAKE1"),
            fail("2026-01-01T00:00:02Z", "SITE1", "FAKE2"),
            lock("2026-01-01T00:00:02Z", "SITE1", "address", "10.0.0.7"),
        ];
        let a = &lockouts(&rotating)[0];
        assert_eq!((a.scope.as_str(), a.caller.as_str(), a.failures), ("address", "10.0.0.7", 2));
        assert!(
            a.advice.starts_with("unfamiliar callers at 10.0.0.7 are refused for ACC_user on SITE1"),
            "{}",
            a.advice
        );
        let again = lockouts(
            &[events.clone(), vec![lock("2026-01-01T00:00:09Z", "SITE2", "account", "STALE02")]].concat(),
        );
        assert_eq!((again[0].lockouts, again[0].cleared), (2, false), "locked again after the unlock");
    }

    #[test]
    fn each_culprit_gets_the_revision_of_its_agent_by_full_or_short_name() {
        let agent = |name: &str, revision: i64| {
            let mut a = AgentRecord::new(name, "01", "CN=ca", 0, "10.0.0.7");
            a.state.revision = revision;
            (name.to_string(), a)
        };
        let agents: BTreeMap<String, AgentRecord> =
            [agent("stale01.corp.example", 11), agent("host-9", 12), agent("stale01.other.example", 13)]
                .into();
        let mut found = lockouts(&[
            lock("2026-01-01T00:00:01Z", "SITE1", "source", "STALE01"),
            lock("2026-01-01T00:00:02Z", "SITE1", "source", "HOST-9"),
            lock("2026-01-01T00:00:03Z", "SITE1", "source", "GONE"),
        ]);
        add_agent_revisions(&mut found, &agents);
        let got: Vec<(&str, Option<i64>)> =
            found.iter().map(|l| (l.caller.as_str(), l.agent_revision)).collect();
        assert_eq!(got, [("GONE", None), ("HOST-9", Some(12)), ("STALE01", Some(11))]);
    }
}
