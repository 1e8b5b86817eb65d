//! Helpers for end-to-end tests: run `acc` and `openssl` in a per-test directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A test's working directory, removed when the test ends.
pub struct Dir {
    tmp: tempfile::TempDir,
}

impl Dir {
    pub fn new() -> Dir {
        Dir { tmp: tempfile::tempdir().expect("temporary directory") }
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    pub fn join(&self, p: &str) -> PathBuf {
        self.tmp.path().join(p)
    }

    pub fn write(&self, name: &str, contents: impl AsRef<[u8]>) -> PathBuf {
        let p = self.join(name);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).unwrap();
        }
        std::fs::write(&p, contents).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        std::fs::read_to_string(self.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    /// Runs `acc` with `args` in this directory.
    pub fn acc(&self, args: &[&str]) -> Run {
        self.run(env!("CARGO_BIN_EXE_acc"), args)
    }

    /// Runs the system `openssl`; a missing openssl fails the test (it is required).
    pub fn openssl(&self, args: &[&str]) -> Run {
        self.run("openssl", args)
    }

    /// Runs `acc` with `args`, `stdin` as its standard input and extra environment.
    pub fn acc_with(&self, args: &[&str], stdin: &str, env: &[(&str, &str)]) -> Run {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_acc"))
            .args(args)
            .current_dir(self.path())
            .env_remove("ACC_LOG")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("cannot run acc");
        child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("write stdin");
        let output = child.wait_with_output().expect("wait for acc");
        Run { what: format!("acc {}", args.join(" ")), output }
    }

    fn run(&self, program: &str, args: &[&str]) -> Run {
        let output = Command::new(program)
            .args(args)
            .current_dir(self.path())
            .env_remove("ACC_LOG")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program}: {e} (install it: apt-get install -y openssl)"));
        Run { what: format!("{program} {}", args.join(" ")), output }
    }
}

/// The result of one process.
pub struct Run {
    what: String,
    pub output: Output,
}

impl Run {
    /// The result of a process run some other way (`acc.exe` under Wine).
    pub fn new(what: String, output: Output) -> Run {
        Run { what, output }
    }

    pub fn code(&self) -> i32 {
        self.output.status.code().unwrap_or(-1)
    }

    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// Asserts success and returns stdout.
    #[track_caller]
    pub fn ok(&self) -> String {
        assert!(
            self.output.status.success(),
            "{} failed ({}):\nstdout: {}\nstderr: {}",
            self.what,
            self.code(),
            self.stdout(),
            self.stderr()
        );
        self.stdout()
    }

    /// Asserts exit code `code` and returns stderr.
    #[track_caller]
    pub fn fails_with(&self, code: i32) -> String {
        assert_eq!(
            self.code(),
            code,
            "{}: expected exit {code}\nstdout: {}\nstderr: {}",
            self.what,
            self.stdout(),
            self.stderr()
        );
        self.stderr()
    }
}

/// A running `acc site run`, killed when dropped.
pub struct SiteProc {
    pub child: std::process::Child,
    pub url: String,
    /// `http://host:port` of the metrics listener, when started with `--metrics-listen`.
    pub metrics: Option<String>,
}

impl SiteProc {
    /// Starts `acc site run --data-dir DIR --listen 127.0.0.1:0` and waits (with a deadline)
    /// for the line that gives its address.
    pub fn start(dir: &Path) -> SiteProc {
        SiteProc::start_role("site", dir, None)
    }

    /// Starts `acc ROLE run --data-dir DIR --listen 127.0.0.1:0` (`site` or `server`), its
    /// debug log going to `log` when given, and waits for its address.
    pub fn start_role(role: &str, dir: &Path, log: Option<&Path>) -> SiteProc {
        SiteProc::start_at(role, dir, "127.0.0.1:0", log)
    }

    /// Starts `acc ROLE run --data-dir DIR --listen LISTEN` (a restart on the same port).
    pub fn start_at(role: &str, dir: &Path, listen: &str, log: Option<&Path>) -> SiteProc {
        SiteProc::start_with(role, dir, listen, log, &[])
    }

    /// [`SiteProc::start_at`] with more arguments of `run` (`--metrics-listen ADDR`: the
    /// metrics address it prints is kept in `metrics`).
    pub fn start_with(role: &str, dir: &Path, listen: &str, log: Option<&Path>, extra: &[&str]) -> SiteProc {
        SiteProc::start_env(role, dir, listen, log, extra, &[])
    }

    /// [`SiteProc::start_with`] with environment variables set (`ACC_METRICS_LISTEN`).
    pub fn start_env(
        role: &str,
        dir: &Path,
        listen: &str,
        log: Option<&Path>,
        extra: &[&str],
        vars: &[(&str, &str)],
    ) -> SiteProc {
        use std::io::{BufRead, BufReader};
        let stderr = match log {
            Some(p) => std::process::Stdio::from(std::fs::File::create(p).expect("log file")),
            None => std::process::Stdio::null(),
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_acc"))
            .args([role, "run", "--data-dir"])
            .arg(dir)
            .args(["--listen", listen])
            .args(extra)
            .env("ACC_LOG", if log.is_some() { "debug" } else { "warn" })
            .envs(vars.iter().copied())
            .stdout(std::process::Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start acc run");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(i) = line.find("https://").or_else(|| line.find("http://")) {
                    let _ = tx.send(line[i..].trim().to_string());
                }
            }
        });
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        let mut metrics = None;
        let url = loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            let line = rx.recv_timeout(left).expect("acc run did not report its address in 20 s");
            match line.strip_suffix("/metrics") {
                Some(base) if line.starts_with("http://") => metrics = Some(base.to_string()),
                _ => break line,
            }
        };
        SiteProc { child, url, metrics }
    }

    /// `host:port`.
    pub fn addr(&self) -> String {
        self.url.trim_start_matches("https://").to_string()
    }

    /// Kills the server the hard way (SIGKILL) and waits for it.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for SiteProc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Polls `check` until it returns `Some`, or panics after `secs` seconds.
pub fn wait_for<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(std::time::Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Runs `curl ARGS` in `d` with the body on stdout followed by the status on a line of
/// its own (`-o - -w '\n%{http_code}'`): (HTTP status, body, stderr).
pub fn curl_with_status(d: &Dir, args: &[&str]) -> (u16, String, String) {
    let out = Command::new("curl")
        .args(["-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .current_dir(d.path())
        .output()
        .expect("curl (apt-get install -y curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string(), String::from_utf8_lossy(&out.stderr).into_owned())
}
