//! The `acc` binary: one executable for every role. `main` parses the command line,
//! sets up logging, runs the command and turns its error into one `error:` line and an
//! exit code (1 for failures, 2 for usage errors, which clap reports itself).
//!
//! On Windows the binary has the agent, `pki` and `ctl`; the server roles (`site`,
//! `server`, `dev`, `bench`) are built on Unix only, and on Windows their commands remain
//! so that asking for one says so in one line (`cmd::unix_only`).

// Output goes through `output` (a closed pipe ends quietly); the print macros are denied.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

#[macro_use]
mod output;
#[cfg(unix)]
mod bench;
mod cmd;
mod logging;
#[cfg(unix)]
mod metrics;

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
    #[cfg(unix)]
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Load against real acc processes (Linux and other Unix systems only).
    #[cfg(not(unix))]
    Bench(cmd::unix_only::UnixOnly),
    /// Site server: local accounts, lockout policy, security events (task and package server).
    #[cfg(unix)]
    #[command(subcommand)]
    Site(cmd::site::SiteCommand),
    /// Site server (Linux and other Unix systems only).
    #[cfg(not(unix))]
    Site(cmd::unix_only::UnixOnly),
    /// Management server: settings, policy revisions, vault, fleet CA, directory.
    #[cfg(unix)]
    #[command(subcommand)]
    Server(cmd::server::ServerCommand),
    /// Management server (Linux and other Unix systems only).
    #[cfg(not(unix))]
    Server(cmd::unix_only::UnixOnly),
    /// Administer the management server over its REST API.
    Ctl(cmd::ctl::CtlArgs),
    /// The agent: enroll, run, status.
    #[command(subcommand)]
    Agent(cmd::agent::AgentCommand),
    /// The whole system on loopback: a management server, site servers and agents.
    #[cfg(unix)]
    Dev(cmd::dev::DevArgs),
    /// The whole system on loopback (Linux and other Unix systems only).
    #[cfg(not(unix))]
    Dev(cmd::unix_only::UnixOnly),
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
    // `acc agent run` (and the service) logs to its own acc.log, set up once its acc.yml is read.
    if !matches!(&cli.command, Command::Agent(c) if cmd::agent::logs_to_file(c)) {
        logging::init_stderr()?;
    }
    match cli.command {
        Command::Pki(c) => cmd::pki::run(c),
        #[cfg(unix)]
        Command::Site(c) => cmd::site::run(c),
        #[cfg(unix)]
        Command::Server(c) => cmd::server::run(c),
        #[cfg(unix)]
        Command::Bench(c) => bench::run(c),
        #[cfg(unix)]
        Command::Dev(a) => cmd::dev::run(a),
        #[cfg(not(unix))]
        Command::Site(_) => cmd::unix_only::refuse("site"),
        #[cfg(not(unix))]
        Command::Server(_) => cmd::unix_only::refuse("server"),
        #[cfg(not(unix))]
        Command::Bench(_) => cmd::unix_only::refuse("bench"),
        #[cfg(not(unix))]
        Command::Dev(_) => cmd::unix_only::refuse("dev"),
        Command::Ctl(a) => cmd::ctl::run(a),
        Command::Agent(c) => cmd::agent::run(c),
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
