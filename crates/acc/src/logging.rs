//! Logging conventions shared by every role: `tracing` events, filtered by `ACC_LOG`
//! (an `EnvFilter` directive such as `info` or `acc_site=debug`, default `warn`), written
//! to stderr for commands and servers; `acc agent run` writes its own `acc.log` too, at the
//! level acc.yml gives (re-read on SIGHUP).
//!
//! `ACC_LOG_FORMAT=json` writes one JSON object per line (timestamp, level, fields,
//! message) for log collectors; the default is text. Colours (ANSI escapes) are used only
//! when the output is a terminal and `NO_COLOR` is unset: never in files, pipes or journald.
//! Fields are values (`user=ACC_user`, times in RFC 3339), never Rust `Debug` forms.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The environment variable holding the log filter.
pub const ENV_LOG: &str = "ACC_LOG";
/// The environment variable choosing the format: `text` (default) or `json`.
pub const ENV_LOG_FORMAT: &str = "ACC_LOG_FORMAT";

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Text,
    Json,
}

/// The format `ACC_LOG_FORMAT` asks for (`value` is its value, if set).
fn format(value: Option<&str>) -> Result<Format> {
    match value.map(str::trim) {
        None | Some("" | "text") => Ok(Format::Text),
        Some("json") => Ok(Format::Json),
        Some(other) => bail!("{ENV_LOG_FORMAT}: '{other}' is not a log format; use text or json"),
    }
}

/// Whether escapes may colour stderr: a terminal, and no `NO_COLOR` (no-color.org).
fn stderr_colours() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// One sink: `writer` in `format`, coloured only when `ansi`.
fn layer<S, W>(format: Format, writer: W, ansi: bool) -> Box<dyn Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'s> tracing_subscriber::registry::LookupSpan<'s>,
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let base = tracing_subscriber::fmt::layer().with_writer(writer).with_target(false);
    match format {
        Format::Text => base.with_ansi(ansi).boxed(),
        Format::Json => base.json().with_ansi(false).boxed(),
    }
}

fn filter(default: &str) -> EnvFilter {
    EnvFilter::try_from_env(ENV_LOG).unwrap_or_else(|_| EnvFilter::new(default))
}

/// Logs to stderr, filtered by `ACC_LOG`.
pub fn init_stderr() -> Result<()> {
    let format = format(std::env::var(ENV_LOG_FORMAT).ok().as_deref())?;
    let stderr = layer(format, std::io::stderr, stderr_colours()).with_filter(filter("warn"));
    let _ = tracing_subscriber::registry().with(stderr).try_init();
    Ok(())
}

/// Changes the level of the log file while the process runs (`acc agent run` on SIGHUP).
#[derive(Clone)]
pub struct LevelHandle(tracing_subscriber::reload::Handle<EnvFilter, tracing_subscriber::Registry>);

impl LevelHandle {
    /// Applies `level` (from acc.yml) unless `ACC_LOG` is set, which wins as at start;
    /// says what now applies.
    pub fn set(&self, level: &str) -> Result<String> {
        if let Ok(env) = std::env::var(ENV_LOG) {
            return Ok(format!("log level kept at {ENV_LOG}={env}, which overrides log-level"));
        }
        self.0.reload(EnvFilter::new(level)).context("the log level cannot be changed")?;
        Ok(format!("log level {level}"))
    }
}

/// Logs to `path` (rotated by size, `acc_agent::logfile`) at `level` (or `ACC_LOG`), and
/// warnings and errors to stderr too; the handle changes the file's level later.
pub fn init_file(path: &std::path::Path, level: &str) -> Result<LevelHandle> {
    let format = format(std::env::var(ENV_LOG_FORMAT).ok().as_deref())?;
    let file =
        acc_agent::logfile::RotatingFile::open(path, acc_agent::logfile::MAX_BYTES, acc_agent::logfile::KEEP)
            .with_context(|| format!("{}: cannot open the log file", path.display()))?;
    let (level_filter, handle) = tracing_subscriber::reload::Layer::new(filter(level));
    let to_file = layer(format, std::sync::Mutex::new(file), false).with_filter(level_filter);
    let to_stderr = layer(format, std::io::stderr, stderr_colours())
        .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
    let _ = tracing_subscriber::registry().with(to_file).with(to_stderr).try_init();
    Ok(LevelHandle(handle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_format_is_text_or_json_and_anything_else_is_one_line() {
        assert_eq!(format(None).unwrap(), Format::Text);
        assert_eq!(format(Some("json")).unwrap(), Format::Json);
        assert_eq!(format(Some("text")).unwrap(), Format::Text);
        let e = format(Some("xml")).unwrap_err().to_string();
        assert_eq!(e, "ACC_LOG_FORMAT: 'xml' is not a log format; use text or json");
    }
}
