//! `acc ctl site-token create` and `acc ctl sites`.

use std::process::ExitCode;

use acc_proto::admin::{CreatedToken, SiteList, SiteView, TokenTerms};
use acc_proto::task::{TaskKind, TaskRequest, TaskSent, TaskTarget};
use anyhow::Result;
use clap::{Args, Subcommand};

use super::Ctl;
use super::settings::{JsonFlag, or_dash, time_text};
use crate::output::Table;
use acc_core::units::parse_secs;

#[derive(Debug, Subcommand)]
pub enum SiteTokenCommand {
    /// Create a join token for `acc site join`; prints the token alone on standard output.
    Create(SiteTokenArgs),
}

#[derive(Debug, Args)]
pub struct SiteTokenArgs {
    /// How long the token can be used (e.g. 1h).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs, default_value = "1h")]
    ttl: u64,
    /// How many site servers may join with it.
    #[arg(long, value_name = "N", default_value_t = 1)]
    uses: u32,
}

/// `acc ctl site-token create`.
pub async fn site_token(ctl: &mut Ctl, c: SiteTokenCommand) -> Result<ExitCode> {
    let SiteTokenCommand::Create(a) = c;
    let terms = TokenTerms { ttl_secs: Some(a.ttl), uses: Some(a.uses), reenroll: false };
    let created: CreatedToken = ctl.exchange("POST", "/v1/site-tokens", &terms).await?;
    outln!("{}", created.token);
    Ok(ExitCode::SUCCESS)
}

/// The ACC account's state on a site, from its report (`-` before the first).
fn acc_state(site: &SiteView) -> String {
    if site.accounts.is_empty() {
        return "-".into();
    }
    site.accounts.iter().map(|a| format!("{} {}", a.name, a.state)).collect::<Vec<_>>().join(", ")
}

/// `acc ctl sites`.
pub async fn sites(ctl: &mut Ctl, j: JsonFlag) -> Result<ExitCode> {
    let v: SiteList = ctl.fetch("GET", "/v1/sites").await?;
    if j.json {
        outln!("{}", serde_json::to_string_pretty(&v.sites)?);
        return Ok(ExitCode::SUCCESS);
    }
    let current = v.revision;
    let now_ms = crate::cmd::common::since_ms(0);
    let mut table = Table::new(["site", "url", "revision", "last contact", "CRL age", "error", "ACC"]);
    for s in &v.sites {
        let applied = match s.applied_revision {
            Some(r) if r == current => format!("{r}"),
            Some(r) => format!("{r} (of {current})"),
            None => "-".into(),
        };
        table.row([
            s.name.clone(),
            s.url.clone(),
            applied,
            time_text(Some(s.last_contact)),
            s.crl_age(now_ms),
            or_dash(s.error.as_deref()),
            acc_state(s),
        ]);
    }
    table.print();
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Send a task: `update-config` makes every target fetch its policy now.
    Send(TaskSendArgs),
}

#[derive(Debug, Args)]
pub struct TaskSendArgs {
    /// The task type (update-config).
    #[arg(value_name = "TYPE")]
    kind: String,
    /// sites, agents or all.
    #[arg(long, value_name = "TARGETS", default_value = "all")]
    to: String,
}

/// `acc ctl task send`.
pub async fn task(ctl: &mut Ctl, c: TaskCommand) -> Result<ExitCode> {
    let TaskCommand::Send(a) = c;
    let kind: TaskKind = a.kind.parse().map_err(|e| anyhow::anyhow!("task type {e}"))?;
    let to: TaskTarget = a.to.parse().map_err(|e| anyhow::anyhow!("--to {e}"))?;
    let sent: TaskSent = ctl.exchange("POST", "/v1/tasks", &TaskRequest { kind, to }).await?;
    outln!("{} sent to {} site server(s) and {} agent(s)", sent.kind.as_str(), sent.sites, sent.agents);
    Ok(ExitCode::SUCCESS)
}
