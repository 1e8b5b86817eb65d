//! Pieces every front end shares: the lockout-policy flags (`acc site policy set` and `acc
//! ctl settings site set`), reading a secret from standard input, the host name, and the
//! shutdown signal of long-running roles.

use std::io::BufRead;

use acc_core::lockout::LockoutMode;
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use serde_json::{Map, Value, json};

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
    /// The given flags as `LockoutPolicy` fields (JSON names).
    pub fn patch(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut put = |k: &str, v: Option<Value>| {
            if let Some(v) = v {
                m.insert(k.to_string(), v);
            }
        };
        put("mode", self.mode.map(|x| json!(LockoutMode::from(x).as_str())));
        put("threshold", self.threshold.map(|x| json!(x)));
        put("reset_after", self.reset_after.map(|x| json!(x)));
        put("duration", self.duration.map(|x| json!(x)));
        put("source_threshold", self.source_threshold.map(|x| json!(x)));
        put("unfamiliar_threshold", self.unfamiliar_threshold.map(|x| json!(x)));
        put("source_block_base", self.source_block_base.map(|x| json!(x)));
        put("source_block_max", self.source_block_max.map(|x| json!(x)));
        put("reenable_locked_local_account", self.reenable.map(|x| json!(x)));
        put("acc_refresh_interval", self.refresh_interval.map(|x| json!(x)));
        m
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

/// This machine's host name (empty when unknown).
#[cfg(unix)]
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").map(|s| s.trim().to_string()).unwrap_or_default()
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    now.saturating_sub(i64::try_from(secs).unwrap_or(i64::MAX).saturating_mul(1000))
}
