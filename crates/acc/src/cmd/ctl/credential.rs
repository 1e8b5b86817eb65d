//! `acc ctl credential rotate|status`: the rotation of the specification's 3.2.

use std::process::ExitCode;

use acc_proto::admin::{Adoption, AuthChange, RotationStatus, SaveOutcome};
use anyhow::{Result, bail};
use clap::{Args, Subcommand};

use super::Ctl;
use super::settings::{JsonFlag, print_saved, time_text};
use crate::cmd::common::password_from_stdin;
use crate::output::pairs;
use acc_core::units::parse_secs;

#[derive(Debug, Subcommand)]
pub enum CredentialCommand {
    /// Rotate the ACC to a new user name (or force-switch / cancel a rotation in progress).
    Rotate(RotateArgs),
    /// The rotation's phase, pending sites and per-site acknowledgements.
    Status(JsonFlag),
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    /// The new generation's user name (never used before), e.g. ACC_User_v2.
    #[arg(long, value_name = "USER", required_unless_present_any = ["force_switch", "cancel"])]
    username: Option<String>,
    /// Read the new password from standard input (one line).
    #[arg(long)]
    password_stdin: bool,
    /// How long the old generation keeps working after the switch (0: disabled at once).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    grace: Option<u64>,
    /// Grant the new credential Read on the package sources in the same revision.
    #[arg(long)]
    grant_read: bool,
    /// Save even if agents would be unable to connect (the impact check: --grace 0 with
    /// agents on an older revision).
    #[arg(long, conflicts_with_all = ["force_switch", "cancel"])]
    force: bool,
    /// Switch to the provisioning generation now, whatever the sites acknowledged.
    #[arg(long, conflicts_with_all = ["username", "cancel"])]
    force_switch: bool,
    /// Cancel the provisioning generation.
    #[arg(long, conflicts_with_all = ["username", "force_switch"])]
    cancel: bool,
}

/// `acc ctl credential …`.
pub async fn credential(ctl: &mut Ctl, c: CredentialCommand) -> Result<ExitCode> {
    match c {
        CredentialCommand::Rotate(a) => {
            let v: SaveOutcome = if a.force_switch {
                ctl.fetch("POST", "/v1/credential/force-switch").await?
            } else if a.cancel {
                ctl.fetch("POST", "/v1/credential/cancel").await?
            } else {
                let Some(user) = a.username else { bail!("give --username for the new generation") };
                let body = AuthChange {
                    user_name: Some(user),
                    password: Some(password_from_stdin(a.password_stdin)?.into()),
                    grant_read: a.grant_read,
                    grace_secs: a.grace,
                    force: a.force,
                    ..AuthChange::default()
                };
                ctl.exchange("POST", "/v1/credential/rotate", &body).await?
            };
            print_saved(&v);
        }
        CredentialCommand::Status(j) => {
            let v: RotationStatus = ctl.fetch("GET", "/v1/credential/status").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
                return Ok(ExitCode::SUCCESS);
            }
            print_status(&v);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `9812/10000` and the first agents still on an older generation.
fn adoption(a: &Adoption) -> String {
    let pending: Vec<&str> = a.pending.iter().take(5).map(String::as_str).collect();
    let mut out = format!("{}/{}", a.holding, a.agents);
    if !pending.is_empty() {
        out.push_str(&format!(" (not yet: {})", pending.join(", ")));
    }
    out
}

/// The status as `key: value` lines.
fn print_status(v: &RotationStatus) {
    let generations: Vec<String> = v
        .generations
        .iter()
        .map(|g| {
            let deadline = match g.retire_deadline {
                None => String::new(),
                Some(d) => format!(" until {}", time_text(Some(d))),
            };
            format!("{} {} ({}{deadline})", g.generation, g.user_name, g.phase.as_str())
        })
        .collect();
    let pending = match &v.provisioning {
        None => "-".to_string(),
        Some(p) => {
            let stalled = if p.stalled { " (stalled: force-switch or cancel)" } else { "" };
            let sites = if p.pending_sites.is_empty() { "none".into() } else { p.pending_sites.join(", ") };
            format!("{sites}{stalled}")
        }
    };
    pairs(&[
        ("revision", v.revision.to_string()),
        ("phase", v.phase.as_str().into()),
        ("generations", if generations.is_empty() { "-".into() } else { generations.join(", ") }),
        ("pending sites", pending),
        ("rotation grace", format!("{} s", v.rotation_grace)),
        ("agents holding it", adoption(&v.adoption)),
    ]);
}
