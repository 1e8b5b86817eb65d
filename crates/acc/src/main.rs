//! The `acc` binary: one executable for every role. `main` parses the command line,
//! sets up logging, runs the command and turns its error into one `error:` line and an
//! exit code (1 for failures, 2 for usage errors, which clap reports itself).

// Output goes through `output` (a closed pipe ends quietly); the print macros are denied.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[macro_use]
mod output;
mod bench;
mod cmd;
mod logging;

/// `acc --version`: the package version and the commit built (see build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("ACC_COMMIT"), ")");

/// acc: agent connectivity for fleets.
#[derive(Debug, Parser)]
#[command(name = "acc", version = VERSION, about, propagate_version = true, max_term_width = 100)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Offline PKI, interoperable with openssl: keys, CSRs, a CA, signing, CRLs, verification.
    #[command(subcommand)]
    Pki(cmd::pki::PkiCommand),
    /// Load against real acc processes (registration storm, lockout flood).
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Site server: local accounts, lockout policy, security events (task and package server).
    #[command(subcommand)]
    Site(cmd::site::SiteCommand),
    /// Management server: settings, policy revisions, vault, fleet CA, directory.
    #[command(subcommand)]
    Server(cmd::server::ServerCommand),
    /// Administer the management server over its REST API.
    Ctl(cmd::ctl::CtlArgs),
    /// The agent: enroll, run, status.
    #[command(subcommand)]
    Agent(cmd::agent::AgentCommand),
    /// The whole system on loopback: a management server, site servers and agents.
    Dev(cmd::dev::DevArgs),
    /// Shell completions for bash, zsh, fish, elvish or PowerShell, on standard output.
    Completions(cmd::docs::CompletionsArgs),
    /// The manual page (roff) on standard output, or one page per command with --dir.
    Man(cmd::docs::ManArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = run(cli);
    match result {
        Ok(code) => code,
        Err(e) => {
            errln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    // `acc agent run` logs to its own acc.log (set up once its acc.yml is read).
    if !matches!(cli.command, Command::Agent(cmd::agent::AgentCommand::Run(_))) {
        logging::init_stderr()?;
    }
    match cli.command {
        Command::Pki(c) => cmd::pki::run(c),
        Command::Site(c) => cmd::site::run(c),
        Command::Server(c) => cmd::server::run(c),
        Command::Ctl(a) => cmd::ctl::run(a),
        Command::Bench(c) => bench::run(c),
        Command::Agent(c) => cmd::agent::run(c),
        Command::Dev(a) => cmd::dev::run(a),
        Command::Completions(a) => cmd::docs::completions(&a, Cli::command()),
        Command::Man(a) => cmd::docs::man(&a, Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    /// Every command line is well-formed (unique names, valid groups): clap's own checks.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }

    #[test]
    fn the_version_names_the_commit() {
        assert!(super::VERSION.starts_with(env!("CARGO_PKG_VERSION")) && super::VERSION.contains("(commit "));
    }
}
