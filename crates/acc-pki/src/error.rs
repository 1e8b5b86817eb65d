//! The errors of acc-pki. Each message says what is wrong and, where there is one, the
//! fix; the caller prefixes the file it was reading. No message ever contains key material.

use crate::pem::PemError;
use crate::subject::SubjectError;

/// Everything that can go wrong in acc-pki.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PkiError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The output file exists and overwriting was not asked for.
    #[error("{0}: already exists; refusing to overwrite it (use --force to replace it)")]
    Exists(String),
    /// A PEM text is broken.
    #[error(transparent)]
    Pem(#[from] PemError),
    /// The subject string is malformed.
    #[error(transparent)]
    Subject(#[from] SubjectError),
    /// The file holds no private key.
    #[error(
        "no private key found (found {found}); expected a PEM 'PRIVATE KEY', 'EC PRIVATE KEY' or 'RSA PRIVATE KEY' block, or DER"
    )]
    NoKey {
        /// What the file did hold.
        found: String,
    },
    /// The key is encrypted.
    #[error(
        "the private key is encrypted and acc has no passphrase option; decrypt it first: openssl pkey -in KEY -out KEY.plain"
    )]
    EncryptedKey,
    /// An EC key on a curve acc does not use.
    #[error("EC key on curve {0}, which acc does not support; use prime256v1 (P-256) or secp384r1 (P-384)")]
    UnsupportedCurve(String),
    /// A key algorithm acc does not use.
    #[error("{0} keys are not supported; use EC P-256, EC P-384 or RSA of at least 2048 bits")]
    UnsupportedAlgorithm(String),
    /// RSA below 2048 bits.
    #[error("RSA key is {0} bits; acc requires at least 2048")]
    WeakRsa(usize),
    /// The key bytes do not parse.
    #[error("malformed private key: {0}")]
    BadKey(String),
    /// A file that should hold a certificate, CSR or CRL does not.
    #[error("no {expected} found ({found})")]
    NotFound {
        /// What was expected.
        expected: &'static str,
        /// What was there.
        found: String,
    },
    /// A certificate, CSR or CRL that does not parse.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was being parsed.
        what: &'static str,
        /// The parser's complaint.
        detail: String,
    },
    /// The CSR's self-signature does not verify.
    #[error("the CSR's signature does not verify with its own public key (corrupted or tampered request)")]
    CsrSignature,
    /// The CA certificate and key do not belong together.
    #[error("the CA key does not match the CA certificate's public key")]
    CaKeyMismatch,
    /// The CA certificate cannot issue.
    #[error("the CA certificate is not a CA ({0})")]
    NotACa(String),
    /// A server certificate without names.
    #[error(
        "a server certificate needs subjectAltName entries; recreate the CSR with --san DNS:host,IP:address"
    )]
    ServerNeedsSan,
    /// A malformed `--san` list.
    #[error(
        "--san '{0}': expected TYPE:VALUE with TYPE one of DNS, IP, email, URI (e.g. DNS:host.example,IP:10.0.0.5)"
    )]
    BadSan(String),
    /// A malformed serial number.
    #[error("serial '{0}': expected a hexadecimal number such as 5A3F or 5a:3f (at most 20 bytes)")]
    BadSerial(String),
    /// The serial file is malformed.
    #[error("serial file: {0}")]
    BadSerialFile(String),
    /// Validity days out of range.
    #[error("--days {0}: expected 1 to 36500")]
    BadDays(i64),
    /// The CRL belongs to another CA.
    #[error("the CRL was not issued by this CA (its issuer is '{0}')")]
    CrlIssuer(String),
    /// The CRL's signature fails.
    #[error("the CRL's signature does not verify with the CA's key")]
    CrlSignature,
    /// Sealing secrets at rest failed (a key file, the random generator).
    #[error("{0}")]
    Sealing(String),
    /// The crypto library refused.
    #[error("signing failed: {0}")]
    Crypto(String),
}

impl PkiError {
    /// Wraps an I/O error with its path.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        PkiError::Io { path: path.display().to_string(), source }
    }
}

/// Results of acc-pki.
pub type Result<T, E = PkiError> = std::result::Result<T, E>;
