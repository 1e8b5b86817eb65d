//! `acc dev`: the whole system on loopback, one command away. A management server, M site
//! servers and N agents run as real `acc` processes under `--data-dir` (default
//! `./acc-dev`), configured per the seeds' best practices the first time (a local ACC with
//! a strong generated password that only the vault keeps, create-on-site and re-enable on,
//! Read on the three package sources, a sample package assigned to every site); a second
//! run with the same folder resumes on the same ports. Ctrl-C stops every process; a process
//! that exits meanwhile is reported (which, how, its log) and reaped.
//!
//! ```text
//! DIR/dev.json          ports and counts of this installation
//! DIR/server/           the management server (tls/ca.crt, admin-token)
//! DIR/siteN/            site servers
//! DIR/agents/agentN/    agents (acc.yml, acc.key, acc.crt, acc.log, state/)
//! DIR/logs/             every process's output
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use serde::{Deserialize, Serialize};

use crate::cmd::common::{Received, Signals};

#[derive(Debug, Args)]
pub struct DevArgs {
    /// Agents to run.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(0..=50))]
    agents: u16,
    /// Site servers to run.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=9))]
    sites: u16,
    /// Where everything lives (a second run resumes it).
    #[arg(long, value_name = "DIR", default_value = "acc-dev")]
    data_dir: PathBuf,
}

/// `DIR/dev.json`.
#[derive(Debug, Serialize, Deserialize)]
struct DevState {
    server_port: u16,
    site_ports: Vec<u16>,
    agents: u16,
}

/// The running children, stopped (SIGINT, then SIGKILL after a grace) when dropped.
struct Children(Vec<(String, Child)>);

impl Children {
    /// Removes (and reaps) the children that exited: their names and exit statuses.
    fn reap(&mut self) -> Vec<(String, std::process::ExitStatus)> {
        let mut gone = Vec::new();
        self.0.retain_mut(|(name, c)| match c.try_wait() {
            Ok(Some(status)) => {
                gone.push((name.clone(), status));
                false
            }
            _ => true,
        });
        gone
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, c) in &self.0 {
            let _ = Command::new("kill").args(["-INT", &c.id().to_string()]).status();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        for (name, c) in &mut self.0 {
            while Instant::now() < deadline {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            if !matches!(c.try_wait(), Ok(Some(_))) {
                errln!("dev: {name} did not stop; killing it");
                let _ = c.kill();
                let _ = c.wait();
            }
        }
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn exe() -> Result<PathBuf> {
    std::env::current_exe().context("cannot find the acc executable")
}

/// Runs `acc ARGS` to completion with `stdin`; its stdout, or its error as the failure.
fn acc(args: &[&str], stdin: &str) -> Result<String> {
    use std::io::Write;
    let mut child = Command::new(exe()?)
        .args(args)
        .env_remove("ACC_LOG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot run acc {}", args.join(" ")))?;
    if let Some(mut i) = child.stdin.take() {
        i.write_all(stdin.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "acc {}: {}",
            args.first().copied().unwrap_or_default(),
            err.trim().trim_start_matches("error: ")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Starts `acc ARGS` in the background, its output appended to `DIR/logs/NAME.log` (a
/// resumed run keeps the earlier runs' lines).
fn spawn(logs: &Path, name: &str, args: &[&str]) -> Result<(String, Child)> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(logs.join(format!("{name}.log")))?;
    let child = Command::new(exe()?)
        .args(args)
        .env("ACC_LOG", std::env::var("ACC_LOG").unwrap_or_else(|_| "info".into()))
        .stdout(log.try_clone()?)
        .stderr(log)
        .stdin(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {name}"))?;
    Ok((name.to_string(), child))
}

/// The length of `file` now: where this run's lines will start.
fn log_end(file: &Path) -> u64 {
    std::fs::metadata(file).map_or(0, |m| m.len())
}

/// Waits until `file`, past `from` (this run's part; all of it if it was rotated since),
/// contains `needle` (a process said it is up), or fails after 30 s.
fn wait_for_line(file: &Path, from: u64, needle: &str, children: &mut Children) -> Result<()> {
    let this_run = || -> Option<String> {
        let bytes = std::fs::read(file).ok()?;
        let start = usize::try_from(from).ok().filter(|&s| s <= bytes.len()).unwrap_or(0);
        Some(String::from_utf8_lossy(&bytes[start..]).into_owned())
    };
    wait_until(&format!("'{needle}' in {}", file.display()), children, || {
        this_run().is_some_and(|t| t.contains(needle))
    })
}

/// Waits until the site server on `port` answers `GET /v1/health` over TLS (its CA in
/// `ca`), or fails after 30 s.
fn wait_for_health(ca: &Path, port: u16, children: &mut Children) -> Result<()> {
    use acc_net::client::{ClientTls, Connection, Endpoint};
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let tls =
        ClientTls::new(&std::fs::read(ca).with_context(|| format!("{}: cannot read", ca.display()))?, None)?;
    let endpoint = Endpoint::parse(&format!("https://127.0.0.1:{port}"))?;
    let healthy = || {
        rt.block_on(async {
            let mut conn = Connection::open(&tls, &endpoint).await.ok()?;
            let resp = conn.send("GET", "/v1/health", &[], bytes::Bytes::new()).await.ok()?;
            serde_json::from_slice::<acc_proto::Health>(&resp.body).ok().filter(|_| resp.status.is_success())
        })
        .is_some_and(|h| h == acc_proto::Health::OK)
    };
    wait_until(&format!("https://127.0.0.1:{port}/v1/health"), children, healthy)
}

/// Polls `ready` until it holds, or fails after 30 s or as soon as a child exits.
fn wait_until(what: &str, children: &mut Children, mut ready: impl FnMut() -> bool) -> Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if ready() {
            return Ok(());
        }
        for (name, c) in &mut children.0 {
            if let Ok(Some(status)) = c.try_wait() {
                bail!("{name} exited ({status}) while waiting for {what}; see its log");
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{what}: not ready within 30 s")
}

/// `acc dev`.
pub fn run(a: DevArgs) -> Result<ExitCode> {
    let dir = &a.data_dir;
    std::fs::create_dir_all(dir.join("logs"))
        .with_context(|| format!("{}: cannot create it", dir.display()))?;
    let dir = &std::fs::canonicalize(dir).with_context(|| format!("{}: cannot resolve it", dir.display()))?;
    let state_path = dir.join("dev.json");
    let resuming = state_path.exists();
    let state: DevState = if resuming {
        serde_json::from_slice(&std::fs::read(&state_path)?).with_context(|| {
            format!("{}: damaged; remove {} to start afresh", state_path.display(), dir.display())
        })?
    } else {
        DevState {
            server_port: free_port()?,
            site_ports: (0..a.sites).map(|_| free_port()).collect::<Result<_>>()?,
            agents: a.agents,
        }
    };
    if resuming && (state.site_ports.len() != usize::from(a.sites) || state.agents != a.agents) {
        errln!(
            "dev: resuming {} as it was made: {} site servers, {} agents",
            dir.display(),
            state.site_ports.len(),
            state.agents
        );
    }
    let p = |rel: &str| dir.join(rel).display().to_string();
    let logs = dir.join("logs");
    let mut children = Children(Vec::new());
    let server_addr = format!("127.0.0.1:{}", state.server_port);
    let url = format!("https://{server_addr}");
    if !resuming {
        acc(
            &["server", "init", "--data-dir", &p("server"), "--domain", "CORP", "--listen", &server_addr],
            "",
        )?;
    }
    let server_log = logs.join("server.log");
    let from = log_end(&server_log);
    children.0.push(spawn(
        &logs,
        "server",
        &["server", "run", "--data-dir", &p("server"), "--listen", &server_addr],
    )?);
    wait_for_line(&server_log, from, "listening on https://", &mut children)?;
    let ctl_base = ["ctl", "--server", url.as_str()];
    let ca = p("server/tls/ca.crt");
    let token = p("server/admin-token");
    let ctl = |args: &[&str], stdin: &str| -> Result<String> {
        let mut full: Vec<&str> = ctl_base.to_vec();
        full.extend(["--ca", ca.as_str(), "--token-file", token.as_str()]);
        full.extend_from_slice(args);
        acc(&full, stdin)
    };
    if !resuming {
        // The seed's steps: both site server boxes ticked, a strong ACC with Read granted.
        // (They are the defaults: the answer is `unchanged`.)
        ctl(&["settings", "site", "set", "--create-acc", "true", "--reenable", "true"], "")?;
        let password = acc_server::vault::random_password(24)?;
        ctl(
            &[
                "settings",
                "auth",
                "set",
                "--mode",
                "credential",
                "--username",
                "ACC_user",
                "--password-stdin",
                "--grant-read",
            ],
            &format!("{}\n", password.expose()),
        )?;
    }
    for (i, port) in state.site_ports.iter().enumerate() {
        let name = format!("site{}", i + 1);
        let listen = format!("127.0.0.1:{port}");
        if !resuming {
            let token = ctl(&["site-token", "create"], "")?;
            let site_name = format!("SITE{}", i + 1);
            acc(
                &[
                    "site",
                    "join",
                    "--token-file",
                    "-",
                    "--data-dir",
                    &p(&name),
                    "--name",
                    &site_name,
                    "--listen",
                    &listen,
                ],
                &token,
            )?;
        }
        children.0.push(spawn(&logs, &name, &["site", "run", "--data-dir", &p(&name), "--listen", &listen])?);
        wait_for_health(&acc_site::layout::Layout::new(dir.join(&name)).tls_ca_cert(), *port, &mut children)?;
    }
    if !resuming {
        let sample = dir.join("sample-package");
        std::fs::create_dir_all(&sample)?;
        std::fs::write(
            sample.join("readme.txt"),
            "A sample package, replicated to every site server as the ACC.\n",
        )?;
        std::fs::write(sample.join("tool.bin"), vec![0x5a_u8; 256 * 1024])?;
        ctl(
            &[
                "package",
                "add",
                "--share",
                "software-library",
                "--name",
                "sample",
                "--version",
                "1.0",
                &p("sample-package"),
            ],
            "",
        )?;
        ctl(&["package", "assign", "sample", "--all"], "")?;
    }
    let agent_log = |i: u16| dir.join(format!("agents/agent{i}/acc.log"));
    let agent_from: Vec<u64> = (1..=state.agents).map(|i| log_end(&agent_log(i))).collect();
    for i in 1..=state.agents {
        let name = format!("agent{i}");
        let config = p(&format!("agents/{name}/acc.yml"));
        if !resuming {
            let token = ctl(&["enroll-token", "create"], "")?;
            let host = format!("dev-agent-{i}");
            acc(
                &[
                    "agent",
                    "enroll",
                    "--token-file",
                    "-",
                    "--config",
                    &config,
                    "--host-name",
                    &host,
                    "--log-file",
                    "acc.log",
                    "--state-dir",
                    "state",
                ],
                &token,
            )?;
        }
        children.0.push(spawn(&logs, &name, &["agent", "run", "--config", &config])?);
    }
    if !resuming {
        std::fs::write(&state_path, serde_json::to_vec_pretty(&state)?)?;
    }
    for (i, from) in (1..=state.agents).zip(agent_from) {
        wait_for_line(&agent_log(i), from, "connected to", &mut children)?;
    }
    // The handlers first: the welcome says Ctrl-C works, so it must from then on.
    let rt = crate::cmd::common::runtime()?;
    let signals = {
        let _entered = rt.enter();
        Signals::install()?
    };
    print_welcome(dir, &url, &state, resuming);
    rt.block_on(watch(signals, &mut children, &logs));
    errln!("dev: stopping every process…");
    drop(children);
    errln!("dev: stopped; `acc dev --data-dir {}` resumes", dir.display());
    Ok(ExitCode::SUCCESS)
}

/// Until Ctrl-C, SIGTERM or a hang-up: reaps every child that exits and says which, with
/// its exit status and log (the others keep running).
async fn watch(mut signals: Signals, children: &mut Children, logs: &Path) {
    let mut tick = tokio::time::interval(Duration::from_millis(200));
    loop {
        tokio::select! {
            received = signals.next() => {
                if received == Received::Hangup {
                    errln!("dev: hang-up (SIGHUP): the terminal went away");
                }
                return;
            }
            _ = tick.tick() => {
                for (name, status) in children.reap() {
                    errln!(
                        "dev: {name} exited ({status}); see {}; the other processes keep running",
                        logs.join(format!("{name}.log")).display()
                    );
                }
            }
        }
    }
}

fn print_welcome(dir: &Path, url: &str, state: &DevState, resuming: bool) {
    let d = dir.display();
    outln!(
        "acc dev {}: a management server, {} site servers and {} agents on loopback (ready)\n",
        if resuming { "resumed" } else { "is up" },
        state.site_ports.len(),
        state.agents
    );
    let mut rows = vec![("  management server".to_string(), url.to_string())];
    for (i, port) in state.site_ports.iter().enumerate() {
        rows.push((
            format!("  site server SITE{}", i + 1),
            format!("https://127.0.0.1:{port}   (data: {d}/site{})", i + 1),
        ));
    }
    rows.push(("  admin credential".into(), format!("{d}/server/admin-token (0600)")));
    rows.push((
        "  console".into(),
        format!("{url}/ui/   (user admin, password in {d}/server/admin-password)"),
    ));
    rows.push(("  logs".into(), format!("{d}/logs/*.log, {d}/agents/agentN/acc.log")));
    crate::output::pairs(&rows.iter().map(|(k, v)| (k.as_str(), v)).collect::<Vec<_>>());
    outln!();
    // `cargo run -- dev` leaves no `acc` on PATH: put this very binary there, so every
    // command below works as printed in another terminal.
    let bin = exe().ok().and_then(|e| e.parent().map(|p| p.display().to_string())).unwrap_or_default();
    outln!("Try (in another terminal):");
    outln!(
        "  export PATH={bin}:$PATH ACC_SERVER={url} ACC_CA_FILE={d}/server/tls/ca.crt ACC_TOKEN_FILE={d}/server/admin-token"
    );
    outln!("  acc ctl settings show");
    outln!("  acc ctl sites");
    outln!("  acc ctl agents");
    outln!("  acc ctl package list");
    outln!("  acc ctl events --id 4624");
    outln!(
        "  acc ctl credential rotate --username ACC_User_v2 --password-stdin   # then watch acc ctl agents"
    );
    outln!("  acc agent status --config {d}/agents/agent1/acc.yml\n");
    outln!("Ctrl-C stops everything; `acc dev --data-dir {d}` resumes.");
}
