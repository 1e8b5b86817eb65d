//! Names that collide (issue 14 §6): a second site joining under a name in use is refused
//! with the clash named (and leaves no directory behind), a deliberate re-join with
//! `--replace` says what it replaced, the replaced site logs that it is refused (with the
//! status and the reason, never "unreachable") and backs off, as does an agent the
//! management server refuses; `acc site join --name` on a directory initialised under
//! another name is refused.

use crate::agent::{AgentProc, assert_backs_off, credential_fleet, enroll_web01, log_when, retries_when};
use crate::server::{fleet, sites_when};
use crate::util::SiteProc;

#[test]
fn a_name_in_use_is_refused_and_a_deliberate_rejoin_says_what_it_replaced() {
    let f = fleet();
    let d = &f.d;
    let token = f.ctl(&["site-token", "create", "--uses", "4"], "").ok();
    let join = |dir: &str, extra: &[&str]| {
        let args = ["site", "join", "--token", token.trim(), "--data-dir", dir, "--listen", "127.0.0.1:0"];
        d.acc(&[&args[..], extra].concat())
    };
    join("first", &["--name", "SITE1"]).ok();
    let first = SiteProc::start_role("site", &d.join("first"), Some(&d.join("first.log")));
    let sites = sites_when(&f, "SITE1 at revision 1", |s| s.len() == 1 && s[0]["applied_revision"] == 1);
    let serial = sites[0]["serial_hex"].as_str().unwrap().to_string();

    // The clash: refused, naming the site that has the name and the way to replace it.
    let err = join("second", &["--name", "SITE1"]).fails_with(1);
    assert!(
        err.contains(&format!("site name 'SITE1' is already in use by the site server at {}", first.url)),
        "{err}"
    );
    assert!(err.contains(&serial) && err.contains("--replace") && err.contains("another --name"), "{err}");
    assert!(!d.join("second").exists(), "a refused join leaves no directory behind");
    let sites = f.json(&["sites", "--json"]);
    assert_eq!(
        (sites[0]["url"].as_str(), sites[0]["serial_hex"].as_str()),
        (Some(first.url.as_str()), Some(serial.as_str()))
    );

    // The directory can be joined under another name; an initialised one keeps its name.
    d.acc(&["site", "init", "--data-dir", "plain", "--name", "PLAIN", "--listen", "127.0.0.1:0"]).ok();
    let err = join("plain", &["--name", "SITE9"]).fails_with(1);
    assert!(
        err.contains("already initialised as site 'PLAIN', so --name SITE9 cannot apply")
            && err.contains("leave out --name"),
        "{err}"
    );
    assert!(d.join("plain/site.json").exists(), "the initialised directory is left as it was");

    // A deliberate re-join takes the name over and says what it replaced.
    let out = join("second", &["--name", "SITE1", "--replace"]).ok();
    assert!(
        out.contains(&format!("replaced the site server joined under that name at {}", first.url))
            && out.contains(&serial),
        "{out}"
    );
    // The replaced site is told (update-config ends its long-poll): refused, not unreachable.
    f.ctl(&["task", "send", "update-config", "--to", "sites"], "").ok();
    let refused = "policy: the management server is reachable but refused this site; retrying in";
    let (log, waits) = retries_when(d, "first.log", "the replaced site backing off", refused, 3);
    assert_backs_off(&waits, 1.0);
    assert!(
        log.contains("401 Unauthorized: this certificate is not a joined site server's current one"),
        "{log}"
    );
    assert!(!log.contains("unreachable"), "{log}");
}

#[test]
fn an_agent_the_management_server_refuses_says_so_and_backs_off() {
    let (f, sites) = credential_fleet(&["SITE1"]);
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let _agent = AgentProc::start(d, "agent/acc.yml");
    log_when(d, "agent/acc.log", "the agent on SITE1", &format!("connected to {}", sites[0].url));
    let agents = f.json(&["agents", "--json"]);
    let serial = agents[0]["serial"].as_str().unwrap().to_string();
    f.ctl(&["cert", "revoke", &serial], "").ok();
    let refused = "The management server is reachable but refused this agent; running with the cached policy, retrying in";
    let (log, waits) = retries_when(d, "agent/acc.log", "the refusal backing off", refused, 3);
    assert_backs_off(&waits, 5.0);
    assert!(
        log.contains("refused with check-in: 403 Forbidden: ")
            || log.contains("refused with policy: 403 Forbidden: "),
        "{log}"
    );
    let after_revocation = &log[log.find("refused this agent").unwrap()..];
    assert!(!after_revocation.contains("The management server is unreachable"), "{after_revocation}");
}
