use super::*;
use crate::crl::{self, Crl};
use crate::key::Curve;
use crate::verify::{self, Failure, Options, Purpose};
use time::macros::datetime;

const NOW: OffsetDateTime = datetime!(2026-11-22 12:00:00 UTC);

fn ca() -> Ca {
    let key = PrivateKey::generate(Curve::P256).unwrap();
    let der = self_signed_ca(
        &key,
        &Subject::parse("/O=Example/CN=Test CA").unwrap(),
        3650,
        &[1],
        NOW - Duration::days(1),
    )
    .unwrap();
    Ca::new(&der, key).unwrap()
}

fn csr_for(subject: &str, sans: &str) -> Csr {
    let key = PrivateKey::generate(Curve::P256).unwrap();
    let der = csr::build(&key, &Subject::parse(subject).unwrap(), &San::parse_list(sans).unwrap()).unwrap();
    Csr::from_bytes(&der).unwrap()
}

fn opts(purpose: Option<Purpose>, at: OffsetDateTime) -> Options {
    Options { purpose, crl: None, at }
}

#[test]
fn client_certificates_have_the_client_profile_and_copy_the_subject() {
    let ca = ca();
    let csr = csr_for("/C=US/OU=a+OU=b/CN=acclinux", "");
    let der = ca.issue(&csr, Profile::Client, 365, &[0x42], NOW).unwrap();
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    assert_eq!(cert.version().0, 2, "v3");
    assert_eq!(cert.subject().as_raw(), csr.subject_der.as_slice());
    let eku = cert.extended_key_usage().unwrap().unwrap().value;
    assert!(eku.client_auth && !eku.server_auth);
    assert!(cert.key_usage().unwrap().unwrap().value.digital_signature());
    assert!(!cert.basic_constraints().unwrap().unwrap().value.ca);
    assert_eq!(cert.validity().not_before.to_datetime(), NOW - BACKDATE);
    assert_eq!(cert.validity().not_after.to_datetime(), NOW + Duration::days(365));
    assert_eq!(
        verify::verify(&ca.cert_der, &der, &opts(Some(Purpose::Client), NOW)).unwrap(),
        Ok(verify::Verified {
            subject: "C=US, OU=a + OU=b, CN=acclinux".into(),
            issuer: "O=Example, CN=Test CA".into(),
            not_after: "2027-11-22T12:00:00Z".into()
        })
    );
}

#[test]
fn server_certificates_need_sans() {
    let ca = ca();
    assert!(matches!(
        ca.issue(&csr_for("/CN=site", ""), Profile::Server, 30, &[1], NOW),
        Err(PkiError::ServerNeedsSan)
    ));
    let der =
        ca.issue(&csr_for("/CN=site", "DNS:localhost,IP:127.0.0.1"), Profile::Server, 30, &[1], NOW).unwrap();
    assert!(verify::verify(&ca.cert_der, &der, &opts(Some(Purpose::Server), NOW)).unwrap().is_ok());
}

#[test]
fn verification_reasons() {
    let ca = ca();
    let other = self::ca();
    let client = ca.issue(&csr_for("/CN=a", ""), Profile::Client, 30, &[7], NOW).unwrap();
    let server = ca.issue(&csr_for("/CN=s", "DNS:s"), Profile::Server, 30, &[8], NOW).unwrap();
    let check = |cert: &[u8], o: &Options| verify::verify(&ca.cert_der, cert, o).unwrap();

    assert!(matches!(check(&client, &opts(None, NOW + Duration::days(31))), Err(Failure::Expired { .. })));
    assert!(matches!(
        check(&client, &opts(None, NOW - Duration::hours(1))),
        Err(Failure::NotYetValid { .. })
    ));
    assert!(matches!(check(&server, &opts(Some(Purpose::Client), NOW)), Err(Failure::WrongPurpose { .. })));
    let foreign = other.issue(&csr_for("/CN=a", ""), Profile::Client, 30, &[7], NOW).unwrap();
    // Same CA name, different key: the name matches but the signature does not.
    assert!(matches!(check(&foreign, &opts(None, NOW)), Err(Failure::BadSignature { .. })));
    let mut tampered = client.clone();
    let n = tampered.len();
    tampered[n - 5] ^= 0x01;
    let got = check(&tampered, &opts(None, NOW));
    assert!(matches!(got, Err(Failure::BadSignature { .. })), "{got:?}");

    let unrelated_key = PrivateKey::generate(Curve::P384).unwrap();
    let unrelated =
        self_signed_ca(&unrelated_key, &Subject::parse("/CN=Other CA").unwrap(), 30, &[1], NOW).unwrap();
    let unrelated = Ca::new(&unrelated, unrelated_key).unwrap();
    let stranger = unrelated.issue(&csr_for("/CN=a", ""), Profile::Client, 30, &[9], NOW).unwrap();
    assert!(matches!(check(&stranger, &opts(None, NOW)), Err(Failure::UnknownIssuer { .. })));
}

#[test]
fn crls_revoke_and_extend() {
    let ca = ca();
    let cert = ca.issue(&csr_for("/CN=a", ""), Profile::Client, 30, &[0x0a, 0xbc], NOW).unwrap();
    let first = crl::extend(&ca, None, &[vec![0x01]], NOW, 30).unwrap();
    let first = Crl::read_for(&first, &ca.cert_der).unwrap();
    assert_eq!(first.number, Some(vec![1]));
    let o = Options { purpose: None, crl: Some(first.clone()), at: NOW };
    assert!(verify::verify(&ca.cert_der, &cert, &o).unwrap().is_ok());

    let later = NOW + Duration::hours(1);
    let second = crl::extend(&ca, Some(&first), &[vec![0x0a, 0xbc], vec![0x01]], later, 30).unwrap();
    let second = Crl::read_for(&second, &ca.cert_der).unwrap();
    assert_eq!(second.number, Some(vec![2]));
    assert_eq!(second.revoked.len(), 2);
    assert_eq!(second.find(&[0x01]).unwrap().revoked_at, NOW, "an already-revoked serial keeps its date");
    let o = Options { purpose: None, crl: Some(second.clone()), at: later };
    assert!(matches!(verify::verify(&ca.cert_der, &cert, &o).unwrap(), Err(Failure::Revoked { .. })));
    let o = Options { purpose: None, crl: Some(second), at: later + Duration::days(31) };
    assert!(matches!(
        verify::verify(&ca.cert_der, &cert, &o).unwrap(),
        Err(Failure::Expired { .. } | Failure::Crl(_))
    ));

    let other = self::ca();
    let foreign = crl::extend(&other, None, &[], NOW, 30).unwrap();
    assert!(matches!(Crl::read_for(&foreign, &ca.cert_der), Err(PkiError::CrlSignature)));
}

#[test]
fn ca_key_must_match_its_certificate() {
    let ca = ca();
    let wrong = PrivateKey::generate(Curve::P256).unwrap();
    assert!(matches!(Ca::new(&ca.cert_der, wrong), Err(PkiError::CaKeyMismatch)));
}

#[test]
fn leaf_certificates_cannot_issue() {
    let ca = ca();
    let key = PrivateKey::generate(Curve::P256).unwrap();
    let der = csr::build(&key, &Subject::parse("/CN=leaf").unwrap(), &[]).unwrap();
    let leaf = ca.issue(&Csr::from_bytes(&der).unwrap(), Profile::Client, 30, &[3], NOW).unwrap();
    assert!(matches!(Ca::new(&leaf, key), Err(PkiError::NotACa(_))));
}
