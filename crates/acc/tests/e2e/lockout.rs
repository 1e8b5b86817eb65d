//! Lockout abuse against a real `acc site run` (issue 14 section 3, rule M8a): a client
//! cannot lock unfamiliar agents out by sending a new caller name on every attempt.
//! curl is the outside client; `--interface` binds its socket to another loopback
//! address, so the site sees the attacker and the new agent at different addresses.

use crate::site::{PW, REG, curl, events, site_with_account};
use crate::util::{Dir, SiteProc};

/// One registration from `ip` as `host` with `password`: (HTTP status, body).
fn register_from(d: &Dir, site: &SiteProc, ip: &str, host: &str, password: &str) -> (u16, String) {
    let user = format!("ACC_user:{password}");
    let host = format!("Acc-Agent-Host: {host}");
    curl(d, site, &["--interface", ip, "-u", &user, "-H", &host], "/v1/register", REG)
}

#[test]
fn a_flood_with_rotating_caller_names_from_one_address_cannot_lock_out_a_new_agent() {
    let d = Dir::new();
    let dir = site_with_account(&d);
    let site = SiteProc::start(&dir);

    // The attacker: 127.0.0.2, a wrong password and a new Acc-Agent-Host every time. More
    // than Tu = 20 attempts, which without rule M8a lock out every unfamiliar source.
    let mut codes = Vec::new();
    for i in 0..40 {
        let (code, body) = register_from(&d, &site, "127.0.0.2", &format!("flood-{i}"), "wrong-password");
        codes.push(code);
        if i >= 5 {
            assert!(body.contains("locked_out"), "attempt {i}: {code} {body}");
        }
    }
    // Ts = 5 failures reach the unfamiliar aggregate; then the address is refused (403).
    assert_eq!(codes[..5], [401; 5], "{codes:?}");
    assert!(codes[5..].iter().all(|c| *c == 403), "{codes:?}");

    // A newly built agent from 127.0.0.3 (never seen, so unfamiliar) logs on meanwhile.
    let (code, body) = register_from(&d, &site, "127.0.0.3", "new-agent", PW);
    assert_eq!(code, 200, "{body}");

    // The log says what happened: one 4740 for the address, none for unfamiliar sources.
    let locks = events(&d, "4740");
    assert_eq!(locks.len(), 1, "{locks:?}");
    let lock = &locks[0];
    assert_eq!(lock["LockScope"], "address", "{lock}");
    assert_eq!(lock["CallerComputerName"], "127.0.0.2");
    assert_eq!(lock["IpAddress"], "127.0.0.2");
    assert_eq!(lock["BlockSeconds"], 600);
    assert_eq!(lock["TargetUserName"], "ACC_user");
    let refused: Vec<serde_json::Value> =
        events(&d, "4625").into_iter().filter(|e| e["LockScope"] == "address").collect();
    assert!(!refused.is_empty(), "no 4625 LockScope=address");
    for e in &refused {
        assert_eq!(e["Status"], "0xC0000234", "{e}");
        assert_eq!(e["Verified"], false, "{e}");
        assert_eq!(e["IpAddress"], "127.0.0.2", "{e}");
    }
    let logon = events(&d, "4624");
    assert!(
        logon.iter().any(|e| e["IpAddress"] == "127.0.0.3" && e["WorkstationName"] == "NEW-AGENT"),
        "{logon:?}"
    );
    let shown = d.acc(&["site", "accounts", "show", "ACC_user", "--data-dir", "site", "--json"]).ok();
    let shown: serde_json::Value = serde_json::from_str(&shown).unwrap();
    assert_eq!(shown["state"], "enabled", "{shown}");
    assert_eq!(shown["blocked_addresses"], 1, "{shown}");
}
