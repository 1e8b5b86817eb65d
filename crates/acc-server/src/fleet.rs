//! The management server's side of its site servers: join tokens, the join itself (a
//! client certificate from the fleet CA), recognising a site by its certificate, the
//! policy long-poll and acknowledgements, which may complete a rotation's switch.

use std::time::Duration;

use acc_net::client::sha256_hex;
use acc_pki::csr::Csr;
use acc_pki::x509::Profile;
use acc_pki::{pem, serial};
use acc_proto::{EnrollRequest, JoinRequest, JoinResponse, JoinToken, SiteAck, SitePolicy, TokenKind};
use time::OffsetDateTime;

use crate::error::ServerError;
use crate::server::{SaveError, Server};
use crate::sites::{self, SiteRecord};
use crate::wake::Audience;

/// The CRL push's row in the leases table: when the fleet's CRL was last pushed.
const CRL_PUSH: &str = "crl-push";
use crate::{rules, store, tokens};

/// Validity of a site server's client certificate.
const SITE_CERT_DAYS: u32 = 825;
/// Validity of an agent's client certificate (agents renew at two thirds).
const AGENT_CERT_DAYS: u32 = 90;
/// Validity of a fleet CRL (re-signed with every revision sites fetch).
const CRL_DAYS: u32 = 7;
/// The longest long-poll.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Why a join was refused.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// The name is taken (an agent enrolled before, without a token that supersedes).
    #[error("{0}")]
    Conflict(String),
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

impl Server {
    /// Creates a join (`site`) or enrollment (`agent`) token valid for `ttl_secs` and
    /// `uses` (an enrollment token with `supersede` may replace an enrolled host's
    /// certificate); returns its text.
    pub async fn create_join_token(
        &self,
        kind: TokenKind,
        ttl_secs: u64,
        uses: u32,
        supersede: bool,
    ) -> Result<String, ServerError> {
        if uses == 0 || ttl_secs == 0 {
            return Err(ServerError::Invalid("a token needs at least one use and a lifetime above 0".into()));
        }
        let secret = tokens::new_token(kind.as_str())?;
        let now = self.now_ms();
        let expires = now.saturating_add(i64::try_from(ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX));
        let terms =
            store::TokenTerms { created_at: now, expires_at: expires, uses: i64::from(uses), supersede };
        store::put_join_token(&self.pool, kind.as_str(), &tokens::digest_hex(&secret), &terms).await?;
        let token = JoinToken {
            url: self.url(),
            urls: self.node_urls(),
            ca_sha256: sha256_hex(&self.fleet_ca().cert_der),
            secret,
            kind,
        };
        Ok(token.encode())
    }

    /// Spends a `kind` token and signs a client certificate `O=acc, OU={kind}, CN={name}`
    /// for the CSR's key; records it. Returns the certificate's DER and serial.
    async fn issue(
        &self,
        kind: &str,
        secret: &str,
        name: &str,
        csr_pem: &str,
        days: u32,
    ) -> Result<(Vec<u8>, String), JoinError> {
        let csr = Csr::from_bytes(csr_pem.as_bytes()).map_err(|e| JoinError::Invalid(format!("csr: {e}")))?;
        if !store::use_join_token(&self.pool, kind, &tokens::digest_hex(secret), self.now_ms()).await? {
            return Err(JoinError::Token);
        }
        self.sign_and_record(kind, name, &csr, days).await
    }

    /// A renewed agent certificate for `host` and the CSR's key (the caller checked both).
    pub(crate) async fn issue_agent_certificate(
        &self,
        host: &str,
        csr: &Csr,
    ) -> Result<(Vec<u8>, String), JoinError> {
        self.sign_and_record("agent", host, csr, AGENT_CERT_DAYS).await
    }

    /// Signs `O=acc, OU={kind}, CN={name}` for the CSR's key, backdated, and records it.
    async fn sign_and_record(
        &self,
        kind: &str,
        name: &str,
        csr: &Csr,
        days: u32,
    ) -> Result<(Vec<u8>, String), JoinError> {
        let now_ms = self.now_ms();
        let subject = acc_pki::subject::Subject::parse(&format!("/O=acc/OU={kind}/CN={name}"))
            .map_err(|e| JoinError::Invalid(e.to_string()))?;
        let serial = serial::random().map_err(ServerError::from)?;
        let not_before = self.now_utc() - rules::BACKDATE;
        let der = self
            .fleet_ca()
            .issue_raw(&subject.to_der(), &csr.spki_der, &[], Profile::Client, days, &serial, not_before)
            .map_err(ServerError::from)?;
        let serial_hex = hex::encode_upper(&serial);
        let not_after = not_before + time::Duration::days(i64::from(days));
        store::put_cert(
            &self.pool,
            &store::IssuedCert {
                serial: serial_hex.clone(),
                kind: kind.to_string(),
                name: name.to_string(),
                subject: format!("O=acc, OU={kind}, CN={name}"),
                issued_at: now_ms,
                not_after: i64::try_from(not_after.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX),
            },
        )
        .await?;
        Ok((der, serial_hex))
    }

    /// Joins a site server: checks the token, signs its client certificate, records it.
    /// A name already joined is refused (the token is not spent), unless the request is
    /// a deliberate re-join (`replace`), which says what it replaced.
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
        // One join or inventory change at a time: the clash check and the record agree.
        let _writing = self.inventory.writing().await;
        let previous = self.inventory.sites().get(&req.name).cloned();
        if let Some(p) = &previous
            && !req.replace
        {
            return Err(JoinError::Conflict(sites::name_in_use(p)));
        }
        let (der, serial_hex) =
            self.issue("site", &req.secret, &req.name, &req.csr_pem, SITE_CERT_DAYS).await?;
        let record = SiteRecord::new(&req.name, &req.url, &serial_hex, self.now_ms());
        self.store_site(record).await?;
        let replaced = previous.map(|SiteRecord(p)| acc_proto::ReplacedSite {
            url: p.url,
            joined_at_ms: p.joined_at,
            serial_hex: p.serial_hex,
        });
        match &replaced {
            Some(r) => tracing::warn!(site = %req.name, url = %req.url, replaced_url = %r.url,
                replaced_certificate = %r.serial_hex, "Site server re-joined; the site it replaced is refused from now on."),
            None => tracing::info!(site = %req.name, url = %req.url, "Site server joined."),
        }
        Ok(JoinResponse {
            certificate_pem: pem::encode("CERTIFICATE", &der),
            ca_pem: pem::encode("CERTIFICATE", &self.fleet_ca().cert_der),
            replaced,
        })
    }

    /// Enrolls an agent: checks the token, signs its client certificate (`CN` = its host
    /// name, lower case), records it.
    pub async fn enroll(&self, req: &EnrollRequest) -> Result<JoinResponse, JoinError> {
        let host = req.host_name.to_ascii_lowercase();
        let valid = (1..=253).contains(&host.len())
            && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            && !host.starts_with(['-', '.']);
        if !valid {
            return Err(JoinError::Invalid(format!(
                "host name '{}': use letters, digits, '-' and '.' (a DNS host name)",
                req.host_name
            )));
        }
        // A host enrolled before: a rebuilt machine supersedes its identity only with a
        // token that allows it; its old certificates are then revoked.
        let (_, doc) = self.in_force();
        let now = self.now_ms();
        let previous: Vec<String> = store::certs(&self.pool)
            .await?
            .into_iter()
            .filter(|c| c.kind == "agent" && c.name == host && c.not_after > now)
            .filter(|c| !doc.revoked.iter().any(|r| r.serial == c.serial))
            .map(|c| c.serial)
            .collect();
        if !previous.is_empty()
            && !store::token_supersedes(&self.pool, &tokens::digest_hex(&req.secret)).await?
        {
            return Err(JoinError::Conflict(format!(
                "agent {host} is already enrolled (certificate {}); re-enroll a rebuilt machine with a token from `acc ctl enroll-token create --reenroll`, or revoke the old certificate first",
                previous.join(", ")
            )));
        }
        let (der, serial_hex) =
            self.issue("agent", &req.secret, &host, &req.csr_pem, AGENT_CERT_DAYS).await?;
        tracing::info!(agent = %host, serial = %serial_hex, superseded = %previous.join(", "), "Agent enrolled.");
        if !previous.is_empty() {
            let guard = self.saving().await?;
            let (_, doc) = self.current();
            let mut next = doc.clone();
            next.revoked.extend(
                previous.into_iter().map(|serial| crate::document::RevokedCert { serial, revoked_at: now }),
            );
            match self.commit_document(guard, &doc, next, &format!("re-enrollment of {host}")).await {
                Ok(_) | Err(SaveError::Refused(_)) => {}
                Err(SaveError::Server(e)) => return Err(e.into()),
            }
        }
        Ok(JoinResponse {
            certificate_pem: pem::encode("CERTIFICATE", &der),
            ca_pem: pem::encode("CERTIFICATE", &self.fleet_ca().cert_der),
            replaced: None,
        })
    }

    /// The fleet's trust for site servers: the fleet CA and the operator CAs (PEM), and
    /// the fleet CA's CRL over the revoked serials, signed now (valid 7 days, re-signed at
    /// every revision a site fetches).
    pub fn fleet_trust(
        &self,
        doc: &crate::document::PolicyDocument,
        revision: i64,
    ) -> (Vec<String>, Option<String>) {
        let mut pems = vec![pem::encode("CERTIFICATE", &self.fleet_ca().cert_der)];
        pems.extend(doc.trust.iter().map(|t| t.pem.clone()));
        let revoked: Vec<acc_pki::crl::Revoked> = doc
            .revoked
            .iter()
            .filter_map(|r| {
                Some(acc_pki::crl::Revoked {
                    serial: acc_pki::serial::parse_hex(&r.serial).ok()?,
                    revoked_at: OffsetDateTime::from_unix_timestamp_nanos(
                        i128::from(r.revoked_at) * 1_000_000,
                    )
                    .ok()?,
                })
            })
            .collect();
        let number = revision.max(1).to_be_bytes();
        let crl = acc_pki::crl::sign(
            self.fleet_ca(),
            &revoked,
            &number,
            self.now_utc() - rules::BACKDATE,
            CRL_DAYS,
        )
        .map(|der| pem::encode("X509 CRL", &der));
        if let Err(e) = &crl {
            tracing::error!(error = %e, "The fleet CRL could not be signed.");
        }
        (pems, crl.ok())
    }

    /// Records a site; the caller holds `inventory_write`.
    async fn store_site(&self, record: SiteRecord) -> Result<(), ServerError> {
        let text = serde_json::to_string(&record).map_err(|e| ServerError::Invalid(e.to_string()))?;
        self.inventory.sites().insert(record.name.clone(), record.clone());
        store::put_record(&self.pool, store::Inventory::Sites, &record.name, &text).await
    }

    /// Changes a site's record in memory and in the store as one step: concurrent
    /// updates (an acknowledgement, a package report) never undo each other, and the
    /// store is written in the order the memory changed.
    pub(crate) async fn update_site(
        &self,
        site: &str,
        change: impl FnOnce(&mut SiteRecord),
    ) -> Result<SiteRecord, ServerError> {
        let _writing = self.inventory.writing().await;
        let record = {
            let mut sites = self.inventory.sites();
            let Some(record) = sites.get_mut(site) else {
                return Err(ServerError::Invalid(format!(
                    "site {site} is not in the inventory; join it again"
                )));
            };
            change(record);
            record.clone()
        };
        let text = serde_json::to_string(&record).map_err(|e| ServerError::Invalid(e.to_string()))?;
        store::put_record(&self.pool, store::Inventory::Sites, &record.name, &text).await?;
        Ok(record)
    }

    /// The site a verified client certificate stands for: its CN names a joined site and
    /// its serial is that site's current certificate.
    pub fn site_for(&self, cn: &str, serial_hex: &str) -> Option<String> {
        let sites = self.inventory.sites();
        sites.get(cn).filter(|s| s.serial_hex.eq_ignore_ascii_case(serial_hex)).map(|s| s.name.clone())
    }

    /// Every site's record.
    pub fn sites(&self) -> Vec<SiteRecord> {
        self.inventory.sites().values().cloned().collect()
    }

    /// The site policy once the revision in force is above `after` or an `update-config`
    /// came after `force_after`, waiting up to `wait`; `None` when nothing happened.
    pub async fn wait_policy(
        &self,
        site: &str,
        after: i64,
        force_after: u64,
        wait: Duration,
    ) -> Option<SitePolicy> {
        if let Some(s) = self.inventory.sites().get_mut(site) {
            s.last_contact = self.now_ms();
        }
        let waiting = crate::metrics::LongPoll::start("site");
        let (revision, doc, force) = self.wait_change(after, force_after, wait, Audience::Sites).await?;
        drop(waiting);
        let (trust, crl) = self.fleet_trust(&doc, revision);
        let mut policy = sites::site_policy(revision, &doc, trust, crl);
        policy.force = force;
        policy.packages = self.site_packages(site, &doc);
        policy.servers = self.node_urls();
        policy.app_id = Some(acc_core::lockout::AppIdName {
            account: self.config().app_id.clone(),
            directory: self.config().directory(),
        });
        Some(policy)
    }

    /// Waits up to `wait` until the revision in force is above `after` or `audience`'s
    /// `update-config` counter is above `force_after`; then the revision, its document and
    /// the force counter. `None` when the wait passes, or at once when the server begins to
    /// stop.
    pub(crate) async fn wait_change(
        &self,
        after: i64,
        force_after: u64,
        wait: Duration,
        audience: Audience,
    ) -> Option<(i64, std::sync::Arc<crate::document::PolicyDocument>, u64)> {
        let mut revisions = self.revisions();
        let mut forces = self.long_polls().subscribe(audience);
        let mut stopping = self.long_polls().stopping();
        let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
        loop {
            let force = *forces.borrow_and_update();
            if *revisions.borrow_and_update() > after || force > force_after {
                let (revision, doc) = self.in_force();
                return Some((revision, doc, force));
            }
            let changed = tokio::time::timeout_at(deadline, async {
                tokio::select! {
                    r = revisions.changed() => r.is_ok(),
                    r = forces.changed() => r.is_ok(),
                    // The server is stopping: "nothing new" now rather than hold the shutdown.
                    _ = stopping.wait_for(|s| *s) => false,
                }
            });
            if !matches!(changed.await, Ok(true)) {
                return None;
            }
        }
    }

    /// The server begins to stop: every waiting policy long-poll (sites' and agents')
    /// answers "nothing new" now, and those arriving from here on at once.
    pub fn begin_stop(&self) {
        self.long_polls().begin_stop();
    }

    /// Pushes a freshly signed CRL to every site when the last push is a day old. The time
    /// of the last push is kept in the store, so a node taking the tick over from another
    /// keeps the fleet's schedule.
    pub async fn push_crl_if_due(&self) {
        let turn = crate::store::take_turn(
            self.pool(),
            CRL_PUSH,
            &self.config().name,
            self.now_ms(),
            crate::rules::crl_push_due,
        )
        .await;
        match turn {
            Ok(true) => {
                let sites = self.update_config_sites();
                tracing::info!(sites, "Fleet CRL re-signed and pushed.");
            }
            Ok(false) => {}
            Err(e) => tracing::error!(error = %e, "The CRL push's schedule could not be read."),
        }
    }

    /// `task send update-config --to sites`: every site fetches and re-applies its policy
    /// now; returns how many sites are in the inventory.
    pub fn update_config_sites(&self) -> usize {
        self.wake(true, false);
        self.inventory.sites().len()
    }

    /// Records a site's acknowledgement; completes a rotation's switch when it was the
    /// last site to create the new generation.
    pub async fn acknowledge(&self, site: &str, ack: SiteAck) -> Result<(), ServerError> {
        let mut endpoint_changed = false;
        let record = self.update_site(site, |r| endpoint_changed = r.acknowledge(ack, self.now_ms())).await?;
        if endpoint_changed {
            // Agents that fetched their policy before the site first reported its URL and
            // TLS CA would otherwise wait for the next revision to reach it.
            self.wake(false, true);
        }
        if let Some(e) = &record.error {
            tracing::warn!(site, error = %e, "A site server could not apply its policy.");
        }
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        if doc.generation_in(acc_core::generation::GenerationPhase::Provisioning).is_some()
            && sites::all_sites_created(&doc, &self.inventory.sites())
        {
            match self
                .commit_document(guard, &doc, doc.clone(), "rotation (all site servers created the account)")
                .await
            {
                Ok(_) | Err(SaveError::Refused(_)) => {}
                Err(SaveError::Server(e)) => return Err(e),
            }
        }
        Ok(())
    }
}
