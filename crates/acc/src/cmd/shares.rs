//! `acc site shares add|list|grant|revoke`: the shares of a site server and their ACLs at
//! the share and file levels. Sent to the running server (takes effect at once) or carried
//! out on the data directory when none runs; validation happens in acc-site, so both paths
//! give the same one-line errors. The arguments and the listing serve `acc ctl share` too,
//! which is all of this module the Windows binary has.

#[cfg(unix)]
use std::process::ExitCode;

use acc_core::acl::{AceTarget, GrantArgs};
#[cfg(unix)]
use acc_site::admin::Request;
#[cfg(unix)]
use acc_site::shares::admin::SharesRequest;
#[cfg(unix)]
use anyhow::Result;
use clap::Args;
#[cfg(unix)]
use clap::Subcommand;
use serde_json::Value;

#[cfg(unix)]
use crate::cmd::site::data_dir::{DataDir, call};
use crate::output::Table;

#[cfg(unix)]
#[derive(Debug, Subcommand)]
pub enum SharesCommand {
    /// Create a share and its folder DIR/shares/NAME (empty ACLs: nobody can read it yet).
    Add(AddArgs),
    /// List shares with their share-level and file-level ACLs.
    List(DataDir),
    /// Grant a principal read, change or full at the share or the file level.
    Grant(GrantCmd),
    /// Remove a principal's Allow at the share or the file level.
    Revoke(RevokeCmd),
}

#[cfg(unix)]
#[derive(Debug, Args)]
pub struct AddArgs {
    #[command(flatten)]
    pub spec: AddSpec,
    #[command(flatten)]
    dir: DataDir,
}

/// A new share: its name and starting ACLs (the same for `acc site shares add` and
/// `acc ctl share add`).
#[derive(Debug, Args, serde::Serialize)]
pub struct AddSpec {
    /// The share name: lower-case letters, digits and '-'.
    pub name: String,
    /// Start with the defaults' ACLs: group Agents may Read at both levels.
    #[arg(long)]
    pub agents_read: bool,
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The share.
    pub share: String,
    /// Who: a local account (ACC_user), cert:CN=<name>, a group (Agents, Everyone …) or DOMAIN\name.
    pub principal: String,
}

#[derive(Debug, Args)]
pub struct LevelArgs {
    /// share (the share's own ACL) or file (a folder or file in it).
    #[arg(long, value_name = "share|file")]
    pub level: String,
    /// With --level file: the folder or file, relative to the share root (default: the root).
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
}

/// What a grant names: share, principal, right, level and path.
#[derive(Debug, Args)]
pub struct GrantSpec {
    #[command(flatten)]
    pub target: TargetArgs,
    /// read, change or full.
    #[arg(value_name = "read|change|full")]
    pub right: String,
    #[command(flatten)]
    pub level: LevelArgs,
}

impl GrantSpec {
    /// The request form.
    pub fn args(self) -> GrantArgs {
        GrantArgs { target: ace_target(self.target, self.level), right: self.right }
    }
}

/// What a revocation names: share, principal, level and path.
#[derive(Debug, Args)]
pub struct RevokeSpec {
    #[command(flatten)]
    pub target: TargetArgs,
    #[command(flatten)]
    pub level: LevelArgs,
}

impl RevokeSpec {
    /// The request form.
    pub fn target(self) -> AceTarget {
        ace_target(self.target, self.level)
    }
}

#[cfg(unix)]
#[derive(Debug, Args)]
pub struct GrantCmd {
    #[command(flatten)]
    spec: GrantSpec,
    #[command(flatten)]
    dir: DataDir,
}

#[cfg(unix)]
#[derive(Debug, Args)]
pub struct RevokeCmd {
    #[command(flatten)]
    spec: RevokeSpec,
    #[command(flatten)]
    dir: DataDir,
}

fn ace_target(t: TargetArgs, l: LevelArgs) -> AceTarget {
    AceTarget { share: t.share, principal: t.principal, level: l.level, path: l.path }
}

/// Runs one `acc site shares` command.
#[cfg(unix)]
pub async fn run(command: SharesCommand) -> Result<ExitCode> {
    let (dir, request) = match command {
        SharesCommand::Add(a) => {
            (a.dir, SharesRequest::Add { name: a.spec.name, agents_read: a.spec.agents_read })
        }
        SharesCommand::List(d) => (d, SharesRequest::List),
        SharesCommand::Grant(g) => (g.dir, SharesRequest::Grant(g.spec.args())),
        SharesCommand::Revoke(r) => (r.dir, SharesRequest::Revoke(r.spec.target())),
    };
    // What was done, and what was already so (`unchanged`: exit 0 all the same).
    let (summary, already) = match &request {
        SharesRequest::Add { name, agents_read: true } => {
            (format!("share '{name}' created; Agents may read it"), String::new())
        }
        SharesRequest::Add { name, .. } => (
            format!(
                "share '{name}' created; nobody can read it yet: grant Read at both levels, e.g. `acc site shares grant {name} Agents read --level share` and `--level file`"
            ),
            String::new(),
        ),
        SharesRequest::Grant(g) => (
            format!(
                "granted {} to '{}' at the {} level of {}",
                g.right,
                g.target.principal,
                g.target.level,
                shown(&g.target)
            ),
            format!(
                "'{}' already has {} at the {} level of {}",
                g.target.principal,
                g.right,
                g.target.level,
                shown(&g.target)
            ),
        ),
        SharesRequest::Revoke(t) => (
            format!("revoked '{}' at the {} level of {}", t.principal, t.level, shown(t)),
            format!("'{}' has no Allow at the {} level of {}", t.principal, t.level, shown(t)),
        ),
        SharesRequest::List => (String::new(), String::new()),
    };
    let v = call(&dir.data_dir, Request::Shares(request)).await?;
    if dir.json {
        outln!("{}", serde_json::to_string_pretty(&v)?);
    } else if summary.is_empty() {
        print_list(&v);
    } else if v["changed"] == Value::Bool(false) {
        outln!("unchanged: {already}");
    } else {
        outln!("{summary}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(unix)]
fn shown(t: &AceTarget) -> String {
    match &t.path {
        Some(p) => format!("'{}/{}'", t.share, p),
        None => format!("'{}'", t.share),
    }
}

pub fn print_list(v: &Value) {
    let mut table = Table::new(["SHARE", "LEVEL", "OBJECT", "KIND", "PRINCIPAL", "RIGHT"]);
    for share in v.as_array().into_iter().flatten() {
        let name = share["name"].as_str().unwrap_or("");
        let mut row = |level: &str, object: &str, ace: &Value| {
            let s = |k: &str| ace[k].as_str().unwrap_or("").to_string();
            table.row([
                name.to_string(),
                level.into(),
                object.into(),
                s("kind"),
                s("principal"),
                format!("{} ({})", s("right"), s("mask")),
            ]);
        };
        for ace in share["share_acl"].as_array().into_iter().flatten() {
            row("share", "-", ace);
        }
        for object in share["file_acls"].as_array().into_iter().flatten() {
            let path = object["path"].as_str().unwrap_or("");
            let path = if path.is_empty() { "/" } else { path };
            for ace in object["aces"].as_array().into_iter().flatten() {
                row("file", path, ace);
            }
        }
        if share["share_acl"].as_array().is_none_or(Vec::is_empty)
            && share["file_acls"].as_array().is_none_or(Vec::is_empty)
        {
            table.row([name, "-", "-", "-", "-", "(no ACEs: nobody can read it)"]);
        }
    }
    table.print();
}
