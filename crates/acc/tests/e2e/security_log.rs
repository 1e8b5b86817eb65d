//! The security event log under a flood (issue 14 §4) and events keyed by origin (§6): a
//! small maximum size fills and is pruned, each removal recorded, a joined site keeps what
//! its management server has not acknowledged until the hard limit, and a site and the
//! management server with the same name both keep their events.

use serde_json::Value;

use crate::server::{fleet, join_sites};
use crate::util::{Dir, SiteProc, wait_for};

/// `n` refused logons (a wrong password, each for another unknown user from `first_user`
/// on, so that no two
/// are alike and none is stored compactly) from curl, 8 at a time; asserts each got 401.
pub(crate) fn flood(d: &Dir, site: &SiteProc, ca: &str, n: usize, first_user: usize) {
    let url = format!("{}/v1/register", site.url);
    let data = crate::site::REG.replace('"', "\\\"");
    let mut config = String::new();
    for i in first_user..first_user + n {
        if i > first_user {
            config.push_str("next\n");
        }
        config.push_str(&format!(
            "url = \"{url}\"\nuser = \"nobody{i}:wrong-password\"\ncacert = \"{ca}\"\n\
             header = \"Acc-Agent-Host: flood01\"\nheader = \"content-type: application/json\"\n\
             data = \"{data}\"\noutput = \"/dev/null\"\nwrite-out = \"%{{http_code}}\\n\"\n"
        ));
    }
    let file = d.write("flood.curl", config);
    let out = std::process::Command::new("curl")
        .args(["-s", "--parallel", "--parallel-max", "8", "--config"])
        .arg(&file)
        .current_dir(d.path())
        .output()
        .expect("curl");
    let codes = String::from_utf8_lossy(&out.stdout);
    assert_eq!(codes.lines().filter(|c| *c == "401").count(), n, "{codes}");
}

/// Every event of the site in `dir`, oldest first (`--all`, streamed).
pub(crate) fn site_events(d: &Dir, dir: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["site", "events", "--data-dir", dir, "--all", "--json"];
    args.extend_from_slice(extra);
    let out = d.acc(&args).ok();
    serde_json::from_str::<Value>(&out).expect("a JSON array").as_array().cloned().unwrap_or_default()
}

fn removals(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["EventID"] == "acc.event_log").collect()
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// The removals account for every missing event. Removals go oldest first and their
/// records are events too (old ones go in later removals), so the records left follow each
/// other, the oldest event left comes right after the last one, and nothing is missing from
/// the middle: every event counts once.
fn check_removals(events: &[Value]) {
    let records = removals(events);
    assert!(!records.is_empty());
    for w in records.windows(2) {
        assert_eq!(u(&w[1]["FirstSeq"]), u(&w[0]["LastSeq"]) + 1, "{} then {}", w[0], w[1]);
    }
    for r in &records {
        assert_eq!(u(&r["Removed"]), u(&r["LastSeq"]) - u(&r["FirstSeq"]) + 1, "{r}");
    }
    let seqs: Vec<u64> = events.iter().map(|e| u(&e["Seq"])).collect();
    assert_eq!(
        seqs.first().copied(),
        Some(u(&records.last().unwrap()["LastSeq"]) + 1),
        "the oldest left follows the last removal"
    );
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1), "nothing missing from the middle");
}

fn file_size(d: &Dir, path: &str) -> u64 {
    std::fs::metadata(d.join(path)).unwrap().len()
}

const MIB: u64 = 1024 * 1024;

#[test]
fn r14_a_full_site_event_log_loses_its_oldest_events_and_records_each_removal() {
    let d = Dir::new();
    let dir = crate::site::site_with_account(&d);
    let bad = d
        .acc(&["site", "policy", "set", "--data-dir", "site", "--event-log-max-size", "64KiB"])
        .fails_with(2);
    assert!(bad.contains("64 KiB is below the smallest maximum size, 1 MiB"), "{bad}");
    d.acc(&["site", "policy", "set", "--data-dir", "site", "--event-log-max-size", "1MiB"]).ok();
    let policy: Value =
        serde_json::from_str(&d.acc(&["site", "policy", "show", "--data-dir", "site"]).ok()).unwrap();
    assert_eq!(policy["event_log_max_size"], MIB);
    let site = SiteProc::start(&dir);
    flood(&d, &site, "site/tls/ca.crt", 4000, 0);
    let events = wait_for(30, "a removal", || {
        let events = site_events(&d, "site", &[]);
        (!removals(&events).is_empty()).then_some(events)
    });
    check_removals(&events);
    let r = removals(&events)[0];
    assert_eq!((r["Reason"].as_str(), r["Keywords"].as_str()), (Some("max-size"), Some("Audit Success")));
    assert_eq!(u(&r["MaxSize"]), MIB);
    assert!(r.get("Unforwarded").is_none(), "a standalone site forwards nothing: {r}");
    let refused = events.iter().filter(|e| e["EventID"] == 4625).count();
    assert!(refused > 0 && refused < 4000, "the oldest refusals went: {refused}");
    let size = file_size(&d, "site/site.db");
    assert!(size <= MIB + 256 * 1024, "the database stays near its maximum: {size}");
    // The table shows the removal; the default is the newest 1000, and --before-seq pages back.
    let table = d.acc(&["site", "events", "--data-dir", "site", "--id", "acc.event_log"]).ok();
    assert!(table.contains("acc.event_log") && table.contains("removed "), "{table}");
    let newest: Value =
        serde_json::from_str(&d.acc(&["site", "events", "--data-dir", "site", "--json"]).ok()).unwrap();
    assert_eq!(newest.as_array().unwrap().len(), 1000.min(events.len()));
    let oldest_shown = u(&newest[0]["Seq"]).to_string();
    let before = d
        .acc(&[
            "site",
            "events",
            "--data-dir",
            "site",
            "--json",
            "--limit",
            "2",
            "--before-seq",
            &oldest_shown,
        ])
        .ok();
    let before: Value = serde_json::from_str(&before).unwrap();
    assert_eq!(u(&before[1]["Seq"]) + 1, u(&newest[0]["Seq"]), "{before}");
}

#[test]
fn r14_a_joined_site_keeps_what_its_server_has_not_acknowledged_until_the_hard_limit() {
    let mut f = fleet();
    let sites = join_sites(&f, &["SITE1"]);
    f.ctl(&["settings", "site", "set", "--event-log-max-size", "1MiB"], "").ok();
    let show = f.json(&["settings", "show", "--json"]);
    assert_eq!(show["event_log_max_size"], MIB, "{show}");
    wait_for(30, "the site to apply its maximum size", || {
        let v: Value =
            serde_json::from_str(&f.d.acc(&["site", "policy", "show", "--data-dir", "site1"]).ok()).unwrap();
        (v["event_log_max_size"] == MIB).then_some(())
    });
    let on_server = |f: &crate::server::Fleet| {
        f.json(&["events", "--site", "SITE1", "--id", "4625", "--all", "--json"]).as_array().unwrap().len()
    };
    // The server goes away: past the maximum, nothing the server has not acknowledged goes.
    let addr = f.server.addr();
    f.server.kill9();
    flood(&f.d, &sites[0], "site1/tls/ca.crt", 1500, 0);
    let events = site_events(&f.d, "site1", &[]);
    assert_eq!(
        events.iter().filter(|e| e["EventID"] == 4625).count(),
        1500,
        "every unacknowledged event survives"
    );
    assert!(removals(&events).iter().all(|r| u(&r["Unforwarded"]) == 0), "{:?}", removals(&events));
    let size = file_size(&f.d, "site1/site.db");
    assert!(size > MIB, "over the maximum, waiting for the server: {size}");
    // The server is back: the site forwards, then prunes what was acknowledged.
    f.server = SiteProc::start_at("server", &f.d.join("srv"), &addr, None);
    wait_for(60, "the 1500 refusals on the server", || (on_server(&f) == 1500).then_some(()));
    let events = wait_for(60, "a removal of acknowledged events", || {
        let events = site_events(&f.d, "site1", &[]);
        removals(&events).iter().any(|r| u(&r["Removed"]) > 100).then_some(events)
    });
    check_removals(&events);
    assert!(removals(&events).iter().all(|r| u(&r["Unforwarded"]) == 0 && r["Reason"] == "max-size"));
    // The server goes away again and the flood passes twice the maximum: the oldest
    // unacknowledged events go, and the record says how many never reached the server.
    f.server.kill9();
    flood(&f.d, &sites[0], "site1/tls/ca.crt", 3000, 1500);
    let events = wait_for(60, "a hard-limit removal", || {
        let events = site_events(&f.d, "site1", &[]);
        removals(&events).iter().any(|r| r["Reason"] == "hard-limit").then_some(events)
    });
    check_removals(&events);
    let hard = removals(&events).into_iter().find(|r| r["Reason"] == "hard-limit").unwrap().clone();
    assert_eq!(hard["Keywords"], "Audit Failure", "{hard}");
    assert!(u(&hard["Unforwarded"]) > 0 && u(&hard["Unforwarded"]) <= u(&hard["Removed"]), "{hard}");
    assert!(hard["Message"].as_str().unwrap().contains("never forwarded"), "{hard}");
    let size = file_size(&f.d, "site1/site.db");
    assert!(size <= 2 * MIB + 256 * 1024, "the hard limit holds: {size}");
}

#[test]
fn r14_a_site_and_the_server_with_the_same_name_both_keep_their_events() {
    let f = fleet();
    let config: Value = serde_json::from_str(&f.d.read("srv/server.json")).unwrap();
    let name = config["name"].as_str().unwrap().to_string();
    let _sites = join_sites(&f, &[&name]);
    // The server writes acc.rotation (its Seq 1); the site creates the ACC (4720 …).
    f.set_credential("ACC_user", crate::server::STRONG).ok();
    let dir = name.to_lowercase();
    let local = wait_for(30, "the site's 4720", || {
        let events = site_events(&f.d, &dir, &[]);
        events.iter().any(|e| e["EventID"] == 4720).then_some(events)
    });
    let site_id = local[0]["SiteId"].as_str().unwrap().to_string();
    wait_for(30, "every event of the site and the server's own on the server", || {
        let all = f.json(&["events", "--site", &name, "--all", "--json"]);
        let all = all.as_array().unwrap();
        let from_site = all.iter().filter(|e| e["SiteId"] == site_id.as_str()).count();
        let own_first = all.iter().any(|e| e["EventID"] == "acc.rotation" && e["Seq"] == 1);
        let site_first = all.iter().any(|e| e["SiteId"] == site_id.as_str() && e["Seq"] == 1);
        (from_site >= local.len() && own_first && site_first).then_some(())
    });
}
