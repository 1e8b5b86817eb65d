//! `acc ctl events`: the security events of every site server, searched on the
//! management server.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Ctl;
use crate::cmd::common::since_ms;
use crate::cmd::events::{Printer, SearchArgs};
use acc_core::units::parse_secs;
use acc_proto::admin::LockoutList;
use acc_proto::package::encode_component;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this site server (its name, the events' Computer).
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    /// Only events about this machine (WorkstationName or CallerComputerName, any case).
    #[arg(long, value_name = "MACHINE")]
    machine: Option<String>,
    /// Only events about this address (IpAddress).
    #[arg(long, value_name = "ADDRESS")]
    address: Option<String>,
    #[command(flatten)]
    search: SearchArgs,
}

/// `acc ctl events`: pages from the server, printed as they arrive.
pub async fn events(ctl: &mut Ctl, a: EventsArgs) -> Result<ExitCode> {
    let s = a.search;
    if s.before_seq.is_some() && a.site.is_none() {
        anyhow::bail!("--before-seq: sequence numbers are per site; give --site too");
    }
    let mut q = vec![if s.all { "all=true".to_string() } else { format!("limit={}", s.limit) }];
    for (k, v) in [
        ("id", &s.id),
        ("site", &a.site),
        ("user", &s.user),
        ("machine", &a.machine),
        ("address", &a.address),
    ] {
        if let Some(v) = v {
            q.push(format!("{k}={}", encode_component(v)));
        }
    }
    if let Some(d) = s.since {
        q.push(format!("since_ms={}", since_ms(d)));
    }
    if let Some(b) = s.before_seq {
        q.push(format!("before_seq={b}"));
    }
    let query = q.join("&");
    let mut out = Printer::new(s.json, true);
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/v1/events?{query}"),
            Some(c) => format!("/v1/events?{query}&cursor={}", encode_component(c)),
        };
        let page: acc_proto::EventPage = ctl.fetch("GET", &path).await?;
        out.page(&page.events)?;
        match page.next {
            Some(next) if !out.closed() => cursor = Some(next),
            _ => break,
        }
    }
    out.finish()?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug, Args)]
pub struct LockoutsArgs {
    /// Look back this far (default 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs, default_value = "24h")]
    since: u64,
    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// `acc ctl lockouts`.
pub async fn lockouts(ctl: &mut Ctl, a: LockoutsArgs) -> Result<ExitCode> {
    let v: LockoutList = ctl.fetch("GET", &format!("/v1/lockouts?since_ms={}", since_ms(a.since))).await?;
    let list = v.lockouts;
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        outln!("no lockouts in that time");
    }
    for l in &list {
        let state = if l.cleared { "cleared" } else { "in force or expired" };
        outln!(
            "{} on {}: {} lock by {} ({}), {} failed logons, {} lock(s), last {} [{state}]",
            l.account,
            l.site,
            l.scope,
            l.caller,
            l.ip,
            l.failures,
            l.lockouts,
            l.last_lockout
        );
        if let Some(rev) = l.agent_revision {
            outln!("  its agent runs policy revision {rev} (acc ctl agents)");
        }
        outln!("  what to do: {}", l.advice);
    }
    Ok(ExitCode::SUCCESS)
}
