//! `acc site`: set up and administer a site server on its own host. Administrative
//! commands talk to the running server over its local socket, or open the data directory
//! themselves when no server runs (see `acc_site::admin`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use acc_core::lockout::LockoutPolicy;
use acc_core::password::Secret;
use acc_site::admin::{EventPage, EventQuery, Request};
use acc_site::config::SiteConfig;
use acc_site::init::{self, InitOptions};
use acc_site::layout::Layout;
use acc_site::site::{Site, SystemClock};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::cmd::common::{
    LockoutArgs, RunArgs, Signals, TokenArgs, hostname, password_from_stdin, runtime, serve_role, since_ms,
};
use crate::cmd::events::{EventLogArgs, Printer, SearchArgs};
use crate::output::Table;

mod agents;
pub(crate) mod data_dir;
mod tasks;

use data_dir::{Admin, DataDir, call};

/// The default listen address of a site server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8444";

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Make a data directory: identity, TLS certificates, default shares, database.
    Init(InitArgs),
    /// Join a management server (initialising the data directory if needed): from then on
    /// `acc site run` takes its policy from there.
    Join(JoinArgs),
    /// Run the site server (HTTPS) until interrupted.
    Run(RunArgs),
    /// Show the site's identity, listen address and the CA certificate clients trust.
    Show(DataDir),
    /// Client CAs whose certificates agents may present.
    #[command(subcommand)]
    Trust(TrustCommand),
    /// The certificate revocation list enforced for agent certificates.
    #[command(subcommand)]
    Crl(CrlCommand),
    /// Registered agents and what each id is bound to; `forget ID` releases an id.
    Agents(agents::AgentsArgs),
    /// Tasks for agents: send, list, show (task server).
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// Run the ACC refresh now: re-enable locked accounts if the policy says so (acc.refresh).
    Refresh(DataDir),
    /// Local accounts agents authenticate with.
    #[command(subcommand)]
    Accounts(AccountsCommand),
    /// The lockout policy and the event log's maximum size (used until a management server
    /// drives them).
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Search the security event log (4624, 4625, 4740, 4767, …): the newest 1000 unless
    /// --limit or --all.
    Events(EventsArgs),
    /// Shares and their ACLs (share and file level).
    #[command(subcommand)]
    Shares(crate::cmd::shares::SharesCommand),
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The data directory to create.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The site name (events' Computer); default: from the host name.
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// Where `acc site run` listens.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Use this TLS server certificate instead of making one (with --tls-key).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Connections one address may hold before one of its requests authenticated (default
    /// 1024); a new one beyond that closes that address's oldest unauthenticated one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_unauthenticated_per_address: Option<u32>,
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The join token printed by `acc ctl site-token create`.
    #[command(flatten)]
    token: TokenArgs,
    /// Take over a site name already joined (a deliberate re-join, e.g. a rebuilt site):
    /// the site joined under it so far is refused from then on. Without it, a name in use
    /// is refused.
    #[arg(long)]
    replace: bool,
    #[command(flatten)]
    init: InitArgs,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust a CA (PEM or DER) for agent certificates.
    Add(TrustFile),
    /// List trusted CAs.
    List(DataDir),
    /// Stop trusting a CA (by fingerprint, or its first 8+ hex digits).
    Remove(TrustRemove),
}

#[derive(Debug, Args)]
pub struct TrustFile {
    /// The CA certificate file.
    file: PathBuf,
    #[command(flatten)]
    dir: DataDir,
}

#[derive(Debug, Args)]
pub struct TrustRemove {
    /// SHA-256 fingerprint (as `acc site trust list` shows it).
    fingerprint: String,
    #[command(flatten)]
    dir: DataDir,
}

#[derive(Debug, Subcommand)]
pub enum CrlCommand {
    /// Enforce this CRL (issued by a trusted CA).
    Set(TrustFile),
}

#[derive(Debug, Subcommand)]
pub enum AccountsCommand {
    /// Create a local account (password on standard input).
    Add(AccountPassword),
    /// List local accounts.
    List(DataDir),
    /// Show one account, with its state (enabled, locked_out, disabled …).
    Show(AccountName),
    /// Enable a disabled account.
    Enable(AccountName),
    /// Disable an account.
    Disable(AccountName),
    /// Clear an account's lock (writes 4767).
    Unlock(UnlockArgs),
    /// Delete a disabled account.
    Remove(AccountName),
    /// Set a new password (on standard input).
    SetPassword(AccountPassword),
}

#[derive(Debug, Args)]
pub struct AccountName {
    /// The account name.
    name: String,
    #[command(flatten)]
    dir: DataDir,
}

#[derive(Debug, Args)]
pub struct AccountPassword {
    /// The account name.
    name: String,
    /// Read the password from standard input (one line). Passwords are never arguments.
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    dir: DataDir,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The account name.
    name: String,
    /// Also clear every source block on the account (smart mode).
    #[arg(long)]
    sources: bool,
    #[command(flatten)]
    dir: DataDir,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Show the lockout policy in force.
    Show(DataDir),
    /// Change the lockout policy; unspecified values keep their current setting.
    Set(PolicySetArgs),
}

#[derive(Debug, Args)]
pub struct PolicySetArgs {
    #[command(flatten)]
    dir: DataDir,
    #[command(flatten)]
    lockout: LockoutArgs,
    #[command(flatten)]
    event_log: EventLogArgs,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The site's data directory.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    #[command(flatten)]
    search: SearchArgs,
}

/// Runs one `acc site` command.
pub fn run(command: SiteCommand) -> Result<ExitCode> {
    runtime()?.block_on(run_async(command))
}

async fn run_async(command: SiteCommand) -> Result<ExitCode> {
    match command {
        SiteCommand::Init(a) => {
            let (config, layout) = init_site(&a).await?;
            outln!("site {} initialised in {}", config.name, a.data_dir.display());
            let mut rows = vec![("  listen:", config.listen.to_string())];
            if layout.tls_ca_cert().exists() {
                rows.push(("  clients trust:", layout.tls_ca_cert().display().to_string()));
            }
            crate::output::pairs(&rows);
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Join(j) => join(j).await,
        SiteCommand::Run(a) => run_server(a).await,
        SiteCommand::Show(d) => show(&d),
        SiteCommand::Trust(TrustCommand::Add(t)) => {
            let pem = std::fs::read_to_string(&t.file)
                .with_context(|| format!("{}: cannot read", t.file.display()))?;
            let v = call(&t.dir.data_dir, Request::TrustAdd { pem })
                .await
                .with_context(|| t.file.display().to_string())?;
            outln!(
                "trusted {} ({})",
                v["subject"].as_str().unwrap_or(""),
                v["fingerprint"].as_str().unwrap_or("")
            );
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Trust(TrustCommand::List(d)) => {
            let v = call(&d.data_dir, Request::TrustList).await?;
            if d.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let mut table = Table::new(["FINGERPRINT", "SUBJECT", "UNTIL"]);
                for ca in v.as_array().into_iter().flatten() {
                    let s = |k: &str| ca[k].as_str().unwrap_or("").to_string();
                    table.row([s("fingerprint"), s("subject"), s("not_after")]);
                }
                table.print();
            }
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Trust(TrustCommand::Remove(t)) => {
            let v = call(&t.dir.data_dir, Request::TrustRemove { fingerprint: t.fingerprint }).await?;
            outln!("no longer trusted: {}", v["subject"].as_str().unwrap_or(""));
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Crl(CrlCommand::Set(t)) => {
            let bytes =
                std::fs::read(&t.file).with_context(|| format!("{}: cannot read", t.file.display()))?;
            let pem = match acc_pki::crl::Crl::from_bytes(&bytes) {
                Ok(c) => acc_pki::pem::encode("X509 CRL", &c.der),
                Err(e) => bail!("{}: {e}", t.file.display()),
            };
            let v = call(&t.dir.data_dir, Request::CrlSet { pem })
                .await
                .with_context(|| t.file.display().to_string())?;
            outln!("enforcing {}", v["crl"].as_str().unwrap_or(""));
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Refresh(d) => {
            let v = call(&d.data_dir, Request::Refresh).await?;
            let actions: Vec<&str> =
                v["actions"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            if actions.is_empty() {
                outln!("refreshed: nothing to do");
            } else {
                outln!("refreshed: {}", actions.join("; "));
            }
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Agents(a) => agents::run(a).await,
        SiteCommand::Tasks(c) => tasks::run(c).await,
        SiteCommand::Accounts(c) => accounts(c).await,
        SiteCommand::Policy(PolicyCommand::Show(d)) => {
            let v = call(&d.data_dir, Request::PolicyShow).await?;
            outln!("{}", serde_json::to_string_pretty(&v)?);
            Ok(ExitCode::SUCCESS)
        }
        SiteCommand::Policy(PolicyCommand::Set(a)) => policy_set(a).await,
        SiteCommand::Events(a) => events(a).await,
        SiteCommand::Shares(c) => crate::cmd::shares::run(c).await,
    }
}

/// `acc site init`: the data directory, then the database (so that a bad directory fails
/// here and not at run).
async fn init_site(a: &InitArgs) -> Result<(SiteConfig, Layout)> {
    let config = init::init(&InitOptions {
        data_dir: a.data_dir.clone(),
        name: a.name.clone(),
        listen: a.listen,
        tls: a.tls_cert.clone().zip(a.tls_key.clone()),
        hostname: hostname(),
        max_unauthenticated_per_address: a.max_unauthenticated_per_address.map(|n| n as usize),
    })?;
    let layout = Layout::new(&a.data_dir);
    Site::open(layout.clone(), Arc::new(SystemClock)).await?;
    Ok((config, layout))
}

/// `acc site join`: initialises the data directory if needed (and removes it again if the
/// join fails, so another `--name` can be tried), then joins.
async fn join(j: JoinArgs) -> Result<ExitCode> {
    let token = j.token.read("join token")?;
    let layout = Layout::new(&j.init.data_dir);
    let existed = j.init.data_dir.exists();
    let (config, made) = match SiteConfig::load(&layout.config()) {
        Ok(c) => {
            if let Some(name) = j.init.name.as_deref()
                && !name.eq_ignore_ascii_case(&c.name)
            {
                bail!(
                    "{}: already initialised as site '{}', so --name {name} cannot apply; join as '{}' (leave out --name), or use a new data directory for '{name}'",
                    j.init.data_dir.display(),
                    c.name,
                    c.name
                );
            }
            (c, false)
        }
        Err(acc_site::error::SiteError::NotInitialised(_)) => (init_site(&j.init).await?.0, true),
        Err(e) => return Err(e.into()),
    };
    let ip = if config.listen.ip().is_unspecified() {
        std::net::IpAddr::from([127, 0, 0, 1])
    } else {
        config.listen.ip()
    };
    let url = format!("https://{}", SocketAddr::new(ip, config.listen.port()));
    let joined = match acc_site::managed::join(&layout, &token, &config.name, &url, j.replace).await {
        Ok(joined) => joined,
        Err(e) => {
            if made {
                init::remove_made(&layout, existed);
            }
            return Err(e.into());
        }
    };
    if let Some(r) = &joined.replaced {
        outln!(
            "site {} replaced the site server joined under that name at {} (since {}; its certificate {} is refused from now on)",
            config.name,
            r.url,
            acc_core::time::Timestamp(r.joined_at_ms).to_rfc3339(),
            r.serial_hex
        );
    }
    outln!(
        "site {} joined {}; run `acc site run --data-dir {}`",
        config.name,
        joined.config.url,
        j.init.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}

async fn run_server(a: RunArgs) -> Result<ExitCode> {
    let exporter = match a.metrics_listen {
        Some(addr) => Some(crate::metrics::Exporter::install(addr).await?),
        None => None,
    };
    let running = acc_site::server::start(Layout::new(&a.data_dir), a.listen).await?;
    let signals = Signals::install()?;
    let metrics = match exporter {
        Some(e) => {
            let site = running.site().clone();
            Some(e.serve(
                move || {
                    let site = site.clone();
                    Box::pin(async move { acc_site::metrics::observe(&site).await })
                },
                running.readiness(),
            )?)
        }
        None => None,
    };
    let addr = running.local_addr()?;
    let name = running.site().config().name.clone();
    let site = running.site().clone();
    let reload = move || {
        site.reload_tls().map_err(|e| e.to_string())?;
        Ok("TLS certificate and key, trusted client CAs and CRLs reloaded".to_string())
    };
    let served =
        serve_role("site", &name, addr, running.serve(signals.until_stop("Site server", reload))).await;
    if let Some(m) = metrics {
        m.abort();
    }
    served
}

/// `acc site show --json`.
#[derive(serde::Serialize)]
struct SiteShow<'a> {
    name: &'a str,
    site_id: &'a str,
    listen: String,
    ca_file: Option<String>,
    ca_pem: Option<&'a str>,
}

fn show(d: &DataDir) -> Result<ExitCode> {
    let layout = Layout::new(&d.data_dir);
    let config = SiteConfig::load(&layout.config())?;
    let ca = std::fs::read_to_string(layout.tls_ca_cert()).ok();
    if d.json {
        let v = SiteShow {
            name: &config.name,
            site_id: &config.site_id,
            listen: config.listen.to_string(),
            ca_file: ca.as_ref().map(|_| layout.tls_ca_cert().display().to_string()),
            ca_pem: ca.as_deref(),
        };
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        crate::output::pairs(&[
            ("site:", format!("{} ({})", config.name, config.site_id)),
            ("listen:", config.listen.to_string()),
        ]);
        match ca {
            Some(pem) => out!("clients trust {}:\n{pem}", layout.tls_ca_cert().display()),
            None => outln!("TLS: certificate given at init ({})", layout.tls_cert().display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn read_password(flag: bool) -> Result<Secret> {
    let pw = password_from_stdin(flag)?;
    if pw.is_empty() {
        bail!("password: is empty; enter a password");
    }
    Ok(Secret::new(pw))
}

async fn accounts(c: AccountsCommand) -> Result<ExitCode> {
    let (dir, request, json, verb) = match c {
        AccountsCommand::Add(a) => {
            let password = read_password(a.password_stdin)?;
            (
                a.dir,
                Request::AccountsAdd { name: a.name.clone(), password },
                false,
                format!("account '{}' created", a.name),
            )
        }
        AccountsCommand::SetPassword(a) => {
            let password = read_password(a.password_stdin)?;
            (
                a.dir,
                Request::AccountsSetPassword { name: a.name.clone(), password },
                false,
                format!("password of '{}' set", a.name),
            )
        }
        AccountsCommand::List(d) => {
            let json = d.json;
            (d, Request::AccountsList, json, String::new())
        }
        AccountsCommand::Show(a) => {
            let json = a.dir.json;
            (a.dir, Request::AccountsShow { name: a.name }, json, String::new())
        }
        AccountsCommand::Enable(a) => (
            a.dir,
            Request::AccountsEnable { name: a.name.clone() },
            false,
            format!("account '{}' enabled", a.name),
        ),
        AccountsCommand::Disable(a) => (
            a.dir,
            Request::AccountsDisable { name: a.name.clone() },
            false,
            format!("account '{}' disabled", a.name),
        ),
        AccountsCommand::Remove(a) => (
            a.dir,
            Request::AccountsRemove { name: a.name.clone() },
            false,
            format!("account '{}' removed", a.name),
        ),
        AccountsCommand::Unlock(a) => (
            a.dir,
            Request::AccountsUnlock { name: a.name.clone(), sources: a.sources },
            false,
            format!("account '{}' unlocked", a.name),
        ),
    };
    let is_query = matches!(request, Request::AccountsList | Request::AccountsShow { .. });
    let v = call(&dir.data_dir, request).await?;
    if json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else if is_query {
        let rows = if v.is_array() { v.as_array().cloned().unwrap_or_default() } else { vec![v] };
        let mut table =
            Table::new(["NAME", "STATE", "CREATED", "BLOCKED", "LOCKS/24H", "SID"]).right(&[3, 4]);
        for r in rows {
            let s = |k: &str| r[k].as_str().unwrap_or("").to_string();
            table.row([
                s("name"),
                s("state"),
                s("created_by"),
                r["blocked_sources"].to_string(),
                r["lockouts_24h"].to_string(),
                s("sid"),
            ]);
        }
        table.print();
    } else {
        outln!("{verb}");
    }
    Ok(ExitCode::SUCCESS)
}

async fn policy_set(a: PolicySetArgs) -> Result<ExitCode> {
    let dir = &a.dir.data_dir;
    let mut admin = Admin::open(dir).await?;
    let mut value = admin.request(dir, Request::PolicyShow).await?;
    let current_max = value.get("event_log_max_size").and_then(Value::as_u64);
    if let Value::Object(m) = &mut value {
        m.remove("event_log_max_size");
    }
    let current: LockoutPolicy = serde_json::from_value(value.clone())?;
    if let (Value::Object(m), Value::Object(change)) = (&mut value, serde_json::to_value(a.lockout.change())?)
    {
        m.extend(change);
    }
    let p: LockoutPolicy = serde_json::from_value(value)?;
    let max_size = a.event_log.event_log_max_size;
    if p == current && max_size.is_none_or(|m| Some(m) == current_max) {
        outln!("unchanged");
        return Ok(ExitCode::SUCCESS);
    }
    let v = admin.request(dir, Request::PolicySet { policy: p, event_log_max_size: max_size }).await?;
    for w in v["warnings"].as_array().into_iter().flatten() {
        errln!("{}", w.as_str().unwrap_or_default());
    }
    outln!("lockout policy saved");
    if let Some(bytes) = max_size {
        outln!("event log maximum size: {}", acc_core::event::retention::format_size(bytes));
    }
    Ok(ExitCode::SUCCESS)
}

/// `acc site events`: pages from the site, printed as they arrive.
async fn events(a: EventsArgs) -> Result<ExitCode> {
    let mut admin = Admin::open(&a.data_dir).await?;
    let s = a.search;
    let mut q = EventQuery {
        id: s.id,
        user: s.user,
        since_ms: s.since.map(since_ms),
        before_seq: s.before_seq,
        limit: Some(s.limit),
        all: s.all,
        cursor: None,
    };
    let mut out = Printer::new(s.json, false);
    loop {
        let page: EventPage =
            serde_json::from_value(admin.request(&a.data_dir, Request::Events(q.clone())).await?)?;
        out.page(&page.events)?;
        match page.next {
            Some(next) if !out.closed() => q.cursor = Some(next),
            _ => break,
        }
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}
