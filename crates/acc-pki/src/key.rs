//! Private keys: generation, loading in every form openssl writes, signing.
//!
//! Accepted: EC P-256 and P-384, RSA of at least 2048 bits; PEM or DER; SEC1
//! (`EC PRIVATE KEY`, with or without the `EC PARAMETERS` block `openssl ecparam -genkey`
//! puts in front), PKCS#8 (`PRIVATE KEY`) and PKCS#1 (`RSA PRIVATE KEY`). Encrypted keys
//! are refused with the command that decrypts them. Generated keys are written as PKCS#8.
//! A `PrivateKey` never prints its material: `Debug` shows the algorithm only.

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};

use crate::der::{self, Reader, tag};
use crate::error::{PkiError, Result};
use crate::pem;

const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
const OID_P256: &str = "1.2.840.10045.3.1.7";
const OID_P384: &str = "1.3.132.0.34";

/// The curves `acc pki key` generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (prime256v1), the seed's curve and the default.
    P256,
    /// NIST P-384 (secp384r1).
    P384,
}

/// What kind of key this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAlgorithm {
    /// ECDSA on a curve.
    Ec(Curve),
    /// RSA with this many modulus bits.
    Rsa(usize),
}

impl std::fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KeyAlgorithm::Ec(Curve::P256) => f.write_str("EC P-256 (prime256v1)"),
            KeyAlgorithm::Ec(Curve::P384) => f.write_str("EC P-384 (secp384r1)"),
            KeyAlgorithm::Rsa(bits) => write!(f, "RSA {bits} bits"),
        }
    }
}

enum Inner {
    Ec(EcdsaKeyPair, Curve),
    Rsa(RsaKeyPair),
}

/// A private key that can sign certificates, CSRs and CRLs.
pub struct PrivateKey {
    inner: Inner,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PrivateKey({})", self.algorithm())
    }
}

impl PrivateKey {
    /// A fresh EC key.
    pub fn generate(curve: Curve) -> Result<Self> {
        let pair = EcdsaKeyPair::generate(signing_alg(curve)).map_err(|e| PkiError::Crypto(e.to_string()))?;
        Ok(PrivateKey { inner: Inner::Ec(pair, curve) })
    }

    /// Reads a key from the bytes of a key file (PEM or DER).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        if pem::looks_like_pem(bytes) {
            let blocks = pem::decode_all(bytes)?;
            let key = blocks.iter().find(|b| {
                matches!(
                    b.label.as_str(),
                    "PRIVATE KEY" | "EC PRIVATE KEY" | "RSA PRIVATE KEY" | "ENCRYPTED PRIVATE KEY"
                )
            });
            let Some(key) = key else {
                let found = if blocks.is_empty() {
                    "no PEM block".to_string()
                } else {
                    blocks.iter().map(|b| format!("'{}'", b.label)).collect::<Vec<_>>().join(", ")
                };
                return Err(PkiError::NoKey { found });
            };
            if key.label == "ENCRYPTED PRIVATE KEY" || key.encrypted_header {
                return Err(PkiError::EncryptedKey);
            }
            // A curve named by a separate EC PARAMETERS block (ecparam without -noout).
            let params_curve = blocks
                .iter()
                .find(|b| b.label == "EC PARAMETERS")
                .and_then(|b| Reader::new(&b.der).expect(tag::OID).map(der::oid_to_string));
            return match key.label.as_str() {
                "EC PRIVATE KEY" => Self::from_sec1(&key.der, params_curve),
                "RSA PRIVATE KEY" => Self::from_pkcs1(&key.der),
                _ => Self::from_pkcs8(&key.der),
            };
        }
        Self::from_der(bytes)
    }

    /// Reads a DER key whose container is not labelled: PKCS#8, SEC1 or PKCS#1.
    fn from_der(der: &[u8]) -> Result<Self> {
        let Some(body) = Reader::new(der).expect(tag::SEQUENCE) else {
            return Err(PkiError::NoKey { found: "neither PEM nor a DER structure".into() });
        };
        let mut r = Reader::new(body);
        let Some(version) = r.expect(tag::INTEGER) else {
            // EncryptedPrivateKeyInfo starts with an AlgorithmIdentifier, not a version.
            if r.expect(tag::SEQUENCE).is_some() && r.expect(tag::OCTET_STRING).is_some() {
                return Err(PkiError::EncryptedKey);
            }
            return Err(PkiError::NoKey { found: "a DER structure that is not a private key".into() });
        };
        match (version, r.next_element().map(|e| e.tag)) {
            ([0], Some(tag::SEQUENCE)) => Self::from_pkcs8(der),
            ([1], Some(tag::OCTET_STRING)) => Self::from_sec1(der, None),
            ([0], Some(tag::INTEGER)) => Self::from_pkcs1(der),
            _ => Err(PkiError::NoKey { found: "a DER structure that is not a private key".into() }),
        }
    }

    fn from_pkcs8(der: &[u8]) -> Result<Self> {
        let bad = || PkiError::BadKey("not a PKCS#8 PrivateKeyInfo".into());
        let body = Reader::new(der).expect(tag::SEQUENCE).ok_or_else(bad)?;
        let mut r = Reader::new(body);
        r.expect(tag::INTEGER).ok_or_else(bad)?;
        let alg = r.expect(tag::SEQUENCE).ok_or_else(bad)?;
        let mut a = Reader::new(alg);
        let alg_oid = a.expect(tag::OID).map(der::oid_to_string).ok_or_else(bad)?;
        match alg_oid.as_str() {
            OID_EC_PUBLIC_KEY => {
                let curve_oid = a.expect(tag::OID).map(der::oid_to_string).unwrap_or_default();
                let curve = curve_from_oid(&curve_oid)?;
                let pair = EcdsaKeyPair::from_private_key_der(signing_alg(curve), der)
                    .map_err(|e| PkiError::BadKey(e.to_string()))?;
                Ok(PrivateKey { inner: Inner::Ec(pair, curve) })
            }
            OID_RSA => {
                let inner = r.expect(tag::OCTET_STRING).ok_or_else(bad)?;
                check_rsa_bits(inner)?;
                let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| PkiError::BadKey(e.to_string()))?;
                Ok(PrivateKey { inner: Inner::Rsa(pair) })
            }
            "1.3.101.112" => Err(PkiError::UnsupportedAlgorithm("Ed25519".into())),
            "1.2.840.10040.4.1" => Err(PkiError::UnsupportedAlgorithm("DSA".into())),
            other => Err(PkiError::UnsupportedAlgorithm(format!("algorithm {other}"))),
        }
    }

    fn from_sec1(der: &[u8], params_curve: Option<String>) -> Result<Self> {
        let bad = || PkiError::BadKey("not an RFC 5915 ECPrivateKey".into());
        let body = Reader::new(der).expect(tag::SEQUENCE).ok_or_else(bad)?;
        let mut r = Reader::new(body);
        r.expect(tag::INTEGER).ok_or_else(bad)?;
        let scalar = r.expect(tag::OCTET_STRING).ok_or_else(bad)?;
        let embedded = r.expect(0xa0).and_then(|p| Reader::new(p).expect(tag::OID).map(der::oid_to_string));
        let curve = match embedded.or(params_curve) {
            Some(oid) => curve_from_oid(&oid)?,
            None => match scalar.len() {
                32 => Curve::P256,
                48 => Curve::P384,
                n => {
                    return Err(PkiError::UnsupportedCurve(format!("unnamed ({}-bit)", n * 8)));
                }
            },
        };
        let pair = EcdsaKeyPair::from_private_key_der(signing_alg(curve), der)
            .map_err(|e| PkiError::BadKey(e.to_string()))?;
        Ok(PrivateKey { inner: Inner::Ec(pair, curve) })
    }

    fn from_pkcs1(der: &[u8]) -> Result<Self> {
        check_rsa_bits(der)?;
        let pair = RsaKeyPair::from_der(der).map_err(|e| PkiError::BadKey(e.to_string()))?;
        Ok(PrivateKey { inner: Inner::Rsa(pair) })
    }

    /// The key's algorithm.
    pub fn algorithm(&self) -> KeyAlgorithm {
        match &self.inner {
            Inner::Ec(_, curve) => KeyAlgorithm::Ec(*curve),
            Inner::Rsa(pair) => KeyAlgorithm::Rsa(pair.public_modulus_len() * 8),
        }
    }

    /// The public key as a DER SubjectPublicKeyInfo.
    pub fn public_key_der(&self) -> Result<Vec<u8>> {
        let der = match &self.inner {
            Inner::Ec(pair, _) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
            Inner::Rsa(pair) => pair.public_key().as_der().map(|d| d.as_ref().to_vec()),
        };
        der.map_err(|e| PkiError::Crypto(e.to_string()))
    }

    /// The key as PKCS#8 PEM, for writing to a 0400 file.
    pub fn to_pkcs8_pem(&self) -> Result<String> {
        let der = match &self.inner {
            Inner::Ec(pair, _) => pair.to_pkcs8v1().map(|d| d.as_ref().to_vec()),
            Inner::Rsa(pair) => {
                AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(pair).map(|d| d.as_ref().to_vec())
            }
        }
        .map_err(|e| PkiError::Crypto(e.to_string()))?;
        Ok(pem::encode("PRIVATE KEY", &der))
    }

    /// The DER AlgorithmIdentifier of the signatures this key makes.
    pub fn signature_algorithm_der(&self) -> Vec<u8> {
        match &self.inner {
            Inner::Ec(_, Curve::P256) => der::algorithm(&[1, 2, 840, 10045, 4, 3, 2], false),
            Inner::Ec(_, Curve::P384) => der::algorithm(&[1, 2, 840, 10045, 4, 3, 3], false),
            Inner::Rsa(_) => der::algorithm(&[1, 2, 840, 113549, 1, 1, 11], true),
        }
    }

    /// Signs `message` (ECDSA with SHA-256/384 in ASN.1 form, or RSA PKCS#1 v1.5 SHA-256).
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let rng = SystemRandom::new();
        match &self.inner {
            Inner::Ec(pair, _) => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|e| PkiError::Crypto(e.to_string())),
            Inner::Rsa(pair) => {
                let mut sig = vec![0u8; pair.public_modulus_len()];
                pair.sign(&signature::RSA_PKCS1_SHA256, &rng, message, &mut sig)
                    .map_err(|e| PkiError::Crypto(e.to_string()))?;
                Ok(sig)
            }
        }
    }

    /// Signs a TBS structure and wraps it as `SEQUENCE { tbs, algorithm, BIT STRING }`,
    /// the shape shared by certificates, CSRs and CRLs.
    pub fn sign_structure(&self, tbs: &[u8]) -> Result<Vec<u8>> {
        let sig = self.sign(tbs)?;
        Ok(der::seq(&[tbs, &self.signature_algorithm_der(), &der::bits(&sig)]))
    }
}

fn signing_alg(curve: Curve) -> &'static signature::EcdsaSigningAlgorithm {
    match curve {
        Curve::P256 => &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        Curve::P384 => &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
    }
}

fn curve_from_oid(oid: &str) -> Result<Curve> {
    match oid {
        OID_P256 => Ok(Curve::P256),
        OID_P384 => Ok(Curve::P384),
        "1.3.132.0.10" => Err(PkiError::UnsupportedCurve("secp256k1".into())),
        "1.3.132.0.35" => Err(PkiError::UnsupportedCurve("secp521r1 (P-521)".into())),
        "" => Err(PkiError::UnsupportedCurve("with explicit (unnamed) parameters".into())),
        other => Err(PkiError::UnsupportedCurve(other.into())),
    }
}

/// Refuses RSA keys under 2048 bits, reading the modulus from an RSAPrivateKey.
fn check_rsa_bits(pkcs1: &[u8]) -> Result<()> {
    let bad = || PkiError::BadKey("not a PKCS#1 RSAPrivateKey".into());
    let body = Reader::new(pkcs1).expect(tag::SEQUENCE).ok_or_else(bad)?;
    let mut r = Reader::new(body);
    r.expect(tag::INTEGER).ok_or_else(bad)?;
    let modulus = r.expect(tag::INTEGER).ok_or_else(bad)?;
    let significant = modulus.iter().skip_while(|b| **b == 0).count();
    let bits = significant * 8;
    if bits < 2048 {
        return Err(PkiError::WeakRsa(bits));
    }
    Ok(())
}

/// Generates an RSA key (tests and interop only: acc itself makes EC keys).
pub fn generate_rsa_pkcs8_pem(bits: usize) -> Result<String> {
    let size = match bits {
        2048 => KeySize::Rsa2048,
        3072 => KeySize::Rsa3072,
        4096 => KeySize::Rsa4096,
        _ => return Err(PkiError::WeakRsa(bits)),
    };
    let pair = RsaKeyPair::generate(size).map_err(|e| PkiError::Crypto(e.to_string()))?;
    let der = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&pair)
        .map_err(|e| PkiError::Crypto(e.to_string()))?;
    Ok(pem::encode("PRIVATE KEY", der.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_round_trip_through_pkcs8_pem() {
        for curve in [Curve::P256, Curve::P384] {
            let key = PrivateKey::generate(curve).unwrap();
            let pem = key.to_pkcs8_pem().unwrap();
            let back = PrivateKey::from_bytes(pem.as_bytes()).unwrap();
            assert_eq!(back.algorithm(), KeyAlgorithm::Ec(curve));
            assert_eq!(back.public_key_der().unwrap(), key.public_key_der().unwrap());
        }
    }

    #[test]
    fn der_input_is_classified() {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let pem = key.to_pkcs8_pem().unwrap();
        let der = pem::decode_all(pem.as_bytes()).unwrap().remove(0).der;
        assert_eq!(PrivateKey::from_bytes(&der).unwrap().algorithm(), KeyAlgorithm::Ec(Curve::P256));
    }

    #[test]
    fn rsa_keys_load_and_sign() {
        let pem = generate_rsa_pkcs8_pem(2048).unwrap();
        let key = PrivateKey::from_bytes(pem.as_bytes()).unwrap();
        assert_eq!(key.algorithm(), KeyAlgorithm::Rsa(2048));
        assert_eq!(key.sign(b"x").unwrap().len(), 256);
    }

    #[test]
    fn refusals_are_specific() {
        assert!(matches!(
            PrivateKey::from_bytes(b"-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n"),
            Err(PkiError::NoKey { .. })
        ));
        assert!(matches!(
            PrivateKey::from_bytes(
                b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAQID\n-----END ENCRYPTED PRIVATE KEY-----\n"
            ),
            Err(PkiError::EncryptedKey)
        ));
        assert!(matches!(PrivateKey::from_bytes(b"hello"), Err(PkiError::NoKey { .. })));
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        assert_eq!(format!("{key:?}"), "PrivateKey(EC P-256 (prime256v1))");
    }
}
