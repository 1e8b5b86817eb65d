//! `acc ctl node list|remove` (the management server nodes on one PostgreSQL store) and
//! `acc ctl node-token create` (a join token for `acc server join`).

use std::process::ExitCode;

use acc_core::units::parse_secs;
use acc_proto::admin::{CreatedToken, NodeList, TokenTerms};
use anyhow::Result;
use clap::{Args, Subcommand};

use super::Ctl;
use super::settings::{JsonFlag, time_text};
use crate::output::Table;

#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// The management server nodes: name, URL, last seen (the most recent first).
    List(JsonFlag),
    /// Forget a stopped node (a running one registers again, so it is refused).
    Remove(NodeName),
}

#[derive(Debug, Args)]
pub struct NodeName {
    /// The node's name (as `acc ctl node list` shows it).
    name: String,
}

#[derive(Debug, Subcommand)]
pub enum NodeTokenCommand {
    /// Create a join token for `acc server join` (admin; the server must be on
    /// PostgreSQL); prints the token alone on standard output.
    Create(NodeTokenArgs),
}

#[derive(Debug, Args)]
pub struct NodeTokenArgs {
    /// How long the token can be used (e.g. 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs, default_value = "1h")]
    ttl: u64,
}

/// `acc ctl node …`.
pub async fn node(ctl: &mut Ctl, c: NodeCommand) -> Result<ExitCode> {
    match c {
        NodeCommand::List(j) => {
            let v: NodeList = ctl.fetch("GET", "/v1/nodes").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v.nodes)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new(["node", "url", "last seen", "joined"]);
            for n in &v.nodes {
                table.row([
                    n.name.clone(),
                    n.url.clone(),
                    time_text(Some(n.last_seen_ms)),
                    time_text(Some(n.joined_at_ms)),
                ]);
            }
            table.print();
        }
        NodeCommand::Remove(a) => {
            let name = acc_proto::package::encode_query(&a.name);
            let _: NodeList = ctl.fetch("DELETE", &format!("/v1/nodes/{name}")).await?;
            outln!("node {} removed", a.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `acc ctl node-token create`.
pub async fn node_token(ctl: &mut Ctl, c: NodeTokenCommand) -> Result<ExitCode> {
    let NodeTokenCommand::Create(a) = c;
    let terms = TokenTerms { ttl_secs: Some(a.ttl), uses: Some(1), reenroll: false };
    let created: CreatedToken = ctl.exchange("POST", "/v1/node-tokens", &terms).await?;
    outln!("{}", created.token);
    Ok(ExitCode::SUCCESS)
}
