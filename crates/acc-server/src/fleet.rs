//! The management server's side of its site servers: join tokens, the join itself (a
//! client certificate from the fleet CA), recognising a site by its certificate, the
//! policy long-poll and acknowledgements, which may complete a rotation's switch.

use std::time::Duration;

use acc_net::client::sha256_hex;
use acc_pki::csr::Csr;
use acc_pki::x509::Profile;
use acc_pki::{pem, serial};
use acc_proto::{JoinRequest, JoinResponse, JoinToken, SiteAck, SitePolicy};
use time::OffsetDateTime;

use crate::error::ServerError;
use crate::init::now_millis;
use crate::server::{SaveError, Server, lock};
use crate::sites::{self, SiteRecord};
use crate::{document, store, tokens};

/// Validity of a site server's client certificate.
const SITE_CERT_DAYS: u32 = 825;
/// Issued certificates start this much in the past, so modest clock skew does not break them.
const BACKDATE: time::Duration = time::Duration::minutes(5);
/// The longest long-poll.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why a join was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Unknown, expired or used-up token.
    #[error(
        "the join token is unknown, expired or used up; create a new one with `acc ctl site-token create`"
    )]
    Token,
    /// A bad request value.
    #[error("{0}")]
    Invalid(String),
    /// The server failed.
    #[error(transparent)]
    Server(#[from] ServerError),
}

fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

impl Server {
    /// Creates a site join token valid for `ttl_secs` and `uses` joins; returns its text.
    pub async fn create_join_token(&self, ttl_secs: u64, uses: u32) -> Result<String, ServerError> {
        if uses == 0 || ttl_secs == 0 {
            return Err(ServerError::Invalid(
                "a join token needs at least one use and a lifetime above 0".into(),
            ));
        }
        let secret = tokens::new_token("join")?;
        let now = now_millis();
        let expires = now.saturating_add(i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX));
        store::put_join_token(&self.pool, &tokens::digest_hex(&secret), now, expires, i64::from(uses))
            .await?;
        let token = JoinToken { url: self.url(), ca_sha256: sha256_hex(&self.fleet_ca.cert_der), secret };
        Ok(token.encode())
    }

    /// Joins a site server: checks the token, signs its client certificate, records it.
    pub async fn join(&self, req: &JoinRequest) -> Result<JoinResponse, JoinError> {
        if !sites::valid_site_name(&req.name) {
            return Err(JoinError::Invalid(format!(
                "site name '{}': use 1 to 15 upper-case letters, digits or '-'",
                req.name
            )));
        }
        if !req.url.starts_with("https://") || req.url.len() > 300 {
            return Err(JoinError::Invalid(format!("site url '{}': give https://host:port", req.url)));
        }
        let csr =
            Csr::from_bytes(req.csr_pem.as_bytes()).map_err(|e| JoinError::Invalid(format!("csr: {e}")))?;
        let now_ms = now_millis();
        if !store::use_join_token(&self.pool, &tokens::digest_hex(&req.secret), now_ms).await? {
            return Err(JoinError::Token);
        }
        let subject = acc_pki::subject::Subject::parse(&format!("/O=acc/OU=site/CN={}", req.name))
            .map_err(|e| JoinError::Invalid(e.to_string()))?;
        let serial = serial::random().map_err(ServerError::from)?;
        let der = self
            .fleet_ca
            .issue_raw(
                &subject.to_der(),
                &csr.spki_der,
                &[],
                Profile::Client,
                SITE_CERT_DAYS,
                &serial,
                OffsetDateTime::now_utc() - BACKDATE,
            )
            .map_err(ServerError::from)?;
        let record = SiteRecord {
            name: req.name.clone(),
            url: req.url.clone(),
            serial_hex: hex_upper(&serial),
            joined_at: now_ms,
            last_contact: now_ms,
            applied_revision: None,
            acks: Vec::new(),
            accounts: Vec::new(),
            error: None,
        };
        self.put_site(record).await?;
        tracing::info!(site = %req.name, url = %req.url, "Site server joined.");
        Ok(JoinResponse {
            certificate_pem: pem::encode("CERTIFICATE", &der),
            ca_pem: pem::encode("CERTIFICATE", &self.fleet_ca.cert_der),
        })
    }

    async fn put_site(&self, record: SiteRecord) -> Result<(), ServerError> {
        let text = serde_json::to_string(&record).map_err(|e| ServerError::Invalid(e.to_string()))?;
        store::put_site(&self.pool, &record.name, &text).await?;
        lock(&self.sites).insert(record.name.clone(), record);
        Ok(())
    }

    /// The site a verified client certificate stands for: its CN names a joined site and
    /// its serial is that site's current certificate.
    pub fn site_for(&self, cn: &str, serial_hex: &str) -> Option<String> {
        let sites = lock(&self.sites);
        sites.get(cn).filter(|s| s.serial_hex.eq_ignore_ascii_case(serial_hex)).map(|s| s.name.clone())
    }

    /// Every site's record.
    pub fn sites(&self) -> Vec<SiteRecord> {
        lock(&self.sites).values().cloned().collect()
    }

    /// The site policy once the revision in force is above `after`, waiting up to `wait`;
    /// `None` when nothing changed in that time.
    pub async fn wait_policy(&self, site: &str, after: i64, wait: Duration) -> Option<SitePolicy> {
        if let Some(s) = lock(&self.sites).get_mut(site) {
            s.last_contact = now_millis();
        }
        let mut rx = self.revision_tx.subscribe();
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            if *rx.borrow_and_update() > after {
                let (revision, doc) = self.current();
                return Some(sites::site_policy(revision, &doc));
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return None,
            }
        }
    }

    /// Records a site's acknowledgement; completes a rotation's switch when it was the
    /// last site to create the new generation.
    pub async fn acknowledge(&self, site: &str, ack: SiteAck) -> Result<(), ServerError> {
        let record = {
            let mut sites = lock(&self.sites);
            let Some(record) = sites.get_mut(site) else {
                return Err(ServerError::Invalid(format!(
                    "site {site} is not in the inventory; join it again"
                )));
            };
            record.acknowledge(ack, now_millis());
            record.clone()
        };
        if let Some(e) = &record.error {
            tracing::warn!(site, error = %e, "A site server could not apply its policy.");
        }
        self.put_site(record).await?;
        let _guard = self.save_lock.lock().await;
        let (_, doc) = self.current();
        if doc.generation_in(acc_core::credential_check::GenerationPhase::Provisioning).is_some()
            && sites::all_sites_created(&doc, &lock(&self.sites))
        {
            let saved = document::Saved { document: doc.clone(), warnings: Vec::new(), granted: Vec::new() };
            match self
                .commit(&doc, saved, Vec::new(), "rotation (all site servers created the account)")
                .await
            {
                Ok(_) | Err(SaveError::Refused(_)) => {}
                Err(SaveError::Server(e)) => return Err(e),
            }
        }
        Ok(())
    }
}
