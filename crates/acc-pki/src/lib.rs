//! acc-pki: the offline PKI of acc, interoperable with openssl in both directions.
//!
//! - [`key`]: EC P-256/P-384 and RSA keys in every form openssl writes; signing.
//! - [`subject`]: openssl's `-subj` grammar to a DER Name, byte-compatible with openssl.
//! - [`csr`]: building and verifying PKCS#10 requests.
//! - [`x509`]: self-signed CAs and issuance with acc's client and server profiles.
//! - [`bundle`]: the CA and server certificate a server role makes for itself at init.
//! - [`crl`]: creating and extending CRLs.
//! - [`verify`]: verifying a certificate against a CA with one clear reason per failure.
//! - [`inspect`]: the summaries `acc pki show` prints.
//!
//! Certificates, CSRs and CRLs are encoded by acc itself ([`der`]) and signed with
//! aws-lc-rs, so that a subject is copied from a CSR byte for byte (multi-valued RDNs and
//! repeated attributes included) and every extension is chosen by the CA, never by the
//! requester. Everything here is synchronous and free of global state.

pub mod bundle;
pub mod crl;
pub mod csr;
pub mod der;
pub mod error;
pub mod fsutil;
pub mod inspect;
pub mod key;
pub mod openssl_ext;
pub mod pem;
pub mod sealed;
pub mod serial;
pub mod subject;
pub mod verify;
pub mod x509;

pub use error::{PkiError, Result};
