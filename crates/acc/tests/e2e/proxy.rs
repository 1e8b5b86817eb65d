//! Agents behind an HTTP proxy (issue 19): Debian's tinyproxy, started by each test on a
//! loopback port with its own configuration, and the servers on 127.0.0.2. The proxy
//! connects out from 127.0.0.3 (`Bind`), so the servers themselves witness which
//! connections came through it: the management server records the address an agent
//! checked in from, the site server writes it into every 4624. Then the proxy stops and
//! the agent can no longer reach anything: nothing went direct.

use std::path::PathBuf;

use serde_json::Value;

use crate::agent::{AgentProc, log_when};
use crate::server::{Fleet, STRONG, fleet_on, join_sites_on, phase_of, status_when};
use crate::util::{Dir, SiteProc, wait_for};

/// Where the servers listen; the agent's direct route would come from 127.0.0.1.
const SERVERS: &str = "127.0.0.2";
/// Where the proxy's outgoing connections come from.
const PROXY_OUT: &str = "127.0.0.3";
const PROXY_PASSWORD: &str = "Pr0xy-Pass-77";

/// A running `tinyproxy -d -c FILE`, killed when dropped.
struct Tinyproxy {
    child: std::process::Child,
    port: u16,
    log: PathBuf,
}

impl Tinyproxy {
    /// Starts tinyproxy on a free loopback port, allowing CONNECT to `ports` only, with
    /// `BasicAuth agent PROXY_PASSWORD`. A missing tinyproxy fails the test.
    fn start(d: &Dir, name: &str, ports: &[u16]) -> Tinyproxy {
        for _ in 0..5 {
            let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let log = d.join(&format!("{name}.log"));
            let _ = std::fs::remove_file(&log);
            let allowed: String = ports.iter().map(|p| format!("ConnectPort {p}\n")).collect();
            let conf = d.write(
                &format!("{name}.conf"),
                format!(
                    "Port {port}\nListen 127.0.0.1\nBind {PROXY_OUT}\nTimeout 60\nLogLevel Connect\n\
                     LogFile \"{}\"\nMaxClients 50\nAllow 127.0.0.1\nBasicAuth agent {PROXY_PASSWORD}\n{allowed}",
                    log.display()
                ),
            );
            let mut child = std::process::Command::new("tinyproxy")
                .arg("-d")
                .arg("-c")
                .arg(&conf)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("cannot run tinyproxy (install it: apt-get install -y tinyproxy-bin)");
            let up = wait_for(20, "tinyproxy to listen or exit", || {
                if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Some(true);
                }
                child.try_wait().ok().flatten().map(|_| false)
            });
            if up {
                return Tinyproxy { child, port, log };
            }
            // The port was taken between our probe and tinyproxy's bind: another one.
        }
        panic!("tinyproxy did not start on any of 5 ports");
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// How many CONNECTs to `addr` (host:port) the proxy logged.
    fn connects_to(&self, addr: &str) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines().filter(|l| l.contains(&format!("CONNECT {addr} HTTP/1.1"))).count()
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        self.stop();
    }
}

fn port_of(p: &SiteProc) -> u16 {
    p.addr().rsplit(':').next().unwrap().parse().unwrap()
}

/// A credential-mode fleet on 127.0.0.2 with SITE1, and tinyproxy allowing both ports.
fn fleet_behind_a_proxy() -> (Fleet, Vec<SiteProc>, Tinyproxy) {
    let f = fleet_on(SERVERS);
    let sites = join_sites_on(&f, &["SITE1"], SERVERS);
    f.set_credential("ACC_User_v1", STRONG).ok();
    status_when(&f, "v1 active", |v| phase_of(v, "ACC_User_v1") == "active");
    let proxy = Tinyproxy::start(&f.d, "tinyproxy", &[port_of(&f.server), port_of(&sites[0])]);
    (f, sites, proxy)
}

fn enroll_through(f: &Fleet, proxy: &Tinyproxy, token: &str) -> crate::util::Run {
    let url = proxy.url();
    let args =
        ["agent", "enroll", "--token", token.trim(), "--config", "agent/acc.yml", "--host-name", "web01"];
    let more = ["--log-file", "acc.log", "--state-dir", "state", "--proxy-url", &url];
    f.d.acc(&[&args[..], &more, &["--proxy-credentials-file", "proxy.cred"]].concat())
}

#[test]
fn an_agent_enrolls_checks_in_registers_and_downloads_only_through_the_proxy() {
    let (f, sites, mut proxy) = fleet_behind_a_proxy();
    let d = &f.d;
    assert!(f.server.url.starts_with("https://127.0.0.2:") && sites[0].url.starts_with("https://127.0.0.2:"));
    d.write("pkg/tool.bin", (0..300_000u32).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
    let add = ["package", "add", "--share", "software-library", "--name", "tools", "--version", "1.0", "pkg"];
    f.ctl(&add, "").ok();
    f.ctl(&["package", "assign", "tools", "--all"], "").ok();
    wait_for(30, "SITE1 replicated tools", || {
        d.join("site1/shares/software-library/tools/tool.bin").exists().then_some(())
    });

    // Enroll through the proxy; acc.yml keeps the proxy keys, not the password.
    d.write("proxy.cred", format!("agent:{PROXY_PASSWORD}\n"));
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    enroll_through(&f, &proxy, &token).ok();
    let yml = d.read("agent/acc.yml");
    assert!(
        yml.contains(&format!("proxy-url: {}", proxy.url())) && yml.contains("proxy-credentials-file:"),
        "{yml}"
    );
    let mgmt = f.server.addr();
    let site = sites[0].addr();
    assert_eq!(proxy.connects_to(&mgmt), 1, "the enrollment went through the proxy");

    // Check in and register with SITE1, both through it.
    let agent = AgentProc::start(d, "agent/acc.yml");
    let log = log_when(
        d,
        "agent/acc.log",
        "the agent on SITE1",
        &format!("connected to {} using TLS 1.3 as ACC_User_v1", sites[0].url),
    );
    assert!(
        log.contains(&format!(
            "Connections go through the HTTP proxy (CONNECT, TLS end to end). proxy={}",
            proxy.url()
        )),
        "{log}"
    );
    let checked_in = wait_for(30, "web01 checked in", || {
        let v = f.json(&["agents", "--json"]);
        v.as_array()?.iter().find(|a| a["name"] == "web01" && a["site_reachable"] == true).cloned()
    });
    assert_eq!(checked_in["address"], PROXY_OUT, "the management server saw the proxy: {checked_in}");
    drop(agent);

    // Download by hand; HTTPS_PROXY pointing elsewhere loses to acc.yml's proxy-url.
    let env = [("HTTPS_PROXY", "http://127.0.0.1:9"), ("https_proxy", "http://127.0.0.1:9")];
    let out = d.acc_with(&["agent", "download", "tools", "--config", "agent/acc.yml"], "", &env).ok();
    assert!(out.contains("tools@1.0: 300010 bytes") || out.contains("every SHA-256 verified"), "{out}");
    assert!(proxy.connects_to(&mgmt) >= 2 && proxy.connects_to(&site) >= 2, "CONNECTs to {mgmt} and {site}");

    // Every logon SITE1 recorded came from the proxy's address.
    let logons: Vec<Value> = serde_json::from_str(
        &d.acc(&["site", "events", "--data-dir", "site1", "--id", "4624", "--json"]).ok(),
    )
    .unwrap();
    let agents: Vec<&Value> = logons.iter().filter(|e| e["WorkstationName"] == "WEB01").collect();
    assert!(!agents.is_empty(), "{logons:?}");
    assert!(agents.iter().all(|e| e["IpAddress"] == PROXY_OUT), "{agents:?}");

    // The proxy stops: the agent reaches nothing, and says why.
    proxy.stop();
    std::fs::remove_dir_all(d.join("agent/state/packages")).unwrap();
    let before = d.read("agent/acc.log").matches("connected to").count();
    let _agent = AgentProc::start(d, "agent/acc.yml");
    let unreachable = format!("through proxy {}: cannot connect to the proxy", proxy.url());
    log_when(
        d,
        "agent/acc.log",
        "the management server unreachable through the stopped proxy",
        &format!("cannot reach {} {unreachable}", f.server.url),
    );
    log_when(
        d,
        "agent/acc.log",
        "SITE1 unreachable",
        &format!("cannot reach {} {unreachable}", sites[0].url),
    );
    let failed = d.acc(&["agent", "download", "tools", "--config", "agent/acc.yml"]).fails_with(1);
    assert!(failed.contains(&unreachable), "{failed}");
    assert_eq!(d.read("agent/acc.log").matches("connected to").count(), before, "a connection went direct");
    for file in ["agent/acc.log", "agent/acc.yml", "agent.stderr", "server.log"] {
        let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
        assert!(!text.contains(PROXY_PASSWORD), "the proxy password in {file}");
    }
}

#[test]
fn a_proxy_that_refuses_says_so_in_one_line_with_its_status() {
    let (f, sites, proxy) = fleet_behind_a_proxy();
    let d = &f.d;
    let token = f.ctl(&["enroll-token", "create"], "").ok();
    let url = proxy.url();

    // Enrollment with a wrong proxy password: refused, nothing left behind. tinyproxy
    // answers 401 to wrong credentials and 407 to none (squid: 407 to both).
    d.write("proxy.cred", "agent:not-the-password\n");
    let e = enroll_through(&f, &proxy, &token).fails_with(1);
    assert!(
        e.contains(&format!(
            "cannot reach {} through proxy {url}: the proxy refused the credentials of proxy-credentials-file (401 Unauthorized)",
            f.server.url
        )),
        "{e}"
    );
    assert!(!e.contains("not-the-password") && !d.join("agent/acc.key").exists(), "{e}");

    // Enrolled; then the agent runs with a wrong password, then with none: one clear line each.
    d.write("proxy.cred", format!("agent:{PROXY_PASSWORD}\n"));
    enroll_through(&f, &proxy, &token).ok();
    d.write("proxy.cred", "agent:not-the-password\n");
    let agent = AgentProc::start(d, "agent/acc.yml");
    let line = format!(
        "cannot reach {} through proxy {url}: the proxy refused the credentials of proxy-credentials-file (401 Unauthorized)",
        f.server.url
    );
    let log = log_when(d, "agent/acc.log", "the refused-credentials line", &line);
    let logged = log.lines().find(|l| l.contains(&line)).unwrap();
    assert!(logged.contains("WARN") && logged.contains("unreachable"), "{logged}");
    drop(agent);
    let yml = d.read("agent/acc.yml");
    let without: String =
        yml.lines().filter(|l| !l.starts_with("proxy-credentials-file")).map(|l| format!("{l}\n")).collect();
    d.write("agent/acc.yml", without);
    let agent = AgentProc::start(d, "agent/acc.yml");
    log_when(
        d,
        "agent/acc.log",
        "the 407 line without credentials",
        "the proxy requires credentials (407 Proxy Authentication Required); give proxy-credentials-file",
    );
    drop(agent);

    // A proxy that forbids the site's port: 403, named, while the management server works.
    d.write("agent/acc.yml", yml);
    d.write("proxy.cred", format!("agent:{PROXY_PASSWORD}\n"));
    let strict = Tinyproxy::start(d, "strict", &[port_of(&f.server)]);
    let yml = d.read("agent/acc.yml").replace(&url, &strict.url());
    d.write("agent/acc.yml", yml);
    let _agent = AgentProc::start(d, "agent/acc.yml");
    log_when(
        d,
        "agent/acc.log",
        "the 403 line",
        &format!(
            "cannot reach {} through proxy {}: the proxy forbids CONNECT to {} (403",
            sites[0].url,
            strict.url(),
            sites[0].addr()
        ),
    );
    let log = d.read("agent/acc.log");
    assert!(log.contains(&format!("connected to {} using TLS 1.3", f.server.url)), "{log}");
    for file in ["agent/acc.log", "agent.stderr"] {
        let text = std::fs::read_to_string(d.join(file)).unwrap_or_default();
        assert!(!text.contains(PROXY_PASSWORD) && !text.contains("not-the-password"), "a password in {file}");
    }
}
