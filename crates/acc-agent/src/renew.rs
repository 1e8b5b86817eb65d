//! Certificate renewal: at two thirds of its lifetime the agent asks the management
//! server for a new certificate for its own key (`POST /v1/agent/renew`; the CSR's
//! signature proves the key), and writes it over `cert-file` atomically; new connections
//! use it, without a restart. An agent that was off past its certificate's expiry renews
//! at start within the server's grace (30 days) the same way, without a client
//! certificate; past the grace the server's answer says how to re-enroll.

use std::path::{Path, PathBuf};

use acc_core::time::{Clock as _, SystemClock};
use acc_net::client::{ClientError, ClientTls, Connection, Endpoint};
use acc_pki::PkiError;
use acc_pki::key::PrivateKey;
use acc_proto::JoinResponse;
use bytes::Bytes;
use time::OffsetDateTime;

use crate::identity::{CertSummary, IdentityError};

/// Why the certificate could not be renewed.
#[derive(Debug, thiserror::Error)]
pub enum RenewError {
    /// A file cannot be read.
    #[error("{}: {error}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        error: std::io::Error,
    },
    /// The key or certificate does not parse, or the new certificate cannot be written.
    #[error("{}: {error}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        error: PkiError,
    },
    /// The request could not be built.
    #[error("{0}")]
    Request(String),
    /// The server could not be reached.
    #[error(transparent)]
    Connection(#[from] ClientError),
    /// The server refused.
    #[error("renewal refused: {0}")]
    Refused(String),
    /// The server's answer does not read.
    #[error("renewal: {0}")]
    Answer(serde_json::Error),
    /// The renewed identity cannot be used.
    #[error(transparent)]
    Identity(#[from] IdentityError),
}

fn read(path: &Path) -> Result<Vec<u8>, RenewError> {
    std::fs::read(path).map_err(|error| RenewError::Read { path: path.to_path_buf(), error })
}

fn file(path: &Path) -> impl FnOnce(PkiError) -> RenewError + '_ {
    move |error| RenewError::File { path: path.to_path_buf(), error }
}

/// Whether `cert` has lived two thirds of its lifetime at `now`.
pub fn due(cert: &CertSummary, now: OffsetDateTime) -> bool {
    now >= cert.not_before + (cert.not_after - cert.not_before) * 2 / 3
}

/// Asks `server` (over `conn`) for a new certificate for the key in `key_path`, and writes
/// it to `cert_path`. Returns the new certificate's PEM.
pub async fn renew(conn: &mut Connection, key_path: &Path, cert_path: &Path) -> Result<String, RenewError> {
    let key = PrivateKey::from_bytes(&read(key_path)?).map_err(file(key_path))?;
    let certificate_pem = String::from_utf8_lossy(&read(cert_path)?).into_owned();
    let der = acc_pki::x509::certificates(certificate_pem.as_bytes())
        .map_err(file(cert_path))?
        .into_iter()
        .next()
        .unwrap_or_default();
    let cn = acc_pki::x509::spki_and_cn(&der).ok().and_then(|(_, cn)| cn).unwrap_or_else(|| "agent".into());
    let request = |e: &dyn std::fmt::Display| RenewError::Request(e.to_string());
    let subject = acc_pki::subject::Subject::parse(&format!("/CN={cn}")).map_err(|e| request(&e))?;
    let csr = acc_pki::csr::build(&key, &subject, &[]).map_err(|e| request(&e))?;
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
        .await?;
    if !resp.status.is_success() {
        return Err(RenewError::Refused(crate::run::message(&resp.body)));
    }
    let renewed: JoinResponse = serde_json::from_slice(&resp.body).map_err(RenewError::Answer)?;
    acc_pki::fsutil::write_file(
        cert_path,
        renewed.certificate_pem.as_bytes(),
        acc_pki::fsutil::PUBLIC_MODE,
        true,
    )
    .map_err(file(cert_path))?;
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
) -> Result<bool, RenewError> {
    let bytes = read(cert_path)?;
    let der = acc_pki::x509::certificates(&bytes).ok().and_then(|v| v.into_iter().next());
    let not_after = der.and_then(|d| match acc_pki::inspect::summarize(&d) {
        Ok(acc_pki::inspect::Summary::Certificate(s)) => {
            OffsetDateTime::parse(&s.not_after, &time::format_description::well_known::Rfc3339).ok()
        }
        _ => None,
    });
    if not_after.is_none_or(|t| t >= SystemClock.now_utc()) {
        return Ok(false);
    }
    let ca = read(ca_file)?;
    let tls = ClientTls::new(&ca, None)?.via(proxy);
    let mut conn = Connection::open(&tls, server).await?;
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
