//! `acc server`: set up and run the management server.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use acc_core::password::Secret;
use acc_server::backup::{backup, restore, stream::KdfCost};
use acc_server::init::{InitOptions, init};
use acc_server::layout::Layout;
use acc_server::store::PostgresTarget;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};

use crate::cmd::common::{
    RunArgs, Signals, hostname, read_secret_file, read_stdin_line, runtime, serve_role,
};

/// The default listen address of a management server.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";

#[derive(Debug, Subcommand)]
pub enum ServerCommand {
    /// Make a data directory: fleet CA, TLS certificate, vault key, App ID, admin token, console user admin.
    Init(InitArgs),
    /// Run the management server (HTTPS) until interrupted.
    Run(RunArgs),
    /// Write the whole server (database, vault key, fleet CA, TLS, config, packages) to one
    /// file sealed with a passphrase; works while the server runs.
    Backup(BackupArgs),
    /// Rebuild a data directory from a backup file (a new or empty directory).
    Restore(RestoreArgs),
    /// Move a stopped server's store from SQLite to an empty PostgreSQL database, verified
    /// (rows and a checksum per table); server.json then names the database.
    Migrate(MigrateArgs),
    /// Make the data directory of another node of a fleet on PostgreSQL from a node token
    /// (acc ctl node-token create); `acc server run` then serves the same fleet.
    Join(JoinArgs),
}

#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The node token `acc ctl node-token create` printed.
    #[arg(long, value_name = "TOKEN")]
    token: String,
    /// The new node's data directory (absent or empty).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// Where this node's `acc server run` listens (its certificate names this address).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Where sites, agents and `acc ctl` reach this node (default: https://LISTEN).
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// This node's name (default: the host name's first label, upper case).
    #[arg(long, value_name = "NAME")]
    name: Option<String>,
    /// A file whose first line is the database's password (else PGPASSFILE, ~/.pgpass).
    #[arg(long, value_name = "FILE")]
    database_password_file: Option<PathBuf>,
}

/// The passphrase that seals a backup: from a file (0600) or standard input.
#[derive(Debug, Args)]
pub struct PassphraseArgs {
    /// Read the passphrase from this file (its owner's only, 0600), or `-` for standard
    /// input (the default: one line).
    #[arg(long, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
}

/// The shortest passphrase a backup is sealed with.
const MIN_PASSPHRASE: usize = 12;

impl PassphraseArgs {
    fn read(&self) -> Result<Secret> {
        let text = match &self.passphrase_file {
            Some(p) if p.as_os_str() != "-" => read_secret_file(p, "passphrase")?,
            _ => read_stdin_line("passphrase")?,
        };
        if text.is_empty() {
            bail!("the passphrase is empty; give it with --passphrase-file FILE or on standard input");
        }
        Ok(Secret::new(text))
    }
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// The management server's data directory.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The backup file to write (0600; outside the data directory).
    #[arg(value_name = "FILE")]
    file: PathBuf,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    /// Replace FILE when it exists.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The backup file `acc server backup` wrote.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// The data directory to rebuild (new or empty).
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    #[command(flatten)]
    passphrase: PassphraseArgs,
    /// Replace a data directory that is not empty (no server may be running on it).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The data directory of the (stopped) management server.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The empty PostgreSQL database: postgres://USER@HOST[:PORT]/DB[?sslmode=…].
    #[arg(long, value_name = "URL")]
    to: String,
    /// A file whose first line is the database's password (else PGPASSFILE, ~/.pgpass).
    #[arg(long, value_name = "FILE")]
    database_password_file: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The data directory to create.
    #[arg(long, value_name = "DIR")]
    data_dir: PathBuf,
    /// The directory's NetBIOS domain name (e.g. CORP).
    #[arg(long, value_name = "NAME")]
    domain: String,
    /// The App ID's account name in the directory.
    #[arg(long, value_name = "NAME", default_value = "svc_acc_app")]
    app_id: String,
    /// Where `acc server run` listens (its certificate names this address).
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// The organisation's name, which no ACC password may be (kept in server.json).
    #[arg(long, value_name = "NAME", default_value = "")]
    organisation: String,
    /// Connections one address may hold before one of its requests authenticated (default
    /// 1024); a new one beyond that closes that address's oldest unauthenticated one.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    max_unauthenticated_per_address: Option<u32>,
    /// Keep the store in this PostgreSQL database (postgres://USER@HOST[:PORT]/DB, with
    /// ?sslmode=disable|prefer|require|verify-full as libpq reads it) instead of the SQLite
    /// file server.db; kept in server.json for `acc server run`. The database must be empty.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// A file whose first line is the database's password (else PGPASSFILE, ~/.pgpass).
    #[arg(long, value_name = "FILE", requires = "database")]
    database_password_file: Option<PathBuf>,
}

/// Runs one `acc server` command.
pub fn run(command: ServerCommand) -> Result<ExitCode> {
    runtime()?.block_on(async {
        match command {
            ServerCommand::Init(a) => {
                let database = match &a.database {
                    Some(url) => Some(PostgresTarget::parse(url, a.database_password_file.as_deref())?),
                    None => None,
                };
                let opts = InitOptions {
                    data_dir: a.data_dir.clone(),
                    domain: a.domain,
                    app_id: a.app_id,
                    listen: a.listen,
                    hostname: hostname(),
                    organisation: a.organisation,
                    max_unauthenticated_per_address: a.max_unauthenticated_per_address.map(|n| n as usize),
                    database,
                };
                let config = init(&opts).await?;
                let layout = Layout::new(&a.data_dir);
                outln!("management server {} initialised in {}", config.name, a.data_dir.display());
                let mut rows = vec![
                    ("  url:", config.url.clone()),
                    ("  fleet CA:", layout.ca_cert().display().to_string()),
                    ("  database:", config.store_target(&layout).describe()),
                    ("  admin token:", format!("{} (0600; keep it secret)", layout.admin_token().display())),
                    ("  console:", format!("{}/ui/ (user admin)", config.url)),
                    (
                        "  admin password:",
                        format!(
                            "{} (0600; change it after the first sign-in)",
                            layout.admin_password().display()
                        ),
                    ),
                    ("  App ID:", format!("{} (its password is in the vault)", config.app_id_display())),
                ];
                if !config.organisation.is_empty() {
                    rows.push((
                        "  organisation:",
                        format!("{} (no ACC password may be it)", config.organisation),
                    ));
                }
                crate::output::pairs(&rows);
                outln!(
                    "try: acc ctl --server {} --ca {} --token-file {} settings show",
                    config.url,
                    layout.ca_cert().display(),
                    layout.admin_token().display()
                );
                Ok(ExitCode::SUCCESS)
            }
            ServerCommand::Join(a) => {
                let opts = acc_server::node_join::JoinOptions {
                    data_dir: a.data_dir.clone(),
                    token: a.token,
                    listen: a.listen,
                    url: a.url,
                    name: a.name,
                    hostname: hostname(),
                    database_password_file: a.database_password_file,
                };
                let config = acc_server::node_join::join(&opts).await?;
                let layout = Layout::new(&a.data_dir);
                outln!("management server node {} joined; its data directory is {}", config.name, a.data_dir.display());
                crate::output::pairs(&[
                    ("  url:", config.url.clone()),
                    ("  fleet CA:", layout.ca_cert().display().to_string()),
                    ("  database:", config.store_target(&layout).describe()),
                ]);
                outln!("run it: acc server run --data-dir {}", a.data_dir.display());
                Ok(ExitCode::SUCCESS)
            }
            ServerCommand::Migrate(a) => {
                let to = PostgresTarget::parse(&a.to, a.database_password_file.as_deref())?;
                let url = to.url.clone();
                let copied =
                    acc_server::store::transfer::migrate_server(&Layout::new(&a.data_dir), to).await?;
                for c in &copied {
                    outln!("  {:<20} {:>9} rows  sha256 {}", c.table, c.rows, c.checksum);
                }
                outln!(
                    "store copied to {url} and verified; server.json names it (server.db is left as a backup)"
                );
                Ok(ExitCode::SUCCESS)
            }
            ServerCommand::Run(a) => {
                let exporter = match a.metrics_listen {
                    Some(addr) => Some(crate::metrics::Exporter::install(addr).await?),
                    None => None,
                };
                let running = acc_server::run::start(Layout::new(&a.data_dir), a.listen).await?;
                let signals = Signals::install()?;
                let metrics = match exporter {
                    Some(e) => {
                        let server = running.server().clone();
                        Some(e.serve(
                            move || {
                                acc_server::metrics::observe(&server);
                                Box::pin(async {})
                            },
                            running.readiness(),
                        )?)
                    }
                    None => None,
                };
                let addr = running.local_addr()?;
                let name = running.server().config().name.clone();
                let reload = running.tls_reloader();
                let reload = move || {
                    reload().map_err(|e| e.to_string())?;
                    Ok("TLS certificate and key, fleet CA and trusted operator CAs reloaded".to_string())
                };
                let stop = signals.until_stop("Management server", reload);
                let served = serve_role("management server", &name, addr, running.serve(stop)).await;
                if let Some(m) = metrics {
                    m.abort();
                }
                served
            }
            ServerCommand::Backup(a) => {
                let passphrase = a.passphrase.read()?;
                let chars = passphrase.code_points();
                if chars < MIN_PASSPHRASE {
                    bail!("the passphrase is {chars} characters; a backup needs at least {MIN_PASSPHRASE}");
                }
                let layout = Layout::new(&a.data_dir);
                let summary = backup(&layout, &a.file, &passphrase, KdfCost::DEFAULT, a.force)
                    .await
                    .with_context(|| format!("backup of {}", a.data_dir.display()))?;
                outln!(
                    "backup of {} written to {}: {} files, {} bytes, sealed with the passphrase (keep it apart from the file)",
                    a.data_dir.display(),
                    a.file.display(),
                    summary.files,
                    summary.bytes
                );
                Ok(ExitCode::SUCCESS)
            }
            ServerCommand::Restore(a) => {
                let passphrase = a.passphrase.read()?;
                let summary = restore(&a.file, &a.data_dir, &passphrase, a.force)
                    .await
                    .with_context(|| a.file.display().to_string())?;
                outln!(
                    "{} restored into {}: {} files, {} bytes; start it with `acc server run --data-dir {}`",
                    a.file.display(),
                    a.data_dir.display(),
                    summary.files,
                    summary.bytes,
                    a.data_dir.display()
                );
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}
