//! Certificate signing requests (PKCS#10): building them from a key, a subject and
//! subject alternative names; reading and verifying the ones openssl makes.

use std::net::IpAddr;

use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use crate::der::{self, tag};
use crate::error::{PkiError, Result};
use crate::key::PrivateKey;
use crate::pem;
use crate::subject::{self, Subject};

const OID_SAN: &[u64] = &[2, 5, 29, 17];

/// One subject alternative name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub enum San {
    /// `DNS:host.example`
    Dns(String),
    /// `IP:10.0.0.5` or `IP:::1`
    Ip(IpAddr),
    /// `email:john@example.com`
    Email(String),
    /// `URI:spiffe://fleet/agent1`
    Uri(String),
}

impl std::fmt::Display for San {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(v) => write!(f, "DNS:{v}"),
            San::Ip(v) => write!(f, "IP:{v}"),
            San::Email(v) => write!(f, "email:{v}"),
            San::Uri(v) => write!(f, "URI:{v}"),
        }
    }
}

impl San {
    /// Parses `DNS:x,IP:y,email:z,URI:u` (openssl's `subjectAltName` syntax).
    pub fn parse_list(text: &str) -> Result<Vec<San>> {
        let mut out = Vec::new();
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let bad = || PkiError::BadSan(item.to_string());
            let (kind, value) = item.split_once(':').ok_or_else(bad)?;
            let value = value.trim();
            if value.is_empty() || !value.is_ascii() || value.chars().any(|c| c.is_ascii_control()) {
                return Err(bad());
            }
            out.push(match kind.trim().to_ascii_lowercase().as_str() {
                "dns" => San::Dns(value.to_string()),
                "ip" => San::Ip(value.parse().map_err(|_| bad())?),
                "email" => San::Email(value.to_string()),
                "uri" => San::Uri(value.to_string()),
                _ => return Err(bad()),
            });
        }
        Ok(out)
    }

    /// The GeneralName DER.
    pub fn to_der(&self) -> Vec<u8> {
        match self {
            San::Email(v) => der::ctx_prim(1, v.as_bytes()),
            San::Dns(v) => der::ctx_prim(2, v.as_bytes()),
            San::Uri(v) => der::ctx_prim(6, v.as_bytes()),
            San::Ip(IpAddr::V4(a)) => der::ctx_prim(7, &a.octets()),
            San::Ip(IpAddr::V6(a)) => der::ctx_prim(7, &a.octets()),
        }
    }

    pub(crate) fn from_general_name(name: &GeneralName<'_>) -> Option<San> {
        match name {
            GeneralName::DNSName(v) => Some(San::Dns(v.to_string())),
            GeneralName::RFC822Name(v) => Some(San::Email(v.to_string())),
            GeneralName::URI(v) => Some(San::Uri(v.to_string())),
            GeneralName::IPAddress(b) => match b.len() {
                4 => <[u8; 4]>::try_from(*b).ok().map(|a| San::Ip(IpAddr::from(a))),
                16 => <[u8; 16]>::try_from(*b).ok().map(|a| San::Ip(IpAddr::from(a))),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The subjectAltName extension (non-critical; its value a SEQUENCE OF GeneralName), the
/// same in a CSR and in the certificate issued from it.
pub(crate) fn san_extension(sans: &[San]) -> Vec<u8> {
    let names: Vec<Vec<u8>> = sans.iter().map(San::to_der).collect();
    der::extension(OID_SAN, false, &der::tlv(tag::SEQUENCE, &names.concat()))
}

/// Builds and signs a CSR. Returns its DER.
pub fn build(key: &PrivateKey, subject: &Subject, sans: &[San]) -> Result<Vec<u8>> {
    let attributes = if sans.is_empty() {
        der::ctx(0, &[])
    } else {
        let extensions = der::seq(&[&san_extension(sans)]);
        let attr = der::seq(&[&der::oid(&[1, 2, 840, 113549, 1, 9, 14]), &der::set_of(vec![extensions])]);
        der::ctx(0, &attr)
    };
    let info = der::seq(&[&der::small_uint(0), &subject.to_der(), &key.public_key_der()?, &attributes]);
    key.sign_structure(&info)
}

/// A CSR that was read and whose self-signature verified.
#[derive(Debug, Clone)]
pub struct Csr {
    /// The whole request, DER.
    pub der: Vec<u8>,
    /// The subject Name exactly as requested, DER (copied into certificates byte for byte).
    pub subject_der: Vec<u8>,
    /// The subject on one line.
    pub subject: String,
    /// The last common name, if any.
    pub common_name: Option<String>,
    /// The SubjectPublicKeyInfo, DER.
    pub spki_der: Vec<u8>,
    /// The requested subject alternative names.
    pub sans: Vec<San>,
}

impl Csr {
    /// Reads a CSR (PEM `CERTIFICATE REQUEST` / `NEW CERTIFICATE REQUEST`, or DER) and
    /// verifies its signature.
    pub fn from_bytes(bytes: &[u8]) -> Result<Csr> {
        let der =
            pem::der_of(bytes, &["CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"], "certificate request")?;
        let (_, req) = X509CertificationRequest::from_der(&der)
            .map_err(|e| PkiError::Malformed { what: "certificate request", detail: e.to_string() })?;
        req.verify_signature().map_err(|_| PkiError::CsrSignature)?;
        let info = &req.certification_request_info;
        let mut sans = Vec::new();
        if let Some(exts) = req.requested_extensions() {
            for ext in exts {
                if let ParsedExtension::SubjectAlternativeName(san) = ext {
                    sans.extend(san.general_names.iter().filter_map(San::from_general_name));
                }
            }
        }
        Ok(Csr {
            subject_der: info.subject.as_raw().to_vec(),
            subject: subject::format_name(&info.subject),
            common_name: subject::common_name_of(&info.subject),
            spki_der: info.subject_pki.raw.to_vec(),
            sans,
            der,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::Curve;

    #[test]
    fn built_csrs_verify_and_keep_subject_and_sans() {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let subject = Subject::parse("/C=US/O=Example/OU=a+OU=b/CN=agent1").unwrap();
        let sans = San::parse_list("DNS:agent1.example, IP:10.0.0.5,email:a@example.com,IP:::1").unwrap();
        let der = build(&key, &subject, &sans).unwrap();
        let pem_text = pem::encode("CERTIFICATE REQUEST", &der);
        let csr = Csr::from_bytes(pem_text.as_bytes()).unwrap();
        assert_eq!(csr.subject_der, subject.to_der());
        assert_eq!(csr.subject, "C=US, O=Example, OU=a + OU=b, CN=agent1");
        assert_eq!(csr.common_name.as_deref(), Some("agent1"));
        assert_eq!(csr.sans, sans);
        assert_eq!(csr.spki_der, key.public_key_der().unwrap());
    }

    #[test]
    fn tampered_csrs_are_refused() {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let mut der = build(&key, &Subject::parse("/CN=agent1").unwrap(), &[]).unwrap();
        let pos = der.windows(6).position(|w| w == b"agent1").unwrap();
        der[pos] = b'b';
        assert!(matches!(Csr::from_bytes(&der), Err(PkiError::CsrSignature)));
    }

    #[test]
    fn san_lists_are_validated() {
        for bad in ["DNS", "FOO:x", "IP:300.1.1.1", "DNS:", "DNS:zoë.example"] {
            assert!(San::parse_list(bad).is_err(), "{bad}");
        }
    }
}
