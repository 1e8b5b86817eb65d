//! `acc ctl settings|policy|token`: the console's two settings pages, the revision history
//! and API tokens.

use std::process::ExitCode;

use acc_core::event::retention::format_size;
use acc_core::lockout::LockoutMode;
use acc_core::password::{PasswordMode, PasswordPolicy};
use acc_proto::AuthMode;
use acc_proto::admin::{
    ApiTokenRequest, AuthChange, CreatedApiToken, RevisionDiff, RevisionHistory, RevisionShown, SaveOutcome,
    SettingsView, SiteSettingsChange, TokenList,
};
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};

use super::Ctl;
use crate::cmd::common::{LockoutArgs, password_from_stdin};
use crate::cmd::events::{EventLogArgs, parse_max_size};
use crate::output::{Table, pairs};
use acc_core::units::parse_secs;

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// The settings in force.
    Show(JsonFlag),
    /// Global agent settings, Authentication.
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Global site server settings.
    #[command(subcommand)]
    Site(SiteCommand),
}

#[derive(Debug, Args)]
pub struct JsonFlag {
    /// JSON for scripts.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum AuthCommand {
    /// Save the authentication mode (and a new credential).
    Set(AuthSetArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum AuthModeArg {
    /// "Use Application Credentials": the App ID.
    Application,
    /// "Use these credentials": the Agent Connectivity Credential.
    Credential,
    /// Client certificates.
    Certificate,
}

impl From<AuthModeArg> for AuthMode {
    fn from(a: AuthModeArg) -> AuthMode {
        match a {
            AuthModeArg::Application => AuthMode::Application,
            AuthModeArg::Credential => AuthMode::Credential,
            AuthModeArg::Certificate => AuthMode::Certificate,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum PasswordModeArg {
    /// NIST SP 800-63B: length and blocklist.
    Nist,
    /// Four character classes.
    Complexity,
}

impl From<PasswordModeArg> for PasswordMode {
    fn from(a: PasswordModeArg) -> PasswordMode {
        match a {
            PasswordModeArg::Nist => PasswordMode::Nist,
            PasswordModeArg::Complexity => PasswordMode::Complexity,
        }
    }
}

#[derive(Debug, Args)]
pub struct AuthSetArgs {
    /// How agents authenticate to site servers.
    #[arg(long, value_enum)]
    mode: AuthModeArg,
    /// The ACC's user name (`ACC_user`, or `CORP\acc_svc`); a new name starts a new generation.
    #[arg(long, value_name = "USER")]
    username: Option<String>,
    /// Read the password from standard input (one line).
    #[arg(long)]
    password_stdin: bool,
    /// The password policy new credentials must meet.
    #[arg(long, value_enum)]
    password_policy: Option<PasswordModeArg>,
    /// Grant the credential Read on the package sources, at both levels, in the same revision.
    #[arg(long)]
    grant_read: bool,
    /// Save even if site servers or agents would be unable to connect (the impact check).
    #[arg(long)]
    force: bool,
}

#[derive(Debug, Subcommand)]
pub enum SiteCommand {
    /// Change site server settings; unspecified values keep their setting.
    Set(SiteSetArgs),
}

#[derive(Debug, Args)]
pub struct SiteSetArgs {
    /// "Create the Agent Connectivity Credential on Site Servers".
    #[arg(long, value_name = "BOOL")]
    create_acc: Option<bool>,
    #[command(flatten)]
    lockout: LockoutArgs,
    #[command(flatten)]
    event_log: EventLogArgs,
    /// Maximum size of the management server's store of every site's events (e.g. 4GiB).
    #[arg(long, value_name = "SIZE", value_parser = parse_max_size)]
    event_store_max_size: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Revisions, newest first.
    History(HistoryArgs),
    /// One revision's settings (secrets redacted).
    Show(ShowArgs),
    /// What changed between two revisions.
    Diff(DiffArgs),
}

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// At most N revisions.
    #[arg(long, value_name = "N", default_value_t = 50)]
    limit: u32,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The revision number.
    rev: u64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The older revision.
    a: u64,
    /// The newer revision.
    b: u64,
    #[command(flatten)]
    json: JsonFlag,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token; prints the token alone on standard output.
    Create(TokenCreateArgs),
    /// The API tokens (never their text).
    List(JsonFlag),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    /// viewer, operator or admin.
    #[arg(long, value_name = "ROLE")]
    role: String,
    /// Who or what uses it (the author of what it saves).
    #[arg(long, value_name = "TEXT")]
    description: String,
    /// Lifetime (e.g. 12h, 30d); none: no expiry.
    #[arg(long, value_name = "DURATION", value_parser = parse_secs)]
    ttl: Option<u64>,
}

pub fn print_saved(saved: &SaveOutcome) {
    for w in &saved.warnings {
        errln!("{w}");
    }
    for g in &saved.granted {
        outln!("granted: {g}");
    }
    outln!("saved as policy revision {}: {}", saved.revision, saved.summary);
}

/// An optional value as a table shows it, `-` for none.
pub fn or_dash<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn print_settings(view: &SettingsView) {
    let doc = &view.document;
    let site = &doc.site;
    let credential = match &view.credential {
        None => "-".to_string(),
        Some(c) => format!("{} (generation {})", c.user_name, c.generation),
    };
    let lockout = match site.mode {
        LockoutMode::Classic => format!(
            "classic: threshold {}, reset_after {} s, duration {} s",
            site.threshold, site.reset_after, site.duration
        ),
        LockoutMode::Smart => format!(
            "smart: source_threshold {}, unfamiliar_threshold {}, reset_after {} s, duration {} s, source blocks {}–{} s",
            site.source_threshold,
            site.unfamiliar_threshold,
            site.reset_after,
            site.duration,
            site.source_block_base,
            site.source_block_max
        ),
    };
    let generations: Vec<String> = doc
        .generations
        .iter()
        .map(|g| format!("{} {} ({})", g.number, g.user_name, g.phase.as_str()))
        .collect();
    let policy = doc.auth.password_policy;
    pairs(&[
        ("revision", view.revision.to_string()),
        ("authentication", doc.auth.mode.to_string()),
        ("credential", credential),
        ("password policy", format!("{}, at least {} characters", policy.mode(), policy.min_length())),
        ("App ID", view.app_id.clone()),
        ("generations", if generations.is_empty() { "-".into() } else { generations.join(", ") }),
        ("lockout", lockout),
        ("create ACC on sites", site.create_acc_on_site_servers.to_string()),
        ("re-enable locked ACC", site.reenable_locked_local_account.to_string()),
        ("ACC refresh interval", format!("{} s", site.acc_refresh_interval)),
        ("site event log maximum", format_size(doc.event_log_max_size)),
        ("server event store maximum", format_size(doc.event_store_max_size)),
        ("rotation grace", format!("{} s", doc.rotation_grace)),
    ]);
}

/// `acc ctl settings …`.
pub async fn settings(ctl: &mut Ctl, c: SettingsCommand) -> Result<ExitCode> {
    match c {
        SettingsCommand::Show(j) => {
            let v: SettingsView = ctl.fetch("GET", "/v1/settings").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                print_settings(&v);
            }
        }
        SettingsCommand::Auth(AuthCommand::Set(a)) => {
            let mut body = AuthChange {
                mode: Some(a.mode.into()),
                password_policy: a.password_policy.map(|p| PasswordPolicy::for_mode(p.into())),
                grant_read: a.grant_read,
                force: a.force,
                ..AuthChange::default()
            };
            if let Some(u) = a.username {
                body.user_name = Some(u);
                body.password = Some(password_from_stdin(a.password_stdin)?.into());
            } else if a.password_stdin {
                anyhow::bail!(
                    "--password-stdin needs --username: a credential is a user name and a password"
                );
            }
            print_saved(&ctl.exchange("PUT", "/v1/settings/auth", &body).await?);
        }
        SettingsCommand::Site(SiteCommand::Set(a)) => {
            let patch = SiteSettingsChange {
                create_acc_on_site_servers: a.create_acc,
                event_log_max_size: a.event_log.event_log_max_size,
                event_store_max_size: a.event_store_max_size,
                ..a.lockout.change()
            };
            if patch.is_empty() {
                anyhow::bail!(
                    "nothing to change: give at least one setting (see acc ctl settings site set --help)"
                );
            }
            print_saved(&ctl.exchange("PUT", "/v1/settings/site", &patch).await?);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A time field (Unix milliseconds) as [`crate::output::timestamp`], `-` for none.
pub fn time_text(ms: Option<i64>) -> String {
    ms.map_or_else(|| "-".into(), crate::output::timestamp)
}

/// `acc ctl policy …`.
pub async fn policy(ctl: &mut Ctl, c: PolicyCommand) -> Result<ExitCode> {
    match c {
        PolicyCommand::History(a) => {
            let v: RevisionHistory =
                ctl.fetch("GET", &format!("/v1/policy/revisions?limit={}", a.limit)).await?;
            if a.json.json {
                outln!("{}", serde_json::to_string_pretty(&v.revisions)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new(["rev", "saved", "sites", "agents", "by", "summary"]).right(&[0]);
            for r in v.revisions {
                table.row([
                    r.info.number.to_string(),
                    time_text(Some(r.info.created_at)),
                    format!("{}/{}", r.sites_acknowledged, r.sites),
                    format!("{}/{}", r.agents_acknowledged, r.agents),
                    r.info.author,
                    r.info.summary,
                ]);
            }
            table.print();
        }
        PolicyCommand::Show(a) => {
            let v: RevisionShown = ctl.fetch("GET", &format!("/v1/policy/revisions/{}", a.rev)).await?;
            if a.json.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                outln!(
                    "revision {} saved {} by {}: {}",
                    v.info.number,
                    time_text(Some(v.info.created_at)),
                    v.info.author,
                    v.info.summary
                );
                outln!("{}", serde_json::to_string_pretty(&v.document)?);
            }
        }
        PolicyCommand::Diff(a) => {
            let v: RevisionDiff =
                ctl.fetch("GET", &format!("/v1/policy/diff?from={}&to={}", a.a, a.b)).await?;
            if a.json.json {
                outln!("{}", serde_json::to_string_pretty(&v.changes)?);
                return Ok(ExitCode::SUCCESS);
            }
            if v.changes.is_empty() {
                outln!("revisions {} and {} are the same", a.a, a.b);
            }
            for c in v.changes {
                outln!("{}: {} -> {}", c.path, c.from, c.to);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `acc ctl token …`.
pub async fn token(ctl: &mut Ctl, c: TokenCommand) -> Result<ExitCode> {
    match c {
        TokenCommand::Create(a) => {
            let body = ApiTokenRequest { role: a.role, description: a.description, ttl_secs: a.ttl };
            let created: CreatedApiToken = ctl.exchange("POST", "/v1/tokens", &body).await?;
            outln!("{}", created.token);
        }
        TokenCommand::List(j) => {
            let v: TokenList = ctl.fetch("GET", "/v1/tokens").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v.tokens)?);
                return Ok(ExitCode::SUCCESS);
            }
            let mut table = Table::new(["role", "created", "expires", "description"]);
            for t in v.tokens {
                table.row([
                    t.role.as_str().to_string(),
                    time_text(Some(t.created_at)),
                    time_text(t.expires_at),
                    t.description,
                ]);
            }
            table.print();
        }
    }
    Ok(ExitCode::SUCCESS)
}
