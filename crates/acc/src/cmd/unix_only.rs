//! The server roles on Windows: `acc site`, `acc server`, `acc dev` and `acc bench` are
//! built on Unix only (the site server uses Unix sockets and Unix file APIs). Their
//! commands stay in the Windows binary, taking any arguments, so that asking for one
//! says in one line where it runs instead of clap's "unrecognized subcommand".

use std::ffi::OsString;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

/// Whatever follows the command name.
#[derive(Debug, Args)]
pub struct UnixOnly {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    rest: Vec<OsString>,
}

/// Refuses `acc ROLE …` on this platform (exit code 2, as for a usage error).
pub fn refuse(role: &str) -> Result<ExitCode> {
    errln!(
        "error: `acc {role}` runs on Linux and other Unix systems only; on Windows acc has `agent`, `pki` and `ctl` (run the servers on Linux and point the agent at them)"
    );
    Ok(ExitCode::from(2))
}
