//! `acc completions SHELL` and `acc man`: shell completions and manual pages generated
//! from the clap definitions themselves (clap_complete, clap_mangen), so they always
//! match the binary they come with.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write one page per command here (acc.1, acc-ctl.1, acc-ctl-sites.1 …) instead of
    /// printing acc.1.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// `acc completions SHELL`: the script on standard output (e.g. `acc completions bash >
/// /etc/bash_completion.d/acc`).
pub fn completions(a: &CompletionsArgs, mut cmd: clap::Command) -> Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "acc", &mut script);
    out!("{}", String::from_utf8_lossy(&script));
    Ok(ExitCode::SUCCESS)
}

/// `acc man [--dir DIR]`: the roff page of `acc` on standard output (`acc man | man -l -`),
/// or a page per command in DIR.
pub fn man(a: &ManArgs, cmd: clap::Command) -> Result<ExitCode> {
    match &a.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("{}: cannot create it", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("{}: cannot write the pages", dir.display()))?;
            outln!("manual pages written to {}", dir.display());
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(cmd).render(&mut page).context("cannot render the manual page")?;
            out!("{}", String::from_utf8_lossy(&page));
        }
    }
    Ok(ExitCode::SUCCESS)
}
