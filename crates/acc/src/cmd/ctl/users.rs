//! `acc ctl user add|list|remove|set-password`: the web console's users and their roles.
//! Passwords come from standard input only.

use std::process::ExitCode;

use acc_proto::users::{UserAdd, UserList, UserPassword};
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::Ctl;
use super::settings::{JsonFlag, time_text};
use crate::cmd::common::password_from_stdin;
use crate::output::Table;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a console user.
    Add(AddArgs),
    /// The console users and their roles (never their passwords).
    List(JsonFlag),
    /// Remove a console user (never the last admin).
    Remove(NameArg),
    /// Set a console user's password.
    SetPassword(PasswordArgs),
}

/// What a console user may do (the roles of API tokens).
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    /// Reads every page.
    Viewer,
    /// Also sends tasks and unlocks.
    Operator,
    /// Also changes settings and users.
    Admin,
}

impl RoleArg {
    fn as_str(self) -> &'static str {
        match self {
            RoleArg::Viewer => "viewer",
            RoleArg::Operator => "operator",
            RoleArg::Admin => "admin",
        }
    }
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The user name.
    name: String,
    /// Its role.
    #[arg(long, value_enum)]
    role: RoleArg,
    /// Read the password from standard input (one line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

#[derive(Debug, Args)]
pub struct NameArg {
    /// The user name.
    name: String,
}

#[derive(Debug, Args)]
pub struct PasswordArgs {
    /// The user name.
    name: String,
    /// Read the new password from standard input (one line).
    #[arg(long, required = true)]
    password_stdin: bool,
}

/// `acc ctl user …`.
pub async fn user(ctl: &mut Ctl, c: UserCommand) -> Result<ExitCode> {
    match c {
        UserCommand::Add(a) => {
            let body = UserAdd {
                name: a.name.clone(),
                role: a.role.as_str().into(),
                password: password_from_stdin(a.password_stdin)?.into(),
            };
            let _: UserList = ctl.exchange("POST", "/v1/users", &body).await?;
            outln!("user {} created ({})", a.name, a.role.as_str());
        }
        UserCommand::List(j) => {
            let list: UserList = ctl.fetch("GET", "/v1/users").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&list.users)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new(["user", "role", "created", "password set"]);
            for u in &list.users {
                table.row([
                    u.name.clone(),
                    u.role.clone(),
                    time_text(Some(u.created_at)),
                    time_text(Some(u.password_changed_at)),
                ]);
            }
            table.print();
        }
        UserCommand::Remove(a) => {
            let name = acc_proto::package::encode_query(&a.name);
            let _: UserList = ctl.fetch("DELETE", &format!("/v1/users/{name}")).await?;
            outln!("user {} removed", a.name);
        }
        UserCommand::SetPassword(a) => {
            let name = acc_proto::package::encode_query(&a.name);
            let body = UserPassword { password: password_from_stdin(a.password_stdin)?.into() };
            let _: UserList = ctl.exchange("PUT", &format!("/v1/users/{name}/password"), &body).await?;
            outln!("password of {} set", a.name);
        }
    }
    Ok(ExitCode::SUCCESS)
}
