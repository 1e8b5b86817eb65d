//! Issue 17: the web console in a real headless Chromium. Debian's `chromedriver` and
//! `chromium` (installed by `.ci/run`) are driven over W3C WebDriver, which is HTTP and
//! JSON, with the system curl: sign in, seed 000 steps 1-5 through the pages, then a real
//! agent registers with a real site server as `ACC_user`. The test fails, never skips,
//! when Chromium or ChromeDriver is missing. Screenshots of each page go to
//! `target/console-screenshots/`.

use std::process::{Child, Command, Stdio};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::agent::{AgentProc, enroll_web01, log_when};
use crate::server::{STRONG, fleet, join_sites};
use crate::util::{Dir, wait_for};

/// W3C WebDriver's key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A ChromeDriver and one headless Chromium session; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
}

impl Browser {
    fn start(d: &Dir) -> Browser {
        for tool in ["chromedriver", "chromium"] {
            let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap();
            assert!(found.status.success(), "{tool} is missing: apt-get install -y chromium chromium-driver");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let mut b = Browser { driver, base, session: String::new() };
        wait_for(30, "chromedriver ready", || {
            (b.call("GET", "/status", None)["ready"] == true).then_some(())
        });
        let profile = d.join("chromium-profile");
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--disable-background-networking", "--disable-component-update", "--disable-sync",
                         "--no-first-run", "--window-size=1024,900", format!("--user-data-dir={}", profile.display())]
            }
        }}});
        let created = b.call("POST", "/session", Some(caps));
        b.session =
            created["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {created}")).to_string();
        b
    }

    /// One WebDriver command; its `value`.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "-X", method, &format!("{}{path}", self.base)]);
        if let Some(b) = body {
            cmd.args(["-H", "Content-Type: application/json", "--data-binary", &b.to_string()]);
        }
        let out = cmd.output().expect("curl");
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        v.get("value").cloned().unwrap_or(v)
    }

    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let v = self.call(method, &format!("/session/{}{path}", self.session), body);
        assert!(v.get("error").is_none(), "{method} {path}: {v}");
        v
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd("POST", "/element", Some(json!({ "using": "css selector", "value": css })));
        v[ELEMENT].as_str().unwrap().to_string()
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(json!({})));
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(json!({})));
        self.cmd("POST", &format!("/element/{e}/value"), Some(json!({ "text": text })));
    }

    fn selected(&self, css: &str) -> bool {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/selected"), None) == true
    }

    /// How many elements match `css`.
    fn count(&self, css: &str) -> usize {
        let v = self.cmd("POST", "/elements", Some(json!({ "using": "css selector", "value": css })));
        v.as_array().map_or(0, Vec::len)
    }

    /// The page's text. Right after a click that navigates, the old body may be gone and
    /// the new one not there yet (`no such element`, `stale element reference`): asked
    /// again until one answers, for up to 10 s.
    fn text(&self) -> String {
        let session = format!("/session/{}", self.session);
        wait_for(10, "the page's body", || {
            let find = json!({ "using": "css selector", "value": "body" });
            let body = self.call("POST", &format!("{session}/element"), Some(find));
            let body = body[ELEMENT].as_str()?.to_string();
            let text = self.call("GET", &format!("{session}/element/{body}/text"), None);
            text.as_str().map(str::to_string)
        })
    }

    /// Writes a PNG of the page to `target/console-screenshots/NAME.png`.
    fn screenshot(&self, name: &str) {
        let png = self.cmd("GET", "/screenshot", None);
        let bytes = base64::engine::general_purpose::STANDARD.decode(png.as_str().unwrap()).unwrap();
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.png")), bytes).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            self.call("DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Seed 000 steps 1-5 in the console, then an agent registers as ACC_user.
#[test]
fn seed_000_through_the_console_in_chromium() {
    let f = fleet();
    let sites = join_sites(&f, &["SITE1"]);
    let b = Browser::start(&f.d);
    let ui = |p: &str| format!("{}/ui{p}", f.server.url);

    b.go(&ui("/"));
    b.screenshot("signin");
    b.type_into("#user", "admin");
    b.type_into("#password", "not the password");
    b.click("button[type=submit]");
    assert!(b.text().contains("The user name or password is incorrect."), "{}", b.text());
    b.type_into("#password", f.d.read("srv/admin-password").trim_end());
    b.click("button[type=submit]");
    assert!(b.text().contains("Update agent configuration"), "signed in: {}", b.text());
    b.screenshot("home");

    // Steps 1-2: Global Agent Settings, Authentication, "Use these credentials".
    b.go(&ui("/settings/agents"));
    let save = |user: &str, password: &str, grant: bool| {
        b.click("#mode-credential");
        b.type_into("#user_name", user);
        b.type_into("#password", password);
        b.type_into("#confirmation", password);
        b.click("#password_policy option[value=complexity]");
        if grant {
            b.click("#grant_read");
        }
        b.click("main button[type=submit]");
        b.text()
    };
    let weak = save("ACC_user", "weakpassword", false);
    assert!(weak.contains("missing an uppercase letter (A-Z), a digit (0-9) and a symbol"), "{weak}");
    b.screenshot("settings-agents-weak");
    let app_id = save("CORP\\svc_acc_app", "x", false);
    assert!(app_id.contains("is the App ID; do not enter it here"), "{app_id}");
    let saved = save("ACC_user", STRONG, true);
    assert!(saved.contains("Saved as policy revision"), "{saved}");
    let settings = f.json(&["settings", "show", "--json"]);
    assert_eq!(settings["credential"]["user_name"], "ACC_user", "{settings}");

    // Steps 3-4: Global Site Server Settings, the top two boxes.
    b.go(&ui("/settings/site-servers"));
    for css in ["#create_acc", "#reenable"] {
        if !b.selected(css) {
            b.click(css);
        }
    }
    b.type_into("#refresh", "3600");
    b.click("main button[type=submit]");
    assert!(b.text().contains("Saved as policy revision"), "{}", b.text());
    b.screenshot("settings-site-servers");
    let settings = f.json(&["settings", "show", "--json"]);
    assert_eq!(settings["site"]["create_acc_on_site_servers"], true);
    assert_eq!(settings["site"]["reenable_locked_local_account"], true);

    // Step 5: Update agent configuration, to every site server and agent.
    b.go(&ui("/"));
    b.click("main button[type=submit]");
    assert!(b.text().contains("Update agent configuration sent to 1 site servers"), "{}", b.text());
    wait_for(30, "ACC_user on the site server", || {
        let shown = f.d.acc(&["site", "accounts", "show", "ACC_user", "--data-dir", "site1", "--json"]);
        (shown.code() == 0 && shown.stdout().contains("\"enabled\"")).then_some(())
    });

    // A real agent registers with the site as ACC_user.
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let _agent = AgentProc::start(&f.d, "agent/acc.yml");
    log_when(
        &f.d,
        "agent/acc.log",
        "registered as ACC_user",
        &format!("connected to {} using TLS 1.3 as ACC_user", sites[0].url),
    );

    // The read-only pages show the fleet.
    wait_for(30, "web01 on the Agents page", || {
        b.go(&ui("/agents?q=web"));
        b.text().contains("1 of 1 agents").then_some(())
    });
    assert!(b.text().contains("web01"), "{}", b.text());
    b.screenshot("agents");
    b.go(&ui("/site-servers"));
    assert!(b.text().contains("SITE1"), "{}", b.text());
    b.screenshot("site-servers");
    b.go(&ui("/policy"));
    assert!(b.text().contains("admin (console)"), "{}", b.text());
    b.screenshot("policy-history");
}

/// Signs `b` in as admin on `f`'s console, with the password `acc server init` wrote.
fn sign_in_admin(b: &Browser, f: &crate::server::Fleet) {
    b.go(&format!("{}/ui/signin", f.server.url));
    b.type_into("#user", "admin");
    b.type_into("#password", f.d.read("srv/admin-password").trim_end());
    b.click("button[type=submit]");
    assert!(b.text().contains("Update agent configuration"), "signed in: {}", b.text());
}

/// Certificates: an enrolled agent's certificate revoked after the confirmation, with the
/// site server's CRL on the page; Package sources: the Read check of ACC_user after nscap
/// lost its share-level Read, then Grant Read.
#[test]
fn certificates_revoke_and_sources_grant_read_in_chromium() {
    let f = fleet();
    join_sites(&f, &["SITE1"]);
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_web01(&f, &token).ok();
    let b = Browser::start(&f.d);
    sign_in_admin(&b, &f);
    let ui = |p: &str| format!("{}/ui{p}", f.server.url);

    b.go(&ui("/certificates"));
    let page = b.text();
    assert!(page.contains("web01") && page.contains("SITE1"), "{page}");
    b.click("button[aria-label='Revoke the certificate of agent web01']");
    assert!(b.text().contains("Revoke the certificate of agent web01?"), "{}", b.text());
    b.screenshot("certificates-confirm");
    b.click("#confirm-revoke");
    assert!(b.text().contains("Saved as policy revision"), "{}", b.text());
    b.screenshot("certificates");
    let certs = f.json(&["cert", "list", "--json"]);
    let web01 = certs.as_array().into_iter().flatten().find(|c| c["name"] == "web01").cloned();
    assert!(web01.is_some_and(|c| c["revoked_at"].is_i64()), "{certs}");

    f.ctl(&["share", "revoke", "nscap", "Agents", "--level", "share"], "").ok();
    b.go(&ui("/sources?user=ACC_user"));
    assert!(b.text().contains("cannot read every package source"), "{}", b.text());
    b.click("#grant-read");
    assert!(b.text().contains("'ACC_user' can read every package source."), "{}", b.text());
    b.screenshot("sources");
    let shares = f.json(&["share", "list", "--json"]);
    let nscap = shares.as_array().into_iter().flatten().find(|s| s["name"] == "nscap").cloned().unwrap();
    assert!(nscap["share_acl"].as_array().unwrap().iter().any(|a| a["principal"] == "ACC_user"), "{nscap}");
}

/// A stale machine presenting an old password to a real site server until the ACC
/// blocks it: Home's recent lockouts show it without a reload, and the Lockouts page
/// names the culprit machine, its address and the revision its agent runs.
#[test]
fn a_stale_agents_lockout_shows_on_home_live_and_on_the_lockouts_page() {
    let (f, sites) = crate::agent::credential_fleet(&["SITE1"]);
    let b = Browser::start(&f.d);
    sign_in_admin(&b, &f);
    assert!(b.text().contains("No lockout in the last 24 hours."), "{}", b.text());

    // stale01: an enrolled agent that last ran revision 1, with an old password.
    crate::site::agent_certificate(&f.d);
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    let (code, v) = crate::server::enroll(&f, &token, "stale01", "agent.csr");
    assert_eq!(code, 200, "{v}");
    f.d.write("stale.crt", v["certificate_pem"].as_str().unwrap());
    let extra = ["--cacert", "srv/tls/ca.crt", "--cert", "stale.crt", "--key", "agent.key"];
    let body =
        r#"{"seq":1,"revision":1,"auth_mode":"credential","user_name":"ACC_User_v0","version":"legacy"}"#;
    assert_eq!(crate::site::curl(&f.d, &f.server, &extra, "/v1/agent/checkin", body).0, 200);
    let old = [
        "--cacert",
        "site1/tls/ca.crt",
        "-u",
        "ACC_User_v1:an-old-password",
        "-H",
        "Acc-Agent-Host: stale01",
    ];
    for _ in 0..5 {
        crate::site::curl(&f.d, &sites[0], &old, "/v1/register", crate::site::REG);
    }

    // Home refreshes itself (htmx, every 2 s): the lock appears without navigating.
    wait_for(30, "the lockout on Home without a reload", || {
        let text = b.text();
        (text.contains("STALE01") && text.contains("ACC_User_v1")).then_some(())
    });
    b.screenshot("home-live-lockout");

    b.go(&format!("{}/ui/lockouts", f.server.url));
    let text = b.text();
    for needle in ["STALE01", "127.0.0.1", "ACC_User_v1", "presents a wrong or stale password", "locked"] {
        assert!(text.contains(needle), "{needle} in {text}");
    }
    assert!(b.count("tbody tr") >= 1, "a lockout row: {text}");
    b.screenshot("lockouts");
}

/// A rotation started on the Credential rotation page and watched to the end: the page
/// refreshes itself while two real agents move to the new credential, the list of agents
/// on the old credential shrinks to zero and the old generation is removed.
#[test]
fn a_rotation_started_in_the_console_is_watched_to_the_end() {
    let (f, _sites) = crate::agent::credential_fleet(&["SITE1"]);
    let token = f.ctl(&["enroll-token", "create", "--uses", "2"], "").ok();
    crate::agent::enroll_as(&f, &token, "web01", "a1").ok();
    crate::agent::enroll_as(&f, &token, "web02", "a2").ok();
    let _a1 = AgentProc::start(&f.d, "a1/acc.yml");
    let _a2 = AgentProc::start(&f.d, "a2/acc.yml");
    log_when(&f.d, "a1/acc.log", "web01 on v1", "as ACC_User_v1");
    log_when(&f.d, "a2/acc.log", "web02 on v1", "as ACC_User_v1");
    wait_for(30, "both agents on generation 1", || {
        let v = f.json(&["agents", "--json"]);
        (v.as_array()?.iter().filter(|a| a["generation"] == 1).count() == 2).then_some(())
    });

    let b = Browser::start(&f.d);
    sign_in_admin(&b, &f);
    b.go(&format!("{}/ui/rotation", f.server.url));
    assert!(b.text().contains("0 of 2 agents do not use generation 1 (ACC_User_v1) yet."), "{}", b.text());
    // A refusal first: the confirmation differs.
    b.type_into("#user_name", "ACC_User_v2");
    b.type_into("#password", "Second-Strong-Pass-2026");
    b.type_into("#confirmation", "Second-Strong-Pass-2027");
    b.type_into("#grace", "7d");
    b.click("#start");
    assert_eq!(b.count("#password-errors"), 1, "{}", b.text());
    b.type_into("#password", "Second-Strong-Pass-2026");
    b.type_into("#confirmation", "Second-Strong-Pass-2026");
    b.click("#start");
    assert!(b.text().contains("Saved as policy revision"), "{}", b.text());
    b.screenshot("rotation-started");

    // The page is not reloaded from here on: htmx swaps the state in every 2 s.
    let mut seen = Vec::new();
    wait_for(60, "no agent on the old credential and v1 removed", || {
        let rows = b.count("#old-credential-agents tbody tr");
        if seen.last() != Some(&rows) {
            seen.push(rows);
        }
        let text = b.text();
        // The rows are counted before the text is read: a swap in between must not end the
        // wait on a text the counted rows do not match.
        (rows == 0
            && text.contains("0 of 2 agents do not use generation 2 (ACC_User_v2) yet.")
            && b.count("td.phase-removed") == 1
            && b.count("td.phase-active") == 1)
            .then_some(())
    });
    assert_eq!(seen.first(), Some(&2), "both agents listed at first: {seen:?}");
    assert_eq!(seen.last(), Some(&0), "{seen:?}");
    assert!(seen.windows(2).all(|w| w[1] < w[0]), "the list only shrinks: {seen:?}");
    b.screenshot("rotation-done");
    let status = crate::server::status_when(&f, "v1 removed", |v| {
        crate::server::phase_of(v, "ACC_User_v1") == "removed"
    });
    assert_eq!(crate::server::phase_of(&status, "ACC_User_v2"), "active");
    log_when(&f.d, "a1/acc.log", "web01 on v2", "as ACC_User_v2");
    log_when(&f.d, "a2/acc.log", "web02 on v2", "as ACC_User_v2");
}

/// Packages: a file of a few MiB uploaded through the page, its `<progress>` (driven by
/// `packages.js` as the bytes go) reaching its maximum; assigned to SITE1 on the page;
/// the real site server's replication report then shows on the page, and the site holds
/// the same bytes.
#[test]
fn a_package_uploaded_with_progress_and_assigned_in_the_console_replicates() {
    let f = fleet();
    let _sites = join_sites(&f, &["SITE1"]);
    let data: Vec<u8> = (0..4_000_000u32).map(|i| (i % 251) as u8).collect();
    let file = f.d.join("console-tools.bin");
    std::fs::write(&file, &data).unwrap();
    // Over the console's 1 GiB: refused on its head by the listener, with one line.
    let upload = format!("{}/ui/packages/upload", f.server.url);
    let (code, body, err) = crate::util::curl_with_status(
        &f.d,
        &[
            "-sS",
            "--http1.1",
            "--cacert",
            "srv/tls/ca.crt",
            "-X",
            "POST",
            "-H",
            "content-type: multipart/form-data; boundary=x",
            "-H",
            "content-length: 1073741825",
            "-H",
            "expect: 100-continue",
            &upload,
        ],
    );
    assert_eq!(code, 413, "{body} {err}");
    assert!(body.contains("larger than this route accepts (1073741824 bytes)"), "{body}");
    let b = Browser::start(&f.d);
    sign_in_admin(&b, &f);
    let ui = |p: &str| format!("{}/ui{p}", f.server.url);

    b.go(&ui("/packages"));
    b.type_into("#upload-name", "tools");
    b.type_into("#upload-version", "3.1");
    let input = b.find("#upload-file");
    b.cmd("POST", &format!("/element/{input}/value"), Some(json!({ "text": file.display().to_string() })));
    b.click("#upload-form button[type=submit]");
    let property = |css: &str, name: &str| {
        let e = b.find(css);
        b.cmd("GET", &format!("/element/{e}/property/{name}"), None)
    };
    let (value, max) = wait_for(60, "the upload's progress bar at its maximum", || {
        let (value, max) = (property("#upload-progress", "value"), property("#upload-progress", "max"));
        let (v, m) = (value.as_f64()?, max.as_f64()?);
        (m >= data.len() as f64 && v == m && b.text().contains("Uploaded tools 3.1")).then_some((v, m))
    });
    assert!(value == max && max >= 4_000_000.0, "{value}/{max}");
    assert!(b.text().contains(&format!(
        "{} bytes, SHA-256 {}",
        data.len(),
        acc_net::client::sha256_hex(&data)
    )));

    b.click("input[name=site][value=SITE1]");
    b.click("form[action='/ui/packages/assign'] button[type=submit]");
    assert!(b.text().contains("Saved as policy revision"), "{}", b.text());
    wait_for(60, "SITE1's replication on the page", || {
        b.go(&ui("/packages"));
        let page = b.text();
        (page.contains("1/1 sites") && page.contains("4000000/4000000")).then_some(())
    });
    b.screenshot("packages");
    assert_eq!(
        std::fs::read(f.d.join("site1/shares/software-library/tools/console-tools.bin")).unwrap(),
        data
    );
}
