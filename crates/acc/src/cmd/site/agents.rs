//! `acc site agents [forget ID]`: the agents registered with this site, with what each id
//! is bound to (its token, its certificate, or unbound when it registered before binding),
//! and the operator's release of an id (a rebuilt agent that lost its token, or an id to
//! take back): the next registration of a forgotten id binds it anew.

use std::process::ExitCode;

use acc_site::admin::Request;
use anyhow::Result;
use clap::{Args, Subcommand};

use super::data_dir::{DataDir, call};
use crate::output::Table;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct AgentsArgs {
    #[command(subcommand)]
    command: Option<AgentsCommand>,
    #[command(flatten)]
    list: Option<DataDir>,
}

#[derive(Debug, Subcommand)]
pub enum AgentsCommand {
    /// Forget an agent's registration and binding; its id binds anew at its next
    /// registration (the agent that held it registers again by itself).
    Forget(ForgetArgs),
}

#[derive(Debug, Args)]
pub struct ForgetArgs {
    /// The agent's id (as `acc site agents` lists it).
    agent_id: String,
    #[command(flatten)]
    dir: DataDir,
}

/// Runs `acc site agents …`.
pub async fn run(a: AgentsArgs) -> Result<ExitCode> {
    match (a.command, a.list) {
        (Some(AgentsCommand::Forget(f)), _) => {
            call(&f.dir.data_dir, Request::AgentsForget { agent_id: f.agent_id.clone() }).await?;
            outln!("agent '{}' forgotten; its id binds anew at its next registration", f.agent_id);
        }
        (None, Some(d)) => list(&d).await?,
        (None, None) => anyhow::bail!("--data-dir: missing; name the site's data directory"),
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(d: &DataDir) -> Result<()> {
    let v = call(&d.data_dir, Request::Agents).await?;
    if d.json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let mut table = Table::new(["AGENT", "HOST", "OS", "VERSION", "PRINCIPAL", "BOUND TO", "IP"]);
    for a in v.as_array().into_iter().flatten() {
        let f = |k: &str| a[k].as_str().unwrap_or("").to_string();
        table.row([f("agent_id"), f("host"), f("os"), f("version"), f("principal"), f("bound_to"), f("ip")]);
    }
    table.print();
    Ok(())
}
