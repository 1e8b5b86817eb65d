//! `acc agent enroll|run|status|download|service`: the agent on an endpoint. `service`
//! installs and controls the Windows service `acc` (acc_windows::service), which runs the
//! same agent as `acc agent run` and stops it cleanly when the service manager says stop.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use acc_agent::config::AgentConfig;
use acc_agent::state::StateStore;
use acc_core::time::{Clock as _, SystemClock};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::cmd::common::{Signals, TokenArgs, runtime};

#[derive(Debug, Subcommand)]
pub enum AgentCommand {
    /// Get a certificate from the management server: key made here (0400), CSR, acc.yml.
    Enroll(EnrollArgs),
    /// Run the agent: check in, long-poll the policy, register with a site server, run tasks.
    Run(ConfigArg),
    /// Server, site server, policy revision, credential user name, certificate expiry, health.
    Status(StatusArgs),
    /// Download a package from a site server into the cache (resumes, verifies SHA-256).
    Download(DownloadArgs),
    /// The Windows service `acc` ("acc agent"): install, uninstall, start, stop.
    #[command(subcommand)]
    Service(ServiceCommand),
}

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Install service `acc` for this acc.exe and --config: automatic start, restarted on failure.
    Install(ConfigArg),
    /// Stop the service if it runs, then remove it.
    Uninstall,
    /// Start the service (as the Services application's Start).
    Start,
    /// Stop the service: the agent finishes cleanly.
    Stop,
    /// The service itself, started by the service control manager (not by hand).
    #[command(hide = true)]
    Run(ConfigArg),
}

/// Whether `command` logs to the agent's acc.log (instead of standard error).
pub fn logs_to_file(command: &AgentCommand) -> bool {
    matches!(command, AgentCommand::Run(_) | AgentCommand::Service(ServiceCommand::Run(_)))
}

#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The package.
    name: String,
    #[command(flatten)]
    config: ConfigArg,
}

#[derive(Debug, Args)]
pub struct ConfigArg {
    /// The configuration file (default: /etc/acc/acc.yml on Linux, %ProgramData%\acc\acc.yml on Windows).
    #[arg(long, value_name = "FILE", default_value_os_t = acc_agent::config::default_path())]
    pub config: PathBuf,
}

#[derive(Debug, Args)]
pub struct EnrollArgs {
    /// The enrollment token (`acc ctl enroll-token create`).
    #[command(flatten)]
    token: TokenArgs,
    #[command(flatten)]
    config: ConfigArg,
    /// The host name for the certificate (default: this machine's).
    #[arg(long, value_name = "NAME")]
    host_name: Option<String>,
    /// Write this log-file into acc.yml (default: the OS's log folder).
    #[arg(long, value_name = "FILE")]
    log_file: Option<PathBuf>,
    /// Write this state-dir into acc.yml (default: the OS's state folder).
    #[arg(long, value_name = "DIR")]
    state_dir: Option<PathBuf>,
    /// Enroll through this HTTP proxy and write it into acc.yml (default: https_proxy).
    #[arg(long, value_name = "URL")]
    proxy_url: Option<String>,
    /// The proxy's USER:PASSWORD file; its path goes into acc.yml.
    #[arg(long, value_name = "FILE")]
    proxy_credentials_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    config: ConfigArg,
    /// JSON instead of a table.
    #[arg(long)]
    json: bool,
}

/// Runs an `acc agent` command.
pub fn run(command: AgentCommand) -> Result<ExitCode> {
    match command {
        AgentCommand::Enroll(a) => {
            let token = a.token.read("enrollment token")?;
            let host = a.host_name.unwrap_or_else(acc_agent::config::system_host_name);
            let proxy = acc_agent::proxy::ProxyConfig {
                url: a.proxy_url,
                no_proxy: None,
                credentials_file: a.proxy_credentials_file.map(std::path::absolute).transpose()?,
            };
            let done = runtime()?.block_on(acc_agent::enroll::enroll(
                &token,
                &a.config.config,
                &host,
                a.log_file,
                a.state_dir,
                proxy,
            ))?;
            outln!(
                "enrolled as {}: certificate {}, configuration {}",
                done.host_name,
                done.cert.display(),
                done.config.display()
            );
            if let Some((dir, previous)) = &done.cleared {
                outln!(
                    "{}: the state of the earlier enrollment (agent id {previous}, its policy, site servers and packages) was cleared",
                    dir.display()
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Run(a) => {
            let config = AgentConfig::load(&a.config)?;
            let level = crate::logging::init_file(&config.log_file, &config.log_level)?;
            // SIGHUP re-reads acc.yml for what applies without a restart: the log level.
            let path = a.config.clone();
            let reload = move || {
                let config = AgentConfig::load(&path).map_err(|e| e.to_string())?;
                level.set(&config.log_level).map_err(|e| format!("{e:#}"))
            };
            run_agent(config, || Ok(Signals::install()?.until_stop("Agent", reload)))?;
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Service(c) => service(c),
        AgentCommand::Status(a) => status(&a),
        AgentCommand::Download(a) => download(&a),
    }
}

/// `acc agent status --json`.
#[derive(serde::Serialize)]
struct AgentStatus {
    server: Option<String>,
    site_server: Option<String>,
    site_reachable: Option<bool>,
    policy_revision: i64,
    auth_mode: Option<acc_proto::AuthMode>,
    user_name: Option<String>,
    generation: Option<u32>,
    policy_failed: Option<String>,
    certificate: Option<CertificateStatus>,
    last_check_in: Value,
    last_connection: Option<String>,
    packages: Vec<String>,
    agent_id: String,
}

/// The agent certificate in [`AgentStatus`].
#[derive(serde::Serialize)]
struct CertificateStatus {
    file: String,
    subject: String,
    issuer: String,
    not_after: String,
}

/// Runs the agent until the future that `stop` makes (inside the runtime) resolves: a
/// stopping signal, or the service manager's stop.
fn run_agent<F: std::future::Future<Output = ()>>(
    config: AgentConfig,
    stop: impl FnOnce() -> Result<F>,
) -> Result<()> {
    let rt = runtime()?;
    // Installed before anything else runs, so no signal meanwhile takes its default action.
    let stop = {
        let _entered = rt.enter();
        stop()?
    };
    // A certificate that expired while the machine was off is renewed first, within
    // the server's grace, by proving possession of its key.
    if let (Some(server), Some((key, cert))) = (&config.server, &config.identity) {
        let proxy = acc_agent::proxy::from_env(&config.proxy)?;
        match rt.block_on(acc_agent::renew::renew_expired(server, proxy, &config.ca_file, key, cert)) {
            Ok(true) => {
                tracing::info!(certificate = %cert.display(), "Certificate renewed at start (it had expired).")
            }
            Ok(false) => {}
            Err(e) => anyhow::bail!("{}: the certificate has expired and {e}", cert.display()),
        }
    }
    let agent = Arc::new(acc_agent::run::Agent::new(config)?);
    rt.block_on(async {
        tokio::select! {
            () = agent.run() => {}
            () = stop => {}
        }
    });
    Ok(())
}

#[cfg(windows)]
fn service(command: ServiceCommand) -> Result<ExitCode> {
    use acc_windows::service;
    match command {
        ServiceCommand::Install(a) => {
            let config = std::path::absolute(&a.config)?;
            // A configuration that does not load would make the service fail at every start.
            AgentConfig::load(&config)?;
            let spec = service::spec(&std::env::current_exe()?, &config)?;
            if let Some(warning) = service::install(&spec)? {
                errln!("warning: {warning}");
            }
            outln!(
                "service {} (\"{}\") installed: starts automatically, restarted on failure, runs {} {}; start it with `acc agent service start`",
                spec.name,
                spec.display_name,
                spec.executable.display(),
                spec.arguments.iter().map(|a| a.to_string_lossy()).collect::<Vec<_>>().join(" ")
            );
        }
        ServiceCommand::Uninstall => {
            service::uninstall()?;
            outln!("service {} removed", service::NAME);
        }
        ServiceCommand::Start => {
            service::start()?;
            outln!("service {} starting; its log is the log-file of acc.yml", service::NAME);
        }
        ServiceCommand::Stop => {
            service::stop()?;
            outln!("service {} stopping", service::NAME);
        }
        ServiceCommand::Run(a) => {
            let config = AgentConfig::load(&a.config)?;
            let _level = crate::logging::init_file(&config.log_file, &config.log_level)?;
            service::run_dispatcher(Box::new(move |stopped| {
                let stop = move || {
                    Ok(async move {
                        let _ = tokio::task::spawn_blocking(move || stopped.recv()).await;
                        tracing::info!("Agent stopping (the service manager's stop).");
                    })
                };
                run_agent(config, stop).map_err(|e| {
                    tracing::error!("The agent stopped: {e:#}");
                    format!("{e:#}")
                })
            }))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(not(windows))]
fn service(_: ServiceCommand) -> Result<ExitCode> {
    anyhow::bail!(
        "`acc agent service` manages the Windows service; on Linux run the agent with systemd (packaging/systemd/acc.service), on macOS with launchd"
    )
}

fn status(a: &StatusArgs) -> Result<ExitCode> {
    let config = AgentConfig::load(&a.config.config)?;
    let state = StateStore::peek(&config.state_dir)?.unwrap_or_default();
    let cert = config.identity.as_ref().and_then(|(_, c)| {
        acc_agent::identity::check_certificate(c, SystemClock.now_utc()).ok().map(|s| (s, c))
    });
    let time = |ms: Option<i64>| -> Value { ms.map_or(Value::Null, |m| crate::output::timestamp(m).into()) };
    let policy = state.policy.as_ref();
    let v = serde_json::to_value(AgentStatus {
        server: config.server.as_ref().map(ToString::to_string),
        site_server: state.site_server.clone(),
        site_reachable: state.site_reachable,
        policy_revision: state.revision(),
        auth_mode: policy.map(|p| p.auth.mode),
        user_name: policy.and_then(|p| p.auth.user_name.clone()),
        generation: policy.and_then(|p| p.auth.generation),
        policy_failed: state.failure.clone(),
        certificate: cert.as_ref().map(|(s, path)| CertificateStatus {
            file: path.display().to_string(),
            subject: s.subject_cn.clone(),
            issuer: s.issuer_cn.clone(),
            not_after: s.expires(),
        }),
        last_check_in: time(state.last_check_in_ms),
        last_connection: state.last_connection.clone(),
        packages: acc_agent::download::cached(&config.state_dir),
        agent_id: state.agent_id.clone(),
    })?;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(ExitCode::SUCCESS);
    }
    let text = |v: &Value| match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let rows = [
        ("management server", text(&v["server"])),
        ("site server", format!("{} (reachable: {})", text(&v["site_server"]), text(&v["site_reachable"]))),
        ("policy revision", text(&v["policy_revision"])),
        ("authentication", format!("{} as {}", text(&v["auth_mode"]), text(&v["user_name"]))),
        ("policy_failed", text(&v["policy_failed"])),
        (
            "certificate",
            cert.as_ref().map_or("-".into(), |(s, _)| {
                format!(
                    "{} (issuer {}), expires {}",
                    s.subject_cn,
                    s.issuer_cn,
                    text(&v["certificate"]["not_after"])
                )
            }),
        ),
        ("last check-in", text(&v["last_check_in"])),
        ("last connection", text(&v["last_connection"])),
        ("cached packages", {
            let cached = acc_agent::download::cached(&config.state_dir);
            if cached.is_empty() { "-".into() } else { cached.join(", ") }
        }),
    ];
    crate::output::pairs(&rows);
    Ok(ExitCode::SUCCESS)
}

fn download(a: &DownloadArgs) -> Result<ExitCode> {
    use std::io::IsTerminal;
    let config = AgentConfig::load(&a.config.config)?;
    let agent = acc_agent::run::Agent::new(config)?;
    // A bar on a terminal (indicatif hides it elsewhere); a line every 5 s in logs.
    let terminal = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::new(0).with_style(
        indicatif::ProgressStyle::with_template(
            "[{bar:25}] {percent:>3}%  {bytes}/{total_bytes}  {bytes_per_sec}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
        .progress_chars("#>-"),
    );
    let mut last = std::time::Instant::now();
    let mut progress = |done: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(done);
        if !terminal && (last.elapsed() >= std::time::Duration::from_secs(5) || done == total) {
            let pct = (done * 100).checked_div(total).unwrap_or(100);
            errln!("download {}: {pct}% ({done} of {total} bytes)", a.name);
            last = std::time::Instant::now();
        }
    };
    let done = runtime()?.block_on(agent.download(&a.name, &mut progress));
    bar.finish_and_clear();
    let d = done?;
    outln!(
        "{}: {} bytes in {} ({} fetched now), every SHA-256 verified",
        d.label,
        d.size,
        d.dir.display(),
        d.fetched
    );
    Ok(ExitCode::SUCCESS)
}
