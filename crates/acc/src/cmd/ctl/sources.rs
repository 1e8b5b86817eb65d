//! `acc ctl share list|add|grant|revoke`: the package sources' ACLs on the management server,
//! with the same arguments as `acc site shares`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use serde_json::Value;

use super::Ctl;
use super::settings::{JsonFlag, print_saved};
use crate::cmd::shares::{AddSpec, GrantSpec, RevokeSpec, print_list};

#[derive(Debug, Subcommand)]
pub enum ShareCommand {
    /// The package sources with their share-level and file-level ACLs.
    List(JsonFlag),
    /// Add a package source (a revision); sites create it when they replicate into it.
    Add(AddSpec),
    /// Grant a principal read, change or full on a package source (a revision).
    Grant(GrantSpec),
    /// Remove a principal's Allow on a package source (a revision).
    Revoke(RevokeSpec),
}

/// `acc ctl share …`.
pub async fn share(ctl: &mut Ctl, c: ShareCommand) -> Result<ExitCode> {
    match c {
        ShareCommand::List(j) => {
            let v = ctl.call("GET", "/v1/shares", None).await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v["shares"])?);
            } else {
                print_list(&v["shares"]);
            }
        }
        ShareCommand::Add(a) => {
            print_saved(&ctl.call("POST", "/v1/shares", Some(&serde_json::to_value(&a)?)).await?);
        }
        ShareCommand::Grant(g) => {
            let args: Value = serde_json::to_value(g.args())?;
            print_saved(&ctl.call("POST", "/v1/shares/grant", Some(&args)).await?);
        }
        ShareCommand::Revoke(r) => {
            let target: Value = serde_json::to_value(r.target())?;
            print_saved(&ctl.call("POST", "/v1/shares/revoke", Some(&target)).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
