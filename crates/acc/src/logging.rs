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
