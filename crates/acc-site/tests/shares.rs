//! Shares in process (tower `oneshot`, real SQLite and files): ACL persistence and live
//! edits, denials with their message and 5145, hostile paths and symlinks, and the HTTP
//! semantics of downloads (Range, 416, ETag, 304, Repr-Digest, HEAD).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use acc_net::SessionSlot;
use acc_site::Site;
use acc_site::admin::{self, EventQuery, Request as AdminRequest};
use acc_site::api::auth::TlsIdentity;
use acc_site::api::{ApiPeer, router};
use acc_site::layout::Layout;
use acc_site::shares::admin::SharesRequest;
use acc_site::shares::{AceTarget, GrantArgs};
use acc_site::site::SystemClock;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use tower::ServiceExt;

mod support;

const PW: &str = "Tr0ub4dor&3-horse-staple";

struct Fixture {
    _tmp: tempfile::TempDir,
    dir: PathBuf,
    site: Arc<Site>,
}

impl Fixture {
    async fn new() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        support::init_site(&dir);
        let site = Site::open(Layout::new(&dir), Arc::new(SystemClock)).await.unwrap();
        site.add_account("ACC_user", PW).await.unwrap();
        site.add_account("other", PW).await.unwrap();
        Fixture { _tmp: tmp, dir, site }
    }

    fn file(&self, rel: &str, content: &[u8]) -> PathBuf {
        let p = self.dir.join("shares").join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        p
    }

    async fn get(&self, user: &str, uri: &str, headers: &[(&str, &str)]) -> Reply {
        self.send("GET", Some(user), None, uri, headers).await
    }

    async fn send(
        &self,
        method: &str,
        user: Option<&str>,
        cert_cn: Option<&str>,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        self.send_on(&SessionSlot::default(), method, user, cert_cn, uri, headers).await
    }

    /// A request on the connection whose logon session is `session`.
    async fn send_on(
        &self,
        session: &SessionSlot,
        method: &str,
        user: Option<&str>,
        cert_cn: Option<&str>,
        uri: &str,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(u) = user {
            req = req.header("authorization", format!("Basic {}", STANDARD.encode(format!("{u}:{PW}"))));
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut req = req.body(Body::empty()).unwrap();
        let tls = match cert_cn {
            Some(cn) => TlsIdentity::Certificate {
                cn: Some(cn.into()),
                subject: format!("CN={cn}"),
                issuer: "CN=Test CA".into(),
            },
            None => TlsIdentity::Anonymous,
        };
        req.extensions_mut().insert(ApiPeer {
            remote: SocketAddr::from(([10, 0, 0, 7], 40000)),
            tls,
            session: session.clone(),
            admission: Default::default(),
            durability: Default::default(),
        });
        let resp = router(self.site.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 26).await.unwrap().to_vec();
        Reply { status, headers, body }
    }

    async fn admin(&self, r: SharesRequest) -> Result<Value, String> {
        admin::handle(&self.site, AdminRequest::Shares(r)).await.map_err(|e| e.to_string())
    }

    async fn grant(&self, share: &str, principal: &str, right: &str, level: &str, path: Option<&str>) {
        self.admin(SharesRequest::Grant(GrantArgs {
            target: target(share, principal, level, path),
            right: right.into(),
        }))
        .await
        .unwrap();
    }

    async fn events_5145(&self) -> Vec<Value> {
        let q = EventQuery { id: Some("5145".into()), ..EventQuery::default() };
        admin::events(&self.site, &q).await.unwrap().events
    }
}

fn target(share: &str, principal: &str, level: &str, path: Option<&str>) -> AceTarget {
    AceTarget {
        share: share.into(),
        principal: principal.into(),
        level: level.into(),
        path: path.map(Into::into),
    }
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

fn sha256_b64(data: &[u8]) -> String {
    STANDARD.encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data))
}

#[tokio::test]
async fn default_shares_serve_agents_and_acls_survive_reopen() {
    let f = Fixture::new().await;
    f.file("software-library/pkg/a.bin", b"hello");
    let r = f.get("ACC_user", "/v1/shares/software-library/pkg/a.bin", &[]).await;
    assert_eq!((r.status, r.body.as_slice()), (StatusCode::OK, &b"hello"[..]));

    f.admin(SharesRequest::Add { name: "drivers".into(), agents_read: false }).await.unwrap();
    f.grant("drivers", "cert:CN=acclinux", "read", "share", None).await;
    f.grant("drivers", "cert:CN=acclinux", "full", "file", Some("x64")).await;
    let before = f.admin(SharesRequest::List).await.unwrap();
    drop(f.site);
    let site = Site::open(Layout::new(&f.dir), Arc::new(SystemClock)).await.unwrap();
    let after = admin::handle(&site, AdminRequest::Shares(SharesRequest::List)).await.unwrap();
    assert_eq!(before, after);
    let names: Vec<&str> = after.as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["drivers", "nscap", "patch-downloads", "software-library"]);
    let drivers = &after[0];
    assert_eq!(drivers["file_acls"][0]["path"], "x64");
    assert_eq!(drivers["file_acls"][0]["aces"][0]["right"], "Full Control");
    assert!(f.dir.join("shares/drivers").is_dir());
}

#[tokio::test]
async fn grants_and_revokes_take_effect_at_once() {
    let f = Fixture::new().await;
    f.file("nscap/tool.exe", b"tool");
    let uri = "/v1/shares/nscap/tool.exe";
    assert_eq!(f.get("ACC_user", uri, &[]).await.status, StatusCode::OK);
    f.admin(SharesRequest::Revoke(target("nscap", "Agents", "share", None))).await.unwrap();
    assert_eq!(f.get("ACC_user", uri, &[]).await.status, StatusCode::FORBIDDEN);
    f.grant("nscap", "ACC_user", "read", "share", None).await;
    assert_eq!(f.get("ACC_user", uri, &[]).await.status, StatusCode::OK);
    assert_eq!(f.get("other", uri, &[]).await.status, StatusCode::FORBIDDEN);
    // Bad edits are refused whole, with one line naming the input.
    let err = f
        .admin(SharesRequest::Grant(GrantArgs {
            target: target("nscap", "ACC_user", "share", None),
            right: "write".into(),
        }))
        .await
        .unwrap_err();
    assert_eq!(err, "unknown right 'write': expected read, change or full");
    let err = f
        .admin(SharesRequest::Revoke(target("nscap", "ACC_user", "file", Some("a/../b"))))
        .await
        .unwrap_err();
    assert_eq!(err, "--path 'a/../b': path component 2 is '..': paths may not leave their folder");
    let err = f.admin(SharesRequest::Revoke(target("nope", "ACC_user", "share", None))).await.unwrap_err();
    assert!(err.starts_with("share 'nope' does not exist"), "{err}");
    let err = f.admin(SharesRequest::Add { name: "nscap".into(), agents_read: false }).await.unwrap_err();
    assert_eq!(err, "share 'nscap' already exists");
    assert_eq!(f.get("ACC_user", uri, &[]).await.status, StatusCode::OK, "nothing half-applied");
}

#[tokio::test]
async fn a_denial_names_principal_object_level_and_right_and_writes_5145() {
    let f = Fixture::new().await;
    f.file("software-library/secret/key.bin", b"k");
    f.admin(SharesRequest::Revoke(target("software-library", "Agents", "file", None))).await.unwrap();
    f.grant("software-library", "other", "read", "file", Some("secret")).await;
    let r = f.get("ACC_user", "/v1/shares/software-library/secret/key.bin", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let v = r.json();
    assert_eq!(v["error"], "access_denied");
    let msg = v["message"].as_str().unwrap();
    for part in ["'ACC_user'", "'software-library/secret/key.bin'", "file level", "Read"] {
        assert!(msg.contains(part), "{part} missing in {msg}");
    }
    let events = f.events_5145().await;
    let e = events.last().unwrap();
    assert_eq!(e["EventID"], 5145);
    assert_eq!(e["ShareName"], "software-library");
    assert_eq!(e["RelativeTargetName"], "secret/key.bin");
    assert_eq!(e["AccessMask"], "0x1");
    assert_eq!(e["SubjectUserName"], "ACC_user");
    assert_eq!(e["IpAddress"], "10.0.0.7");
    assert_eq!(e["Keywords"], "Audit Failure");
    assert_eq!(e["DeniedBy"], "file level");
    // Granted: read, and the success is audited too.
    let r = f.get("other", "/v1/shares/software-library/secret/key.bin", &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    let e = f.events_5145().await.pop().unwrap();
    assert_eq!(
        (e["Keywords"].as_str(), e["SubjectUserName"].as_str()),
        (Some("Audit Success"), Some("other"))
    );
    assert!(e.get("DeniedBy").is_none());
    // A denied caller learns nothing about what exists: 403 for a missing file too.
    let r = f.get("ACC_user", "/v1/shares/software-library/secret/none.bin", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Share level: the message says so.
    f.admin(SharesRequest::Revoke(target("software-library", "Agents", "share", None))).await.unwrap();
    let r = f.get("other", "/v1/shares/software-library/secret/key.bin", &[]).await;
    assert!(r.json()["message"].as_str().unwrap().contains("share level grants no Read"), "{}", r.json());
    assert_eq!(f.events_5145().await.pop().unwrap()["DeniedBy"], "share level");
}

#[tokio::test]
async fn certificate_identities_are_principals() {
    let f = Fixture::new().await;
    f.file("patch-downloads/p.msu", b"patch");
    f.admin(SharesRequest::Revoke(target("patch-downloads", "Agents", "share", None))).await.unwrap();
    let uri = "/v1/shares/patch-downloads/p.msu";
    let r = f.send("GET", None, Some("acclinux"), uri, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["message"].as_str().unwrap().contains("'cert:CN=acclinux'"), "{}", r.json());
    f.grant("patch-downloads", "cert:cn=AccLinux", "read", "share", None).await;
    let r = f.send("GET", None, Some("acclinux"), uri, &[]).await;
    assert_eq!((r.status, r.body.as_slice()), (StatusCode::OK, &b"patch"[..]));
    // A CN that tries to look like a longer subject stays one value.
    let r = f.send("GET", None, Some("acclinux,O=x"), uri, &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn hostile_paths_are_refused_and_never_leave_the_share() {
    let f = Fixture::new().await;
    f.file("software-library/ok.txt", b"ok");
    std::fs::write(f.dir.join("site.json.copy"), b"outside").unwrap();
    let cases: [(&str, u16); 13] = [
        ("/v1/shares/software-library/../site.json", 400),
        ("/v1/shares/software-library/%2e%2e/site.json", 400),
        ("/v1/shares/software-library/%2E%2E%2Fsite.json", 400),
        ("/v1/shares/software-library/a%2fb", 400),
        ("/v1/shares/software-library//etc/passwd", 400),
        ("/v1/shares/software-library/a%5cb", 400),
        ("/v1/shares/software-library/ok.txt%00", 400),
        ("/v1/shares/software-library/%ff%fe", 400),
        ("/v1/shares/software-library/C:/x", 400),
        ("/v1/shares/software-library/ok.txt.", 400),
        ("/v1/shares/Software-Library/ok.txt", 400),
        ("/v1/shares/nope/ok.txt", 404),
        ("/v1/shares/software-library/missing.txt", 404),
    ];
    for (uri, status) in cases {
        let r = f.get("ACC_user", uri, &[]).await;
        assert_eq!(r.status.as_u16(), status, "{uri}: {}", r.json());
        let code = r.json()["error"].as_str().unwrap().to_owned();
        assert!(code == "malformed" || code == "not_found", "{uri}: {code}");
        assert!(!r.json()["message"].as_str().unwrap().contains('\n'));
    }
    let long = format!("/v1/shares/software-library/{}", "a/".repeat(40) + "x");
    let r = f.get("ACC_user", &long, &[]).await;
    assert_eq!((r.status, r.json()["error"].as_str()), (StatusCode::URI_TOO_LONG, Some("uri_too_long")));
    let r = f.get("ACC_user", "/v1/shares/software-library/pkg", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    f.file("software-library/pkg/x", b"x");
    let r = f.get("ACC_user", "/v1/shares/software-library/pkg", &[]).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(r.json()["message"].as_str().unwrap().contains("is a folder"), "{}", r.json());
}

#[tokio::test]
async fn symlinks_are_judged_by_where_they_lead() {
    let f = Fixture::new().await;
    let lib = f.dir.join("shares/software-library");
    f.file("software-library/private/data.bin", b"private");
    std::os::unix::fs::symlink(f.dir.join("site.json"), lib.join("escape.json")).unwrap();
    std::os::unix::fs::symlink("../../tls", lib.join("tlsdir")).unwrap();
    std::os::unix::fs::symlink("private/data.bin", lib.join("alias.bin")).unwrap();
    for uri in ["/v1/shares/software-library/escape.json", "/v1/shares/software-library/tlsdir/server.key"] {
        let r = f.get("ACC_user", uri, &[]).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(r.json()["message"].as_str().unwrap().contains("outside the share"), "{}", r.json());
        assert!(!String::from_utf8_lossy(&r.body).contains("PRIVATE KEY"));
    }
    // Inside the share, the target's ACL decides: a Deny on the folder covers the alias.
    assert_eq!(f.get("ACC_user", "/v1/shares/software-library/alias.bin", &[]).await.body, b"private");
    f.admin(SharesRequest::Revoke(target("software-library", "Agents", "file", None))).await.unwrap();
    f.grant("software-library", "ACC_user", "read", "file", Some("alias.bin")).await;
    let r = f.get("ACC_user", "/v1/shares/software-library/alias.bin", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.json()["message"].as_str().unwrap().contains("software-library/private/data.bin"),
        "{}",
        r.json()
    );
}

#[tokio::test]
async fn ranges_validators_and_digests_follow_the_rfcs() {
    let f = Fixture::new().await;
    // Large enough to be streamed (over the in-memory limit), with a short odd tail.
    let data: Vec<u8> = (0..300_001u32).map(|i| (i * 7 % 251) as u8).collect();
    f.file("software-library/big.bin", &data);
    let uri = "/v1/shares/software-library/big.bin";
    let full = f.get("ACC_user", uri, &[]).await;
    assert_eq!(full.status, StatusCode::OK);
    assert_eq!(full.body, data);
    assert_eq!(full.header("content-length"), Some("300001"));
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let digest = format!("sha-256=:{}:", sha256_b64(&data));
    assert_eq!(full.header("repr-digest"), Some(digest.as_str()));
    let etag = full.header("etag").unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "strong: {etag}");
    let last_modified = full.header("last-modified").unwrap().to_owned();

    let r = f.get("ACC_user", uri, &[("range", "bytes=0-99")]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.body, &data[..100]);
    assert_eq!(r.header("content-range"), Some("bytes 0-99/300001"));
    assert_eq!(r.header("repr-digest"), Some(digest.as_str()), "the digest is of the whole file");
    let r = f.get("ACC_user", uri, &[("range", "bytes=299990-")]).await;
    assert_eq!((r.status, r.body.as_slice()), (StatusCode::PARTIAL_CONTENT, &data[299_990..]));
    let r = f.get("ACC_user", uri, &[("range", "bytes=-300")]).await;
    assert_eq!(r.body, &data[data.len() - 300..]);
    let r = f.get("ACC_user", uri, &[("range", "bytes=1000-262143")]).await;
    assert_eq!(r.body, &data[1000..262_144]);

    let r = f.get("ACC_user", uri, &[("range", "bytes=300001-")]).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(r.header("content-range"), Some("bytes */300001"));
    assert_eq!(r.json()["error"], "range_not_satisfiable");
    let r = f.get("ACC_user", uri, &[("range", "bytes=0-1,5-6")]).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, data.len()), "multi-range: whole file");

    let r = f.get("ACC_user", uri, &[("if-none-match", &etag)]).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::NOT_MODIFIED, 0));
    assert_eq!(r.header("etag"), Some(etag.as_str()));
    let r = f.get("ACC_user", uri, &[("if-modified-since", &last_modified)]).await;
    assert_eq!(r.status, StatusCode::NOT_MODIFIED);
    let r = f.get("ACC_user", uri, &[("if-none-match", "\"stale\"")]).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = f.get("ACC_user", uri, &[("range", "bytes=0-9"), ("if-range", &etag)]).await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    let r = f.get("ACC_user", uri, &[("range", "bytes=0-9"), ("if-range", "\"stale\"")]).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, data.len()));

    let r = f.send("HEAD", Some("ACC_user"), None, uri, &[]).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    assert_eq!(r.header("content-length"), Some("300001"));
    assert_eq!(r.header("repr-digest"), Some(digest.as_str()));

    // A new version gets a new ETag and digest, without a restart.
    let changed: Vec<u8> = data.iter().rev().copied().collect();
    std::fs::write(f.dir.join("shares/software-library/big.bin.new"), &changed).unwrap();
    std::fs::rename(
        f.dir.join("shares/software-library/big.bin.new"),
        f.dir.join("shares/software-library/big.bin"),
    )
    .unwrap();
    // The open-file cache serves the old version, consistently, for up to a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let r = loop {
        let r = f.get("ACC_user", uri, &[("if-none-match", &etag)]).await;
        if r.status != StatusCode::NOT_MODIFIED || std::time::Instant::now() > deadline {
            break r;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(r.status, StatusCode::OK);
    assert_ne!(r.header("etag"), Some(etag.as_str()));
    assert_eq!(r.header("repr-digest").unwrap(), format!("sha-256=:{}:", sha256_b64(&changed)));

    // Small files come from memory with the same semantics, empty ones too.
    f.file("software-library/small.txt", b"0123456789");
    let r = f.get("ACC_user", "/v1/shares/software-library/small.txt", &[("range", "bytes=2-4")]).await;
    assert_eq!((r.status, r.body.as_slice()), (StatusCode::PARTIAL_CONTENT, &b"234"[..]));
    f.file("software-library/empty", b"");
    let r = f.get("ACC_user", "/v1/shares/software-library/empty", &[]).await;
    assert_eq!((r.status, r.body.len()), (StatusCode::OK, 0));
    assert_eq!(r.header("repr-digest").unwrap(), format!("sha-256=:{}:", sha256_b64(b"")));
    let r = f.get("ACC_user", "/v1/shares/software-library/empty", &[("range", "bytes=0-")]).await;
    assert_eq!(r.status, StatusCode::RANGE_NOT_SATISFIABLE);
}

#[tokio::test]
async fn unauthenticated_requests_never_reach_the_files() {
    let f = Fixture::new().await;
    f.file("software-library/a", b"a");
    let r = f.send("GET", None, None, "/v1/shares/software-library/a", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = f.send("GET", Some("nobody"), None, "/v1/shares/software-library/a", &[]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(f.events_5145().await.is_empty());
}

#[tokio::test]
async fn a_logon_session_audits_each_object_once_and_every_denial() {
    let f = Fixture::new().await;
    f.file("software-library/a.bin", b"a");
    f.file("software-library/b.bin", b"b");
    let conn = SessionSlot::default();
    let get = |path: &'static str| {
        let conn = conn.clone();
        let f = &f;
        async move { f.send_on(&conn, "GET", Some("ACC_user"), None, path, &[]).await.status }
    };
    for _ in 0..3 {
        assert_eq!(get("/v1/shares/software-library/a.bin").await, StatusCode::OK);
    }
    assert_eq!(get("/v1/shares/software-library/b.bin").await, StatusCode::OK);
    let audited = |events: &[Value], target: &str| {
        events
            .iter()
            .filter(|e| e["RelativeTargetName"] == target && e["Keywords"] == "Audit Success")
            .count()
    };
    let events = f.events_5145().await;
    assert_eq!(audited(&events, "a.bin"), 1, "one keep-alive logon, one audited access: {events:?}");
    assert_eq!(audited(&events, "b.bin"), 1);

    // A new connection is a new logon: audited again.
    assert_eq!(f.get("ACC_user", "/v1/shares/software-library/a.bin", &[]).await.status, StatusCode::OK);
    assert_eq!(audited(&f.events_5145().await, "a.bin"), 2);

    // Denials are audited every time, on the same connection too.
    f.admin(SharesRequest::Revoke(target("software-library", "Agents", "share", None))).await.unwrap();
    for _ in 0..2 {
        assert_eq!(get("/v1/shares/software-library/a.bin").await, StatusCode::FORBIDDEN);
    }
    let failures = f.events_5145().await.iter().filter(|e| e["Keywords"] == "Audit Failure").count();
    assert_eq!(failures, 2);
}

fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test]
async fn packages_are_listed_and_described_as_the_caller_may_read_them() {
    let f = Fixture::new().await;
    f.file("software-library/7zip/7z.msi", b"installer");
    f.file("software-library/7zip/docs/readme.txt", b"read me");
    f.file("software-library/7zip/docs/internal.txt", b"staff only");
    f.file("software-library/office/setup.exe", b"office");
    f.file("software-library/loose.txt", b"not a package");
    std::os::unix::fs::symlink("/etc/passwd", f.dir.join("shares/software-library/7zip/escape")).unwrap();

    // The listing: folders only, with the files and bytes the caller may read.
    let r = f.get("ACC_user", "/v1/packages", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let v = r.json();
    let names: Vec<&str> =
        v["packages"].as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["7zip", "office"]);
    assert_eq!(v["packages"][0]["files"], 3);
    assert_eq!(v["packages"][0]["size"], 9 + 7 + 10);

    // The manifest: sorted paths, sizes, SHA-256 of the content, download URLs; the
    // symlink leaving the share is not listed.
    let r = f.get("ACC_user", "/v1/packages/7zip", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.json());
    let m = r.json();
    assert_eq!(
        (m["name"].as_str(), m["share"].as_str(), m["size"].as_u64()),
        (Some("7zip"), Some("software-library"), Some(26))
    );
    let files = m["files"].as_array().unwrap();
    let paths: Vec<&str> = files.iter().map(|x| x["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["7z.msi", "docs/internal.txt", "docs/readme.txt"]);
    assert_eq!(files[0]["sha256"], sha256_hex(b"installer"));
    assert_eq!(files[0]["size"], 9);
    assert_eq!(files[2]["url"], "/v1/shares/software-library/7zip/docs/readme.txt");
    // The URL serves exactly what the manifest describes.
    let r = f.get("ACC_user", files[2]["url"].as_str().unwrap(), &[]).await;
    assert_eq!(sha256_hex(&r.body), files[2]["sha256"].as_str().unwrap());

    // Unknown: 404; not one valid component: 400, a file is no package: 404.
    assert_eq!(f.get("ACC_user", "/v1/packages/none", &[]).await.status, StatusCode::NOT_FOUND);
    assert_eq!(f.get("ACC_user", "/v1/packages/%2e%2e", &[]).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(f.get("ACC_user", "/v1/packages/a%2fb", &[]).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(f.get("ACC_user", "/v1/packages/loose.txt", &[]).await.status, StatusCode::NOT_FOUND);

    // Without Read on any package folder (file level): nothing listed.
    f.grant("software-library", "other", "read", "file", Some("7zip/docs/internal.txt")).await;
    f.admin(SharesRequest::Revoke(target("software-library", "Agents", "file", None))).await.unwrap();
    f.grant("software-library", "ACC_user", "read", "file", Some("7zip")).await;
    f.admin(SharesRequest::Revoke(target("software-library", "ACC_user", "file", Some("7zip"))))
        .await
        .unwrap();
    f.grant("software-library", "ACC_user", "read", "file", Some("7zip/7z.msi")).await;
    f.grant("software-library", "ACC_user", "read", "file", Some("7zip/docs/readme.txt")).await;
    let r = f.get("ACC_user", "/v1/packages", &[]).await;
    assert!(
        r.json()["packages"].as_array().unwrap().is_empty(),
        "no Read on any package folder: {}",
        r.json()
    );
    // A package the caller cannot read by name: 403 with the message and a 5145 Audit Failure.
    let r = f.get("ACC_user", "/v1/packages/office", &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.json()["message"].as_str().unwrap().contains("'ACC_user'"), "{}", r.json());
    let e = f.events_5145().await.pop().unwrap();
    assert_eq!(
        (e["Keywords"].as_str(), e["RelativeTargetName"].as_str()),
        (Some("Audit Failure"), Some("office"))
    );
    // Read on the package folder again (file level, inherited by its files): described.
    f.grant("software-library", "ACC_user", "read", "file", Some("7zip")).await;
    f.admin(SharesRequest::Revoke(target(
        "software-library",
        "ACC_user",
        "file",
        Some("7zip/docs/internal.txt"),
    )))
    .await
    .ok();
    f.grant("software-library", "other", "full", "file", Some("7zip/docs/internal.txt")).await;
    let m = f.get("ACC_user", "/v1/packages/7zip", &[]).await.json();
    let paths: Vec<&str> =
        m["files"].as_array().unwrap().iter().map(|x| x["path"].as_str().unwrap()).collect();
    assert!(paths.contains(&"7z.msi") && paths.contains(&"docs/readme.txt"), "{m}");

    // Unauthenticated: 401 before anything.
    assert_eq!(f.send("GET", None, None, "/v1/packages", &[]).await.status, StatusCode::UNAUTHORIZED);
}
