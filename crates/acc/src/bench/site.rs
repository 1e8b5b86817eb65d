//! A real `acc site run` process for benchmarks: a temporary data directory with the ACC,
//! the server started on a free port, its CPU time read from /proc.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use acc_core::lockout::LockoutPolicy;
use acc_site::init::{InitOptions, init};
use acc_site::layout::Layout;
use acc_site::site::{Site, SystemClock};
use anyhow::{Context, Result, bail};

/// The benchmark's site server.
pub struct SiteUnderTest {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its data directory.
    pub dir: PathBuf,
    _tmp: Option<tempfile::TempDir>,
}

impl SiteUnderTest {
    /// Creates a site with the account `user`/`password` and `policy`, and starts it.
    pub async fn start(user: &str, password: &str, policy: LockoutPolicy) -> Result<SiteUnderTest> {
        SiteUnderTest::start_capped(user, password, policy, None).await
    }

    /// As [`SiteUnderTest::start`], with `cap` unauthenticated connections per address
    /// (`None`: the default).
    pub async fn start_capped(
        user: &str,
        password: &str,
        policy: LockoutPolicy,
        cap: Option<usize>,
    ) -> Result<SiteUnderTest> {
        let tmp = tempfile::tempdir()?;
        let dir = tmp.path().join("site");
        init(&InitOptions {
            data_dir: dir.clone(),
            name: Some("BENCH-SITE".into()),
            listen: "127.0.0.1:0".parse()?,
            tls: None,
            hostname: "bench".into(),
            max_unauthenticated_per_address: cap,
        })?;
        {
            let site = Site::open(Layout::new(&dir), Arc::new(SystemClock)).await?;
            site.add_account(user, password).await?;
            site.set_policy(policy).await?;
        }
        let mut site = SiteUnderTest::run(&dir).await?;
        site._tmp = Some(tmp);
        Ok(site)
    }

    /// Starts `acc site run` on the initialised data directory `dir`.
    pub async fn run(dir: &Path) -> Result<SiteUnderTest> {
        let dir = dir.to_path_buf();
        let exe = std::env::current_exe()?;
        let mut child = Command::new(exe)
            .args(["site", "run", "--data-dir"])
            .arg(&dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .context("start acc site run")?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let Some(i) = line.find("https://") else { bail!("acc site run said: {line}") };
        let addr: SocketAddr = line[i + 8..].trim().parse()?;
        let site = SiteUnderTest { child, addr, dir, _tmp: None };
        // The admin socket comes up right after the listener: wait for it (bounded).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while site.stats().await.is_err() {
            if std::time::Instant::now() > deadline {
                bail!("the site server's admin socket did not come up in 10 s");
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        Ok(site)
    }

    /// The CA certificate clients trust.
    pub fn ca_pem(&self) -> Result<Vec<u8>> {
        Ok(std::fs::read(Layout::new(&self.dir).tls_ca_cert())?)
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// User + system CPU time of the server process so far, in seconds.
    pub fn cpu_seconds(&self) -> Result<f64> {
        cpu_seconds(self.child.id())
    }

    /// The server's counters (admin socket).
    pub async fn stats(&self) -> Result<serde_json::Value> {
        self.admin(&acc_site::admin::Request::Stats).await
    }

    /// One request on the server's admin socket, as `acc site …` sends it.
    pub async fn admin(&self, request: &acc_site::admin::Request) -> Result<serde_json::Value> {
        admin_call(&self.admin_socket(), request).await
    }

    /// The server's admin socket.
    pub fn admin_socket(&self) -> PathBuf {
        Layout::new(&self.dir).admin_socket()
    }

    /// Resident memory of the server process (VmRSS), in KiB.
    pub fn rss_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmRSS:")
    }

    /// Peak resident memory of the server process (VmHWM), in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        status_kib(self.child.id(), "VmHWM:")
    }

    /// Its data directory.
    pub fn data_dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for SiteUnderTest {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of `pid` in seconds (Linux /proc; clock ticks assumed 100 Hz, as on
/// every mainstream Linux build).
pub fn cpu_seconds(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command: state is index 0, utime 11, stime 12.
    let utime: f64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    let stime: f64 = fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    Ok((utime + stime) / 100.0)
}

/// One `/proc/PID/status` figure in KiB (`VmRSS:`, `VmHWM:`); 0 when it cannot be read.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with(field)).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// One request on a site server's admin socket; its answer, or its refusal as the error.
pub async fn admin_call(socket: &Path, request: &acc_site::admin::Request) -> Result<serde_json::Value> {
    match acc_site::admin::call(socket, request).await? {
        Some(v) => Ok(v),
        None => bail!("the site server does not answer on {}", socket.display()),
    }
}
