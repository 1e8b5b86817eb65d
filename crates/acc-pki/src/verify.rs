//! Verifying a certificate against a CA, as `openssl verify -CAfile CA [-purpose]
//! [-crl_check -CRLfile]` does, but with one reason a failure and that reason in words:
//! unknown issuer, bad signature, expired, not yet valid, wrong purpose, revoked; and
//! X.509 v1 certificates recognised with the command that re-signs them.

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use crate::crl::Crl;
use crate::error::{PkiError, Result};
use crate::serial;
use crate::subject;
use crate::x509;

/// The purpose a certificate is checked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// TLS client authentication (an agent).
    Client,
    /// TLS server authentication (a site server).
    Server,
}

/// One line telling how to replace an X.509 v1 certificate (what the seed's
/// `openssl x509 -req … -extensions client` makes when `-extfile` is missing).
pub const V1_RESIGN_HINT: &str = "X.509 v1 certificate (no extensions), which TLS refuses as a client certificate; \
it is what `openssl x509 -req … -extensions client` makes without `-extfile`: re-sign the CSR with \
`acc pki sign --profile client …`, or add `-extfile client.cnf` to the openssl command \
(client.cnf from `acc pki openssl-ext --profile client`)";

/// Why a certificate is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// X.509 v1.
    #[error("{V1_RESIGN_HINT}")]
    Version1,
    /// No certificate in the CA file has the issuer's name.
    #[error("unknown issuer: no certificate in the CA file is named '{issuer}'; it was signed by another CA")]
    UnknownIssuer {
        /// The certificate's issuer.
        issuer: String,
    },
    /// The issuer's key did not make this signature.
    #[error(
        "bad signature: the signature does not verify with the key of '{issuer}' (tampered certificate, or another CA with the same name)"
    )]
    BadSignature {
        /// The issuer.
        issuer: String,
    },
    /// The issuing certificate may not issue.
    #[error("the issuer '{issuer}' is not a CA ({why})")]
    IssuerNotCa {
        /// The issuer.
        issuer: String,
        /// What is missing.
        why: String,
    },
    /// The CA certificate itself is out of its validity.
    #[error("the CA certificate '{issuer}' {what}")]
    CaOutOfValidity {
        /// The issuer.
        issuer: String,
        /// expired on … / is not valid before …
        what: String,
    },
    /// Past notAfter.
    #[error("expired: not valid after {not_after} (checked at {at})")]
    Expired {
        /// notAfter.
        not_after: String,
        /// The time of the check.
        at: String,
    },
    /// Before notBefore.
    #[error(
        "not yet valid: not valid before {not_before} (checked at {at}); if it was just issued, a clock is wrong"
    )]
    NotYetValid {
        /// notBefore.
        not_before: String,
        /// The time of the check.
        at: String,
    },
    /// EKU or keyUsage exclude the purpose.
    #[error("wrong purpose: {why}")]
    WrongPurpose {
        /// What excludes it.
        why: String,
    },
    /// On the CRL.
    #[error("revoked: serial {serial} is on the CRL since {since}")]
    Revoked {
        /// The serial.
        serial: String,
        /// The revocation date.
        since: String,
    },
    /// The CRL is not usable.
    #[error("CRL: {0}")]
    Crl(String),
}

/// What a successful verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The certificate's subject.
    pub subject: String,
    /// The issuing CA's subject.
    pub issuer: String,
    /// notAfter.
    pub not_after: String,
}

/// Options of a verification.
#[derive(Debug, Clone)]
pub struct Options {
    /// Check this purpose.
    pub purpose: Option<Purpose>,
    /// Check revocation against this CRL.
    pub crl: Option<Crl>,
    /// The time of the check.
    pub at: OffsetDateTime,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

/// Whether `ca_der` signed `cert_der` (the signature only: no validity, purpose or
/// revocation), for renewing a certificate that has expired.
pub fn signed_by(ca_der: &[u8], cert_der: &[u8]) -> Result<bool> {
    let (_, ca) = X509Certificate::from_der(ca_der)
        .map_err(|e| PkiError::Malformed { what: "CA certificate", detail: e.to_string() })?;
    let (_, cert) = X509Certificate::from_der(cert_der)
        .map_err(|e| PkiError::Malformed { what: "certificate", detail: e.to_string() })?;
    Ok(cert.issuer().as_raw() == ca.subject().as_raw()
        && cert.verify_signature(Some(ca.public_key())).is_ok())
}

/// Verifies `cert_bytes` against the CA certificates in `ca_bytes`. The outer `Result`
/// is about reading the inputs; the inner one is the verdict.
pub fn verify(
    ca_bytes: &[u8],
    cert_bytes: &[u8],
    opts: &Options,
) -> Result<std::result::Result<Verified, Failure>> {
    let cas = x509::certificates(ca_bytes)?;
    let cert_der = x509::first_certificate(cert_bytes)?;
    let (_, cert) = X509Certificate::from_der(&cert_der)
        .map_err(|e| PkiError::Malformed { what: "certificate", detail: e.to_string() })?;
    let mut parsed_cas = Vec::new();
    for der in &cas {
        let (_, ca) = X509Certificate::from_der(der)
            .map_err(|e| PkiError::Malformed { what: "CA certificate", detail: e.to_string() })?;
        parsed_cas.push(ca);
    }
    Ok(check(&cert, &parsed_cas, opts))
}

fn check(
    cert: &X509Certificate<'_>,
    cas: &[X509Certificate<'_>],
    opts: &Options,
) -> std::result::Result<Verified, Failure> {
    if cert.version().0 == 0 {
        return Err(Failure::Version1);
    }
    let issuer_name = subject::format_name(cert.issuer());
    let candidates: Vec<&X509Certificate<'_>> =
        cas.iter().filter(|ca| ca.subject().as_raw() == cert.issuer().as_raw()).collect();
    if candidates.is_empty() {
        return Err(Failure::UnknownIssuer { issuer: issuer_name });
    }
    let Some(ca) = candidates.into_iter().find(|ca| cert.verify_signature(Some(ca.public_key())).is_ok())
    else {
        return Err(Failure::BadSignature { issuer: issuer_name });
    };
    check_ca(ca, &issuer_name, opts.at)?;
    let not_before = cert.validity().not_before.to_datetime();
    let not_after = cert.validity().not_after.to_datetime();
    if opts.at > not_after {
        return Err(Failure::Expired { not_after: rfc3339(not_after), at: rfc3339(opts.at) });
    }
    if opts.at < not_before {
        return Err(Failure::NotYetValid { not_before: rfc3339(not_before), at: rfc3339(opts.at) });
    }
    if let Some(purpose) = opts.purpose {
        check_purpose(cert, purpose)?;
    }
    if let Some(crl) = &opts.crl {
        check_crl(cert, ca, crl, opts.at)?;
    }
    Ok(Verified {
        subject: subject::format_name(cert.subject()),
        issuer: issuer_name,
        not_after: rfc3339(not_after),
    })
}

fn check_ca(ca: &X509Certificate<'_>, issuer: &str, at: OffsetDateTime) -> std::result::Result<(), Failure> {
    let is_ca = match ca.basic_constraints().ok().flatten() {
        Some(bc) => bc.value.ca,
        None => ca.version().0 == 0 && ca.subject().as_raw() == ca.issuer().as_raw(),
    };
    if !is_ca {
        return Err(Failure::IssuerNotCa {
            issuer: issuer.to_string(),
            why: "no basicConstraints CA:TRUE".into(),
        });
    }
    if let Ok(Some(ku)) = ca.key_usage()
        && !ku.value.key_cert_sign()
    {
        return Err(Failure::IssuerNotCa {
            issuer: issuer.to_string(),
            why: "keyUsage lacks keyCertSign".into(),
        });
    }
    let (nb, na) = (ca.validity().not_before.to_datetime(), ca.validity().not_after.to_datetime());
    if at > na {
        return Err(Failure::CaOutOfValidity {
            issuer: issuer.to_string(),
            what: format!("expired on {}", rfc3339(na)),
        });
    }
    if at < nb {
        return Err(Failure::CaOutOfValidity {
            issuer: issuer.to_string(),
            what: format!("is not valid before {}", rfc3339(nb)),
        });
    }
    Ok(())
}

/// Purpose rules of openssl's `sslclient`/`sslserver`: an EKU, when present, must list the
/// purpose (or anyExtendedKeyUsage); a keyUsage, when present, must allow the handshake.
fn check_purpose(cert: &X509Certificate<'_>, purpose: Purpose) -> std::result::Result<(), Failure> {
    let (label, other) = match purpose {
        Purpose::Client => ("client authentication (clientAuth)", "acc pki sign --profile client"),
        Purpose::Server => ("server authentication (serverAuth)", "acc pki sign --profile server"),
    };
    if let Ok(Some(eku)) = cert.extended_key_usage() {
        let e = eku.value;
        let ok = e.any
            || matches!(purpose, Purpose::Client if e.client_auth)
            || matches!(purpose, Purpose::Server if e.server_auth);
        if !ok {
            let has = eku_names(e).join(", ");
            return Err(Failure::WrongPurpose {
                why: format!("the certificate is for {has}, not {label}; issue one with `{other}`"),
            });
        }
    }
    if let Ok(Some(ku)) = cert.key_usage() {
        let k = ku.value;
        let ok = match purpose {
            Purpose::Client => k.digital_signature() || k.key_agreement(),
            Purpose::Server => k.digital_signature() || k.key_encipherment() || k.key_agreement(),
        };
        if !ok {
            return Err(Failure::WrongPurpose { why: format!("keyUsage does not allow {label}") });
        }
    }
    Ok(())
}

fn check_crl(
    cert: &X509Certificate<'_>,
    ca: &X509Certificate<'_>,
    crl: &Crl,
    at: OffsetDateTime,
) -> std::result::Result<(), Failure> {
    crl.check_issued_by(ca.as_raw()).map_err(|e| Failure::Crl(e.to_string()))?;
    if at < crl.this_update {
        return Err(Failure::Crl(format!("not yet valid (thisUpdate {})", rfc3339(crl.this_update))));
    }
    if let Some(next) = crl.next_update
        && at > next
    {
        return Err(Failure::Crl(format!(
            "expired (nextUpdate {}); make a fresh one with `acc pki crl`",
            rfc3339(next)
        )));
    }
    if let Some(r) = crl.find(cert.raw_serial()) {
        return Err(Failure::Revoked { serial: serial::to_hex(&r.serial), since: rfc3339(r.revoked_at) });
    }
    Ok(())
}

/// openssl's names for the extended key usages present.
pub fn eku_names(e: &x509_parser::extensions::ExtendedKeyUsage<'_>) -> Vec<String> {
    let mut v = Vec::new();
    if e.any {
        v.push("Any Extended Key Usage".to_string());
    }
    if e.server_auth {
        v.push("TLS Web Server Authentication".to_string());
    }
    if e.client_auth {
        v.push("TLS Web Client Authentication".to_string());
    }
    if e.code_signing {
        v.push("Code Signing".to_string());
    }
    if e.email_protection {
        v.push("E-mail Protection".to_string());
    }
    if e.time_stamping {
        v.push("Time Stamping".to_string());
    }
    if e.ocsp_signing {
        v.push("OCSP Signing".to_string());
    }
    v.extend(e.other.iter().map(|o| o.to_id_string()));
    v
}
