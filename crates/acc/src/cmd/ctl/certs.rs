//! `acc ctl enroll-token create`, `acc ctl agents`, `acc ctl cert list|revoke`, `acc ctl
//! trust add`: agents and the fleet CA.

use std::path::PathBuf;
use std::process::ExitCode;

use acc_proto::admin::{
    AgentList, CertificateList, CertificateView, CreatedToken, SaveOutcome, TokenTerms, TrustAdd, TrustRemove,
};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};

use super::Ctl;
use super::settings::{JsonFlag, or_dash, print_saved, time_text};
use crate::output::Table;
use acc_core::units::parse_secs;

#[derive(Debug, Subcommand)]
pub enum EnrollTokenCommand {
    /// Create an agent enrollment token; prints the token alone on standard output.
    Create(EnrollTokenArgs),
}

#[derive(Debug, Args)]
pub struct EnrollTokenArgs {
    /// How long the token can be used (e.g. 24h).
    #[arg(long, value_name = "DURATION", value_parser = parse_secs, default_value = "24h")]
    ttl: u64,
    /// How many agents may enroll with it.
    #[arg(long, value_name = "N", default_value_t = 1)]
    uses: u32,
    /// Let it re-enroll a rebuilt host: an agent enrolling again with the same host name
    /// gets a new certificate and its old one is revoked.
    #[arg(long)]
    reenroll: bool,
}

#[derive(Debug, Subcommand)]
pub enum CertCommand {
    /// Every certificate the fleet CA issued.
    List(JsonFlag),
    /// Revoke a certificate by serial; site servers refuse it after the next revision.
    Revoke(RevokeArgs),
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    /// The serial (hex, as acc ctl cert list or openssl x509 -serial prints it).
    serial: String,
}

#[derive(Debug, Subcommand)]
pub enum TrustCommand {
    /// Trust an operator CA (the seed's lab CA) for agent certificates on every site server.
    Add(TrustAddArgs),
    /// Stop trusting an operator CA (refused while agents hold its certificates, unless --force).
    Remove(TrustRemoveArgs),
}

#[derive(Debug, Args)]
pub struct TrustRemoveArgs {
    /// The CA certificate (PEM file) or its SHA-256 fingerprint.
    #[arg(value_name = "CA_FILE_OR_FINGERPRINT")]
    anchor: String,
    /// Remove it even if agents would be unable to connect.
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Args)]
pub struct TrustAddArgs {
    /// The CA certificate (PEM).
    file: PathBuf,
}

/// `acc ctl enroll-token create`.
pub async fn enroll_token(ctl: &mut Ctl, c: EnrollTokenCommand) -> Result<ExitCode> {
    let EnrollTokenCommand::Create(a) = c;
    let terms = TokenTerms { ttl_secs: Some(a.ttl), uses: Some(a.uses), reenroll: a.reenroll };
    let created: CreatedToken = ctl.exchange("POST", "/v1/enroll-tokens", &terms).await?;
    outln!("{}", created.token);
    Ok(ExitCode::SUCCESS)
}

fn print_certs(list: &[CertificateView]) {
    let mut table = Table::new(["serial", "kind", "name", "expires", "state"]);
    for c in list {
        let state = match c.revoked_at {
            None => "valid".to_string(),
            Some(at) => format!("revoked {}", time_text(Some(at))),
        };
        table.row([
            c.serial.clone(),
            c.kind.as_str().into(),
            c.name.clone(),
            time_text(Some(c.not_after)),
            state,
        ]);
    }
    table.print();
}

/// `acc ctl agents`.
pub async fn agents(ctl: &mut Ctl, j: JsonFlag) -> Result<ExitCode> {
    let list = ctl.fetch::<AgentList>("GET", "/v1/agents").await?.agents;
    if j.json {
        outln!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(ExitCode::SUCCESS);
    }
    let mut table =
        Table::new(["agent", "status", "rev", "auth", "user", "last check-in", "cert expires", "notes"])
            .right(&[2]);
    for a in &list {
        let mut notes = Vec::new();
        if a.revoked {
            notes.push("certificate revoked".to_string());
        }
        if let Some(f) = &a.failure {
            notes.push(format!("policy_failed (revision {}): {f}", or_dash(a.failed_revision)));
        }
        if a.site_reachable == Some(false) {
            notes.push(format!("site server {} unreachable", or_dash(a.site_server.as_deref())));
        }
        if let Some(d) = &a.duplicate {
            notes.push(d.clone());
        }
        table.row([
            a.name.clone(),
            a.status.as_str().into(),
            or_dash(a.revision),
            or_dash(a.auth_mode.map(|m| m.as_str())),
            or_dash(a.user_name.as_deref()),
            time_text(a.last_check_in),
            time_text(a.cert_not_after),
            notes.join("; "),
        ]);
    }
    table.print();
    Ok(ExitCode::SUCCESS)
}

/// `acc ctl cert …`.
pub async fn cert(ctl: &mut Ctl, c: CertCommand) -> Result<ExitCode> {
    match c {
        CertCommand::List(j) => {
            let list = ctl.fetch::<CertificateList>("GET", "/v1/certificates").await?.certificates;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                print_certs(&list);
            }
        }
        CertCommand::Revoke(a) => {
            let serial: String = a.serial.chars().filter(|c| c.is_ascii_alphanumeric()).collect();
            print_saved(&ctl.fetch("POST", &format!("/v1/certificates/{serial}/revoke")).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `acc ctl trust add`.
pub async fn trust(ctl: &mut Ctl, c: TrustCommand) -> Result<ExitCode> {
    let a = match c {
        TrustCommand::Add(a) => a,
        TrustCommand::Remove(r) => {
            let body = if std::path::Path::new(&r.anchor).is_file() {
                let pem = std::fs::read_to_string(&r.anchor)
                    .with_context(|| format!("{}: cannot read", r.anchor))?;
                TrustRemove { pem: Some(pem), fingerprint: None, force: r.force }
            } else {
                TrustRemove { fingerprint: Some(r.anchor), pem: None, force: r.force }
            };
            print_saved(&ctl.exchange("POST", "/v1/trust/remove", &body).await?);
            return Ok(ExitCode::SUCCESS);
        }
    };
    let pem =
        std::fs::read_to_string(&a.file).with_context(|| format!("{}: cannot read", a.file.display()))?;
    let v: SaveOutcome = ctl
        .exchange("POST", "/v1/trust", &TrustAdd { pem })
        .await
        .with_context(|| a.file.display().to_string())?;
    print_saved(&v);
    Ok(ExitCode::SUCCESS)
}
