//! The fleet CA's certificates and the trust site servers extend to agents: listing,
//! revocation and operator CAs (`acc ctl cert list|revoke`, `acc ctl trust add`). A
//! revocation or a new trust anchor is a policy revision, so it reaches every site with
//! the next long-poll, within a round trip.

use acc_proto::admin::{CertificateKind, CertificateView, UnknownCertificateKind};

use crate::document::{Problem, RevokedCert, TrustAnchor};
use crate::error::ServerError;
use crate::server::{SaveError, SaveOutcome, Server};
use crate::store;

fn refused(message: String) -> SaveError {
    SaveError::Refused(vec![Problem { field: "certificates".into(), id: String::new(), message }])
}

impl Server {
    /// The agent enrollment tokens (`acc ctl enroll-token create`), newest first: their
    /// terms and uses left, never their secrets.
    pub async fn enrollment_tokens(&self) -> Result<Vec<store::JoinTokenRow>, ServerError> {
        store::join_tokens(&self.pool, acc_proto::TokenKind::Agent.as_str()).await
    }

    /// Every certificate the fleet CA issued, with `revoked_at` when revoked.
    pub async fn certificates(&self) -> Result<Vec<CertificateView>, ServerError> {
        let (_, doc) = self.in_force();
        store::certs(&self.pool)
            .await?
            .into_iter()
            .map(|c| {
                let revoked = doc
                    .revoked
                    .iter()
                    .find(|r| r.serial.eq_ignore_ascii_case(&c.serial))
                    .map(|r| r.revoked_at);
                let kind: CertificateKind = c
                    .kind
                    .parse()
                    .map_err(|e: UnknownCertificateKind| ServerError::Invalid(e.to_string()))?;
                Ok(CertificateView {
                    serial: c.serial,
                    kind,
                    name: c.name,
                    subject: c.subject,
                    issued_at: c.issued_at,
                    not_after: c.not_after,
                    revoked_at: revoked,
                })
            })
            .collect()
    }

    /// Revokes a fleet certificate by serial (hex, any case, colons allowed).
    pub async fn revoke(&self, serial: &str, author: &str) -> Result<SaveOutcome, SaveError> {
        let wanted = serial.replace(':', "").to_ascii_uppercase();
        let known = store::certs(&self.pool).await?;
        let Some(cert) = known.iter().find(|c| c.serial == wanted) else {
            return Err(refused(format!(
                "certificate {serial}: no certificate of the fleet CA has this serial; see acc ctl cert list"
            )));
        };
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        if doc.revoked.iter().any(|r| r.serial == wanted) {
            return Err(refused(format!("certificate {serial} ({}) is already revoked", cert.name)));
        }
        let mut next = doc.clone();
        next.revoked.push(RevokedCert { serial: wanted, revoked_at: self.now_ms() });
        tracing::info!(serial, name = %cert.name, by = author, "Certificate revoked.");
        self.commit_document(guard, &doc, next, author).await
    }

    /// Trusts an operator CA (PEM) for agent certificates on every site server.
    pub async fn trust_add(&self, pem_text: &str, author: &str) -> Result<SaveOutcome, SaveError> {
        let certs = acc_pki::x509::certificates(pem_text.as_bytes())
            .map_err(|e| refused(format!("trust: {e}; give the CA certificate in PEM")))?;
        let [der] = certs.as_slice() else {
            return Err(refused(format!(
                "trust: the file holds {} certificates; give one CA certificate",
                certs.len()
            )));
        };
        let Ok(acc_pki::inspect::Summary::Certificate(summary)) = acc_pki::inspect::summarize(der) else {
            return Err(refused("trust: the certificate does not parse".into()));
        };
        if !summary.basic_constraints.as_deref().is_some_and(|b| b.contains("CA:TRUE")) {
            return Err(refused(format!(
                "trust: '{}' is not a CA certificate (no basicConstraints CA:TRUE)",
                summary.subject
            )));
        }
        let fingerprint = acc_net::client::sha256_hex(der);
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        if doc.trust.iter().any(|t| t.fingerprint == fingerprint) {
            return Err(refused(format!("trust: '{}' is already trusted", summary.subject)));
        }
        let mut next = doc.clone();
        next.trust.push(TrustAnchor {
            fingerprint,
            subject: summary.subject,
            pem: acc_pki::pem::encode("CERTIFICATE", der),
        });
        self.commit_document(guard, &doc, next, author).await
    }

    /// Stops trusting an operator CA, by fingerprint (SHA-256 hex) or PEM; refused when
    /// agents hold certificates it issued, unless `force`.
    pub async fn trust_remove(
        &self,
        fingerprint: Option<&str>,
        pem_text: Option<&str>,
        force: bool,
        author: &str,
    ) -> Result<SaveOutcome, SaveError> {
        let wanted = match (fingerprint, pem_text) {
            (Some(f), None) => f.replace(':', "").to_ascii_lowercase(),
            (None, Some(p)) => {
                let certs = acc_pki::x509::certificates(p.as_bytes())
                    .map_err(|e| refused(format!("trust: {e}; give the CA certificate in PEM")))?;
                let Some(der) = certs.first() else {
                    return Err(refused("trust: the file holds no certificate".into()));
                };
                acc_net::client::sha256_hex(der)
            }
            _ => return Err(refused("trust: give the CA's fingerprint or its certificate".into())),
        };
        let guard = self.saving().await?;
        let (_, doc) = self.current();
        let mut next = doc.clone();
        next.trust.retain(|t| t.fingerprint != wanted);
        if next.trust.len() == doc.trust.len() {
            let known: Vec<String> =
                doc.trust.iter().map(|t| format!("{} ({})", t.fingerprint, t.subject)).collect();
            return Err(refused(format!(
                "trust: no trusted CA has fingerprint {wanted}; trusted: {}",
                if known.is_empty() { "none".to_string() } else { known.join(", ") }
            )));
        }
        self.check_impact(&doc, &next, force)?;
        self.commit_document(guard, &doc, next, author).await
    }
}
