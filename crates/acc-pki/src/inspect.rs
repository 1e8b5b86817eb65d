//! `acc pki show`: a short summary of a certificate, CSR, private key or CRL — subject,
//! issuer, serial, validity, usages, SANs, fingerprint — for people and, as JSON, for
//! scripts. A key's summary names its algorithm and public-key fingerprint only.

use aws_lc_rs::digest;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::certificate::X509Certificate;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::crl::{Crl, Revoked};
use crate::csr::{Csr, San};
use crate::error::{PkiError, Result};
use crate::key::PrivateKey;
use crate::{pem, serial, subject, verify, x509};

/// The summary of one PKI file.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Summary {
    /// An X.509 certificate.
    Certificate(CertificateSummary),
    /// A PKCS#10 request.
    CertificateRequest(RequestSummary),
    /// A private key (public facts only).
    PrivateKey(KeySummary),
    /// A CRL.
    Crl(CrlSummary),
}

/// A certificate.
#[derive(Debug, Clone, Serialize)]
pub struct CertificateSummary {
    /// 1 or 3.
    pub version: u32,
    /// Subject on one line.
    pub subject: String,
    /// Issuer on one line.
    pub issuer: String,
    /// Serial, upper-case hexadecimal.
    pub serial: String,
    /// notBefore, RFC 3339.
    pub not_before: String,
    /// notAfter, RFC 3339.
    pub not_after: String,
    /// notAfter, for [`Summary::warn_if_expired`].
    #[serde(skip)]
    pub not_after_time: OffsetDateTime,
    /// The public key's algorithm.
    pub key: String,
    /// basicConstraints, when present.
    pub basic_constraints: Option<String>,
    /// keyUsage names.
    pub key_usage: Vec<String>,
    /// extendedKeyUsage names (openssl's).
    pub extended_key_usage: Vec<String>,
    /// subjectAltName entries.
    pub subject_alt_names: Vec<String>,
    /// SHA-256 of the DER, colon-separated upper-case hexadecimal.
    pub sha256_fingerprint: String,
    /// Problems worth knowing before using it.
    pub warnings: Vec<String>,
}

impl Summary {
    /// Adds the warning "expired on …" to a certificate whose notAfter is before `now` (the
    /// caller's clock: a summary itself does not depend on the time).
    pub fn warn_if_expired(&mut self, now: OffsetDateTime) {
        if let Summary::Certificate(c) = self
            && c.not_after_time < now
        {
            c.warnings.push(format!("expired on {}", c.not_after));
        }
    }
}

/// A certificate request.
#[derive(Debug, Clone, Serialize)]
pub struct RequestSummary {
    /// Subject on one line.
    pub subject: String,
    /// The public key's algorithm.
    pub key: String,
    /// Requested subjectAltName entries.
    pub subject_alt_names: Vec<String>,
    /// Whether the self-signature verifies.
    pub signature_valid: bool,
    /// SHA-256 of the DER.
    pub sha256_fingerprint: String,
}

/// A private key.
#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    /// Algorithm and size.
    pub key: String,
    /// SHA-256 of the public key's SubjectPublicKeyInfo.
    pub public_key_sha256: String,
}

/// A CRL.
#[derive(Debug, Clone, Serialize)]
pub struct CrlSummary {
    /// Issuer on one line.
    pub issuer: String,
    /// thisUpdate.
    pub this_update: String,
    /// nextUpdate.
    pub next_update: Option<String>,
    /// CRL number, hexadecimal.
    pub crl_number: Option<String>,
    /// Revoked certificates.
    pub revoked: Vec<Revoked>,
}

fn fingerprint(der: &[u8]) -> String {
    let d = digest::digest(&digest::SHA256, der);
    d.as_ref().iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Summarises a PKI file from its bytes (PEM or DER; the kind is detected).
pub fn summarize(bytes: &[u8]) -> Result<Summary> {
    if pem::looks_like_pem(bytes) {
        let blocks = pem::decode_all(bytes)?;
        for b in &blocks {
            match b.label.as_str() {
                "CERTIFICATE" | "X509 CERTIFICATE" | "TRUSTED CERTIFICATE" => {
                    return certificate(&b.der);
                }
                "CERTIFICATE REQUEST" | "NEW CERTIFICATE REQUEST" => return request(&b.der),
                "X509 CRL" => return crl(&b.der),
                "PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY" => {
                    return key(bytes);
                }
                _ => {}
            }
        }
        return Err(PkiError::NotFound {
            expected: "certificate, request, key or CRL",
            found: pem::labels_found(&blocks),
        });
    }
    if X509Certificate::from_der(bytes).is_ok() {
        return certificate(bytes);
    }
    if X509CertificationRequest::from_der(bytes).is_ok() {
        return request(bytes);
    }
    if CertificateRevocationList::from_der(bytes).is_ok() {
        return crl(bytes);
    }
    key(bytes)
}

fn certificate(der: &[u8]) -> Result<Summary> {
    let (_, cert) = X509Certificate::from_der(der)
        .map_err(|e| PkiError::Malformed { what: "certificate", detail: e.to_string() })?;
    let mut warnings = Vec::new();
    if cert.version().0 == 0 {
        warnings.push(verify::V1_RESIGN_HINT.to_string());
    }
    let mut basic_constraints = None;
    let mut key_usage = Vec::new();
    let mut extended_key_usage = Vec::new();
    let mut subject_alt_names = Vec::new();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::BasicConstraints(bc) => {
                basic_constraints = Some(match (bc.ca, bc.path_len_constraint) {
                    (true, Some(n)) => format!("CA:TRUE, pathlen:{n}"),
                    (true, None) => "CA:TRUE".to_string(),
                    (false, _) => "CA:FALSE".to_string(),
                });
            }
            ParsedExtension::KeyUsage(ku) => {
                key_usage =
                    ku.to_string().split(", ").filter(|s| !s.is_empty()).map(str::to_string).collect();
            }
            ParsedExtension::ExtendedKeyUsage(eku) => extended_key_usage = verify::eku_names(eku),
            ParsedExtension::SubjectAlternativeName(san) => {
                subject_alt_names = san
                    .general_names
                    .iter()
                    .filter_map(San::from_general_name)
                    .map(|s| s.to_string())
                    .collect();
            }
            _ => {}
        }
    }
    let not_after = cert.validity().not_after.to_datetime();
    Ok(Summary::Certificate(CertificateSummary {
        version: cert.version().0 + 1,
        subject: subject::format_name(cert.subject()),
        issuer: subject::format_name(cert.issuer()),
        serial: serial::to_hex(cert.raw_serial()),
        not_before: rfc3339(cert.validity().not_before.to_datetime()),
        not_after: rfc3339(not_after),
        not_after_time: not_after,
        key: x509::spki_algorithm(cert.public_key()),
        basic_constraints,
        key_usage,
        extended_key_usage,
        subject_alt_names,
        sha256_fingerprint: fingerprint(der),
        warnings,
    }))
}

fn request(der: &[u8]) -> Result<Summary> {
    let (_, req) = X509CertificationRequest::from_der(der)
        .map_err(|e| PkiError::Malformed { what: "certificate request", detail: e.to_string() })?;
    let info = &req.certification_request_info;
    let signature_valid = Csr::from_bytes(der).is_ok();
    let mut subject_alt_names = Vec::new();
    if let Some(exts) = req.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                subject_alt_names.extend(
                    san.general_names.iter().filter_map(San::from_general_name).map(|s| s.to_string()),
                );
            }
        }
    }
    Ok(Summary::CertificateRequest(RequestSummary {
        subject: subject::format_name(&info.subject),
        key: x509::spki_algorithm(&info.subject_pki),
        subject_alt_names,
        signature_valid,
        sha256_fingerprint: fingerprint(der),
    }))
}

fn key(bytes: &[u8]) -> Result<Summary> {
    let key = PrivateKey::from_bytes(bytes)?;
    Ok(Summary::PrivateKey(KeySummary {
        key: key.algorithm().to_string(),
        public_key_sha256: fingerprint(&key.public_key_der()?),
    }))
}

fn crl(der: &[u8]) -> Result<Summary> {
    let c = Crl::from_bytes(der)?;
    Ok(Summary::Crl(CrlSummary {
        issuer: c.issuer,
        this_update: rfc3339(c.this_update),
        next_update: c.next_update.map(rfc3339),
        crl_number: c.number.as_deref().map(serial::to_hex),
        revoked: c.revoked,
    }))
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() { "-".to_string() } else { v.join(", ") }
        };
        match self {
            Summary::Certificate(c) => {
                writeln!(f, "certificate (X.509 v{})", c.version)?;
                writeln!(f, "  subject:            {}", c.subject)?;
                writeln!(f, "  issuer:             {}", c.issuer)?;
                writeln!(f, "  serial:             {}", c.serial)?;
                writeln!(f, "  valid:              {} to {}", c.not_before, c.not_after)?;
                writeln!(f, "  key:                {}", c.key)?;
                writeln!(f, "  basic constraints:  {}", c.basic_constraints.as_deref().unwrap_or("-"))?;
                writeln!(f, "  key usage:          {}", list(&c.key_usage))?;
                writeln!(f, "  extended key usage: {}", list(&c.extended_key_usage))?;
                writeln!(f, "  subject alt names:  {}", list(&c.subject_alt_names))?;
                writeln!(f, "  sha256 fingerprint: {}", c.sha256_fingerprint)?;
                for w in &c.warnings {
                    writeln!(f, "warning: {w}")?;
                }
                Ok(())
            }
            Summary::CertificateRequest(r) => {
                writeln!(f, "certificate request")?;
                writeln!(f, "  subject:            {}", r.subject)?;
                writeln!(f, "  key:                {}", r.key)?;
                writeln!(f, "  subject alt names:  {}", list(&r.subject_alt_names))?;
                writeln!(f, "  signature:          {}", if r.signature_valid { "valid" } else { "INVALID" })?;
                writeln!(f, "  sha256 fingerprint: {}", r.sha256_fingerprint)
            }
            Summary::PrivateKey(k) => {
                writeln!(f, "private key")?;
                writeln!(f, "  key:                {}", k.key)?;
                writeln!(f, "  public key sha256:  {}", k.public_key_sha256)
            }
            Summary::Crl(c) => {
                writeln!(f, "certificate revocation list")?;
                writeln!(f, "  issuer:             {}", c.issuer)?;
                writeln!(f, "  this update:        {}", c.this_update)?;
                writeln!(f, "  next update:        {}", c.next_update.as_deref().unwrap_or("-"))?;
                writeln!(f, "  crl number:         {}", c.crl_number.as_deref().unwrap_or("-"))?;
                writeln!(f, "  revoked:            {}", c.revoked.len())?;
                for r in &c.revoked {
                    writeln!(f, "    {} since {}", serial::to_hex(&r.serial), rfc3339(r.revoked_at))?;
                }
                Ok(())
            }
        }
    }
}
