//! The agent inventory and what the management server tells its agents: each agent's
//! record of its check-ins (revision, credential in use, health, a shared identity when
//! its check-in counter goes back), the projection of a policy document an agent applies
//! ([`agent_policy`]), and the adoption condition of 3.2.4 P6 ([`all_agents_adopted`]).
//! Pure: the server does the I/O.

use std::collections::BTreeMap;

use acc_core::generation::GenerationPhase;
use acc_core::lockout::LockoutMode;
use acc_proto::{AgentAuth, AgentCheckIn, AgentLimits, AgentPolicy, SiteEndpoint};
use serde::{Deserialize, Serialize};

use crate::document::{AuthMode, PolicyDocument};
use crate::sites::SiteRecord;

/// The directory's own classic policy for domain accounts (2.4 D1): T and W.
pub const DIRECTORY_THRESHOLD: u32 = 10;
/// The directory's observation window, seconds.
pub const DIRECTORY_WINDOW_SECS: u64 = 600;

/// What the server knows about one agent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgentRecord {
    /// Its host name (its certificate's CN, lower case).
    pub name: String,
    /// The serial of the certificate it last checked in with (upper-case hex).
    pub serial_hex: String,
    /// Its certificate's issuer (`CN=…`), the fleet CA or an operator CA.
    pub issuer: String,
    /// Its certificate's notAfter (Unix milliseconds).
    pub cert_not_after: Option<i64>,
    /// Its last check-in or policy poll (Unix milliseconds).
    pub last_check_in: i64,
    /// The address it last called from.
    pub address: String,
    /// Its last check-in.
    pub state: AgentCheckIn,
    /// Set when its check-in counter went back: two machines share this identity.
    #[serde(default)]
    pub duplicate: Option<String>,
}

impl AgentRecord {
    /// A first record for an agent that has not checked in yet.
    pub fn new(name: &str, serial_hex: &str, issuer: &str, now_ms: i64, address: &str) -> AgentRecord {
        AgentRecord {
            name: name.to_string(),
            serial_hex: serial_hex.to_string(),
            issuer: issuer.to_string(),
            cert_not_after: None,
            last_check_in: now_ms,
            address: address.to_string(),
            state: AgentCheckIn::default(),
            duplicate: None,
        }
    }

    /// Records a check-in. A counter that does not move forward on the same certificate
    /// means a second machine presents this identity (a cloned disk, a restored image):
    /// it is flagged, and stays flagged until the agent gets a new certificate.
    pub fn check_in(&mut self, serial_hex: &str, check_in: AgentCheckIn, address: &str, now_ms: i64) {
        if !self.serial_hex.eq_ignore_ascii_case(serial_hex) {
            self.serial_hex = serial_hex.to_string();
            self.duplicate = None;
            self.state.seq = 0;
        } else if self.state.seq > 0 && check_in.seq <= self.state.seq {
            self.duplicate = Some(format!(
                "two machines present this identity: check-in {} from {address} after {} from {}; revoke certificate {} and enroll each machine with its own token",
                check_in.seq, self.state.seq, self.address, self.serial_hex
            ));
        }
        let seq = self.state.seq.max(check_in.seq);
        self.state = check_in;
        self.state.seq = seq;
        self.address = address.to_string();
        self.last_check_in = now_ms;
    }

    /// Whether the agent runs with `generation` (or needs no credential at all).
    fn holds(&self, generation: u32) -> bool {
        self.state.generation.is_some_and(|g| g >= generation)
            || self.state.auth_mode == AuthMode::Certificate
    }
}

/// The agent's retry budget under `doc`: the directory's classic policy for domain-form
/// names (the App ID included), else the site policy's threshold for the mode.
pub fn limits(doc: &PolicyDocument, user_name: Option<&str>) -> AgentLimits {
    if user_name.is_some_and(acc_core::lockout::is_domain_form) {
        return AgentLimits { threshold: DIRECTORY_THRESHOLD, window_secs: DIRECTORY_WINDOW_SECS };
    }
    let threshold = match doc.site.mode {
        LockoutMode::Classic => doc.site.threshold,
        LockoutMode::Smart => doc.site.source_threshold,
    };
    AgentLimits { threshold, window_secs: doc.site.reset_after }
}

/// The mode agents run in: `credential` waits for its first generation to become active
/// (every site created it); until then agents keep the App ID.
pub fn effective_mode(doc: &PolicyDocument) -> AuthMode {
    match doc.auth.mode {
        AuthMode::Credential if doc.generation_in(GenerationPhase::Active).is_none() => AuthMode::Application,
        mode => mode,
    }
}

/// The site servers agents use, by name, with the CA each reported.
pub fn site_endpoints(sites: &BTreeMap<String, SiteRecord>) -> Vec<SiteEndpoint> {
    sites
        .values()
        .map(|s| SiteEndpoint { name: s.name.clone(), url: s.url.clone(), ca_pem: s.tls_ca_pem.clone() })
        .collect()
}

/// Whether `endpoints` are the site servers of `sites` as [`site_endpoints`] writes them
/// (compared in place, without a copy).
pub fn same_endpoints(endpoints: &[SiteEndpoint], sites: &BTreeMap<String, SiteRecord>) -> bool {
    endpoints.len() == sites.len()
        && endpoints
            .iter()
            .zip(sites.values())
            .all(|(e, s)| e.name == s.name && e.url == s.url && e.ca_pem == s.tls_ca_pem)
}

/// The policy an agent applies: `auth` is the mode with the active credential for it,
/// which the server takes from its vault.
pub fn agent_policy(
    revision: i64,
    doc: &PolicyDocument,
    auth: AgentAuth,
    sites: &BTreeMap<String, SiteRecord>,
) -> AgentPolicy {
    AgentPolicy {
        revision,
        force: 0,
        limits: limits(doc, auth.user_name.as_deref()),
        auth,
        site_servers: site_endpoints(sites),
        servers: Vec::new(),
    }
}

/// 3.2.4 P6: every agent in the inventory (not decommissioned) reports the active
/// generation. An empty inventory proves nothing, so the grace then holds.
pub fn all_agents_adopted(
    doc: &PolicyDocument,
    agents: &BTreeMap<String, AgentRecord>,
    decommissioned: &dyn Fn(&AgentRecord) -> bool,
) -> bool {
    if doc.auth.mode == AuthMode::Application {
        return false;
    }
    let Some(active) = doc.generation_in(GenerationPhase::Active) else {
        return false;
    };
    let mut live = agents.values().filter(|a| !decommissioned(a)).peekable();
    live.peek().is_some() && live.all(|a| a.holds(active.number))
}

/// How many agents run with revision `revision` or later.
pub fn agents_at(agents: &BTreeMap<String, AgentRecord>, revision: i64) -> usize {
    agents.values().filter(|a| a.state.revision >= revision).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Generation;
    use acc_proto::admin::SiteView;

    fn doc(mode: AuthMode, phases: &[(u32, GenerationPhase)]) -> PolicyDocument {
        let mut doc = PolicyDocument::default();
        doc.auth.mode = mode;
        for &(number, phase) in phases {
            doc.generations.push(Generation {
                number,
                user_name: format!("ACC_user_v{number}"),
                phase,
                password_hash: Some("$argon2id$x".into()),
                saved_at: 0,
                retire_deadline: None,
            });
        }
        doc
    }

    fn agent(name: &str, generation: Option<u32>) -> AgentRecord {
        let mut a = AgentRecord::new(name, "0A", "CN=acc fleet CA", 0, "127.0.0.1");
        a.state.auth_mode = AuthMode::Credential;
        a.state.generation = generation;
        a
    }

    #[test]
    fn adoption_needs_every_live_agent_on_the_active_generation() {
        let d = doc(AuthMode::Credential, &[(1, GenerationPhase::Retiring), (2, GenerationPhase::Active)]);
        let none = |_: &AgentRecord| false;
        let mut agents = BTreeMap::new();
        assert!(!all_agents_adopted(&d, &agents, &none), "an empty inventory proves nothing");
        agents.insert("a".into(), agent("a", Some(2)));
        agents.insert("b".into(), agent("b", Some(1)));
        assert!(!all_agents_adopted(&d, &agents, &none));
        assert!(all_agents_adopted(&d, &agents, &|a: &AgentRecord| a.name == "b"), "b is decommissioned");
        agents.insert("b".into(), agent("b", Some(2)));
        assert!(all_agents_adopted(&d, &agents, &none));
        let mut cert = agent("c", None);
        cert.state.auth_mode = AuthMode::Certificate;
        agents.insert("c".into(), cert);
        assert!(all_agents_adopted(&d, &agents, &none), "a certificate agent holds no generation");
        agents.insert("d".into(), agent("d", None));
        assert!(!all_agents_adopted(&d, &agents, &none), "an agent that never reported blocks");
        assert_eq!(
            effective_mode(&doc(AuthMode::Credential, &[(1, GenerationPhase::Provisioning)])),
            AuthMode::Application,
            "agents keep the App ID until the first ACC is active"
        );
        let app = doc(AuthMode::Application, &[(2, GenerationPhase::Active)]);
        assert!(!all_agents_adopted(&app, &BTreeMap::new(), &none));
    }

    #[test]
    fn a_counter_that_goes_back_flags_a_shared_identity() {
        let mut a = agent("host1", None);
        let at = |seq| AgentCheckIn { seq, ..Default::default() };
        a.check_in("0A", at(1), "10.0.0.5", 1);
        a.check_in("0A", at(2), "10.0.0.5", 2);
        assert!(a.duplicate.is_none());
        a.check_in("0A", at(2), "10.0.0.9", 3);
        let why = a.duplicate.clone().expect("flagged");
        assert!(
            why.contains("10.0.0.9") && why.contains("10.0.0.5") && why.contains("revoke certificate 0A"),
            "{why}"
        );
        a.check_in("0A", at(3), "10.0.0.5", 4);
        assert!(a.duplicate.is_some(), "stays flagged");
        assert_eq!(a.state.seq, 3);
        a.check_in("0B", at(1), "10.0.0.5", 5);
        assert!(a.duplicate.is_none(), "a new certificate starts afresh");
    }

    #[test]
    fn limits_follow_the_mode_and_the_name_form() {
        let mut d = doc(AuthMode::Credential, &[]);
        d.site.mode = LockoutMode::Classic;
        d.site.threshold = 5;
        d.site.reset_after = 900;
        assert_eq!(limits(&d, Some("ACC_user")), AgentLimits { threshold: 5, window_secs: 900 });
        d.site.mode = LockoutMode::Smart;
        d.site.source_threshold = 20;
        assert_eq!(limits(&d, Some("ACC_user")).threshold, 20);
        assert_eq!(limits(&d, Some("CORP\\svc")), AgentLimits { threshold: 10, window_secs: 600 });
    }

    #[test]
    fn the_policy_carries_the_mode_the_credential_and_the_sites() {
        let d = doc(AuthMode::Credential, &[(2, GenerationPhase::Active)]);
        let mut sites = BTreeMap::new();
        let site = SiteRecord(SiteView {
            tls_ca_pem: Some("PEM".into()),
            ..SiteRecord::new("SITE1", "https://h:9", "01", 0).0
        });
        sites.insert("SITE1".to_string(), site);
        let auth = AgentAuth {
            mode: effective_mode(&d),
            user_name: Some("ACC_user_v2".into()),
            password: Some("pw".into()),
            generation: Some(2),
        };
        let p = agent_policy(7, &d, auth, &sites);
        assert_eq!(p.revision, 7);
        assert_eq!(p.auth.mode, AuthMode::Credential);
        assert_eq!(p.auth.generation, Some(2));
        assert_eq!(p.site_servers[0].ca_pem.as_deref(), Some("PEM"));
        assert!(!format!("{p:?}").contains("\"pw\""), "Debug never shows the password");
    }

    #[test]
    fn a_rendered_answer_is_kept_only_while_the_site_servers_are_the_same() {
        let site = |name: &str, url: &str, ca: Option<&str>| {
            let record = SiteRecord(SiteView {
                tls_ca_pem: ca.map(str::to_string),
                ..SiteRecord::new(name, url, "01", 0).0
            });
            (name.to_string(), record)
        };
        let sites: BTreeMap<_, _> =
            [site("SITE1", "https://a:9", None), site("SITE2", "https://b:9", Some("P"))].into();
        let rendered = site_endpoints(&sites);
        assert!(same_endpoints(&rendered, &sites));
        for changed in [
            [site("SITE1", "https://a:10", None), site("SITE2", "https://b:9", Some("P"))].into(),
            [site("SITE1", "https://a:9", None), site("SITE2", "https://b:9", Some("Q"))].into(),
            [site("SITE1", "https://a:9", None), site("SITE3", "https://b:9", Some("P"))].into(),
            BTreeMap::from([site("SITE1", "https://a:9", None)]),
            [
                site("SITE1", "https://a:9", None),
                site("SITE2", "https://b:9", Some("P")),
                site("SITE3", "https://c:9", None),
            ]
            .into(),
        ] {
            assert!(!same_endpoints(&rendered, &changed), "{changed:?}");
        }
    }
}
