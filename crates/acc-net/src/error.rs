//! The errors of building a TLS configuration: each says which input is wrong and what
//! to do about it. Connection-level failures are not errors of this crate: they are
//! logged and the connection is dropped (see `server`).

/// Why a TLS configuration could not be built from its inputs.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The server certificate file holds no certificate or cannot be read.
    #[error("server certificate: {0}; give the PEM (or DER) certificate, followed by its intermediates")]
    ServerCert(String),
    /// The server key file holds no usable private key.
    #[error("server key: {0}; give an unencrypted PKCS#8, SEC1 or PKCS#1 key in PEM or DER")]
    ServerKey(String),
    /// The key does not belong to the certificate, or rustls refuses the pair.
    #[error("server certificate and key: {0}; check that the key is the one the certificate was issued for")]
    ServerPair(String),
    /// A client CA (trust anchor) is unreadable or unusable.
    #[error("client CA #{index}: {detail}; give the CA certificate in PEM or DER")]
    ClientCa {
        /// Position in the list of client CAs, from 1.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// A CRL is unreadable, or was not issued and signed by one of the client CAs.
    #[error("CRL #{index}: {detail}")]
    Crl {
        /// Position in the list of CRLs, from 1.
        index: usize,
        /// What is wrong.
        detail: String,
    },
    /// rustls refused the configuration (protocol versions, session tickets, verifier).
    #[error("TLS configuration: {0}")]
    Tls(String),
}

/// `Result` with [`NetError`].
pub type Result<T, E = NetError> = std::result::Result<T, E>;
