//! Certificate renewal: at two thirds of its lifetime the agent asks the management
//! server for a new certificate for its own key (`POST /v1/agent/renew`; the CSR's
//! signature proves the key), and writes it over `cert-file` atomically; new connections
//! use it, without a restart. An agent that was off past its certificate's expiry renews
//! at start within the server's grace (30 days) the same way, without a client
//! certificate; past the grace the server's answer says how to re-enroll.

use std::path::Path;

use acc_net::client::{ClientTls, Connection, Endpoint};
use acc_pki::key::PrivateKey;
use acc_proto::JoinResponse;
use bytes::Bytes;
use time::OffsetDateTime;

use crate::identity::CertSummary;

/// Whether `cert` has lived two thirds of its lifetime at `now`.
pub fn due(cert: &CertSummary, now: OffsetDateTime) -> bool {
    now >= cert.not_before + (cert.not_after - cert.not_before) * 2 / 3
}

/// Asks `server` (over `conn`) for a new certificate for the key in `key_path`, and writes
/// it to `cert_path`. Returns the new certificate's PEM.
pub async fn renew(conn: &mut Connection, key_path: &Path, cert_path: &Path) -> Result<String, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let key = PrivateKey::from_bytes(&read(key_path)?).map_err(|e| format!("{}: {e}", key_path.display()))?;
    let certificate_pem = String::from_utf8_lossy(&read(cert_path)?).into_owned();
    let der = acc_pki::x509::certificates(certificate_pem.as_bytes())
        .map_err(|e| format!("{}: {e}", cert_path.display()))?
        .into_iter()
        .next()
        .unwrap_or_default();
    let cn = acc_pki::x509::spki_and_cn(&der).ok().and_then(|(_, cn)| cn).unwrap_or_else(|| "agent".into());
    let subject = acc_pki::subject::Subject::parse(&format!("/CN={cn}")).map_err(|e| e.to_string())?;
    let csr = acc_pki::csr::build(&key, &subject, &[]).map_err(|e| e.to_string())?;
    let body = serde_json::json!({
        "certificate_pem": certificate_pem,
        "csr_pem": acc_pki::pem::encode("CERTIFICATE REQUEST", &csr),
    });
    let resp = conn
        .send(
            "POST",
            "/v1/agent/renew",
            &[("content-type", "application/json")],
            Bytes::from(body.to_string()),
        )
        .await
        .map_err(|e| e.to_string())?;
    if !resp.status.is_success() {
        return Err(format!("renewal refused: {}", crate::run::message(&resp.body)));
    }
    let renewed: JoinResponse = serde_json::from_slice(&resp.body).map_err(|e| format!("renewal: {e}"))?;
    acc_pki::fsutil::write_file(
        cert_path,
        renewed.certificate_pem.as_bytes(),
        acc_pki::fsutil::PUBLIC_MODE,
        true,
    )
    .map_err(|e| format!("{}: {e}", cert_path.display()))?;
    Ok(renewed.certificate_pem)
}

/// At start: when the certificate has expired, renew it within the grace (no client
/// certificate needed; through `proxy` when given). `Ok(true)` when it renewed.
pub async fn renew_expired(
    server: &Endpoint,
    proxy: Option<std::sync::Arc<acc_net::proxy::Proxy>>,
    ca_file: &Path,
    key_path: &Path,
    cert_path: &Path,
) -> Result<bool, String> {
    let bytes = std::fs::read(cert_path).map_err(|e| format!("{}: {e}", cert_path.display()))?;
    let der = acc_pki::x509::certificates(&bytes).ok().and_then(|v| v.into_iter().next());
    let not_after = der.and_then(|d| match acc_pki::inspect::summarize(&d) {
        Ok(acc_pki::inspect::Summary::Certificate(s)) => {
            OffsetDateTime::parse(&s.not_after, &time::format_description::well_known::Rfc3339).ok()
        }
        _ => None,
    });
    if not_after.is_none_or(|t| t >= OffsetDateTime::now_utc()) {
        return Ok(false);
    }
    let ca = std::fs::read(ca_file).map_err(|e| format!("{}: {e}", ca_file.display()))?;
    let tls = ClientTls::new(&ca, None).map_err(|e| e.to_string())?.via(proxy);
    let mut conn = Connection::open(&tls, server).await.map_err(|e| e.to_string())?;
    renew(&mut conn, key_path, cert_path).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_at_two_thirds() {
        let t0 = OffsetDateTime::from_unix_timestamp(1_000_000).unwrap();
        let c = CertSummary {
            subject_cn: "CN=a".into(),
            issuer_cn: "CN=b".into(),
            not_before: t0,
            not_after: t0 + time::Duration::days(90),
        };
        assert!(!due(&c, t0 + time::Duration::days(59)));
        assert!(due(&c, t0 + time::Duration::days(60)));
    }
}
