//! Pieces every front end shares: the lockout-policy flags (`acc site policy set` and `acc
//! ctl settings site set`), reading a secret from standard input or a file (`TokenArgs`:
//! join and enrollment tokens), the host name, and the
//! signals of long-running roles (stop on SIGINT/SIGTERM, reload on SIGHUP).

use std::io::BufRead;

use acc_core::lockout::LockoutMode;
use acc_proto::admin::SiteSettingsChange;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};

use acc_core::units::parse_secs;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ModeArg {
    /// Windows semantics: one counter per account.
    Classic,
    /// Per-source blocks; familiar sources keep working.
    Smart,
}

impl From<ModeArg> for LockoutMode {
    fn from(m: ModeArg) -> Self {
        match m {
            ModeArg::Classic => LockoutMode::Classic,
            ModeArg::Smart => LockoutMode::Smart,
        }
    }
}

/// The lockout policy and ACC site settings as flags; unspecified ones keep their value.
#[derive(Debug, Args)]
pub struct LockoutArgs {
    /// Lockout mode.
    #[arg(long = "lockout-mode", visible_alias = "mode", value_enum)]
    mode: Option<ModeArg>,
    /// Classic: failures that lock the account (0 = never).
    #[arg(long, value_name = "N")]
    threshold: Option<u32>,
    /// Observation window (e.g. 60s, 10m).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    reset_after: Option<u64>,
    /// Lockout duration (0 = until unlocked).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    duration: Option<u64>,
    /// Smart: failures that block one source.
    #[arg(long, value_name = "N")]
    source_threshold: Option<u32>,
    /// Smart: failures from unfamiliar sources that lock them all out.
    #[arg(long, value_name = "N")]
    unfamiliar_threshold: Option<u32>,
    /// Smart: first block of a source.
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    source_block_base: Option<u64>,
    /// Smart: longest block of a source.
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    source_block_max: Option<u64>,
    /// Re-enable the ACC when it is locked out (at each refresh).
    #[arg(long, value_name = "BOOL")]
    reenable: Option<bool>,
    /// ACC refresh interval.
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    refresh_interval: Option<u64>,
}

impl LockoutArgs {
    /// The given flags as a change of the site settings (the rest unchanged).
    pub fn change(&self) -> SiteSettingsChange {
        SiteSettingsChange {
            mode: self.mode.map(LockoutMode::from),
            threshold: self.threshold,
            reset_after: self.reset_after,
            duration: self.duration,
            source_threshold: self.source_threshold,
            unfamiliar_threshold: self.unfamiliar_threshold,
            source_block_base: self.source_block_base,
            source_block_max: self.source_block_max,
            reenable_locked_local_account: self.reenable,
            acc_refresh_interval: self.refresh_interval,
            ..SiteSettingsChange::default()
        }
    }
}

/// `acc site run` and `acc server run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The data directory made by `init`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: std::path::PathBuf,
    /// Listen here instead of the address given at init (port 0: any free port).
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::SocketAddr>,
    /// Serve GET /metrics (Prometheus text), /healthz and /readyz over plain HTTP here
    /// (off by default; keep it on loopback or a trusted network; port 0: any free port).
    #[arg(long, value_name = "ADDR", env = "ACC_METRICS_LISTEN")]
    pub metrics_listen: Option<std::net::SocketAddr>,
}

/// One line from standard input without its line ending (a password: never an argument).
pub fn read_stdin_line(what: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .with_context(|| format!("cannot read the {what} from standard input"))?;
    Ok(line.strip_suffix('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).unwrap_or(&line).to_string())
}

/// The password given with `--password-stdin`, or the error saying how to give it.
pub fn password_from_stdin(flag: bool) -> Result<String> {
    if !flag {
        bail!(
            "give the password on standard input with --password-stdin (passwords are never command-line arguments)"
        );
    }
    read_stdin_line("password")
}

/// A join or enrollment token: from a file or standard input, so that `ps` does not show
/// it to other local users, or on the command line where that does not matter.
#[derive(Args)]
#[group(required = true, multiple = false)]
pub struct TokenArgs {
    /// The token itself (other local users can see it in `ps` while the command runs;
    /// prefer --token-file), or `-` to read it from standard input.
    #[arg(long, value_name = "TOKEN")]
    token: Option<String>,
    /// Read the token from this file (its owner's only, 0600), or `-` for standard input.
    #[arg(long, value_name = "FILE")]
    token_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for TokenArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenArgs")
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("token_file", &self.token_file)
            .finish()
    }
}

impl TokenArgs {
    /// The token, read from where it was given; `what` names it in errors.
    pub fn read(&self, what: &str) -> Result<String> {
        let token = match (&self.token, &self.token_file) {
            (Some(t), _) if t == "-" => read_stdin_line(what)?,
            (Some(t), _) => t.clone(),
            (None, Some(p)) if p.as_os_str() == "-" => read_stdin_line(what)?,
            (None, Some(p)) => read_secret_file(p, what)?,
            (None, None) => {
                bail!("no {what}: give --token-file FILE, or --token - to read it from standard input")
            }
        };
        let token = token.trim();
        if token.is_empty() {
            bail!("the {what} is empty; give the one `acc ctl` printed");
        }
        Ok(token.to_string())
    }
}

/// Reads a file holding a secret (a token), refused when others may read it; `what`
/// names the secret in errors.
pub fn read_secret_file(path: &std::path::Path, what: &str) -> Result<String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("{}: cannot read the {what} file", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "{}: mode {mode:04o} lets others read this {what}; run `chmod 0600 {}`",
                path.display(),
                path.display()
            );
        }
    }
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("{}: cannot read the {what} file", path.display()))?;
    let t = text.trim();
    if t.is_empty() {
        bail!("{}: the {what} file is empty", path.display());
    }
    Ok(t.to_string())
}

/// This machine's host name (empty when unknown).
#[cfg(unix)]
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// The signals a long-running role handles, installed together by [`Signals::install`]
/// (before anything tells the user Ctrl-C works): SIGINT and SIGTERM stop it; SIGHUP
/// asks it to reload what it can and never stops it.
pub struct Signals {
    interrupt: SignalStream,
    terminate: SignalStream,
    hangup: SignalStream,
}

#[cfg(unix)]
type SignalStream = tokio::signal::unix::Signal;
#[cfg(not(unix))]
type SignalStream = ();

/// What [`Signals::next`] received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Received {
    /// SIGINT (Ctrl-C) or SIGTERM: stop.
    Stop(&'static str),
    /// SIGHUP: reload (Unix only).
    #[cfg_attr(not(unix), allow(dead_code))]
    Hangup,
}

impl Signals {
    /// Installs the handlers (inside a runtime); from here on none of the three signals
    /// kills the process by its default action.
    #[cfg(unix)]
    pub fn install() -> Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let one = |kind: SignalKind, name: &str| {
            signal(kind).with_context(|| format!("cannot install the {name} handler"))
        };
        Ok(Signals {
            interrupt: one(SignalKind::interrupt(), "SIGINT")?,
            terminate: one(SignalKind::terminate(), "SIGTERM")?,
            hangup: one(SignalKind::hangup(), "SIGHUP")?,
        })
    }

    /// Installs the handlers (Ctrl-C only off Unix).
    #[cfg(not(unix))]
    pub fn install() -> Result<Signals> {
        Ok(Signals { interrupt: (), terminate: (), hangup: () })
    }

    /// The next signal.
    #[cfg(unix)]
    pub async fn next(&mut self) -> Received {
        tokio::select! {
            _ = self.interrupt.recv() => Received::Stop("SIGINT"),
            _ = self.terminate.recv() => Received::Stop("SIGTERM"),
            _ = self.hangup.recv() => Received::Hangup,
        }
    }

    /// The next signal.
    #[cfg(not(unix))]
    pub async fn next(&mut self) -> Received {
        let _ = (&self.interrupt, &self.terminate, &self.hangup);
        let _ = tokio::signal::ctrl_c().await;
        Received::Stop("Ctrl-C")
    }

    /// Completes on SIGINT or SIGTERM. Each SIGHUP meanwhile is logged and runs `reload`,
    /// whose answer (what was reloaded, or why not) is logged too.
    pub async fn until_stop(mut self, role: &str, reload: impl Fn() -> Result<String, String>) {
        loop {
            match self.next().await {
                Received::Stop(name) => {
                    tracing::info!(signal = name, "{role} stopping.");
                    return;
                }
                Received::Hangup => match reload() {
                    Ok(done) => {
                        tracing::info!(signal = "SIGHUP", reloaded = %done, "SIGHUP received: {done}.")
                    }
                    Err(e) => tracing::warn!(
                        signal = "SIGHUP",
                        error = %e,
                        "SIGHUP received: nothing reloaded ({e}); the running configuration stays."
                    ),
                },
            }
        }
    }
}

/// A multi-threaded runtime for a command.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

/// Announces a server role on standard output (tests and `acc dev` read the URL from it),
/// then runs `serve` until it ends.
#[cfg(unix)]
pub async fn serve_role<E>(
    role: &str,
    name: &str,
    addr: std::net::SocketAddr,
    serve: impl std::future::Future<Output = Result<(), E>>,
) -> Result<std::process::ExitCode>
where
    anyhow::Error: From<E>,
{
    outln!("{role} {name} listening on https://{addr}");
    crate::output::flush_out();
    tracing::info!(%addr, name, "{role} started.");
    serve.await?;
    tracing::info!(name, "{role} stopped.");
    Ok(std::process::ExitCode::SUCCESS)
}

/// The Unix milliseconds `secs` seconds ago (`--since`).
pub fn since_ms(secs: u64) -> i64 {
    use acc_core::time::Clock as _;
    let now = acc_core::time::SystemClock.now().millis();
    now.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
}
