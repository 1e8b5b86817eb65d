//! The TLS material a server role makes for itself at init: a CA of its own (the site's
//! CA, the fleet CA) and a server certificate it issues for the names clients use.

use std::net::{IpAddr, SocketAddr};

use time::OffsetDateTime;

use crate::csr::San;
use crate::key::{Curve, PrivateKey};
use crate::subject::Subject;
use crate::x509::{self, Ca, Profile};
use crate::{Result, pem, serial};

/// A CA and one server certificate it issued, as PEM.
pub struct ServerBundle {
    /// The CA, with its key (kept to issue more certificates).
    pub ca: Ca,
    /// The CA certificate, PEM.
    pub ca_cert_pem: String,
    /// The CA key, PKCS#8 PEM.
    pub ca_key_pem: String,
    /// The server certificate, PEM.
    pub cert_pem: String,
    /// The server key, PKCS#8 PEM.
    pub key_pem: String,
}

impl std::fmt::Debug for ServerBundle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBundle").field("ca", &self.ca.subject()).finish_non_exhaustive()
    }
}

/// What [`make`] is asked for.
#[derive(Debug, Clone)]
pub struct BundleSpec<'a> {
    /// The CA's subject, openssl `-subj` form.
    pub ca_subject: &'a str,
    /// The server certificate's subject.
    pub server_subject: &'a str,
    /// The server certificate's names.
    pub sans: Vec<San>,
    /// CA validity in days.
    pub ca_days: u32,
    /// Server certificate validity in days.
    pub server_days: u32,
}

/// Makes a P-256 CA and a server certificate it signs.
pub fn make(spec: &BundleSpec<'_>, now: OffsetDateTime) -> Result<ServerBundle> {
    let ca_key = PrivateKey::generate(Curve::P256)?;
    let ca_der = x509::self_signed_ca(
        &ca_key,
        &Subject::parse(spec.ca_subject)?,
        spec.ca_days,
        &serial::random()?,
        now,
    )?;
    let ca_key_pem = ca_key.to_pkcs8_pem()?;
    let ca = Ca::new(&ca_der, ca_key)?;
    let (cert_pem, key_pem) =
        server_certificate(&ca, spec.server_subject, &spec.sans, spec.server_days, now)?;
    Ok(ServerBundle { ca, ca_cert_pem: pem::encode("CERTIFICATE", &ca_der), ca_key_pem, cert_pem, key_pem })
}

/// A new key and a server certificate for it from `ca` (`subject`, `sans`, valid `days`
/// from `now`): the certificate and the key, PEM.
pub fn server_certificate(
    ca: &Ca,
    subject: &str,
    sans: &[San],
    days: u32,
    now: OffsetDateTime,
) -> Result<(String, String)> {
    let key = PrivateKey::generate(Curve::P256)?;
    let der = ca.issue_raw(
        &Subject::parse(subject)?.to_der(),
        &key.public_key_der()?,
        sans,
        Profile::Server,
        days,
        &serial::random()?,
        now,
    )?;
    Ok((pem::encode("CERTIFICATE", &der), key.to_pkcs8_pem()?))
}

/// The names clients may use to reach a server listening on `listen`: `localhost`, the
/// listen address (both loopbacks when it is unspecified) and the host name.
pub fn listen_names(listen: SocketAddr, hostname: &str) -> Vec<San> {
    let mut sans = vec![San::Dns("localhost".to_string())];
    let ip = listen.ip();
    if ip.is_unspecified() {
        sans.push(San::Ip(IpAddr::from([127, 0, 0, 1])));
        sans.push(San::Ip(IpAddr::from(std::net::Ipv6Addr::LOCALHOST)));
    } else {
        sans.push(San::Ip(ip));
    }
    if !hostname.is_empty() && hostname != "localhost" && hostname.is_ascii() {
        sans.push(San::Dns(hostname.to_ascii_lowercase()));
    }
    sans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_certificate_verifies_against_its_ca() {
        let spec = BundleSpec {
            ca_subject: "/O=acc/CN=test CA",
            server_subject: "/O=acc/CN=server",
            sans: listen_names("0.0.0.0:1".parse().unwrap(), "web01.CORP"),
            ca_days: 10,
            server_days: 5,
        };
        let now = OffsetDateTime::now_utc();
        let b = make(&spec, now).unwrap();
        let opts =
            crate::verify::Options { purpose: Some(crate::verify::Purpose::Server), crl: None, at: now };
        assert!(
            crate::verify::verify(b.ca_cert_pem.as_bytes(), b.cert_pem.as_bytes(), &opts).unwrap().is_ok()
        );
        assert_eq!(spec.sans.len(), 4);
        assert!(spec.sans.contains(&San::Dns("web01.corp".into())));
        assert!(!format!("{b:?}").contains("PRIVATE"));
    }
}
