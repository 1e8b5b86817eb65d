//! Agent certificate renewal, `POST /v1/agent/renew {certificate_pem, csr_pem}`. The CSR
//! must be for the certificate's own key (its self-signature proves possession of that
//! key, so a renewal needs no other secret and works without a client certificate); the
//! certificate must be one the fleet CA issued, not revoked, and either still valid (the
//! agent renews at two thirds of its lifetime) or expired for at most [`GRACE_DAYS`] (a
//! laptop that spent months in a drawer). Past the grace the answer says how to
//! re-enroll. The new certificate has the same host name and a fresh lifetime.

use acc_pki::csr::Csr;
use acc_proto::JoinResponse;
use time::OffsetDateTime;

use crate::fleet::JoinError;
use crate::server::Server;

/// How long after expiry a certificate may still be renewed.
pub const GRACE_DAYS: i64 = 30;

impl Server {
    /// Renews an agent certificate; see the module documentation.
    pub async fn renew(&self, certificate_pem: &str, csr_pem: &str) -> Result<JoinResponse, JoinError> {
        let invalid = |m: String| JoinError::Invalid(m);
        let der = acc_pki::x509::certificates(certificate_pem.as_bytes())
            .map_err(|e| invalid(format!("certificate_pem: {e}")))?
            .into_iter()
            .next()
            .ok_or_else(|| invalid("certificate_pem: no certificate".into()))?;
        let Ok(acc_pki::inspect::Summary::Certificate(summary)) = acc_pki::inspect::summarize(&der) else {
            return Err(invalid("certificate_pem: the certificate does not parse".into()));
        };
        let parse = |t: &str| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok();
        let Some(not_after) = parse(&summary.not_after) else {
            return Err(invalid("certificate_pem: its validity does not parse".into()));
        };
        // Issued by the fleet CA, for client authentication (the signature only: it may
        // have expired).
        let ca_pem = acc_pki::pem::encode("CERTIFICATE", &self.fleet_ca().cert_der);
        let ours = acc_pki::verify::signed_by(&self.fleet_ca().cert_der, &der)
            .map_err(|e| invalid(e.to_string()))?;
        let client = summary.extended_key_usage.iter().any(|u| u == "TLS Web Client Authentication");
        if !ours || !client {
            return Err(JoinError::Conflict(format!(
                "certificate {} is not a client certificate of the fleet CA; only those are renewed here (an operator CA renews its own)",
                summary.serial
            )));
        }
        let (_, doc) = self.in_force();
        if doc.revoked.iter().any(|r| r.serial.eq_ignore_ascii_case(&summary.serial)) {
            return Err(JoinError::Conflict(format!(
                "certificate {} was revoked; enroll this machine again (acc agent enroll --token T)",
                summary.serial
            )));
        }
        let now = self.now_utc();
        if now > not_after + time::Duration::days(GRACE_DAYS) {
            return Err(JoinError::Conflict(format!(
                "certificate {} expired on {}, more than {GRACE_DAYS} days ago; enroll this machine again with a token from `acc ctl enroll-token create --reenroll` (acc agent enroll --token T)",
                summary.serial, summary.not_after
            )));
        }
        let csr = Csr::from_bytes(csr_pem.as_bytes()).map_err(|e| invalid(format!("csr_pem: {e}")))?;
        let (spki, cn) = acc_pki::x509::spki_and_cn(&der).map_err(|e| invalid(e.to_string()))?;
        if csr.spki_der != spki {
            return Err(invalid(
                "csr_pem: the request is not for the certificate's key; sign the renewal request with the agent's current key"
                    .into(),
            ));
        }
        let host = cn.ok_or_else(|| invalid("certificate_pem: no CN".into()))?;
        let (new_der, serial) = self.issue_agent_certificate(&host, &csr).await?;
        tracing::info!(agent = %host, old = %summary.serial, new = %serial, expired = now > not_after, "Agent certificate renewed.");
        Ok(JoinResponse {
            certificate_pem: acc_pki::pem::encode("CERTIFICATE", &new_der),
            ca_pem,
            replaced: None,
        })
    }
}
