//! `acc ctl share list|add|grant|revoke`: the package sources' ACLs on the management server,
//! with the same arguments as `acc site shares`.

use std::process::ExitCode;

use acc_proto::admin::ShareList;
use anyhow::Result;
use clap::Subcommand;

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
            let v: ShareList = ctl.fetch("GET", "/v1/shares").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v.shares)?);
            } else {
                // The listing `acc site shares list` prints too.
                print_list(&serde_json::to_value(&v.shares)?);
            }
        }
        ShareCommand::Add(a) => {
            print_saved(&ctl.exchange("POST", "/v1/shares", &a).await?);
        }
        ShareCommand::Grant(g) => {
            print_saved(&ctl.exchange("POST", "/v1/shares/grant", &g.args()).await?);
        }
        ShareCommand::Revoke(r) => {
            print_saved(&ctl.exchange("POST", "/v1/shares/revoke", &r.target()).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}
