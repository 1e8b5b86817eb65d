//! `acc ctl events`: the security events of every site server, searched on the
//! management server.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Ctl;
use crate::cmd::common::{print_events, since_ms};
use acc_core::units::parse_secs;

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only this EventID (4740, 4625, acc.refresh …).
    #[arg(long, value_name = "ID")]
    id: Option<String>,
    /// Only events of this site server.
    #[arg(long, value_name = "SITE")]
    site: Option<String>,
    /// Only events about this account (TargetUserName).
    #[arg(long, value_name = "USER")]
    user: Option<String>,
    /// Only events of the last DURATION (e.g. 1h, 30m).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    since: Option<u64>,
    /// At most the N most recent.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    limit: u32,
    /// JSON for scripts.
    #[arg(long)]
    json: bool,
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// `acc ctl events`.
pub async fn events(ctl: &mut Ctl, a: EventsArgs) -> Result<ExitCode> {
    let mut q = vec![format!("limit={}", a.limit)];
    for (k, v) in [("id", &a.id), ("site", &a.site), ("user", &a.user)] {
        if let Some(v) = v {
            q.push(format!("{k}={}", encode(v)));
        }
    }
    if let Some(s) = a.since {
        q.push(format!("since_ms={}", since_ms(s)));
    }
    let v = ctl.call("GET", &format!("/v1/events?{}", q.join("&")), None).await?;
    let events = v["events"].as_array().cloned().unwrap_or_default();
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        print_events(&events, true);
    }
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
    let v = ctl.call("GET", &format!("/v1/lockouts?since_ms={}", since_ms(a.since)), None).await?;
    let list = v["lockouts"].as_array().cloned().unwrap_or_default();
    if a.json {
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    if list.is_empty() {
        outln!("no lockouts in that time");
    }
    for l in &list {
        let s = |k: &str| l[k].as_str().map(str::to_string).unwrap_or_else(|| l[k].to_string());
        let state = if l["cleared"] == true { "cleared" } else { "in force or expired" };
        outln!(
            "{} on {}: {} lock by {} ({}), {} failed logons, {} lock(s), last {} [{state}]",
            s("account"),
            s("site"),
            s("scope"),
            s("caller"),
            s("ip"),
            l["failures"],
            l["lockouts"],
            s("last_lockout")
        );
        if let Some(rev) = l["agent_revision"].as_i64() {
            outln!("  its agent runs policy revision {rev} (acc ctl agents)");
        }
        outln!("  what to do: {}", s("advice"));
    }
    Ok(ExitCode::SUCCESS)
}
