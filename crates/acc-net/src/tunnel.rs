//! The HTTP CONNECT step before the TLS handshake: a TCP connection to the proxy,
//! `CONNECT host:port` (with `Proxy-Authorization: Basic` when credentials are given), and,
//! on a 2xx answer, the raw byte stream to the server, over which the caller runs TLS end
//! to end: the proxy sees the server's name and port, and then only ciphertext (never the
//! client certificate, the credentials sent to the server, or anything else).
//!
//! A refusal names the proxy (never its credentials) and what it answered.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderValue, Method, Request, StatusCode, header};
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;

use crate::endpoint::Endpoint;
use crate::error::ClientError;
use crate::proxy::Proxy;

/// How long the proxy may take to connect and answer CONNECT.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// A byte stream to the server through the proxy.
pub type Tunnel = TokioIo<Upgraded>;

/// Opens a tunnel to `target` through `proxy`.
pub async fn open(proxy: &Proxy, target: &Endpoint) -> Result<Tunnel, ClientError> {
    let fail = |detail: String| ClientError::Proxy {
        server: target.to_string(),
        proxy: proxy.url.to_string(),
        detail,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, exchange(proxy, target)).await {
        Ok(Ok(Ok(tunnel))) => Ok(tunnel),
        Ok(Ok(Err(status))) => Err(fail(refusal(status, proxy.credentials.is_some(), target))),
        Ok(Err(detail)) => Err(fail(detail)),
        Err(_) => Err(fail(format!("no answer to CONNECT within {} s", CONNECT_TIMEOUT.as_secs()))),
    }
}

/// The CONNECT exchange: the tunnel, the refusing status, or what went wrong.
async fn exchange(proxy: &Proxy, target: &Endpoint) -> Result<Result<Tunnel, StatusCode>, String> {
    let at = proxy.url.endpoint();
    let tcp = tokio::net::TcpStream::connect((at.host(), at.port()))
        .await
        .map_err(|e| format!("cannot connect to the proxy: {e}"))?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let (mut sender, conn) = http1::handshake::<_, Empty<Bytes>>(TokioIo::new(tcp))
        .await
        .map_err(|e| format!("cannot talk HTTP to the proxy: {e}"))?;
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    let authority = target.authority();
    let mut req = Request::builder().method(Method::CONNECT).uri(&authority).header(header::HOST, &authority);
    if let Some(c) = &proxy.credentials {
        let mut value = HeaderValue::from_str(&c.header())
            .map_err(|_| "the proxy credentials hold a character HTTP headers cannot carry".to_string())?;
        value.set_sensitive(true);
        req = req.header(header::PROXY_AUTHORIZATION, value);
    }
    let req = req.body(Empty::new()).map_err(|e| format!("CONNECT request: {e}"))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("the proxy closed the connection before answering CONNECT ({e})"))?;
    if !resp.status().is_success() {
        return Ok(Err(resp.status()));
    }
    let upgraded =
        hyper::upgrade::on(resp).await.map_err(|e| format!("the tunnel did not open after 2xx: {e}"))?;
    Ok(Ok(TokioIo::new(upgraded)))
}

/// What a refusal means, with its status, in one phrase.
fn refusal(status: StatusCode, has_credentials: bool, target: &Endpoint) -> String {
    let code = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
    let code = code.trim_end();
    // 407 is the standard answer; some proxies (tinyproxy 1.11) answer 401 to wrong
    // credentials and 407 to none.
    match status.as_u16() {
        401 | 407 if has_credentials => format!(
            "the proxy refused the credentials of proxy-credentials-file ({code}); check the user name and password"
        ),
        401 | 407 => {
            format!("the proxy requires credentials ({code}); give proxy-credentials-file (USER:PASSWORD)")
        }
        403 => format!(
            "the proxy forbids CONNECT to {} ({code}); ask for that host and port to be allowed",
            target.authority()
        ),
        502..=504 => format!("the proxy could not reach the server ({code})"),
        _ => format!("the proxy refused CONNECT ({code})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::{NoProxy, ProxyCredentials, ProxyUrl};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-connection proxy on loopback that reads the CONNECT head, answers `answer`
    /// (or closes when empty), then echoes what follows; returns the head it read.
    async fn proxy_answering(answer: &'static str) -> (Proxy, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if s.read(&mut byte).await.unwrap() == 0 {
                    break;
                }
                head.push(byte[0]);
            }
            if !answer.is_empty() {
                s.write_all(answer.as_bytes()).await.unwrap();
                let mut buf = [0u8; 64];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
            String::from_utf8(head).unwrap()
        });
        let (url, _) = ProxyUrl::parse(&format!("http://{addr}"), "test").unwrap();
        (Proxy { url, credentials: None, no_proxy: NoProxy::default() }, task)
    }

    fn target() -> Endpoint {
        Endpoint::parse("https://mgmt.corp:8443").unwrap()
    }

    #[tokio::test]
    async fn a_2xx_answer_gives_the_raw_stream_to_the_server() {
        let (mut proxy, task) = proxy_answering("HTTP/1.1 200 Connection established\r\n\r\n").await;
        proxy.credentials = Some(ProxyCredentials::parse("agent:s3cret").unwrap());
        let mut io = open(&proxy, &target()).await.unwrap();
        io.write_all(b"ping").await.unwrap();
        let mut back = [0u8; 4];
        io.read_exact(&mut back).await.unwrap();
        assert_eq!(&back, b"ping");
        drop(io);
        let head = task.await.unwrap();
        assert!(head.starts_with("CONNECT mgmt.corp:8443 HTTP/1.1\r\n"), "{head}");
        assert!(head.to_ascii_lowercase().contains("host: mgmt.corp:8443\r\n"), "{head}");
        let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "agent:s3cret");
        assert!(head.contains(&format!("proxy-authorization: Basic {basic}\r\n")), "{head}");
    }

    #[tokio::test]
    async fn refusals_name_the_proxy_and_the_status_never_the_credentials() {
        for (answer, creds, wanted) in [
            (
                "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                false,
                "the proxy requires credentials (407 Proxy Authentication Required); give proxy-credentials-file",
            ),
            (
                "HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n",
                true,
                "refused the credentials of proxy-credentials-file (407 Proxy Authentication Required)",
            ),
            (
                "HTTP/1.0 401 Unauthorized\r\n\r\n",
                true,
                "refused the credentials of proxy-credentials-file (401 Unauthorized)",
            ),
            ("HTTP/1.0 403 Forbidden\r\n\r\n", false, "forbids CONNECT to mgmt.corp:8443 (403 Forbidden)"),
            (
                "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
                false,
                "could not reach the server (502 Bad Gateway)",
            ),
            ("", false, "the proxy closed the connection before answering CONNECT"),
        ] {
            let (mut proxy, _task) = proxy_answering(answer).await;
            if creds {
                proxy.credentials = Some(ProxyCredentials::parse("agent:s3cret").unwrap());
            }
            let e = open(&proxy, &target()).await.err().unwrap();
            let text = e.to_string();
            let start = format!("cannot reach https://mgmt.corp:8443 through proxy {}: ", proxy.url);
            assert!(text.starts_with(&start) && text.contains(wanted), "{text}");
            assert!(!text.contains("s3cret") && !format!("{e:?}").contains("s3cret"), "{text}");
            assert!(!text.contains('\n'), "{text}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_proxy_is_named() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let (url, _) = ProxyUrl::parse(&format!("{addr}"), "test").unwrap();
        let proxy = Proxy { url, credentials: None, no_proxy: NoProxy::default() };
        let e = open(&proxy, &target()).await.err().unwrap().to_string();
        assert!(e.contains(&format!("through proxy http://{addr}: cannot connect to the proxy")), "{e}");
    }
}
