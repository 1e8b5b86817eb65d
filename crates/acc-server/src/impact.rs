//! The impact of a connectivity change, computed from the inventory before it is saved:
//! who would be unable to connect if the next document replaced the one in force. Pure.
//!
//! - A switch to `certificate` mode strands every live agent whose certificate is
//!   expired, revoked or issued by a CA the sites would no longer trust, and every site
//!   server that has not acknowledged the revision in force (it may not have the fleet
//!   trust yet).
//! - A credential change whose old generation is removed at once (`--grace 0`) strands
//!   every agent that has not acknowledged the revision in force (it still holds the old
//!   secret).
//! - Removing a trust anchor strands every live agent whose certificate it issued.
//!
//! Anything else (a rotation with a grace, a first credential: the switch waits for the
//! sites) strands nobody. The server refuses a change with an impact unless `--force`.

use std::collections::BTreeMap;

use acc_core::generation::GenerationPhase;

use crate::agents::AgentRecord;
use crate::document::{AuthMode, PolicyDocument};
use crate::sites::SiteRecord;

/// The id of the impact check's refusal (a [`Problem`](crate::document::Problem)'s `id`).
pub const IMPACT_ID: &str = "IMPACT";

/// The end of [`Impact::message`]: what `acc ctl` does about it (the console asks for a
/// confirmation instead).
pub const FORCE_HINT: &str = "; fix them first or give --force";

/// Who a change would strand.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Impact {
    /// Site servers, by name.
    pub sites: Vec<String>,
    /// How many site servers there are.
    pub sites_total: usize,
    /// Agents, by name.
    pub agents: Vec<String>,
    /// How many live agents there are.
    pub agents_total: usize,
    /// Why, one clause per cause.
    pub reasons: Vec<String>,
}

impl Impact {
    /// Nobody is stranded.
    pub fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.agents.is_empty()
    }

    /// The refusal, one line.
    pub fn message(&self) -> String {
        format!(
            "impact: this change would leave {} of {} site servers and {} of {} agents unable to connect ({}){FORCE_HINT}",
            self.sites.len(),
            self.sites_total,
            self.agents.len(),
            self.agents_total,
            self.reasons.join("; ")
        )
    }
}

/// The names of `names` as a short list: the first five and how many more.
fn short(names: &[String]) -> String {
    match names.len() {
        n if n <= 5 => names.join(", "),
        n => format!("{} and {} more", names[..5].join(", "), n - 5),
    }
}

/// Who would be unable to connect if `after` replaced `before` (revision `revision`).
/// `issued_by_fleet` tells an agent's certificate issuer apart.
pub fn assess(
    before: &PolicyDocument,
    after: &PolicyDocument,
    revision: i64,
    sites: &BTreeMap<String, SiteRecord>,
    agents: &BTreeMap<String, AgentRecord>,
    fleet_issuer: &str,
    now_ms: i64,
) -> Impact {
    let revoked =
        |a: &AgentRecord| after.revoked.iter().any(|r| r.serial.eq_ignore_ascii_case(&a.serial_hex));
    let live: Vec<&AgentRecord> = agents.values().filter(|a| !revoked(a)).collect();
    let trusted =
        |a: &AgentRecord| a.issuer == fleet_issuer || after.trust.iter().any(|t| t.subject == a.issuer);
    let mut impact = Impact { sites_total: sites.len(), agents_total: live.len(), ..Impact::default() };
    let strand = |impact: &mut Impact, names: Vec<String>, why: &str| {
        if names.is_empty() {
            return;
        }
        impact.reasons.push(format!("{}: {why}", short(&names)));
        for n in names {
            if !impact.agents.contains(&n) {
                impact.agents.push(n);
            }
        }
    };

    if after.auth.mode == AuthMode::Certificate && before.auth.mode != AuthMode::Certificate {
        let expired: Vec<String> = live
            .iter()
            .filter(|a| a.cert_not_after.is_some_and(|t| t <= now_ms))
            .map(|a| a.name.clone())
            .collect();
        strand(&mut impact, expired, "certificate expired");
        let untrusted: Vec<String> = live.iter().filter(|a| !trusted(a)).map(|a| a.name.clone()).collect();
        strand(&mut impact, untrusted, "certificate from a CA the sites do not trust");
        let behind: Vec<String> = sites
            .values()
            .filter(|s| s.applied_revision.is_none_or(|r| r < revision))
            .map(|s| s.name.clone())
            .collect();
        if !behind.is_empty() {
            impact.reasons.push(format!("{}: have not acknowledged revision {revision}", short(&behind)));
            impact.sites = behind;
        }
    }

    // The active generation goes at the switch when the grace is 0: now (a domain-form
    // name switches at save) or once the sites created the new one.
    let removed_at_once = after.generations.iter().any(|g| {
        g.phase == GenerationPhase::Removed
            && before.generations.iter().any(|b| b.number == g.number && b.phase == GenerationPhase::Active)
    });
    let new_generation =
        after.generations.iter().any(|g| !before.generations.iter().any(|b| b.number == g.number));
    let zero_grace = new_generation
        && after.rotation_grace == 0
        && before.generation_in(GenerationPhase::Active).is_some();
    if removed_at_once || zero_grace {
        let behind: Vec<String> =
            live.iter().filter(|a| a.state.revision < revision).map(|a| a.name.clone()).collect();
        strand(
            &mut impact,
            behind,
            &format!(
                "still on an older revision than {revision}, with the credential --grace 0 disables at once"
            ),
        );
    }

    let dropped: Vec<&str> = before
        .trust
        .iter()
        .filter(|t| !after.trust.iter().any(|a| a.fingerprint == t.fingerprint))
        .map(|t| t.subject.as_str())
        .collect();
    if !dropped.is_empty() {
        let orphans: Vec<String> = live
            .iter()
            .filter(|a| dropped.contains(&a.issuer.as_str()) && !trusted(a))
            .map(|a| a.name.clone())
            .collect();
        strand(&mut impact, orphans, "certificate issued by the CA being removed");
    }
    impact
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Generation, TrustAnchor};
    use acc_proto::admin::SiteView;

    const FLEET: &str = "CN=acc fleet CA";

    fn agent(name: &str, issuer: &str, not_after: i64, revision: i64) -> (String, AgentRecord) {
        let mut a = AgentRecord::new(name, &format!("{:02X}", name.len()), issuer, 0, "10.0.0.1");
        a.cert_not_after = Some(not_after);
        a.state.revision = revision;
        (name.to_string(), a)
    }

    fn site(name: &str, applied: Option<i64>) -> (String, SiteRecord) {
        (
            name.to_string(),
            SiteRecord(SiteView {
                applied_revision: applied,
                ..SiteRecord::new(name, "https://s:1", "01", 0).0
            }),
        )
    }

    fn lab() -> TrustAnchor {
        TrustAnchor { fingerprint: "ab".into(), subject: "CN=Lab CA".into(), pem: String::new() }
    }

    #[test]
    fn a_switch_to_certificates_counts_expired_untrusted_and_unacknowledged() {
        let before = PolicyDocument::default();
        let mut after = before.clone();
        after.auth.mode = AuthMode::Certificate;
        let agents: BTreeMap<_, _> =
            [agent("ok", FLEET, 2_000, 5), agent("old", FLEET, 500, 5), agent("lab", "CN=Lab CA", 2_000, 5)]
                .into();
        let sites: BTreeMap<_, _> =
            [site("SITE1", Some(5)), site("SITE2", Some(4)), site("SITE3", None)].into();
        let i = assess(&before, &after, 5, &sites, &agents, FLEET, 1_000);
        assert_eq!(i.agents, ["old", "lab"]);
        assert_eq!(i.sites, ["SITE2", "SITE3"]);
        assert_eq!(
            i.message(),
            "impact: this change would leave 2 of 3 site servers and 2 of 3 agents unable to connect (old: certificate expired; lab: certificate from a CA the sites do not trust; SITE2, SITE3: have not acknowledged revision 5); fix them first or give --force"
        );
        after.trust.push(lab());
        let i = assess(
            &before,
            &after,
            5,
            &sites,
            &BTreeMap::from([agent("lab", "CN=Lab CA", 2_000, 5)]),
            FLEET,
            1_000,
        );
        assert!(i.agents.is_empty(), "the lab CA is trusted in the same change");
    }

    #[test]
    fn removing_a_trust_anchor_counts_the_certificates_it_issued() {
        let mut before = PolicyDocument::default();
        before.trust.push(lab());
        let after = PolicyDocument::default();
        let agents: BTreeMap<_, _> =
            [agent("lab1", "CN=Lab CA", 2_000, 5), agent("fleet1", FLEET, 2_000, 5)].into();
        let i = assess(&before, &after, 5, &BTreeMap::new(), &agents, FLEET, 1_000);
        assert_eq!(i.agents, ["lab1"]);
        assert!(assess(&before, &before, 5, &BTreeMap::new(), &agents, FLEET, 1_000).is_empty());
    }

    #[test]
    fn a_grace_of_zero_strands_agents_behind_and_a_grace_strands_nobody() {
        let g = |number, phase| Generation {
            number,
            user_name: format!("ACC_v{number}"),
            phase,
            password_hash: None,
            saved_at: 0,
            retire_deadline: None,
        };
        let mut before = PolicyDocument::default();
        before.auth.mode = AuthMode::Credential;
        before.generations = vec![g(1, GenerationPhase::Active)];
        let mut after = before.clone();
        after.generations = vec![g(1, GenerationPhase::Removed), g(2, GenerationPhase::Active)];
        let agents: BTreeMap<_, _> =
            [agent("current", FLEET, 2_000, 7), agent("stale", FLEET, 2_000, 3)].into();
        let i = assess(&before, &after, 7, &BTreeMap::new(), &agents, FLEET, 1_000);
        assert_eq!(i.agents, ["stale"], "a domain-form name switched at save");
        after.generations = vec![g(1, GenerationPhase::Active), g(2, GenerationPhase::Provisioning)];
        after.rotation_grace = 0;
        let i = assess(&before, &after, 7, &BTreeMap::new(), &agents, FLEET, 1_000);
        assert_eq!(i.agents, ["stale"], "the switch will remove it");
        after.rotation_grace = 3_600;
        assert!(assess(&before, &after, 7, &BTreeMap::new(), &agents, FLEET, 1_000).is_empty());
    }
}
