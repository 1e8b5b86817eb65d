//! `acc ctl events`: the security events of every site server, searched on the
//! management server.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Ctl;
use crate::cmd::common::{print_events, since_ms};
use crate::cmd::duration::parse_duration;

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
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
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
        println!("{}", serde_json::to_string_pretty(&events)?);
    } else {
        print_events(&events, true);
    }
    Ok(ExitCode::SUCCESS)
}
