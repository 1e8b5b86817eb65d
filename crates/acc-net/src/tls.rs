//! The TLS configuration of the listener, built from the files an operator has (PEM or
//! DER: server certificate chain and key, client CAs, CRLs), and [`LiveConfig`], which
//! swaps it for new connections when trust anchors or CRLs change.
//!
//! Fixed choices: rustls on aws-lc-rs with the provider passed explicitly (no process
//! default, so nothing can pick ring); TLS 1.3 and 1.2 with the provider's AEAD,
//! forward-secret suites only; ALPN `h2` and `http/1.1`; resumption by tickets and by
//! a session cache. Each configuration gets its own ticket keys and cache, so a
//! session from before a CRL or trust change cannot be resumed after it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use arc_swap::ArcSwap;
use rustls::RootCertStore;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, CertificateRevocationListDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::{ServerConfig, ServerSessionMemoryCache, WebPkiClientVerifier};
use tokio_rustls::TlsAcceptor;

use crate::error::{NetError, Result};
use crate::identity::PeerIdentity;
use crate::verifier::ClientVerifier;

/// Default size of the TLS 1.2 session-ID cache (TLS 1.3 resumes by stateless tickets).
pub const DEFAULT_SESSION_CACHE: usize = 4096;

/// The inputs of a TLS configuration, as bytes of the operator's files.
#[derive(Clone)]
pub struct TlsInputs {
    /// The server certificate followed by its intermediates (PEM bundle, or one DER).
    pub cert_chain: Vec<u8>,
    /// The server key: PKCS#8, SEC1 (with or without openssl's `EC PARAMETERS` block)
    /// or PKCS#1, PEM or DER.
    pub key: Vec<u8>,
    /// The client CAs (each PEM, possibly several certificates, or DER). Empty: no
    /// certificate authentication; the listener still serves password clients.
    pub client_cas: Vec<Vec<u8>>,
    /// CRLs of the client CAs (PEM or DER). A CA without a CRL is allowed.
    pub crls: Vec<Vec<u8>>,
    /// Entries of the TLS 1.2 session cache.
    pub session_cache: usize,
}

impl std::fmt::Debug for TlsInputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsInputs")
            .field("cert_chain", &format_args!("{} bytes", self.cert_chain.len()))
            .field("key", &"[REDACTED]")
            .field("client_cas", &self.client_cas.len())
            .field("crls", &self.crls.len())
            .field("session_cache", &self.session_cache)
            .finish()
    }
}

impl TlsInputs {
    /// Server certificate chain and key; no client CAs, no CRLs.
    pub fn new(cert_chain: impl Into<Vec<u8>>, key: impl Into<Vec<u8>>) -> Self {
        TlsInputs {
            cert_chain: cert_chain.into(),
            key: key.into(),
            client_cas: Vec::new(),
            crls: Vec::new(),
            session_cache: DEFAULT_SESSION_CACHE,
        }
    }

    /// Adds a client CA file.
    pub fn client_ca(mut self, ca: impl Into<Vec<u8>>) -> Self {
        self.client_cas.push(ca.into());
        self
    }

    /// Adds a CRL file.
    pub fn crl(mut self, crl: impl Into<Vec<u8>>) -> Self {
        self.crls.push(crl.into());
        self
    }
}

/// One built configuration: what the accept loop takes per connection.
pub struct TlsGeneration {
    number: u64,
    acceptor: TlsAcceptor,
    config: Arc<ServerConfig>,
    verifier: Option<Arc<ClientVerifier>>,
}

impl std::fmt::Debug for TlsGeneration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsGeneration")
            .field("number", &self.number)
            .field("requests_client_certificates", &self.verifier.is_some())
            .finish_non_exhaustive()
    }
}

impl TlsGeneration {
    /// Builds a configuration from its inputs.
    pub fn build(inputs: &TlsInputs) -> Result<TlsGeneration> {
        build(inputs, 0)
    }

    /// Counts reloads: 0 for the first configuration of a [`LiveConfig`].
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The rustls configuration (shared by every connection of this generation).
    pub fn server_config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Whether client certificates are asked for (some client CA is configured).
    pub fn requests_client_certificates(&self) -> bool {
        self.verifier.is_some()
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The identity of a finished handshake.
    pub(crate) fn identity_of(&self, conn: &rustls::ServerConnection) -> PeerIdentity {
        match (conn.peer_certificates(), &self.verifier) {
            (Some(chain), Some(verifier)) if !chain.is_empty() => verifier.identity_of(chain),
            _ => PeerIdentity::Anonymous,
        }
    }
}

/// The current TLS configuration, replaced atomically by [`LiveConfig::reload`]:
/// connections accepted afterwards use the new one, established ones keep theirs.
/// Cloning shares the same configuration.
#[derive(Debug, Clone)]
pub struct LiveConfig {
    current: Arc<ArcSwap<TlsGeneration>>,
    reloads: Arc<AtomicU64>,
}

impl LiveConfig {
    /// Builds the first configuration.
    pub fn new(inputs: &TlsInputs) -> Result<LiveConfig> {
        let generation = build(inputs, 0)?;
        Ok(LiveConfig {
            current: Arc::new(ArcSwap::from_pointee(generation)),
            reloads: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Builds a configuration from new inputs and makes it current. On error the
    /// current configuration stays in place. Returns the new generation number.
    pub fn reload(&self, inputs: &TlsInputs) -> Result<u64> {
        let number = self.reloads.fetch_add(1, Ordering::Relaxed) + 1;
        let generation = build(inputs, number)?;
        self.current.store(Arc::new(generation));
        tracing::info!(generation = number, "TLS configuration replaced; new connections use it.");
        Ok(number)
    }

    /// The configuration new connections get.
    pub fn current(&self) -> Arc<TlsGeneration> {
        self.current.load_full()
    }
}

/// aws-lc-rs with AEAD suites only, AES-128-GCM first (AES-NI and SHA-NI make it the
/// cheapest), then AES-256-GCM and ChaCha20-Poly1305; TLS 1.2 only with ECDHE.
fn provider() -> CryptoProvider {
    use rustls::crypto::aws_lc_rs::cipher_suite as cs;
    CryptoProvider {
        cipher_suites: vec![
            cs::TLS13_AES_128_GCM_SHA256,
            cs::TLS13_AES_256_GCM_SHA384,
            cs::TLS13_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            cs::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
            cs::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
        ],
        ..rustls::crypto::aws_lc_rs::default_provider()
    }
}

fn build(inputs: &TlsInputs, number: u64) -> Result<TlsGeneration> {
    let provider = Arc::new(provider());
    let chain = certificates(&inputs.cert_chain).map_err(NetError::ServerCert)?;
    let key = private_key(&inputs.key)?;
    let (verifier, client_verifier) = client_verifier(inputs, &provider)?;

    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| NetError::Tls(e.to_string()))?
        .with_client_cert_verifier(client_verifier)
        .with_single_cert(chain, key)
        .map_err(|e| NetError::ServerPair(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // Our order, not the client's: OpenSSL clients list AES-256/SHA-384 first, whose
    // SHA-384 key schedule has no hardware help and costs a handshake ~5% more CPU.
    config.ignore_client_order = true;
    // One TLS 1.3 ticket per handshake (rustls sends two by default): an agent resumes
    // its next connection with it and receives a fresh one then; the second ticket only
    // cost every full handshake a seal and a record.
    config.send_tls13_tickets = 1;
    config.session_storage = ServerSessionMemoryCache::new(inputs.session_cache.max(1));
    config.ticketer = rustls::crypto::aws_lc_rs::Ticketer::new().map_err(|e| NetError::Tls(e.to_string()))?;
    let config = Arc::new(config);
    Ok(TlsGeneration { number, acceptor: TlsAcceptor::from(config.clone()), config, verifier })
}

type Verifiers = (Option<Arc<ClientVerifier>>, Arc<dyn ClientCertVerifier>);

fn client_verifier(inputs: &TlsInputs, provider: &Arc<CryptoProvider>) -> Result<Verifiers> {
    let mut roots = RootCertStore::empty();
    let mut anchors = Vec::new();
    for (i, bytes) in inputs.client_cas.iter().enumerate() {
        let bad = |detail: String| NetError::ClientCa { index: i + 1, detail };
        for cert in certificates(bytes).map_err(bad)? {
            roots.add(cert.clone()).map_err(|e| bad(e.to_string()))?;
            anchors.push(cert);
        }
    }
    let mut crls = Vec::new();
    for (i, bytes) in inputs.crls.iter().enumerate() {
        let bad = |detail: String| NetError::Crl { index: i + 1, detail };
        let crl = acc_pki::crl::Crl::from_bytes(bytes).map_err(|e| bad(e.to_string()))?;
        // webpki ignores a CRL it cannot attribute; refuse it here instead, so an
        // operator who loads the wrong file learns it now rather than never.
        if !anchors.iter().any(|ca| crl.check_issued_by(ca.as_ref()).is_ok()) {
            return Err(bad(format!(
                "issued by '{}', which is not one of the client CAs (or its signature does not verify); \
                 give the CRL of a configured client CA",
                crl.issuer
            )));
        }
        crls.push(CertificateRevocationListDer::from(crl.der));
    }
    if roots.is_empty() {
        if !crls.is_empty() {
            return Err(NetError::Crl { index: 1, detail: "CRLs given without any client CA".into() });
        }
        return Ok((None, WebPkiClientVerifier::no_client_auth()));
    }
    let webpki = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .with_crls(crls)
        // acc's CAs issue end-entity certificates directly.
        .only_check_end_entity_revocation()
        // A site may have no CRL for an operator CA.
        .allow_unknown_revocation_status()
        // Not enforce_revocation_expiration(): a stale CRL keeps refusing the
        // certificates it lists instead of refusing the whole fleet.
        .allow_unauthenticated()
        .build()
        .map_err(|e| NetError::Tls(format!("client certificate verifier: {e}")))?;
    let verifier = Arc::new(ClientVerifier::new(webpki, provider.signature_verification_algorithms));
    Ok((Some(verifier.clone()), verifier))
}

/// Certificates from PEM (every `CERTIFICATE` block) or one DER certificate.
fn certificates(bytes: &[u8]) -> std::result::Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = if acc_pki::pem::looks_like_pem(bytes) {
        CertificateDer::pem_slice_iter(bytes)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| e.to_string())?
    } else {
        vec![CertificateDer::from(bytes.to_vec())]
    };
    if certs.is_empty() || certs.iter().any(|c| c.is_empty()) {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

fn private_key(bytes: &[u8]) -> Result<PrivateKeyDer<'static>> {
    if acc_pki::pem::looks_like_pem(bytes) {
        PrivateKeyDer::from_pem_slice(bytes).map_err(|e| NetError::ServerKey(e.to_string()))
    } else {
        PrivateKeyDer::try_from(bytes.to_vec()).map_err(|e| NetError::ServerKey(e.to_string()))
    }
}
