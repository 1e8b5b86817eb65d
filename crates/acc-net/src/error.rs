//! The errors of this crate. [`NetError`]: building a TLS configuration, each saying which
//! input is wrong and what to do about it; connection-level failures of the listener are
//! not errors: they are logged and the connection is dropped (see `server`).
//! [`ClientError`]: a request of the HTTPS client (`client`, through `tunnel`) that could
//! not be made, naming what failed and where.

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

/// Why a request could not be made: each names what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The CA file or client identity is unusable.
    #[error("{0}")]
    Setup(String),
    /// The URL is not `https://host[:port][/]`.
    #[error("server URL '{0}': {1}")]
    Url(String, String),
    /// TCP or TLS failed.
    #[error("cannot reach {0}: {1}")]
    Connect(String, String),
    /// The proxy could not be reached or refused the tunnel (never its credentials).
    #[error("cannot reach {server} through proxy {proxy}: {detail}")]
    Proxy {
        /// The server.
        server: String,
        /// The proxy, `http://host:port`.
        proxy: String,
        /// What happened, with the proxy's status when it answered.
        detail: String,
    },
    /// The connection failed during the exchange.
    #[error("{0}: {1}")]
    Exchange(String, String),
    /// No node of a list could be reached (see [`Connection::open_first`](crate::client::Connection::open_first)).
    #[error("no management server node could be reached ({nodes}): {failures}")]
    NoNode {
        /// The nodes tried, comma-separated.
        nodes: String,
        /// Why each failed, `; `-separated.
        failures: String,
    },
}

impl ClientError {
    /// Whether the request never reached the server (TCP, TLS or the proxy failed): safe
    /// to send to another management server node whatever it does.
    pub fn never_reached(&self) -> bool {
        matches!(self, ClientError::Connect(..) | ClientError::Proxy { .. } | ClientError::NoNode { .. })
    }
}

/// `Result` with [`NetError`].
pub type Result<T, E = NetError> = std::result::Result<T, E>;
