//! The site server inventory and what the management server tells its sites: the
//! projection of a policy document a site applies ([`site_policy`]), each site's record of
//! what it applied and acknowledged, and the switch condition of 3.2.4 P3
//! ([`all_sites_created`]). Pure: the server does the I/O.

use std::collections::BTreeMap;
use std::ops::{Deref, DerefMut};

use acc_core::generation::GenerationPhase;
use acc_core::lockout::{AckStatus, ManagedGeneration, PasswordHash};
use acc_proto::admin::SiteView;
use acc_proto::{SiteAck, SitePolicy};
use serde::{Deserialize, Serialize};

use crate::document::PolicyDocument;

/// What the server knows about one site server: the record `GET /v1/sites` shows
/// ([`SiteView`], stored as its JSON), with the server's rules on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SiteRecord(pub SiteView);

impl Deref for SiteRecord {
    type Target = SiteView;

    fn deref(&self) -> &SiteView {
        &self.0
    }
}

impl DerefMut for SiteRecord {
    fn deref_mut(&mut self) -> &mut SiteView {
        &mut self.0
    }
}

impl SiteRecord {
    /// The record of a site that just joined.
    pub fn new(name: &str, url: &str, serial_hex: &str, now_ms: i64) -> SiteRecord {
        SiteRecord(SiteView {
            name: name.to_string(),
            url: url.to_string(),
            serial_hex: serial_hex.to_string(),
            joined_at: now_ms,
            last_contact: now_ms,
            applied_revision: None,
            acks: Vec::new(),
            accounts: Vec::new(),
            error: None,
            crl_this_update_ms: None,
            crl_next_update_ms: None,
            crl_issued_ms: None,
            tls_ca_pem: None,
            packages: Vec::new(),
            origin: crate::event_store::site_origin(serial_hex),
        })
    }

    /// The record as `GET /v1/sites` shows it.
    pub fn view(&self) -> SiteView {
        self.0.clone()
    }

    /// The origin of its events in the event store.
    pub fn origin(&self) -> String {
        if self.origin.is_empty() {
            crate::event_store::site_origin(&self.serial_hex)
        } else {
            self.origin.clone()
        }
    }

    /// Records an acknowledgement; true when it changed what agents are told of the site
    /// (its URL or the CA of its TLS certificate, both first known from its first one).
    pub fn acknowledge(&mut self, ack: SiteAck, now_ms: i64) -> bool {
        let seen_by_agents = (self.url.clone(), self.tls_ca_pem.clone());
        self.last_contact = now_ms;
        self.applied_revision = Some(ack.revision);
        self.acks = ack.generations;
        self.accounts = ack.accounts;
        self.error = ack.error;
        if let Some(url) = ack.url {
            self.url = url;
        }
        self.crl_this_update_ms = ack.crl_this_update_ms;
        self.crl_next_update_ms = ack.crl_next_update_ms;
        let backdate_ms = i64::try_from(crate::rules::BACKDATE.whole_milliseconds()).unwrap_or(0);
        self.crl_issued_ms = ack.crl_this_update_ms.map(|t| t.saturating_add(backdate_ms));
        if ack.tls_ca_pem.is_some() {
            self.tls_ca_pem = ack.tls_ca_pem;
        }
        seen_by_agents != (self.url.clone(), self.tls_ca_pem.clone())
    }
}

/// Why a join under `existing`'s name is refused: the clash, named, and the two ways on.
pub fn name_in_use(existing: &SiteRecord) -> String {
    format!(
        "site name '{}' is already in use by the site server at {} (joined {}, certificate {}); join with another --name, or, to replace that site deliberately (it is refused from then on), run acc site join again with --replace",
        existing.name,
        existing.url,
        acc_core::time::Timestamp(existing.joined_at).to_rfc3339(),
        existing.serial_hex
    )
}

/// Validates a site name as `acc site init --name` does: 1–15 of `[A-Z0-9-]`.
pub fn valid_site_name(name: &str) -> bool {
    (1..=15).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
}

/// The part of `doc` (revision `revision`) a site server applies: the lockout policy and
/// the generations in provisioning, active or retiring, with their hashes only.
pub fn site_policy(
    revision: i64,
    doc: &PolicyDocument,
    trust_pems: Vec<String>,
    crl_pem: Option<String>,
) -> SitePolicy {
    let generations = doc
        .generations
        .iter()
        .filter(|g| g.phase.is_maintained())
        .map(|g| ManagedGeneration {
            generation: g.number,
            user_name: g.user_name.clone(),
            phase: g.phase,
            password_hash: g.password_hash.clone().map(PasswordHash::new),
        })
        .collect();
    SitePolicy {
        revision,
        lockout: doc.site.clone(),
        generations,
        trust_pems,
        crl_pem,
        force: 0,
        event_log_max_size: Some(doc.event_log_max_size),
        packages: Vec::new(),
        app_id: None,
        servers: Vec::new(),
    }
}

/// 3.2.4 P3: every site in the inventory has acknowledged the provisioning generation
/// as `created` or `exists` (true when there is none, or no site).
pub fn all_sites_created(doc: &PolicyDocument, sites: &BTreeMap<String, SiteRecord>) -> bool {
    let Some(g) = doc.generation_in(GenerationPhase::Provisioning) else {
        return true;
    };
    sites.values().all(|s| {
        s.acks
            .iter()
            .any(|a| a.generation == g.number && matches!(a.status, AckStatus::Created | AckStatus::Exists))
    })
}

/// The sites that have not created the provisioning generation, by name.
pub fn pending_sites(doc: &PolicyDocument, sites: &BTreeMap<String, SiteRecord>) -> Vec<String> {
    let Some(g) = doc.generation_in(GenerationPhase::Provisioning) else {
        return Vec::new();
    };
    sites
        .values()
        .filter(|s| {
            !s.acks.iter().any(|a| {
                a.generation == g.number && matches!(a.status, AckStatus::Created | AckStatus::Exists)
            })
        })
        .map(|s| s.name.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Generation;
    use acc_core::lockout::GenerationAck;

    fn doc_with(phase: GenerationPhase) -> PolicyDocument {
        let mut doc = PolicyDocument::default();
        doc.generations.push(Generation {
            number: 1,
            user_name: "ACC_user".into(),
            phase,
            password_hash: Some("$argon2id$x".into()),
            saved_at: 0,
            retire_deadline: None,
        });
        doc
    }

    fn site(name: &str, acks: Vec<GenerationAck>) -> SiteRecord {
        let mut r = SiteRecord::new(name, "https://127.0.0.1:1", "01", 0);
        r.acks = acks;
        r
    }

    #[test]
    fn the_switch_waits_for_every_site() {
        let doc = doc_with(GenerationPhase::Provisioning);
        let mut sites = BTreeMap::new();
        assert!(all_sites_created(&doc, &sites), "no site: nothing to wait for");
        let created = |s| vec![GenerationAck { generation: 1, status: s, message: None }];
        sites.insert("A".into(), site("A", created(AckStatus::Created)));
        sites.insert("B".into(), site("B", created(AckStatus::Failed)));
        assert!(!all_sites_created(&doc, &sites));
        assert_eq!(pending_sites(&doc, &sites), ["B"]);
        sites.insert("B".into(), site("B", created(AckStatus::Exists)));
        assert!(all_sites_created(&doc, &sites));
        assert!(pending_sites(&doc, &sites).is_empty());
    }

    /// A site record as the store holds it (every field set), byte for byte.
    const STORED: &str = r#"{"name":"SITE-1","url":"https://site-1:8444","serial_hex":"0A1B","joined_at":1000,"last_contact":2000,"applied_revision":7,"acks":[{"generation":2,"status":"created","message":null}],"accounts":[{"name":"ACC_user","state":"enabled"}],"error":"disk full","crl_this_update_ms":3000,"crl_next_update_ms":4000,"crl_issued_ms":3500,"tls_ca_pem":"PEM","packages":[{"share":"apps","name":"tool","wanted":"1.0","version":null,"status":"replicating","message":null,"bytes":12}],"origin":"site:0A1B"}"#;

    #[test]
    fn stored_records_load_and_store_unchanged() {
        let r: SiteRecord = serde_json::from_str(STORED).unwrap();
        assert_eq!((r.name.as_str(), r.applied_revision, r.crl_issued_ms), ("SITE-1", Some(7), Some(3500)));
        assert_eq!(
            (r.acks[0].status, r.packages[0].bytes, r.origin()),
            (AckStatus::Created, 12, "site:0A1B".into())
        );
        assert_eq!(serde_json::to_string(&r).unwrap(), STORED, "stored again byte for byte");
        assert_eq!(
            serde_json::to_value(r.view()).unwrap(),
            serde_json::to_value(&r).unwrap(),
            "GET /v1/sites shows it"
        );
        // A record from before the CRL, TLS, package and origin fields.
        let old = r#"{"name":"OLD","url":"https://old:8444","serial_hex":"FF","joined_at":1,"last_contact":2,"applied_revision":null,"acks":[],"accounts":[],"error":null}"#;
        let r: SiteRecord = serde_json::from_str(old).unwrap();
        assert_eq!((r.tls_ca_pem.as_deref(), r.packages.len(), r.origin()), (None, 0, "site:FF".to_string()));
    }

    #[test]
    fn sites_get_hashes_of_live_generations_only() {
        let p = site_policy(4, &doc_with(GenerationPhase::Active), Vec::new(), None);
        assert_eq!((p.revision, p.generations.len()), (4, 1));
        assert_eq!(p.generations[0].password_hash.as_ref().unwrap().as_str(), "$argon2id$x");
        assert!(site_policy(5, &doc_with(GenerationPhase::Removed), Vec::new(), None).generations.is_empty());
        assert!(valid_site_name("SITE-1") && !valid_site_name("site 1") && !valid_site_name(""));
    }
}
