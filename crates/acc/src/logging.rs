//! Logging conventions shared by every role: `tracing` events, filtered by `ACC_LOG`
//! (an `EnvFilter` directive such as `info` or `acc_site=debug`, default `warn`), written
//! to stderr for commands. Long-running roles add their own file sink.

use tracing_subscriber::EnvFilter;

/// The environment variable holding the log filter.
pub const ENV_LOG: &str = "ACC_LOG";

/// Logs to stderr, filtered by `ACC_LOG`.
pub fn init_stderr() {
    let filter = EnvFilter::try_from_env(ENV_LOG).unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Logs to `path` (rotated by size, `acc_agent::logfile`) at `level` (or `ACC_LOG`), and
/// warnings and errors to stderr too.
pub fn init_file(path: &std::path::Path, level: &str) -> std::io::Result<()> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let file = acc_agent::logfile::RotatingFile::open(
        path,
        acc_agent::logfile::MAX_BYTES,
        acc_agent::logfile::KEEP,
    )?;
    let filter = EnvFilter::try_from_env(ENV_LOG).unwrap_or_else(|_| EnvFilter::new(level));
    let to_file = tracing_subscriber::fmt::layer()
        .with_writer(std::sync::Mutex::new(file))
        .with_ansi(false)
        .with_target(false)
        .with_filter(filter);
    let to_stderr = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
    let _ = tracing_subscriber::registry().with(to_file).with(to_stderr).try_init();
    Ok(())
}
