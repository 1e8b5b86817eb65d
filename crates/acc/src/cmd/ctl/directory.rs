//! `acc ctl directory list|add|unlock`: the management server's directory, whose domain
//! accounts (the App ID, `CORP\user` credentials) site servers verify through it.

use std::process::ExitCode;

use acc_proto::admin::{DirectoryAccountAdd, DirectoryAdded, DirectoryList, DirectoryUnlocked};
use anyhow::Result;
use clap::{Args, Subcommand};

use super::Ctl;
use super::settings::{JsonFlag, or_dash};
use crate::cmd::common::password_from_stdin;
use crate::output::Table;

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Domain accounts and their state (enabled, locked, disabled).
    List(JsonFlag),
    /// Create a domain account.
    Add(AddArgs),
    /// Clear a domain account's lockout (4767).
    Unlock(UnlockArgs),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The account name (`acc_svc`, without the domain).
    name: String,
    /// Read the password from standard input (one line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// The account (`acc_svc` or `CORP\acc_svc`).
    name: String,
}

/// `acc ctl directory …`.
pub async fn directory(ctl: &mut Ctl, c: DirectoryCommand) -> Result<ExitCode> {
    match c {
        DirectoryCommand::List(j) => {
            let v: DirectoryList = ctl.fetch("GET", "/v1/directory").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v.accounts)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new(["account", "state", "retry after", "note"]).right(&[2]);
            for a in v.accounts {
                let note = if a.app_id { "the App ID" } else { "" };
                table.row([a.name, a.state.as_str().into(), or_dash(a.retry_after), note.into()]);
            }
            table.print();
        }
        DirectoryCommand::Add(a) => {
            let body =
                DirectoryAccountAdd { name: a.name, password: password_from_stdin(a.password_stdin)?.into() };
            let added: DirectoryAdded = ctl.exchange("POST", "/v1/directory", &body).await?;
            outln!("directory account {} created", added.name);
        }
        DirectoryCommand::Unlock(a) => {
            let name = acc_proto::package::encode_query(&a.name);
            let v: DirectoryUnlocked = ctl.fetch("POST", &format!("/v1/directory/{name}/unlock")).await?;
            if v.unlocked {
                outln!("{} unlocked", a.name);
            } else {
                outln!("{} was not locked; nothing changed", a.name);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
