//! The site's TLS material: its server certificate, the client CAs it trusts for agent
//! certificates (`acc site trust …`) and the CRL it enforces (`acc site crl set`). Changes
//! are files in the data directory; a running server rebuilds its TLS configuration from
//! them (new connections use it, established ones keep theirs).

use std::path::Path;

use acc_net::TlsInputs;
use acc_pki::crl::Crl;
use acc_pki::fsutil::{self, PUBLIC_MODE};
use acc_pki::{pem, x509};
use serde::Serialize;

use crate::error::SiteError;
use crate::layout::Layout;

/// A trusted client CA.
#[derive(Debug, Clone, Serialize)]
pub struct TrustedCa {
    /// SHA-256 of the certificate (hex), also its file name.
    pub fingerprint: String,
    /// Its subject.
    pub subject: String,
    /// notAfter.
    pub not_after: String,
}

fn read(path: &Path) -> Result<Vec<u8>, SiteError> {
    std::fs::read(path).map_err(|e| SiteError::io(path, e))
}

/// The TLS inputs the data directory describes now.
pub fn inputs(layout: &Layout) -> Result<TlsInputs, SiteError> {
    let mut inputs = TlsInputs::new(read(&layout.tls_cert())?, read(&layout.tls_key())?);
    for ca in list(layout)? {
        inputs = inputs.client_ca(read(&layout.trust_dir().join(format!("{}.pem", ca.fingerprint)))?);
    }
    if layout.crl().exists() {
        inputs = inputs.crl(read(&layout.crl())?);
    }
    // What the management server distributes: the fleet CA, operator CAs, the fleet CRL.
    if let Ok(entries) = std::fs::read_dir(layout.management_trust_dir()) {
        let mut paths: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "pem"))
            .collect();
        paths.sort();
        for p in paths {
            inputs = inputs.client_ca(read(&p)?);
        }
    }
    if layout.management_crl().exists() {
        inputs = inputs.crl(read(&layout.management_crl())?);
    }
    Ok(inputs)
}

/// The trusted client CAs.
pub fn list(layout: &Layout) -> Result<Vec<TrustedCa>, SiteError> {
    let dir = layout.trust_dir();
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "pem") {
            out.push(describe(&read(&path)?)?);
        }
    }
    out.sort_by(|a, b| a.subject.cmp(&b.subject));
    Ok(out)
}

fn describe(bytes: &[u8]) -> Result<TrustedCa, SiteError> {
    match acc_pki::inspect::summarize(bytes)? {
        acc_pki::inspect::Summary::Certificate(c) => Ok(TrustedCa {
            fingerprint: c.sha256_fingerprint.replace(':', "").to_lowercase(),
            subject: c.subject,
            not_after: c.not_after,
        }),
        _ => Err(SiteError::Invalid(vec!["expected a CA certificate (PEM or DER)".to_string()])),
    }
}

/// Adds a client CA (PEM or DER bytes); it must be a CA certificate.
pub fn add(layout: &Layout, bytes: &[u8]) -> Result<TrustedCa, SiteError> {
    let der = x509::first_certificate(bytes)?;
    let pem_text = pem::encode("CERTIFICATE", &der);
    let ca = describe(pem_text.as_bytes())?;
    let summary = acc_pki::inspect::summarize(pem_text.as_bytes())?;
    if let acc_pki::inspect::Summary::Certificate(c) = &summary
        && !c.basic_constraints.as_deref().is_some_and(|b| b.starts_with("CA:TRUE"))
        && c.version != 1
    {
        return Err(SiteError::Invalid(vec![format!(
            "'{}' is not a CA certificate (no basicConstraints CA:TRUE)",
            c.subject
        )]));
    }
    std::fs::create_dir_all(layout.trust_dir()).map_err(|e| SiteError::io(&layout.trust_dir(), e))?;
    fsutil::write_file(
        &layout.trust_dir().join(format!("{}.pem", ca.fingerprint)),
        pem_text.as_bytes(),
        PUBLIC_MODE,
        true,
    )?;
    Ok(ca)
}

/// Removes a client CA by fingerprint (or a unique prefix of it, at least 8 characters).
pub fn remove(layout: &Layout, fingerprint: &str) -> Result<TrustedCa, SiteError> {
    let wanted = fingerprint.replace(':', "").to_lowercase();
    let matches: Vec<TrustedCa> = list(layout)?
        .into_iter()
        .filter(|c| wanted.len() >= 8 && c.fingerprint.starts_with(&wanted))
        .collect();
    match matches.as_slice() {
        [one] => {
            let path = layout.trust_dir().join(format!("{}.pem", one.fingerprint));
            std::fs::remove_file(&path).map_err(|e| SiteError::io(&path, e))?;
            Ok(one.clone())
        }
        [] => Err(SiteError::Invalid(vec![format!(
            "no trusted CA has fingerprint '{fingerprint}' (see `acc site trust list`)"
        )])),
        _ => Err(SiteError::Invalid(vec![format!(
            "'{fingerprint}' matches several trusted CAs; give more of the fingerprint"
        )])),
    }
}

/// Sets the enforced CRL; it must be issued and signed by one of the trusted CAs.
pub fn set_crl(layout: &Layout, bytes: &[u8]) -> Result<String, SiteError> {
    let crl = Crl::from_bytes(bytes)?;
    let mut issuer_ok = false;
    for ca in list(layout)? {
        let ca_pem = read(&layout.trust_dir().join(format!("{}.pem", ca.fingerprint)))?;
        if crl.check_issued_by(&x509::first_certificate(&ca_pem)?).is_ok() {
            issuer_ok = true;
        }
    }
    if !issuer_ok {
        return Err(SiteError::Invalid(vec![format!(
            "the CRL's issuer '{}' is not a trusted client CA (or its signature does not verify); add the CA with `acc site trust add` first",
            crl.issuer
        )]));
    }
    fsutil::write_file(&layout.crl(), pem::encode("X509 CRL", &crl.der).as_bytes(), PUBLIC_MODE, true)?;
    Ok(format!("CRL of {} with {} revoked certificate(s)", crl.issuer, crl.revoked.len()))
}
