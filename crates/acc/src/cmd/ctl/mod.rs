//! `acc ctl`: the management server's admin CLI over its REST API. The server, its CA and
//! the bearer token come from `--server`, `--ca`, `--token-file` or `ACC_SERVER`,
//! `ACC_CA_FILE`, `ACC_TOKEN_FILE` (`ACC_TOKEN` holds the token itself). Tables for people,
//! `--json` for scripts; a refusal exits 1 with the server's message, one line per problem.
//! `--server` may list several management server nodes (`https://a:8443,https://b:8443`):
//! the first that answers is used, and a request that reached no node (or a `GET` a node
//! could not serve: 502, 503, 504, a broken connection) goes to the next one.

mod certs;
mod credential;
mod directory;
mod events;
mod fleet;
mod nodes;
mod packages;
mod settings;
mod sources;
mod users;

use std::path::PathBuf;
use std::process::ExitCode;

use acc_core::password::PasswordError;
use acc_net::client::{ClientError, ClientTls, Connection, Endpoint, Response, node_unavailable};
use acc_proto::admin::ApiErrorBody;
use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};
use serde_json::Value;

use crate::cmd::common::runtime;

#[derive(Debug, Args)]
pub struct CtlArgs {
    /// The management server's URL (https://host:port), or several nodes' separated by
    /// commas, tried in order.
    #[arg(long, global = true, env = "ACC_SERVER", value_name = "URL[,URL…]")]
    server: Option<String>,
    /// The fleet CA certificate (the server's DIR/tls/ca.crt).
    #[arg(long, global = true, env = "ACC_CA_FILE", value_name = "FILE")]
    ca: Option<PathBuf>,
    /// A file holding the bearer token (0600), such as the server's DIR/admin-token.
    #[arg(long, global = true, env = "ACC_TOKEN_FILE", value_name = "FILE")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// Global agent and site server settings.
    #[command(subcommand)]
    Settings(settings::SettingsCommand),
    /// Policy revisions: history, one revision, differences.
    #[command(subcommand)]
    Policy(settings::PolicyCommand),
    /// API tokens and their roles.
    #[command(subcommand)]
    Token(settings::TokenCommand),
    /// The Agent Connectivity Credential: rotation and its status.
    #[command(subcommand)]
    Credential(credential::CredentialCommand),
    /// The security events of every site server.
    Events(events::EventsArgs),
    /// Locked accounts and blocked sources of every site, with the culprit machine.
    Lockouts(events::LockoutsArgs),
    /// Enrollment tokens for agents.
    #[command(subcommand)]
    EnrollToken(certs::EnrollTokenCommand),
    /// Enrolled agents.
    Agents(settings::JsonFlag),
    /// Certificates of the fleet CA: list, revoke.
    #[command(subcommand)]
    Cert(certs::CertCommand),
    /// Operator CAs site servers accept for agent certificates.
    #[command(subcommand)]
    Trust(certs::TrustCommand),
    /// Tasks for site servers and agents (update-config).
    #[command(subcommand)]
    Task(fleet::TaskCommand),
    /// The package sources' ACLs (share and file level).
    #[command(subcommand)]
    Share(sources::ShareCommand),
    /// The directory's domain accounts: list, add, unlock.
    #[command(subcommand)]
    Directory(directory::DirectoryCommand),
    /// Packages: add a version, assign it to site servers, list them.
    #[command(subcommand)]
    Package(packages::PackageCommand),
    /// Join tokens for site servers.
    #[command(subcommand)]
    SiteToken(fleet::SiteTokenCommand),
    /// The site servers: applied revision, the ACC account's state, last contact.
    Sites(settings::JsonFlag),
    /// The web console's users: add, list, remove, set-password.
    #[command(subcommand)]
    User(users::UserCommand),
    /// The management server nodes on one PostgreSQL store: list, remove.
    #[command(subcommand)]
    Node(nodes::NodeCommand),
    /// Join tokens for management server nodes (`acc server join`).
    #[command(subcommand)]
    NodeToken(nodes::NodeTokenCommand),
}

/// A connection to a management server node with the caller's token.
pub struct Ctl {
    conn: Connection,
    token: String,
    tls: ClientTls,
    /// Every node given, in order, and the one `conn` is to.
    nodes: Vec<Endpoint>,
    current: usize,
}

impl Ctl {
    async fn connect(a: &CtlArgs) -> Result<Ctl> {
        let urls = acc_core::failover::split_list(a.server.as_deref().unwrap_or_default());
        if urls.is_empty() {
            bail!(
                "no server: give --server https://HOST:PORT (or several, separated by commas) or set ACC_SERVER"
            );
        }
        let nodes = urls.iter().map(|u| Endpoint::parse(u)).collect::<Result<Vec<_>, _>>()?;
        let ca_path = a
            .ca
            .as_ref()
            .ok_or_else(|| anyhow!("no CA: give --ca FILE (the server's tls/ca.crt) or set ACC_CA_FILE"))?;
        let ca = std::fs::read(ca_path)
            .with_context(|| format!("{}: cannot read the CA file", ca_path.display()))?;
        let tls = ClientTls::new(&ca, None).with_context(|| ca_path.display().to_string())?;
        let token = token(a)?;
        let (conn, first) = Connection::open_first(&tls, &urls).await?;
        let current = urls.iter().position(|u| *u == first).unwrap_or(0);
        Ok(Ctl { conn, token, tls, nodes, current })
    }

    /// Sends one request to the node in use; when it never reached that node, or it is a
    /// `GET` the node could not serve (a broken connection, 502, 503, 504), to the next
    /// nodes in turn. Other requests are not repeated: the node may have done them.
    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        bytes: Bytes,
    ) -> Result<Response> {
        let repeatable = method == "GET";
        let mut failures = Vec::new();
        for step in 0..self.nodes.len() {
            if step > 0 {
                self.current = (self.current + 1) % self.nodes.len();
                match Connection::open(&self.tls, &self.nodes[self.current]).await {
                    Ok(conn) => self.conn = conn,
                    Err(e) => {
                        failures.push(e.to_string());
                        continue;
                    }
                }
            }
            let node = &self.nodes[self.current];
            match self.conn.send(method, path, headers, bytes.clone()).await {
                Ok(resp) if repeatable && node_unavailable(resp.status.as_u16()) => {
                    failures.push(format!("{node} answered {}", resp.status));
                    if step + 1 == self.nodes.len() {
                        return Ok(resp);
                    }
                }
                Ok(resp) => return Ok(resp),
                Err(e) if repeatable || e.never_reached() => failures.push(format!("{node}: {e}")),
                Err(e) => return Err(anyhow!("{node}: {e}")),
            }
        }
        Err(no_node(&self.nodes, &failures))
    }

    /// Sends `body` (an `acc_proto` request type) as JSON; the JSON answer of a 2xx.
    pub async fn post<B: serde::Serialize + ?Sized>(
        &mut self,
        method: &str,
        path: &str,
        body: &B,
    ) -> Result<Value> {
        let bytes = serde_json::to_vec(body).context("the request body")?;
        self.send(method, path, Some("application/json"), Bytes::from(bytes)).await
    }

    /// [`Ctl::post`], the answer read as `R` (an `acc_proto` answer type).
    pub async fn exchange<B, R>(&mut self, method: &str, path: &str, body: &B) -> Result<R>
    where
        B: serde::Serialize + ?Sized,
        R: serde::de::DeserializeOwned,
    {
        let v = self.post(method, path, body).await?;
        serde_json::from_value(v).with_context(|| format!("{method} {path}: the server's answer"))
    }

    /// A request without a body (`GET`, or a `POST` that names all in its path), the
    /// answer read as `R` (an `acc_proto` answer type).
    pub async fn fetch<R: serde::de::DeserializeOwned>(&mut self, method: &str, path: &str) -> Result<R> {
        let v = self.send(method, path, None, Bytes::new()).await?;
        serde_json::from_value(v).with_context(|| format!("{method} {path}: the server's answer"))
    }

    /// Sends `bytes` as `content_type`; the JSON answer of a 2xx, or the server's message.
    pub async fn send(
        &mut self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        bytes: Bytes,
    ) -> Result<Value> {
        let auth = format!("Bearer {}", self.token);
        let mut headers = vec![("authorization", auth.as_str()), ("accept", "application/json")];
        if let Some(t) = content_type {
            headers.push(("content-type", t));
        }
        let resp = self.request(method, path, &headers, bytes).await?;
        let value: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        if resp.status.is_success() {
            return Ok(value);
        }
        let Ok(refusal) = serde_json::from_value::<ApiErrorBody>(value) else {
            bail!("{method} {path}: the server answered {}", resp.status);
        };
        // A save that would change nothing (the specification's U-NOCHANGE) is no failure.
        if let [only] = refusal.errors.as_slice()
            && only.id == PasswordError::NoChange.id()
        {
            return Err(Unchanged.into());
        }
        // One `error:` line per problem (main prints the last one).
        if let Some((last, rest)) = refusal.errors.split_last() {
            for p in rest {
                errln!("error: {}", p.message);
            }
            bail!("{}", last.message);
        }
        bail!("{}", refusal.message)
    }
}

/// Every node failed: one line naming each and what happened there.
fn no_node(nodes: &[Endpoint], failures: &[String]) -> anyhow::Error {
    if let [one] = failures {
        return anyhow!("{one}");
    }
    let nodes: Vec<String> = nodes.iter().map(ToString::to_string).collect();
    ClientError::NoNode { nodes: nodes.join(", "), failures: failures.join("; ") }.into()
}

/// The server changed nothing because everything asked for was already so: setting what
/// is set is success, and the command says `unchanged` (as `kubectl apply` does).
#[derive(Debug)]
pub struct Unchanged;

impl std::fmt::Display for Unchanged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("unchanged")
    }
}

impl std::error::Error for Unchanged {}

/// The bearer token: `ACC_TOKEN`, or the token file (refused when others may read it).
fn token(a: &CtlArgs) -> Result<String> {
    if let Ok(t) = std::env::var("ACC_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_string());
    }
    let path = a.token_file.as_ref().ok_or_else(|| {
        anyhow!("no token: give --token-file FILE (such as the server's admin-token) or set ACC_TOKEN_FILE")
    })?;
    crate::cmd::common::read_secret_file(path, "token")
}

/// Runs one `acc ctl` command.
pub fn run(a: CtlArgs) -> Result<ExitCode> {
    let done = runtime()?.block_on(async {
        let mut ctl = Ctl::connect(&a).await?;
        match a.command {
            CtlCommand::Settings(c) => settings::settings(&mut ctl, c).await,
            CtlCommand::Policy(c) => settings::policy(&mut ctl, c).await,
            CtlCommand::Token(c) => settings::token(&mut ctl, c).await,
            CtlCommand::Credential(c) => credential::credential(&mut ctl, c).await,
            CtlCommand::Events(a) => events::events(&mut ctl, a).await,
            CtlCommand::Lockouts(a) => events::lockouts(&mut ctl, a).await,
            CtlCommand::EnrollToken(c) => certs::enroll_token(&mut ctl, c).await,
            CtlCommand::Agents(j) => certs::agents(&mut ctl, j).await,
            CtlCommand::Cert(c) => certs::cert(&mut ctl, c).await,
            CtlCommand::Trust(c) => certs::trust(&mut ctl, c).await,
            CtlCommand::Task(c) => fleet::task(&mut ctl, c).await,
            CtlCommand::Share(c) => sources::share(&mut ctl, c).await,
            CtlCommand::Package(c) => packages::package(&mut ctl, c).await,
            CtlCommand::Directory(c) => directory::directory(&mut ctl, c).await,
            CtlCommand::SiteToken(c) => fleet::site_token(&mut ctl, c).await,
            CtlCommand::Sites(j) => fleet::sites(&mut ctl, j).await,
            CtlCommand::User(c) => users::user(&mut ctl, c).await,
            CtlCommand::Node(c) => nodes::node(&mut ctl, c).await,
            CtlCommand::NodeToken(c) => nodes::node_token(&mut ctl, c).await,
        }
    });
    match done {
        Err(e) if e.chain().any(|c| c.is::<Unchanged>()) => {
            outln!("unchanged");
            Ok(ExitCode::SUCCESS)
        }
        other => other,
    }
}
