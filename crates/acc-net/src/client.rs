//! The HTTPS client of acc's own tools (`acc ctl`, site servers joining and polling their
//! management server, agents, load generators): rustls on aws-lc-rs with only the given
//! CA as trust anchor, an optional client certificate, HTTP/1.1 keep-alive, and an
//! optional HTTP proxy (an HTTP CONNECT tunnel, see `tunnel`, with TLS end to end inside).

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

pub use crate::endpoint::Endpoint;
pub use crate::error::ClientError;
use crate::proxy::Proxy;

/// Whether `status` says this node cannot serve now and another may (a proxy or load
/// balancer in front of a node that is down, a node starting or stopping): 502, 503, 504.
pub fn node_unavailable(status: u16) -> bool {
    matches!(status, 502..=504)
}

/// TLS settings shared by every connection of one client, and the proxy they go through.
#[derive(Clone)]
pub struct ClientTls {
    config: Arc<rustls::ClientConfig>,
    proxy: Option<Arc<Proxy>>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.proxy {
            Some(p) => write!(f, "ClientTls(via {})", p.url),
            None => f.write_str("ClientTls"),
        }
    }
}

impl ClientTls {
    /// The same TLS, with connections going through `proxy` (unless its `no-proxy` list
    /// names the server).
    #[must_use]
    pub fn via(mut self, proxy: Option<Arc<Proxy>>) -> ClientTls {
        self.proxy = proxy;
        self
    }

    /// Whether `other` shares this one's TLS configuration (made by the same
    /// [`ClientTls::new`]): what a client that keeps its configurations checks.
    pub fn same_config(&self, other: &ClientTls) -> bool {
        Arc::ptr_eq(&self.config, &other.config)
    }
}

impl ClientTls {
    /// A TLS connector with these settings, for clients that speak raw HTTP over it (load
    /// generators that play a misbehaving client).
    pub fn connector(&self) -> tokio_rustls::TlsConnector {
        tokio_rustls::TlsConnector::from(self.config.clone())
    }

    /// Trusts only the CA certificates in `ca_pem`; presents `identity` (certificate chain
    /// PEM, private key PEM) when given.
    pub fn new(ca_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Result<ClientTls, ClientError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(ca_pem) {
            let cert = cert.map_err(|e| ClientError::Setup(format!("CA file: {e}")))?;
            roots.add(cert).map_err(|e| ClientError::Setup(format!("CA certificate: {e}")))?;
        }
        if roots.is_empty() {
            return Err(ClientError::Setup(
                "CA file: no PEM certificate in it; give the server's CA (ca.crt)".into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Setup(e.to_string()))?
            .with_root_certificates(roots);
        let config = match identity {
            None => builder.with_no_client_auth(),
            Some((chain, key)) => {
                let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
                    .collect::<Result<_, _>>()
                    .map_err(|e| ClientError::Setup(format!("client certificate: {e}")))?;
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| ClientError::Setup(format!("client key: {e}")))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| ClientError::Setup(format!("client certificate and key: {e}")))?
            }
        };
        Ok(ClientTls { config: Arc::new(config), proxy: None })
    }
}

impl ClientTls {
    /// Trusts only the CA whose certificate's SHA-256 (lower-case hex) is `ca_sha256`, as
    /// the server presents it at the end of its chain: how a site server that holds only a
    /// join token reaches its management server without copying a CA file. The server's
    /// certificate is still verified against that CA (name, validity, signature).
    pub fn pinned(ca_sha256: &str) -> Result<ClientTls, ClientError> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier =
            Arc::new(PinnedCa { sha256: ca_sha256.to_ascii_lowercase(), provider: provider.clone() });
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| ClientError::Setup(e.to_string()))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        Ok(ClientTls { config: Arc::new(config), proxy: None })
    }
}

/// SHA-256 of `der`, lower-case hex.
pub fn sha256_hex(der: &[u8]) -> String {
    hex::encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, der))
}

/// The verifier of [`ClientTls::pinned`].
#[derive(Debug)]
struct PinnedCa {
    sha256: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl rustls::client::danger::ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        let ca = intermediates.iter().find(|c| sha256_hex(c) == self.sha256).ok_or_else(|| {
            rustls::Error::General(
                "the server's CA does not match the join token's fingerprint (wrong server, or a new token is needed)".into(),
            )
        })?;
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.clone().into_owned())?;
        let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            self.provider.clone(),
        )
        .build()
        .map_err(|e| rustls::Error::General(e.to_string()))?;
        webpki.verify_server_cert(end_entity, &[], server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Response {
    /// Status.
    pub status: StatusCode,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
}

/// One keep-alive connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    authority: String,
    /// What TLS negotiated, for logs: `TLS 1.3`.
    pub protocol: String,
}

impl Connection {
    /// Connects to `endpoint` (through the proxy of `tls` when it applies) and completes
    /// the TLS handshake with the server.
    pub async fn open(tls: &ClientTls, endpoint: &Endpoint) -> Result<Connection, ClientError> {
        match tls.proxy.as_deref().filter(|p| p.applies_to(endpoint)) {
            Some(proxy) => {
                let tunnel = crate::tunnel::open(proxy, endpoint).await?;
                Connection::handshake(tls, endpoint, tunnel).await
            }
            None => {
                let fail = |e: std::io::Error| ClientError::Connect(endpoint.to_string(), e.to_string());
                let tcp =
                    tokio::net::TcpStream::connect((endpoint.host(), endpoint.port())).await.map_err(fail)?;
                tcp.set_nodelay(true).map_err(fail)?;
                Connection::handshake(tls, endpoint, tcp).await
            }
        }
    }

    /// Connects to the first of `nodes` (`https://host:port`, in the order to try them)
    /// that answers, and says which. When none does, the one node's own error, or
    /// [`ClientError::NoNode`] naming each node and why.
    pub async fn open_first(tls: &ClientTls, nodes: &[String]) -> Result<(Connection, String), ClientError> {
        let mut failures = Vec::new();
        for url in nodes {
            match Connection::open(tls, &Endpoint::parse(url)?).await {
                Ok(conn) => return Ok((conn, url.clone())),
                Err(e) => failures.push(e),
            }
        }
        if failures.len() == 1 {
            return Err(failures.remove(0));
        }
        let failures: Vec<String> = failures.iter().map(ToString::to_string).collect();
        Err(ClientError::NoNode { nodes: nodes.join(", "), failures: failures.join("; ") })
    }

    /// TLS with the server and HTTP/1.1 over `io` (a TCP stream or a proxy's tunnel).
    async fn handshake<IO>(tls: &ClientTls, endpoint: &Endpoint, io: IO) -> Result<Connection, ClientError>
    where
        IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let fail = |e: String| ClientError::Connect(endpoint.to_string(), e);
        let name = match endpoint.host().parse::<std::net::IpAddr>() {
            Ok(ip) => ServerName::from(ip),
            Err(_) => ServerName::try_from(endpoint.host().to_string()).map_err(|e| fail(e.to_string()))?,
        };
        let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
        let stream = connector.connect(name, io).await.map_err(|e| fail(format!("TLS handshake: {e}")))?;
        let protocol = match stream.get_ref().1.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3",
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2",
            _ => "TLS",
        }
        .to_string();
        let (sender, conn) = http1::handshake(TokioIo::new(stream)).await.map_err(|e| fail(e.to_string()))?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(Connection { sender, authority: endpoint.authority(), protocol })
    }

    /// Connects to a socket address (load generators): the certificate must name the IP.
    pub async fn open_addr(tls: &ClientTls, addr: std::net::SocketAddr) -> Result<Connection, ClientError> {
        Connection::open(tls, &Endpoint::from_addr(addr)).await
    }

    /// Sends one request and reads the whole response.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Bytes,
    ) -> Result<Response, ClientError> {
        let fail = |e: String| ClientError::Exchange(format!("{method} {path}"), e);
        self.sender.ready().await.map_err(|e| fail(format!("connection closed: {e}")))?;
        let mut req = Request::builder().method(method).uri(path).header("host", &self.authority);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(Full::new(body)).map_err(|e| fail(e.to_string()))?;
        let resp = self.sender.send_request(req).await.map_err(|e| fail(e.to_string()))?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| fail(e.to_string()))?.to_bytes();
        Ok(Response { status: parts.status, headers: parts.headers, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_gateway_errors_and_unreached_servers_send_a_client_to_another_node() {
        let codes: Vec<u16> = (100..600).filter(|c| node_unavailable(*c)).collect();
        assert_eq!(codes, [502, 503, 504]);
        assert!(ClientError::Connect("https://a:1".into(), "refused".into()).never_reached());
        let proxy = ClientError::Proxy { server: "s".into(), proxy: "p".into(), detail: "d".into() };
        assert!(proxy.never_reached());
        assert!(!ClientError::Exchange("GET /".into(), "reset".into()).never_reached());
        assert!(!ClientError::Url("x".into(), "y".into()).never_reached());
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let e = ClientTls::new(b"not pem", None).unwrap_err().to_string();
        assert!(e.contains("no PEM certificate"), "{e}");
    }
}
