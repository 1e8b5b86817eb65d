//! Puts the commit into `acc --version` (`0.1.0 (commit 1a2b3c4d5e6f)`): `ACC_COMMIT` when
//! the build environment sets it (a package built from a source tarball, where there is no
//! git), else `git rev-parse --short=12 HEAD`, else `unknown`. Cargo reruns this when
//! HEAD moves (a commit, a checkout), not on every edit: the commit is the one built on,
//! uncommitted changes are not flagged.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=ACC_COMMIT");
    let commit = match std::env::var("ACC_COMMIT") {
        Ok(c) if !c.trim().is_empty() => c.trim().to_string(),
        _ => from_git().unwrap_or_else(|| "unknown".into()),
    };
    println!("cargo:rustc-env=ACC_COMMIT={commit}");
}

fn from_git() -> Option<String> {
    let head = git(&["rev-parse", "--short=12", "HEAD"])?;
    // Rerun when HEAD moves: HEAD itself (a checkout) and the branch it names (a commit).
    if let Some(p) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={p}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(p) = git(&["rev-parse", "--git-path", &branch])
        && std::path::Path::new(&p).exists()
    {
        println!("cargo:rerun-if-changed={p}");
    }
    Some(head)
}
