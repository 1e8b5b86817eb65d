//! The package server as a real process with the system curl: downloads with the ACC
//! (Basic) and with a client certificate, byte ranges, `-C -` resume, validators and
//! `Repr-Digest`, a denial with its 5145 and a live grant, hostile paths, and package
//! manifests.

use std::process::Command;

use base64::Engine;

use crate::site::{PW, agent_certificate, curl, events, site_with_account};
use crate::util::{Dir, SiteProc};

fn sha256(data: &[u8]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(["dgst", "-sha256", "-binary"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(data)?;
            c.wait_with_output()
        })
        .expect("openssl");
    out.stdout
}

/// curl writing the body to `out` (relative to the test dir); returns (status, headers).
fn fetch(d: &Dir, site: &SiteProc, extra: &[&str], path: &str, out: &str) -> (u16, String) {
    let url = format!("{}{path}", site.url);
    let mut args = vec!["-s", "-o", out, "-D", "-", "-w", "%{http_code}", "--cacert", "site/tls/ca.crt"];
    args.extend_from_slice(extra);
    args.push(&url);
    let o = Command::new("curl").args(&args).current_dir(d.path()).output().expect("curl");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    let code = text.lines().last().unwrap_or("0").trim().parse().unwrap_or(0);
    (code, text)
}

fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn downloads_resume_range_validate_and_refuse_as_the_acls_say() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    agent_certificate(&d);
    d.acc(&["site", "trust", "add", "lab/ca.crt", "--data-dir", "site"]).ok();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let pkg = dir.join("shares/software-library/7zip");
    std::fs::create_dir_all(&pkg).unwrap();
    std::fs::write(pkg.join("7z.msi"), &data).unwrap();
    // A file next to the share that no path may reach.
    std::fs::write(dir.join("shares/secret.txt"), b"outside").unwrap();
    let site = SiteProc::start(&dir);
    let basic = format!("ACC_user:{PW}");
    let path = "/v1/shares/software-library/7zip/7z.msi";

    // Basic and certificate: the exact bytes, with the validators and the digest.
    let (code, h) = fetch(&d, &site, &["-u", &basic], path, "basic.bin");
    assert_eq!(code, 200, "{h}");
    assert_eq!(std::fs::read(d.join("basic.bin")).unwrap(), data);
    let digest = format!("sha-256=:{}:", base64::engine::general_purpose::STANDARD.encode(sha256(&data)));
    assert_eq!(header(&h, "repr-digest"), Some(digest.as_str()), "{h}");
    let etag = header(&h, "etag").unwrap().to_string();
    let (code, _) = fetch(&d, &site, &["--cert", "agent.crt", "--key", "agent.key"], path, "cert.bin");
    assert_eq!(code, 200);
    assert_eq!(std::fs::read(d.join("cert.bin")).unwrap(), data);

    // -r: 206 with exactly those bytes; past the end: 416.
    let (code, h) = fetch(&d, &site, &["-u", &basic, "-r", "0-99"], path, "range.bin");
    assert_eq!(code, 206, "{h}");
    assert_eq!(std::fs::read(d.join("range.bin")).unwrap(), &data[..100]);
    assert_eq!(header(&h, "content-range"), Some("bytes 0-99/300000"));
    let (code, _) = fetch(&d, &site, &["-u", &basic, "-r", "400000-"], path, "none.bin");
    assert_eq!(code, 416);

    // -C -: a partial download is completed to the exact content.
    std::fs::write(d.join("resume.bin"), &data[..123_457]).unwrap();
    let (code, _) = fetch(&d, &site, &["-u", &basic, "-C", "-"], path, "resume.bin");
    assert_eq!(code, 206);
    assert_eq!(std::fs::read(d.join("resume.bin")).unwrap(), data);

    // If-None-Match with the entity tag: 304, no body.
    let (code, _) =
        fetch(&d, &site, &["-u", &basic, "-H", &format!("If-None-Match: {etag}")], path, "nm.bin");
    assert_eq!(code, 304);

    // The package's manifest describes the same file.
    let (code, body) = curl(&d, &site, &["-u", &basic], "/v1/packages/7zip", "");
    assert_eq!(code, 200, "{body}");
    let m: serde_json::Value = serde_json::from_str(&body).unwrap();
    let hex: String = sha256(&data).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(m["files"][0]["sha256"], hex.as_str());
    assert_eq!(m["files"][0]["url"], path);
    let (code, body) = curl(&d, &site, &["-u", &basic], "/v1/packages", "");
    assert!(code == 200 && body.contains("\"7zip\""), "{code} {body}");

    // Hostile paths never reach the file next to the share.
    for hostile in [
        "/v1/shares/software-library/../secret.txt",
        "/v1/shares/software-library/%2e%2e/secret.txt",
        "/v1/shares/software-library/..%2fsecret.txt",
        "/v1/shares/software-library/..%5csecret.txt",
        "/v1/shares/software-library/7zip%00/7z.msi",
        "/v1/shares/%2e%2e/secret.txt",
    ] {
        let (code, body) = curl(&d, &site, &["-u", &basic, "--path-as-is"], hostile, "");
        assert!(matches!(code, 400 | 403 | 404), "{hostile}: {code} {body}");
        assert!(!body.contains("outside"), "{hostile}: {body}");
    }

    // Revoke the group Agents: a 403 naming the principal, the object and the right, a 5145.
    d.acc(&[
        "site",
        "shares",
        "revoke",
        "software-library",
        "Agents",
        "--level",
        "share",
        "--data-dir",
        "site",
    ])
    .ok();
    let (code, body) = curl(&d, &site, &["-u", &basic], path, "");
    assert_eq!(code, 403, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"], "access_denied");
    let msg = v["message"].as_str().unwrap();
    for part in ["ACC_user", "software-library", "Read"] {
        assert!(msg.contains(part), "{part} missing in {msg}");
    }
    let failure = crate::util::wait_for(10, "the 5145 Audit Failure", || {
        events(&d, "5145").into_iter().find(|e| e["Keywords"] == "Audit Failure")
    });
    assert_eq!(failure["ShareName"], "software-library");
    assert_eq!(failure["SubjectUserName"], "ACC_user");

    // A live grant: the next download succeeds, no restart.
    d.acc(&[
        "site",
        "shares",
        "grant",
        "software-library",
        "ACC_user",
        "read",
        "--level",
        "share",
        "--data-dir",
        "site",
    ])
    .ok();
    let (code, _) = fetch(&d, &site, &["-u", &basic], path, "again.bin");
    assert_eq!(code, 200);
    assert_eq!(std::fs::read(d.join("again.bin")).unwrap(), data);
}
