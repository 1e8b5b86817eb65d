//! The listener end to end: real sockets on 127.0.0.1, real TLS, curl and openssl as
//! outside clients. Every test has its own server, port and directory.

mod support;

use std::time::Duration;

use acc_net::{Limits, RejectReason, TlsInputs};
use acc_pki::x509::Profile;
use support::{
    ECHO_LIMIT, TestCa, TestServer, get, openssl_key_and_csr, openssl_v1_cert, read_until_closed, sign_csr,
};
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;

fn fast_limits() -> Limits {
    Limits {
        handshake_timeout: Duration::from_millis(400),
        header_timeout: Duration::from_millis(400),
        idle_timeout: Duration::from_millis(600),
        body_timeout: Duration::from_millis(500),
        shutdown_grace: Duration::from_secs(5),
        ..Limits::default()
    }
}

async fn server() -> TestServer {
    TestServer::start(fast_limits(), true).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_without_certificate_is_anonymous_and_keeps_its_basic_header() {
    let s = server().await;
    let seen = s.whoami(&[]).await;
    assert_eq!(seen["identity"], "anonymous");
    assert_eq!(seen["basic"], false);
    let seen = s.whoami(&["-u", "ACC_User_v1:secret"]).await;
    assert_eq!(seen["identity"], "anonymous");
    assert_eq!(seen["basic"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_with_openssl_key_and_fleet_certificate_is_identified_by_cn() {
    let s = server().await;
    let (key, csr) = openssl_key_and_csr(s.path(), "acclinux");
    let cert = s.path().join("acclinux.crt");
    sign_csr(&s.fleet, &csr, &cert);
    let seen = s.whoami(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]).await;
    assert_eq!(seen["identity"], "cert:acclinux");
    assert!(s.rejections.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_and_http11_are_both_served() {
    let s = server().await;
    assert_eq!(s.whoami(&["--http2"]).await["http"], "HTTP/2.0");
    assert_eq!(s.whoami(&["--http1.1"]).await["http"], "HTTP/1.1");
}

/// Presents `cert`/`key` with curl (plus a valid-looking Basic header) and checks the
/// 403, its JSON reason and the one rejection reported to the hook.
async fn assert_refused(s: &TestServer, cert: &std::path::Path, key: &std::path::Path, code: &str) -> String {
    let (exit, status, body) = s
        .curl(
            "/whoami",
            &[
                "--cert",
                cert.to_str().unwrap(),
                "--key",
                key.to_str().unwrap(),
                "-u",
                "ACC_User_v1:correct-password",
            ],
        )
        .await;
    assert_eq!((exit, status), (0, 403), "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"], "client_certificate_rejected");
    assert_eq!(json["reason"], code, "{body}");
    let rejections = s.rejections.lock().unwrap().clone();
    assert_eq!(rejections.len(), 1, "{rejections:?}");
    assert_eq!(rejections[0].reason.code(), code);
    assert!(rejections[0].subject.is_some());
    json["message"].as_str().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_certificate_is_refused_even_with_basic_credentials() {
    let s = server().await;
    let past = OffsetDateTime::now_utc() - time::Duration::days(400);
    let (cert, key, _) = s.fleet.issue(s.path(), "old-agent", Profile::Client, past, 30);
    let message = assert_refused(&s, &cert, &key, "expired").await;
    assert!(message.contains("old-agent") && message.contains("expired"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_yet_valid_certificate_is_refused() {
    let s = server().await;
    let future = OffsetDateTime::now_utc() + time::Duration::days(10);
    let (cert, key, _) = s.fleet.issue(s.path(), "future-agent", Profile::Client, future, 30);
    let message = assert_refused(&s, &cert, &key, "not_yet_valid").await;
    assert!(message.contains("clock skew") && message.contains("NTP"), "the refusal says so: {message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificate_from_an_untrusted_ca_is_refused_as_unknown_issuer() {
    let s = server().await;
    let other = TestCa::new(s.path(), "other-ca");
    let (cert, key, _) = other.issue(s.path(), "stranger", Profile::Client, OffsetDateTime::now_utc(), 30);
    assert_refused(&s, &cert, &key, "unknown_issuer").await;
    assert_eq!(s.rejections.lock().unwrap()[0].issuer.as_deref(), Some("O=acc tests, CN=other-ca"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_only_certificate_is_refused_as_wrong_purpose() {
    let s = server().await;
    let (cert, key, _) =
        s.fleet.issue(s.path(), "server-eku", Profile::Server, OffsetDateTime::now_utc(), 30);
    let message = assert_refused(&s, &cert, &key, "wrong_purpose").await;
    assert!(message.contains("EKU lacks clientAuth"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seed_x509_v1_certificate_is_refused_with_the_resign_hint() {
    let s = server().await;
    let (key, csr) = openssl_key_and_csr(s.path(), "acclinux");
    let cert = s.path().join("acclinux-v1.crt");
    openssl_v1_cert(&s.fleet, &csr, &cert, s.path());
    let message = assert_refused(&s, &cert, &key, "x509_v1").await;
    assert!(message.contains("-extfile"), "{message}");
    assert_eq!(s.rejections.lock().unwrap()[0].reason, RejectReason::Version1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_certificate_is_refused_after_a_crl_hot_swap() {
    let s = server().await;
    let (cert, key, serial) =
        s.fleet.issue(s.path(), "lost-laptop", Profile::Client, OffsetDateTime::now_utc(), 30);
    let args = ["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()];
    assert_eq!(s.whoami(&args).await["identity"], "cert:lost-laptop");

    let inputs = s.inputs().client_ca(s.fleet.cert_pem.clone()).crl(s.fleet.crl(&[serial]));
    assert_eq!(s.live.reload(&inputs).unwrap(), 1);
    assert_refused(&s, &cert, &key, "revoked").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_anchor_added_by_hot_swap_applies_to_new_connections() {
    let s = server().await;
    let operator = TestCa::new(s.path(), "lab-ca");
    let (cert, key, _) =
        operator.issue(s.path(), "lab-agent", Profile::Client, OffsetDateTime::now_utc(), 30);
    assert_refused(&s, &cert, &key, "unknown_issuer").await;

    let inputs = s.inputs().client_ca(s.fleet.cert_pem.clone()).client_ca(operator.cert_pem.clone());
    s.live.reload(&inputs).unwrap();
    let seen = s.whoami(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap()]).await;
    assert_eq!(seen["identity"], "cert:lab-agent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_with_a_bad_crl_keeps_the_running_configuration() {
    let s = server().await;
    let other = TestCa::new(s.path(), "other-ca");
    let inputs = s.inputs().client_ca(s.fleet.cert_pem.clone()).crl(other.crl(&[]));
    let err = s.live.reload(&inputs).unwrap_err().to_string();
    assert!(err.contains("not one of the client CAs"), "{err}");
    assert_eq!(s.live.current().number(), 0);
    assert_eq!(s.whoami(&[]).await["identity"], "anonymous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_ca_means_no_certificate_request_and_passwords_still_work() {
    let s = TestServer::start(fast_limits(), false).await;
    assert!(!s.live.current().requests_client_certificates());
    let (cert, key, _) = s.fleet.issue(s.path(), "agent", Profile::Client, OffsetDateTime::now_utc(), 30);
    let seen =
        s.whoami(&["--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), "-u", "u:p"]).await;
    assert_eq!(seen["identity"], "anonymous");
    assert_eq!(seen["basic"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resumed_sessions_keep_their_verdict() {
    let s = server().await;
    let (good, good_key, _) =
        s.fleet.issue(s.path(), "agent-7", Profile::Client, OffsetDateTime::now_utc(), 30);
    let past = OffsetDateTime::now_utc() - time::Duration::days(400);
    let (old, old_key, _) = s.fleet.issue(s.path(), "agent-8", Profile::Client, past, 30);
    for (cert, key, expect) in [(&good, &good_key, "cert:agent-7"), (&old, &old_key, "403 Forbidden")] {
        let config = s.client_config(Some((cert, key)));
        for round in 0..2 {
            let mut tls = s.tls(config.clone()).await;
            let resumed = tls.get_ref().1.handshake_kind() == Some(rustls::HandshakeKind::Resumed);
            assert_eq!(resumed, round == 1, "round {round}");
            let reply = get(&mut tls, "/whoami").await;
            assert!(reply.contains(expect), "round {round}: {reply}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_1_1_is_refused_and_1_2_and_1_3_are_accepted() {
    let s = server().await;
    let connect = format!("127.0.0.1:{}", s.addr.port());
    let s_client = |version: &'static str| {
        // SECLEVEL=0 lets openssl itself offer TLS 1.1, so a failure is the server's.
        let args = vec![
            "s_client".to_string(),
            "-connect".to_string(),
            connect.clone(),
            version.to_string(),
            "-cipher".to_string(),
            "DEFAULT@SECLEVEL=0".to_string(),
            "-CAfile".to_string(),
            s.fleet.cert_path.to_str().unwrap().to_string(),
        ];
        async move {
            let out = tokio::process::Command::new("openssl")
                .args(&args)
                .stdin(std::process::Stdio::null())
                .output()
                .await
                .unwrap_or_else(|e| panic!("openssl is needed by this test and could not be run: {e}"));
            (out.status.success(), String::from_utf8_lossy(&out.stdout).to_string())
        }
    };
    let (ok, out) = s_client("-tls1_1").await;
    assert!(!ok, "TLS 1.1 was accepted: {out}");
    let (ok, out) = s_client("-tls1_2").await;
    assert!(ok && out.contains("Protocol  : TLSv1.2"), "{out}");
    let (ok, out) = s_client("-tls1_3").await;
    assert!(ok && out.contains("TLSv1.3"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_partial_header_is_disconnected_after_the_header_timeout() {
    let s = server().await;
    let mut tls = s.tls(s.client_config(None)).await;
    tls.write_all(b"GET /whoami HTTP/1.1\r\nHost: localhost\r\nX-Slow: ").await.unwrap();
    let started = tokio::time::Instant::now();
    let (closed, _) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    assert!(closed, "still open after 5 s");
    assert!(started.elapsed() >= Duration::from_millis(300), "closed too early: {:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_that_never_sends_a_request_is_closed() {
    let s = server().await;
    let mut tls = s.tls(s.client_config(None)).await;
    let (closed, _) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    assert!(closed, "still open after 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unfinished_tls_handshake_is_dropped_after_the_handshake_timeout() {
    let s = server().await;
    let mut tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    tcp.write_all(&[0x16, 0x03, 0x01, 0x02]).await.unwrap(); // the start of a record header
    let (closed, _) = read_until_closed(&mut tcp, Duration::from_secs(5)).await;
    assert!(closed, "still open after 5 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_is_closed_but_a_long_request_is_not() {
    let s = server().await;
    let mut tls = s.tls(s.client_config(None)).await;
    // Longer than the idle timeout (600 ms): a long poll must survive it.
    let reply = get(&mut tls, "/sleep/900").await;
    assert!(reply.starts_with("HTTP/1.1 200") && reply.contains("slept"), "{reply}");
    let reply = get(&mut tls, "/whoami").await;
    assert!(reply.contains("anonymous"), "{reply}");
    let idle_since = tokio::time::Instant::now();
    let (closed, _) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    assert!(closed, "idle connection still open after 5 s");
    assert!(
        idle_since.elapsed() >= Duration::from_millis(500),
        "closed too early: {:?}",
        idle_since.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_header_gets_431_or_a_closed_connection() {
    let s = server().await;
    let mut tls = s.tls(s.client_config(None)).await;
    let big = "a".repeat(64 * 1024);
    let req = format!("GET /whoami HTTP/1.1\r\nHost: localhost\r\nX-Big: {big}\r\n\r\n");
    let _ = tls.write_all(req.as_bytes()).await; // the server may close while we write
    let (closed, reply) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(closed, "still open after 5 s");
    assert!(reply.is_empty() || reply.starts_with("HTTP/1.1 431"), "{reply}");
    // The server is still there.
    assert_eq!(s.whoami(&[]).await["identity"], "anonymous");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_limit_holds_further_clients_in_the_backlog_when_all_have_authenticated() {
    let limits = Limits { max_connections: 1, ..fast_limits() };
    let s = TestServer::start(Limits { idle_timeout: Duration::from_secs(30), ..limits }, true).await;
    let mut first = s.tls(s.client_config(None)).await;
    assert!(get(&mut first, "/login").await.contains("welcome"));
    let config = s.client_config(None);
    let second = tokio::spawn({
        let addr = s.addr;
        async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
            tokio_rustls::TlsConnector::from(config).connect(name, tcp).await.map(|_| ())
        }
    });
    // The second handshake cannot start while the first connection holds the slot.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!second.is_finished(), "a second connection was served beyond the limit");
    drop(first);
    let done = tokio::time::timeout(Duration::from_secs(5), second).await;
    assert!(matches!(done, Ok(Ok(Ok(())))), "{done:?}");
}

/// Limits under which only the cap and the connection limit close quiet connections.
fn patient_limits() -> Limits {
    Limits { header_timeout: Duration::from_secs(30), idle_timeout: Duration::from_secs(30), ..fast_limits() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_listener_closes_an_unauthenticated_connection_to_serve_a_new_client() {
    let s = TestServer::start(Limits { max_connections: 2, ..patient_limits() }, true).await;
    let mut authed = s.tls(s.client_config(None)).await;
    assert!(get(&mut authed, "/login").await.contains("welcome"));
    let mut quiet = s.tls(s.client_config(None)).await;
    // Full now. A new client is served at once: the quiet, unauthenticated one makes room.
    assert_eq!(s.whoami(&[]).await["identity"], "anonymous");
    let (closed, _) = read_until_closed(&mut quiet, Duration::from_secs(5)).await;
    assert!(closed, "the unauthenticated connection was not closed");
    assert!(get(&mut authed, "/whoami").await.contains("anonymous"), "the authenticated one stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_holds_at_most_its_cap_of_unauthenticated_connections() {
    let s = TestServer::start(Limits { max_unauthenticated_per_address: 2, ..patient_limits() }, true).await;
    let mut authed = s.tls(s.client_config(None)).await;
    assert!(get(&mut authed, "/login").await.contains("welcome"));
    let mut first = s.tls(s.client_config(None)).await;
    let mut second = s.tls(s.client_config(None)).await;
    // A third unauthenticated connection from 127.0.0.1 is closed before its handshake.
    let tcp = tokio::net::TcpStream::connect(s.addr).await.unwrap();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let third = tokio_rustls::TlsConnector::from(s.client_config(None)).connect(name, tcp).await;
    assert!(third.is_err(), "a third unauthenticated connection was served");
    assert!(get(&mut first, "/whoami").await.contains("anonymous"));
    assert!(get(&mut second, "/whoami").await.contains("anonymous"));
    // The authenticated connection never counted; once one of the two authenticates, a
    // new one is let in.
    assert!(get(&mut authed, "/whoami").await.contains("anonymous"));
    assert!(get(&mut first, "/login").await.contains("welcome"));
    let mut fourth = s.tls(s.client_config(None)).await;
    assert!(get(&mut fourth, "/whoami").await.contains("anonymous"));
}

/// Sends `head` (and `body`) on a new connection and reads until the server closes.
async fn exchange(s: &TestServer, head: &str, body: &[u8]) -> String {
    let mut tls = s.tls(s.client_config(None)).await;
    tls.write_all(head.as_bytes()).await.unwrap();
    let _ = tls.write_all(body).await; // the server may answer and close first
    let (closed, reply) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    let reply = String::from_utf8_lossy(&reply).to_string();
    assert!(closed, "still open after 5 s: {reply}");
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_never_arrives_gets_408_and_the_connection_closes() {
    let s = server().await;
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n";
    let reply = exchange(&s, head, b"{\"partial\":").await;
    assert!(reply.starts_with("HTTP/1.1 408"), "{reply}");
    assert!(
        reply.contains("\"error\":\"request_timeout\"") && reply.contains("connection: close"),
        "{reply}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dripping_body_gets_408() {
    let s = server().await;
    let mut tls = s.tls(s.client_config(None)).await;
    tls.write_all(b"POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n").await.unwrap();
    // A byte every 100 ms: never idle for long, far below the minimum rate.
    let drip = async {
        for _ in 0..100 {
            if tls.write_all(b"x").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), drip).await;
    let (closed, reply) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(closed && reply.starts_with("HTTP/1.1 408"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_limit_gets_413_without_100_continue() {
    let s = server().await;
    let head =
        "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10000000\r\nExpect: 100-continue\r\n\r\n";
    let reply = exchange(&s, head, b"").await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    assert!(!reply.contains("100 Continue"), "{reply}");
    assert!(reply.contains(&format!("({ECHO_LIMIT} bytes)")) && reply.contains("\"too_large\""), "{reply}");
    // Without Expect, the body sent anyway is read (up to a bound) so the 413 arrives.
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2000\r\n\r\n";
    let reply = exchange(&s, head, &[b'x'; 2000]).await;
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_within_the_limit_gets_100_continue_and_is_served() {
    let s = server().await;
    let mut tls = s.tls(s.client_config(None)).await;
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n";
    tls.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 256];
    let n = tokio::time::timeout(Duration::from_secs(5), tokio::io::AsyncReadExt::read(&mut tls, &mut buf))
        .await
        .unwrap()
        .unwrap();
    let first = String::from_utf8_lossy(&buf[..n]);
    assert!(first.starts_with("HTTP/1.1 100 Continue"), "{first}");
    tls.write_all(b"hello").await.unwrap();
    let (_, rest) = read_until_closed(&mut tls, Duration::from_millis(1500)).await;
    let rest = String::from_utf8_lossy(&rest);
    assert!(rest.contains("200 OK") && rest.contains("5 bytes"), "{first}{rest}");
    // curl's --data within the limit too.
    let (code, status, body) = s.curl("/echo", &["--data-binary", &"y".repeat(1000)]).await;
    assert_eq!((code, status, body.trim()), (0, 200, "1000 bytes"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_growing_over_the_limit_gets_413() {
    let s = server().await;
    let head = "POST /echo HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n";
    let chunk = format!("800\r\n{}\r\n0\r\n\r\n", "z".repeat(0x800));
    let reply = exchange(&s, head, chunk.as_bytes()).await;
    assert!(reply.starts_with("HTTP/1.1 413") && reply.contains("\"too_large\""), "{reply}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_requests_in_flight_finish_and_stops_accepting() {
    let mut s = server().await;
    let mut tls = s.tls(s.client_config(None)).await;
    tls.write_all(b"GET /sleep/500 HTTP/1.1\r\nHost: localhost\r\n\r\n").await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), s.entered.notified()).await.unwrap();
    let serve = s.shutdown();
    let (closed, reply) = read_until_closed(&mut tls, Duration::from_secs(5)).await;
    let reply = String::from_utf8_lossy(&reply);
    assert!(closed && reply.starts_with("HTTP/1.1 200") && reply.contains("slept"), "{reply}");
    tokio::time::timeout(Duration::from_secs(5), serve).await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(s.addr).await.is_err(), "still accepting after shutdown");
}

#[tokio::test]
async fn bad_inputs_are_refused_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "fleet-ca");
    let (cert, key, _) = ca.issue(dir.path(), "site", Profile::Server, OffsetDateTime::now_utc(), 30);
    let cert = std::fs::read(cert).unwrap();
    let other_key =
        acc_pki::key::PrivateKey::generate(acc_pki::key::Curve::P256).unwrap().to_pkcs8_pem().unwrap();

    let err = acc_net::LiveConfig::new(&TlsInputs::new(cert.clone(), other_key)).unwrap_err().to_string();
    assert!(err.contains("server certificate and key"), "{err}");
    let err = acc_net::LiveConfig::new(&TlsInputs::new(cert.clone(), b"nonsense".to_vec()))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("server key"), "{err}");
    let err = acc_net::LiveConfig::new(&TlsInputs::new(
        b"-----BEGIN X-----\n-----END X-----\n".to_vec(),
        std::fs::read(&key).unwrap(),
    ))
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("server certificate"), "{err}");
    let inputs = TlsInputs::new(cert, std::fs::read(&key).unwrap()).client_ca(b"garbage".to_vec());
    let err = acc_net::LiveConfig::new(&inputs).unwrap_err().to_string();
    assert!(err.starts_with("client CA #1"), "{err}");
    assert!(!format!("{inputs:?}").contains("PRIVATE KEY"));
}

#[tokio::test]
async fn sec1_key_with_ec_parameters_block_is_accepted_as_server_key() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "fleet-ca");
    let (key, csr) = openssl_key_and_csr(dir.path(), "localhost");
    let csr = acc_pki::csr::Csr::from_bytes(&std::fs::read(csr).unwrap()).unwrap();
    let sans = [acc_pki::csr::San::Dns("localhost".into())];
    let serial = acc_pki::serial::random().unwrap();
    let now = OffsetDateTime::now_utc();
    let der =
        ca.ca.issue_raw(&csr.subject_der, &csr.spki_der, &sans, Profile::Server, 30, &serial, now).unwrap();
    let inputs = TlsInputs::new(der, std::fs::read(key).unwrap());
    let live = acc_net::LiveConfig::new(&inputs).unwrap();
    assert!(!live.current().requests_client_certificates());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_self_signed_ca_certificate_is_refused_in_words() {
    let s = server().await;
    let own = TestCa::new(s.path(), "selfie");
    let body = assert_refused(&s, &own.cert_path, &own.key_path, "ca_used_as_end_entity").await;
    assert!(body.contains("self-signed (a CA certificate used as an end-entity)"), "{body}");
    assert!(!body.contains("CaUsedAsEndEntity"), "{body}");
}
