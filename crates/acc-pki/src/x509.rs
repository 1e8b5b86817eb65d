//! Certificate building: the extensions of acc's profiles, self-signed CAs and issuance
//! from a verified CSR. The subject is copied from the CSR byte for byte and nothing else
//! the requester asked for is trusted: the CA decides basic constraints, key usage,
//! extended key usage, validity and serial.

use aws_lc_rs::digest;
use time::{Duration, OffsetDateTime};
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::x509::SubjectPublicKeyInfo;

use crate::csr::{self, Csr, San};
use crate::der;
use crate::error::{PkiError, Result};
use crate::key::{KeyAlgorithm, PrivateKey};
use crate::pem;
use crate::subject::{self, Subject};

const OID_BASIC_CONSTRAINTS: &[u64] = &[2, 5, 29, 19];
const OID_KEY_USAGE: &[u64] = &[2, 5, 29, 15];
const OID_EXT_KEY_USAGE: &[u64] = &[2, 5, 29, 37];
const OID_SKI: &[u64] = &[2, 5, 29, 14];
const OID_AKI: &[u64] = &[2, 5, 29, 35];
const OID_SERVER_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 1];
const OID_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];

/// How far back `notBefore` is set, so that modest clock skew between the CA and the
/// peers does not make a fresh certificate "not yet valid".
pub const BACKDATE: Duration = Duration::minutes(5);

/// What a certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// An agent: EKU clientAuth, keyUsage digitalSignature, CA:FALSE.
    Client,
    /// A server: EKU serverAuth, subjectAltName required.
    Server,
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Profile::Client => "client",
            Profile::Server => "server",
        })
    }
}

/// RFC 5280 method 1 key identifier: SHA-1 of the subjectPublicKey bits (what openssl's
/// `subjectKeyIdentifier = hash` computes).
pub fn key_identifier(spki_der: &[u8]) -> Result<Vec<u8>> {
    let (_, spki) = SubjectPublicKeyInfo::from_der(spki_der)
        .map_err(|e| PkiError::Malformed { what: "public key", detail: e.to_string() })?;
    let d = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, &spki.subject_public_key.data);
    Ok(d.as_ref().to_vec())
}

fn validity(now: OffsetDateTime, days: u32) -> Result<Vec<u8>> {
    if !(1..=36_500).contains(&days) {
        return Err(PkiError::BadDays(i64::from(days)));
    }
    let not_before = now - BACKDATE;
    let not_after = now + Duration::days(i64::from(days));
    Ok(der::seq(&[&der::time(not_before), &der::time(not_after)]))
}

fn is_rsa(spki_der: &[u8]) -> bool {
    // rsaEncryption OID content bytes inside the AlgorithmIdentifier.
    spki_der.windows(9).any(|w| w == [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01])
}

/// A CA: its certificate and the key that signs with it.
#[derive(Debug)]
pub struct Ca {
    /// The CA certificate, DER.
    pub cert_der: Vec<u8>,
    subject_der: Vec<u8>,
    key_id: Vec<u8>,
    key: PrivateKey,
}

impl Ca {
    /// Builds a CA from its certificate (PEM or DER) and key; checks that the certificate
    /// may issue certificates and that the key belongs to it.
    pub fn new(cert_bytes: &[u8], key: PrivateKey) -> Result<Ca> {
        let cert_der = first_certificate(cert_bytes)?;
        let (_, cert) = X509Certificate::from_der(&cert_der)
            .map_err(|e| PkiError::Malformed { what: "CA certificate", detail: e.to_string() })?;
        let ca_flag = cert.basic_constraints().ok().flatten().map(|bc| bc.value.ca);
        match (cert.version().0, ca_flag) {
            (_, Some(true)) => {}
            // openssl accepts a self-signed v1 certificate as a trust anchor.
            (0, None) if cert.subject().as_raw() == cert.issuer().as_raw() => {}
            (_, Some(false)) => return Err(PkiError::NotACa("basicConstraints CA:FALSE".into())),
            _ => return Err(PkiError::NotACa("no basicConstraints CA:TRUE".into())),
        }
        if let Ok(Some(ku)) = cert.key_usage()
            && !ku.value.key_cert_sign()
        {
            return Err(PkiError::NotACa("keyUsage lacks keyCertSign".into()));
        }
        if !key_matches_spki(&key, cert.public_key())? {
            return Err(PkiError::CaKeyMismatch);
        }
        let key_id = match cert.extensions().iter().find_map(|e| match e.parsed_extension() {
            x509_parser::extensions::ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        }) {
            Some(id) => id,
            None => key_identifier(cert.public_key().raw)?,
        };
        let subject_der = cert.subject().as_raw().to_vec();
        Ok(Ca { cert_der: cert_der.clone(), subject_der, key_id, key })
    }

    /// The CA's subject on one line.
    pub fn subject(&self) -> String {
        X509Certificate::from_der(&self.cert_der)
            .map(|(_, c)| subject::format_name(c.subject()))
            .unwrap_or_default()
    }

    /// The CA's subject Name, DER.
    pub fn subject_der(&self) -> &[u8] {
        &self.subject_der
    }

    /// The CA's key identifier (for authorityKeyIdentifier).
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }

    /// The CA's signing key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }

    /// Issues a certificate for a verified CSR.
    pub fn issue(
        &self,
        csr: &Csr,
        profile: Profile,
        days: u32,
        serial: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<u8>> {
        if profile == Profile::Server && csr.sans.is_empty() {
            return Err(PkiError::ServerNeedsSan);
        }
        self.issue_raw(&csr.subject_der, &csr.spki_der, &csr.sans, profile, days, serial, now)
    }

    /// Issues a certificate for a subject and public key given directly (enrollment,
    /// server certificates made by acc itself).
    #[allow(clippy::too_many_arguments)]
    pub fn issue_raw(
        &self,
        subject_der: &[u8],
        spki_der: &[u8],
        sans: &[San],
        profile: Profile,
        days: u32,
        serial: &[u8],
        now: OffsetDateTime,
    ) -> Result<Vec<u8>> {
        let mut usage_bits = vec![0u8]; // digitalSignature
        if profile == Profile::Server && is_rsa(spki_der) {
            usage_bits.push(2); // keyEncipherment, for RSA key transport
        }
        let eku = match profile {
            Profile::Client => OID_CLIENT_AUTH,
            Profile::Server => OID_SERVER_AUTH,
        };
        let mut extensions = vec![
            der::extension(OID_BASIC_CONSTRAINTS, true, &der::seq(&[])),
            der::extension(OID_KEY_USAGE, true, &der::named_bits(&usage_bits)),
            der::extension(OID_EXT_KEY_USAGE, false, &der::seq(&[&der::oid(eku)])),
            der::extension(OID_SKI, false, &der::octets(&key_identifier(spki_der)?)),
            der::extension(OID_AKI, false, &der::seq(&[&der::ctx_prim(0, &self.key_id)])),
        ];
        if !sans.is_empty() {
            extensions.push(csr::san_extension(sans));
        }
        let tbs = der::seq(&[
            &der::ctx(0, &der::small_uint(2)),
            &der::uint(serial),
            &self.key.signature_algorithm_der(),
            &self.subject_der,
            &validity(now, days)?,
            subject_der,
            spki_der,
            &der::ctx(3, &der::seq(&extensions.iter().map(Vec::as_slice).collect::<Vec<_>>())),
        ]);
        self.key.sign_structure(&tbs)
    }
}

/// Whether `key` is the private half of the public key `spki`.
fn key_matches_spki(key: &PrivateKey, spki: &SubjectPublicKeyInfo<'_>) -> Result<bool> {
    let key_spki = key.public_key_der()?;
    let (_, key_pk) = SubjectPublicKeyInfo::from_der(&key_spki)
        .map_err(|e| PkiError::Malformed { what: "public key", detail: e.to_string() })?;
    Ok(key_pk.subject_public_key.data == spki.subject_public_key.data)
}

/// Whether `key` belongs to the certificate `cert_der` (a TLS key pair, a CA pair).
pub fn key_matches_certificate(key: &PrivateKey, cert_der: &[u8]) -> Result<bool> {
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| PkiError::Malformed { what: "certificate", detail: e.to_string() })?;
    key_matches_spki(key, cert.public_key())
}

/// Makes a self-signed CA certificate: CA:TRUE (path length 0: it signs end entities
/// only), keyUsage keyCertSign and cRLSign, subject and authority key identifiers.
pub fn self_signed_ca(
    key: &PrivateKey,
    subject: &Subject,
    days: u32,
    serial: &[u8],
    now: OffsetDateTime,
) -> Result<Vec<u8>> {
    let spki = key.public_key_der()?;
    let key_id = key_identifier(&spki)?;
    let name = subject.to_der();
    let extensions = [
        der::extension(OID_BASIC_CONSTRAINTS, true, &der::seq(&[&der::boolean(true), &der::small_uint(0)])),
        der::extension(OID_KEY_USAGE, true, &der::named_bits(&[5, 6])),
        der::extension(OID_SKI, false, &der::octets(&key_id)),
        der::extension(OID_AKI, false, &der::seq(&[&der::ctx_prim(0, &key_id)])),
    ];
    let tbs = der::seq(&[
        &der::ctx(0, &der::small_uint(2)),
        &der::uint(serial),
        &key.signature_algorithm_der(),
        &name,
        &validity(now, days)?,
        &name,
        &spki,
        &der::ctx(3, &der::seq(&extensions.iter().map(Vec::as_slice).collect::<Vec<_>>())),
    ]);
    key.sign_structure(&tbs)
}

/// The first certificate in PEM or DER bytes.
pub fn first_certificate(bytes: &[u8]) -> Result<Vec<u8>> {
    Ok(certificates(bytes)?.remove(0))
}

/// The SubjectPublicKeyInfo (DER) and the subject's common name of a certificate (DER).
pub fn spki_and_cn(der: &[u8]) -> Result<(Vec<u8>, Option<String>)> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| PkiError::Malformed { what: "certificate", detail: e.to_string() })?;
    Ok((cert.public_key().raw.to_vec(), subject::common_name_of(cert.subject())))
}

/// Every certificate in PEM (a bundle) or DER bytes; at least one.
pub fn certificates(bytes: &[u8]) -> Result<Vec<Vec<u8>>> {
    if pem::looks_like_pem(bytes) {
        let blocks = pem::decode_all(bytes)?;
        let certs: Vec<Vec<u8>> = blocks
            .iter()
            .filter(|b| {
                b.label == "CERTIFICATE" || b.label == "X509 CERTIFICATE" || b.label == "TRUSTED CERTIFICATE"
            })
            .map(|b| b.der.clone())
            .collect();
        if certs.is_empty() {
            return Err(PkiError::NotFound { expected: "certificate", found: pem::labels_found(&blocks) });
        }
        Ok(certs)
    } else if X509Certificate::from_der(bytes).is_ok() {
        Ok(vec![bytes.to_vec()])
    } else {
        Err(PkiError::NotFound { expected: "certificate", found: "neither PEM nor a DER certificate".into() })
    }
}

/// The key algorithm of a certificate's or CSR's public key, for display.
pub fn spki_algorithm(spki: &SubjectPublicKeyInfo<'_>) -> String {
    use x509_parser::public_key::PublicKey;
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyAlgorithm::Rsa(rsa.key_size()).to_string(),
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok())
                .map(|o| o.to_id_string())
                .unwrap_or_default();
            match curve.as_str() {
                "1.2.840.10045.3.1.7" => "EC P-256 (prime256v1)".to_string(),
                "1.3.132.0.34" => "EC P-384 (secp384r1)".to_string(),
                other => format!("EC curve {other}"),
            }
        }
        _ => spki.algorithm.algorithm.to_id_string(),
    }
}

#[cfg(test)]
mod tests;
