//! The client-certificate verifier: webpki's checks (chain to a trusted client CA,
//! validity, CRLs, EKU clientAuth) with the verdict kept instead of thrown away.
//!
//! rustls' `WebPkiClientVerifier` fails the handshake on a bad certificate, and the
//! application never learns whose certificate it was or why. This verifier lets such
//! a handshake finish (the client must still prove it holds the certificate's key) and
//! records the verdict, keyed by the certificate chain, so the accept loop can mark the
//! connection [`PeerIdentity::Rejected`] with the reason; the listener then refuses
//! every request on it. Resumed sessions carry the chain but skip verification, so the
//! accept loop asks [`ClientVerifier::identity_of`], which reuses the recorded verdict
//! while it still holds and verifies again otherwise.
//!
//! X.509 v1 certificates (the seed's `openssl x509 -req` without `-extfile`) are
//! recognised before webpki, which only says "unsupported certificate version".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::digest;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::identity::{PeerIdentity, RejectReason};

/// How many verdicts are kept per configuration: enough for every agent of a large
/// site to resume without a second verification, small enough (~40 bytes of key and
/// a few hundred of strings each) to be no memory concern.
const MAX_VERDICTS: usize = 16_384;

/// A recorded verdict and the validity window it depends on (Unix seconds).
#[derive(Debug, Clone)]
struct Verdict {
    identity: PeerIdentity,
    not_before: i64,
    not_after: i64,
}

impl Verdict {
    /// Whether the verdict is still right at `now`: an accepted certificate may have
    /// expired since, a not-yet-valid one may have become valid.
    fn still_holds(&self, now: i64) -> bool {
        match &self.identity {
            PeerIdentity::Certificate { .. } => self.not_before <= now && now <= self.not_after,
            PeerIdentity::Rejected { reason: RejectReason::NotYetValid, .. } => now < self.not_before,
            PeerIdentity::Rejected { .. } | PeerIdentity::Anonymous => true,
        }
    }
}

/// See the module documentation.
pub(crate) struct ClientVerifier {
    webpki: Arc<dyn ClientCertVerifier>,
    algorithms: WebPkiSupportedAlgorithms,
    verdicts: Mutex<HashMap<[u8; 32], Verdict>>,
}

impl std::fmt::Debug for ClientVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientVerifier").field("webpki", &self.webpki).finish_non_exhaustive()
    }
}

impl ClientVerifier {
    /// Wraps a webpki verifier built with `allow_unauthenticated()`.
    pub(crate) fn new(webpki: Arc<dyn ClientCertVerifier>, algorithms: WebPkiSupportedAlgorithms) -> Self {
        ClientVerifier { webpki, algorithms, verdicts: Mutex::new(HashMap::new()) }
    }

    /// The identity of a connection whose handshake presented `chain` (leaf first).
    pub(crate) fn identity_of(&self, chain: &[CertificateDer<'_>]) -> PeerIdentity {
        let Some((leaf, intermediates)) = chain.split_first() else {
            return PeerIdentity::Anonymous;
        };
        self.verdict(leaf, intermediates, UnixTime::now())
    }

    /// The verdict on a chain: the recorded one while it still holds (the same bytes
    /// under the same trust configuration, re-checked against the clock), else webpki's,
    /// recorded. A storm of reconnecting agents so costs one chain verification per
    /// certificate, not one per handshake; the proof that the client holds the key (the
    /// handshake signature) is checked on every handshake regardless.
    fn verdict(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> PeerIdentity {
        let key = chain_key(leaf, intermediates);
        let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
        if let Some(v) = self.lock().get(&key)
            && v.still_holds(secs)
        {
            return v.identity.clone();
        }
        let verdict = self.evaluate(leaf, intermediates, now);
        let identity = verdict.identity.clone();
        if let PeerIdentity::Rejected { reason, subject, .. } = &identity {
            tracing::debug!(%reason, subject = subject.as_deref().unwrap_or("-"), "Client certificate refused.");
        }
        self.remember(key, verdict);
        identity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Verdict>> {
        // A panic while holding the lock cannot leave the map inconsistent (single
        // insert/remove calls), so a poisoned lock is still usable.
        self.verdicts.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn remember(&self, key: [u8; 32], verdict: Verdict) {
        let mut map = self.lock();
        if map.len() >= MAX_VERDICTS
            && !map.contains_key(&key)
            && let Some(evict) = map.keys().next().copied()
        {
            map.remove(&evict);
        }
        map.insert(key, verdict);
    }

    fn evaluate(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Verdict {
        let cert = match X509Certificate::from_der(leaf.as_ref()) {
            Ok((_, cert)) => cert,
            Err(e) => {
                return Verdict {
                    identity: PeerIdentity::Rejected {
                        reason: RejectReason::Malformed(e.to_string()),
                        subject: None,
                        issuer: None,
                        serial_hex: None,
                    },
                    not_before: i64::MIN,
                    not_after: i64::MAX,
                };
            }
        };
        let subject = acc_pki::subject::format_name(cert.subject());
        let issuer = acc_pki::subject::format_name(cert.issuer());
        let serial_hex = acc_pki::serial::to_hex(cert.raw_serial());
        let not_before = cert.validity().not_before.timestamp();
        let not_after = cert.validity().not_after.timestamp();
        let outcome = if cert.version().0 == 0 {
            Err(RejectReason::Version1)
        } else {
            self.webpki.verify_client_cert(leaf, intermediates, now).map_err(|e| reason_of(&e))
        };
        let identity = match outcome {
            Ok(_) => PeerIdentity::Certificate {
                cn: acc_pki::subject::common_name_of(cert.subject()),
                subject,
                issuer,
                serial_hex,
                not_after: cert.validity().not_after.to_datetime(),
            },
            Err(reason) => PeerIdentity::Rejected {
                reason,
                subject: Some(subject),
                issuer: Some(issuer),
                serial_hex: Some(serial_hex),
            },
        };
        Verdict { identity, not_before, not_after }
    }

    /// Proof of possession for a certificate webpki cannot parse (X.509 v1): the
    /// handshake signature checked against the certificate's public key directly, so a
    /// refused v1 certificate still reaches the application with its reason.
    fn verify_with_raw_key(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
        webpki_error: Error,
    ) -> Result<HandshakeSignatureValid, Error> {
        let Ok((_, parsed)) = X509Certificate::from_der(cert.as_ref()) else {
            return Err(webpki_error);
        };
        if parsed.version().0 != 0 {
            return Err(webpki_error);
        }
        let spki = SubjectPublicKeyInfoDer::from(parsed.public_key().raw);
        // TLS 1.3's rules (one algorithm per scheme) also serve TLS 1.2 clients using
        // ECDSA or RSA-PSS; a v1 certificate with a PKCS#1 signature over TLS 1.2 then
        // fails the handshake instead of reaching the application.
        rustls::crypto::verify_tls13_signature_with_raw_key(message, &spki, dss, &self.algorithms)
    }
}

/// The short reason for a webpki failure.
fn reason_of(error: &Error) -> RejectReason {
    match error {
        Error::InvalidCertificate(e) => match e {
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => RejectReason::Expired,
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                RejectReason::NotYetValid
            }
            CertificateError::Revoked => RejectReason::Revoked,
            CertificateError::UnknownIssuer => RejectReason::UnknownIssuer,
            CertificateError::BadSignature => RejectReason::BadSignature,
            CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
                RejectReason::WrongPurpose
            }
            CertificateError::BadEncoding => RejectReason::Malformed("bad DER encoding".into()),
            // rustls passes webpki's CaUsedAsEndEntity through as an opaque `Other`.
            CertificateError::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
                RejectReason::CaAsEndEntity
            }
            other => RejectReason::Other(Error::InvalidCertificate(other.clone()).to_string()),
        },
        other => RejectReason::Other(other.to_string()),
    }
}

/// SHA-256 over the chain, each certificate prefixed by its length.
fn chain_key(leaf: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    for cert in std::iter::once(leaf).chain(intermediates) {
        let len = u32::try_from(cert.len()).unwrap_or(u32::MAX);
        ctx.update(&len.to_be_bytes());
        ctx.update(cert.as_ref());
    }
    let mut key = [0u8; 32];
    key.copy_from_slice(ctx.finish().as_ref());
    key
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        // Password agents and certificate agents share the port.
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.webpki.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.verdict(end_entity, intermediates, now);
        // The connection goes on; the accept loop marks it Rejected and the listener
        // answers every request on it with the reason.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match self.webpki.verify_tls12_signature(message, cert, dss) {
            Err(e @ Error::InvalidCertificate(_)) => self.verify_with_raw_key(message, cert, dss, e),
            other => other,
        }
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        match self.webpki.verify_tls13_signature(message, cert, dss) {
            Err(e @ Error::InvalidCertificate(_)) => self.verify_with_raw_key(message, cert, dss, e),
            other => other,
        }
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}
