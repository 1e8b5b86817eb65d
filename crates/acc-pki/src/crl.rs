//! Certificate revocation lists: creating a CRL and extending an existing one, signed by
//! the CA; reading CRLs made by acc or by `openssl ca -gencrl`.

use time::{Duration, OffsetDateTime};
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::der;
use crate::error::{PkiError, Result};
use crate::pem;
use crate::serial;
use crate::subject;
use crate::x509::Ca;

const OID_CRL_NUMBER: &[u64] = &[2, 5, 29, 20];
const OID_AKI: &[u64] = &[2, 5, 29, 35];

/// One revoked certificate.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Revoked {
    /// Serial, big-endian magnitude.
    #[serde(serialize_with = "ser_hex")]
    pub serial: Vec<u8>,
    /// When it was revoked.
    #[serde(with = "time::serde::rfc3339")]
    pub revoked_at: OffsetDateTime,
}

fn ser_hex<S: serde::Serializer>(v: &[u8], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&serial::to_hex(v))
}

/// A CRL that was read (and whose issuer and signature were checked against a CA when
/// read through [`Crl::read_for`]).
#[derive(Debug, Clone)]
pub struct Crl {
    /// The CRL, DER.
    pub der: Vec<u8>,
    /// Issuer on one line.
    pub issuer: String,
    /// Issuer Name, DER.
    pub issuer_der: Vec<u8>,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate, if present.
    pub next_update: Option<OffsetDateTime>,
    /// The CRL number, if present.
    pub number: Option<Vec<u8>>,
    /// Every revoked certificate.
    pub revoked: Vec<Revoked>,
}

impl Crl {
    /// Reads a CRL (PEM `X509 CRL` or DER) without checking who signed it.
    pub fn from_bytes(bytes: &[u8]) -> Result<Crl> {
        let der = pem::der_of(bytes, &["X509 CRL"], "CRL")?;
        let (_, crl) = CertificateRevocationList::from_der(&der)
            .map_err(|e| PkiError::Malformed { what: "CRL", detail: e.to_string() })?;
        let revoked = crl
            .iter_revoked_certificates()
            .map(|r| Revoked {
                serial: serial::normalize(r.raw_serial()),
                revoked_at: r.revocation_date.to_datetime(),
            })
            .collect();
        Ok(Crl {
            issuer: subject::format_name(crl.issuer()),
            issuer_der: crl.issuer().as_raw().to_vec(),
            this_update: crl.last_update().to_datetime(),
            next_update: crl.next_update().map(|t| t.to_datetime()),
            number: crl.crl_number().map(|n| n.to_bytes_be()),
            revoked,
            der,
        })
    }

    /// Reads a CRL and checks that `ca` issued and signed it.
    pub fn read_for(bytes: &[u8], ca_cert_der: &[u8]) -> Result<Crl> {
        let crl = Crl::from_bytes(bytes)?;
        crl.check_issued_by(ca_cert_der)?;
        Ok(crl)
    }

    /// Checks that the CA certificate `ca_cert_der` issued and signed this CRL.
    pub fn check_issued_by(&self, ca_cert_der: &[u8]) -> Result<()> {
        let (_, ca) = x509_parser::certificate::X509Certificate::from_der(ca_cert_der)
            .map_err(|e| PkiError::Malformed { what: "CA certificate", detail: e.to_string() })?;
        if ca.subject().as_raw() != self.issuer_der.as_slice() {
            return Err(PkiError::CrlIssuer(self.issuer.clone()));
        }
        let (_, parsed) = CertificateRevocationList::from_der(&self.der)
            .map_err(|e| PkiError::Malformed { what: "CRL", detail: e.to_string() })?;
        parsed.verify_signature(ca.public_key()).map_err(|_| PkiError::CrlSignature)
    }

    /// Whether `serial` is on the list.
    pub fn find(&self, serial_bytes: &[u8]) -> Option<&Revoked> {
        let s = serial::normalize(serial_bytes);
        self.revoked.iter().find(|r| r.serial == s)
    }
}

/// Signs a CRL listing `revoked`, valid from `now` for `days`, with CRL number `number`.
pub fn sign(ca: &Ca, revoked: &[Revoked], number: &[u8], now: OffsetDateTime, days: u32) -> Result<Vec<u8>> {
    if !(1..=3650).contains(&days) {
        return Err(PkiError::BadDays(i64::from(days)));
    }
    let entries: Vec<Vec<u8>> =
        revoked.iter().map(|r| der::seq(&[&der::uint(&r.serial), &der::time(r.revoked_at)])).collect();
    let extensions = [
        der::extension(OID_AKI, false, &der::seq(&[&der::ctx_prim(0, ca.key_id())])),
        der::extension(OID_CRL_NUMBER, false, &der::uint(number)),
    ];
    let mut parts: Vec<Vec<u8>> = vec![
        der::small_uint(1),
        ca.key().signature_algorithm_der(),
        ca.subject_der().to_vec(),
        der::time(now),
        der::time(now + Duration::days(i64::from(days))),
    ];
    if !entries.is_empty() {
        parts.push(der::seq(&entries.iter().map(Vec::as_slice).collect::<Vec<_>>()));
    }
    parts.push(der::ctx(0, &der::seq(&extensions.iter().map(Vec::as_slice).collect::<Vec<_>>())));
    let tbs = der::seq(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>());
    ca.key().sign_structure(&tbs)
}

/// Builds the next CRL: the entries of `previous` (if any) plus `serials` revoked at
/// `now` (a serial already listed keeps its original date), CRL number + 1.
pub fn extend(
    ca: &Ca,
    previous: Option<&Crl>,
    serials: &[Vec<u8>],
    now: OffsetDateTime,
    days: u32,
) -> Result<Vec<u8>> {
    let mut revoked: Vec<Revoked> = previous.map(|c| c.revoked.clone()).unwrap_or_default();
    for s in serials {
        let s = serial::normalize(s);
        if !revoked.iter().any(|r| r.serial == s) {
            revoked.push(Revoked { serial: s, revoked_at: now });
        }
    }
    let number = match previous.and_then(|c| c.number.clone()) {
        Some(n) => serial::increment(&n),
        None => vec![1],
    };
    sign(ca, &revoked, &number, now, days)
}
