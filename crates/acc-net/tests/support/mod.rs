//! Test support: a fleet CA and certificates made with acc-pki or openssl in a per-test
//! directory, a listener on 127.0.0.1:0 serving a small axum app that reports what it
//! sees, and clients (curl, openssl s_client, a rustls client for raw HTTP).

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use acc_net::{Limits, LiveConfig, PeerIdentity, PeerInfo, PeerRejection, ServeOptions, TlsInputs};
use acc_pki::csr::{Csr, San};
use acc_pki::key::{Curve, PrivateKey};
use acc_pki::subject::Subject;
use acc_pki::x509::{self, Ca, Profile};
use axum::extract::{Extension, Path as UrlPath};
use axum::routing::get as route_get;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

/// A CA with its files on disk.
pub struct TestCa {
    pub ca: Ca,
    pub cert_pem: String,
    pub cert_path: PathBuf,
    pub key_path: PathBuf,
}

impl TestCa {
    pub fn new(dir: &Path, name: &str) -> TestCa {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let subject = Subject::parse(&format!("/O=acc tests/CN={name}")).unwrap();
        let der = x509::self_signed_ca(
            &key,
            &subject,
            3650,
            &acc_pki::serial::random().unwrap(),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let cert_pem = acc_pki::pem::encode("CERTIFICATE", &der);
        let cert_path = dir.join(format!("{name}.crt"));
        let key_path = dir.join(format!("{name}.key"));
        std::fs::write(&cert_path, &cert_pem).unwrap();
        std::fs::write(&key_path, key.to_pkcs8_pem().unwrap()).unwrap();
        TestCa { ca: Ca::new(&der, key).unwrap(), cert_pem, cert_path, key_path }
    }

    /// Issues a certificate for a fresh key; returns (cert path, key path, serial).
    pub fn issue(
        &self,
        dir: &Path,
        cn: &str,
        profile: Profile,
        now: OffsetDateTime,
        days: u32,
    ) -> (PathBuf, PathBuf, Vec<u8>) {
        let key = PrivateKey::generate(Curve::P256).unwrap();
        let subject = Subject::parse(&format!("/O=acc tests/CN={cn}")).unwrap();
        let sans = match profile {
            Profile::Server => vec![San::Dns("localhost".into())],
            Profile::Client => vec![],
        };
        let serial = acc_pki::serial::random().unwrap();
        let der = self
            .ca
            .issue_raw(&subject.to_der(), &key.public_key_der().unwrap(), &sans, profile, days, &serial, now)
            .unwrap();
        let cert_path = dir.join(format!("{cn}.crt"));
        let key_path = dir.join(format!("{cn}.key"));
        std::fs::write(&cert_path, acc_pki::pem::encode("CERTIFICATE", &der)).unwrap();
        std::fs::write(&key_path, key.to_pkcs8_pem().unwrap()).unwrap();
        (cert_path, key_path, serial)
    }

    /// A CRL revoking `serials`.
    pub fn crl(&self, serials: &[Vec<u8>]) -> Vec<u8> {
        acc_pki::crl::extend(&self.ca, None, serials, OffsetDateTime::now_utc(), 30).unwrap()
    }
}

/// Runs a program and fails the test (never skips) if it is missing.
pub fn run(program: &str, args: &[&str], dir: &Path) -> std::process::Output {
    std::process::Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed by this test and could not be run: {e}"))
}

/// An openssl EC key (`ecparam -genkey`, with its EC PARAMETERS block) and CSR.
pub fn openssl_key_and_csr(dir: &Path, cn: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{cn}.key"));
    let csr = dir.join(format!("{cn}.csr"));
    let out =
        run("openssl", &["ecparam", "-name", "prime256v1", "-genkey", "-out", key.to_str().unwrap()], dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = std::fs::read_to_string(&key).unwrap();
    assert!(text.starts_with("-----BEGIN EC PARAMETERS-----"), "{text}");
    let subj = format!("/C=US/O=acc tests/CN={cn}");
    let out = run(
        "openssl",
        &["req", "-new", "-key", key.to_str().unwrap(), "-subj", &subj, "-out", csr.to_str().unwrap()],
        dir,
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    (key, csr)
}

/// A v3 client certificate for a CSR, signed by acc-pki.
pub fn sign_csr(ca: &TestCa, csr: &Path, out: &Path) {
    let csr = Csr::from_bytes(&std::fs::read(csr).unwrap()).unwrap();
    let der = ca
        .ca
        .issue(&csr, Profile::Client, 30, &acc_pki::serial::random().unwrap(), OffsetDateTime::now_utc())
        .unwrap();
    std::fs::write(out, acc_pki::pem::encode("CERTIFICATE", &der)).unwrap();
}

/// The seed's command: `openssl x509 -req … -extensions client` without `-extfile`,
/// which makes an X.509 v1 certificate.
pub fn openssl_v1_cert(ca: &TestCa, csr: &Path, out: &Path, dir: &Path) {
    let output = run(
        "openssl",
        &[
            "x509",
            "-req",
            "-days",
            "365",
            "-in",
            csr.to_str().unwrap(),
            "-CA",
            ca.cert_path.to_str().unwrap(),
            "-CAkey",
            ca.key_path.to_str().unwrap(),
            "-CAcreateserial",
            "-extensions",
            "client",
            "-out",
            out.to_str().unwrap(),
        ],
        dir,
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = run("openssl", &["x509", "-noout", "-text", "-in", out.to_str().unwrap()], dir);
    assert!(String::from_utf8_lossy(&text.stdout).contains("Version: 1 (0x0)"));
}

/// The body limit of /echo.
pub const ECHO_LIMIT: u64 = 1024;

/// A listener under test.
pub struct TestServer {
    pub dir: tempfile::TempDir,
    pub fleet: TestCa,
    pub addr: SocketAddr,
    pub live: LiveConfig,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub rejections: Arc<Mutex<Vec<PeerRejection>>>,
    /// Notified when a request enters /sleep.
    pub entered: Arc<tokio::sync::Notify>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// What the app answers on /whoami.
fn describe(info: &PeerInfo, headers: &http::HeaderMap, version: http::Version) -> serde_json::Value {
    let identity = match &info.identity {
        PeerIdentity::Anonymous => "anonymous".to_string(),
        PeerIdentity::Certificate { cn, .. } => format!("cert:{}", cn.as_deref().unwrap_or("")),
        PeerIdentity::Rejected { reason, .. } => format!("rejected:{}", reason.code()),
    };
    serde_json::json!({
        "identity": identity,
        "basic": headers.contains_key(http::header::AUTHORIZATION),
        "tls": info.tls_version,
        "http": format!("{version:?}"),
        "resumed": info.resumed,
    })
}

fn app(entered: Arc<tokio::sync::Notify>) -> axum::Router {
    axum::Router::new()
        .route(
            "/whoami",
            route_get(
                |Extension(info): Extension<Arc<PeerInfo>>,
                 headers: http::HeaderMap,
                 version: http::Version| async move {
                    axum::Json(describe(&info, &headers, version))
                },
            ),
        )
        .route(
            // Stands for a request that authenticated: the connection is no longer one of
            // its address's unauthenticated ones.
            "/login",
            route_get(|Extension(info): Extension<Arc<PeerInfo>>| async move {
                info.admission.authenticated();
                "welcome\n"
            }),
        )
        .route(
            // Reads the whole body (as a JSON handler does) and says how long it was.
            "/echo",
            axum::routing::post(|body: axum::body::Bytes| async move { format!("{} bytes\n", body.len()) }),
        )
        .route(
            "/sleep/{ms}",
            route_get(|UrlPath(ms): UrlPath<u64>| async move {
                entered.notify_one();
                tokio::time::sleep(Duration::from_millis(ms)).await;
                "slept\n"
            }),
        )
}

impl TestServer {
    /// A server whose certificate comes from a fresh fleet CA, trusting `trust_fleet`
    /// as client CA.
    pub async fn start(limits: Limits, trust_fleet: bool) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let fleet = TestCa::new(dir.path(), "fleet-ca");
        let (server_cert, server_key, _) =
            fleet.issue(dir.path(), "site-server", Profile::Server, OffsetDateTime::now_utc(), 30);
        let mut inputs =
            TlsInputs::new(std::fs::read(&server_cert).unwrap(), std::fs::read(&server_key).unwrap());
        if trust_fleet {
            inputs = inputs.client_ca(fleet.cert_pem.clone());
        }
        let live = LiveConfig::new(&inputs).unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let rejections = Arc::new(Mutex::new(Vec::new()));
        let seen = rejections.clone();
        // /echo takes up to 1 KiB; everything else the listener's default.
        let options = ServeOptions::new(limits)
            .on_rejected(move |r| seen.lock().unwrap().push(r.clone()))
            .body_limits(|_, path| if path == "/echo" { ECHO_LIMIT } else { acc_net::MAX_BODY_BYTES });
        let (stop, stopped) = oneshot::channel::<()>();
        let entered = Arc::new(tokio::sync::Notify::new());
        let task =
            tokio::spawn(acc_net::serve(listener, live.clone(), app(entered.clone()), options, async {
                let _ = stopped.await;
            }));
        TestServer {
            dir,
            fleet,
            addr,
            live,
            server_cert,
            server_key,
            rejections,
            entered,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The inputs the server started with, for reloads.
    pub fn inputs(&self) -> TlsInputs {
        TlsInputs::new(std::fs::read(&self.server_cert).unwrap(), std::fs::read(&self.server_key).unwrap())
    }

    /// Signals shutdown and returns the serve task to await.
    pub fn shutdown(&mut self) -> JoinHandle<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.task.take().expect("shut down once")
    }

    /// curl against /PATH with extra arguments; returns (exit code, HTTP status, body).
    pub async fn curl(&self, path: &str, extra: &[&str]) -> (i32, u16, String) {
        let url = format!("https://localhost:{}{path}", self.addr.port());
        let resolve = format!("localhost:{}:127.0.0.1", self.addr.port());
        let mut args = vec![
            "-sS",
            "--max-time",
            "10",
            "--cacert",
            self.fleet.cert_path.to_str().unwrap(),
            "--resolve",
            &resolve,
            "-w",
            "\n%{http_code}",
        ];
        args.extend_from_slice(extra);
        args.push(&url);
        let out = tokio::process::Command::new("curl")
            .args(&args)
            .output()
            .await
            .unwrap_or_else(|e| panic!("curl is needed by this test and could not be run: {e}"));
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let (body, code) = stdout.rsplit_once('\n').unwrap_or(("", stdout.as_str()));
        (out.status.code().unwrap_or(-1), code.trim().parse().unwrap_or(0), body.to_string())
    }

    /// curl /whoami, expecting success; returns the JSON.
    pub async fn whoami(&self, extra: &[&str]) -> serde_json::Value {
        let (code, status, body) = self.curl("/whoami", extra).await;
        assert_eq!((code, status), (0, 200), "{body}");
        serde_json::from_str(&body).unwrap()
    }

    /// A rustls client configuration trusting the fleet CA, with an optional client
    /// certificate (paths).
    pub fn client_config(&self, client: Option<(&Path, &Path)>) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(self.fleet.cert_pem.as_bytes()).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let mut config = match client {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain: Vec<CertificateDer<'static>> =
                    CertificateDer::pem_file_iter(cert).unwrap().map(Result::unwrap).collect();
                builder.with_client_auth_cert(chain, PrivateKeyDer::from_pem_file(key).unwrap()).unwrap()
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Arc::new(config)
    }

    /// A TLS connection with the rustls client.
    pub async fn tls(&self, config: Arc<rustls::ClientConfig>) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(self.addr).await.unwrap();
        TlsConnector::from(config).connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
    }
}

/// Sends one HTTP/1.1 request and reads one response with a Content-Length body.
pub async fn get(stream: &mut TlsStream<TcpStream>, path: &str) -> String {
    let req = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n");
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n =
            tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await.unwrap().unwrap();
        assert!(n > 0, "connection closed before a full response: {}", String::from_utf8_lossy(&buf));
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).to_string();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let len = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string())
                })
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            if body.len() >= len {
                return text;
            }
        }
    }
}

/// Reads until the peer closes (EOF or error) or `limit` passes; returns whether it
/// closed and what was read.
pub async fn read_until_closed<R: tokio::io::AsyncRead + Unpin>(
    stream: &mut R,
    limit: Duration,
) -> (bool, Vec<u8>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => return (false, buf),
            Ok(Ok(0)) | Ok(Err(_)) => return (true, buf),
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
