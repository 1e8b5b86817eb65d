//! The docs test: every ```sh block of README.md, CHANGELOG.md and docs/*.md runs, in order,
//! so the docs cannot drift from the program.
//!
//! Each file runs in a temporary directory of its own, as one bash script (`set -euo
//! pipefail`: variables and exports of a block reach the next), with the built `acc`, the
//! system `openssl` and `curl` on PATH and the documented ports (:8443 to :8446) replaced by
//! free ones. The script runs in a process group of its own: servers a block starts in the
//! background (`acc server run … &`) are stopped with it when the file ends, and a file that
//! takes longer than its deadline is stopped too. Files run in parallel. A failure names the
//! file and line, the block, the command and its standard error, and the end of every `*.log`
//! the commands wrote. `ACC_DOCS=site.md,README.md` runs only those files; `ACC_DOCS_SHOW=1`
//! prints what the commands wrote.
//!
//! The rules a docs file follows are in `markdown.rs`; links are checked by `links.rs`.

mod links;
mod markdown;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A file's commands run within this long.
const DEADLINE: Duration = Duration::from_secs(180);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository")
}

/// README.md, CHANGELOG.md and every docs/*.md.
fn files(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "CHANGELOG.md"].iter().map(|f| root.join(f)).collect();
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    docs.retain(|p| p.extension().is_some_and(|e| e == "md"));
    docs.sort();
    files.extend(docs);
    files
}

#[test]
fn every_sh_block_of_the_docs_runs_as_written() {
    let root = root();
    let only = std::env::var("ACC_DOCS").ok();
    let files: Vec<PathBuf> = files(&root)
        .into_iter()
        .filter(|f| {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            only.as_deref().is_none_or(|o| o.split(',').any(|x| x == name))
        })
        .collect();
    assert!(!files.is_empty(), "no docs file matches ACC_DOCS={only:?}");
    let threads: Vec<_> = files
        .into_iter()
        .map(|file| {
            let root = root.clone();
            std::thread::spawn(move || (run_file(&root, &file), file))
        })
        .collect();
    let mut failures = Vec::new();
    for t in threads {
        let (result, file) = t.join().expect("a docs thread panicked");
        let shown = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
        failures.extend(result.err().into_iter().flatten().map(|e| format!("{shown}:{e}")));
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// Checks and runs one file; each error starts with the line it is about.
fn run_file(root: &Path, file: &Path) -> Result<(), Vec<String>> {
    let text = std::fs::read_to_string(file).map_err(|e| vec![format!(" cannot read: {e}")])?;
    let mut problems = links::check(root, file, &text);
    let blocks = match markdown::blocks(&text) {
        Ok(blocks) => blocks,
        Err(errors) => return Err(problems.into_iter().chain(errors).collect()),
    };
    if let Err(e) = run_blocks(&blocks, &text) {
        problems.push(e);
    }
    if problems.is_empty() { Ok(()) } else { Err(problems) }
}

/// Runs the ```sh blocks of a file; the error starts with the line it is about.
fn run_blocks(blocks: &[markdown::Block], text: &str) -> Result<(), String> {
    if !blocks.iter().any(|b| b.lang == "sh") {
        return Ok(());
    }
    let tmp = tempfile::tempdir().expect("a temporary directory");
    let ports = free_ports();
    let script = markdown::script(blocks, &ports);
    let work = tmp.path().join("work");
    std::fs::create_dir(&work).unwrap();
    std::fs::write(tmp.path().join("docs.sh"), &script.text).unwrap();
    let run = Run::start(tmp.path(), &work);
    let outcome = run.wait(DEADLINE);
    let stderr = std::fs::read_to_string(tmp.path().join("stderr")).unwrap_or_default();
    let stdout = std::fs::read_to_string(tmp.path().join("stdout")).unwrap_or_default();
    if std::env::var_os("ACC_DOCS_SHOW").is_some() {
        eprintln!("--- standard output:\n{stdout}\n--- standard error:\n{stderr}");
    }
    let fail = |what: &str| Err(report(&script, text, &stderr, &stdout, &work, what));
    match outcome {
        Outcome::Passed => Ok(()),
        Outcome::Failed(code) => fail(&format!("exit {code}")),
        Outcome::TimedOut => fail(&format!("still running after {} s (stopped)", DEADLINE.as_secs())),
    }
}

/// A free loopback port for each documented one (bound together, so all differ).
fn free_ports() -> Vec<(u16, u16)> {
    let listeners: Vec<std::net::TcpListener> = markdown::PORTS
        .iter()
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    markdown::PORTS.iter().zip(&listeners).map(|(p, l)| (*p, l.local_addr().unwrap().port())).collect()
}

/// The script of one file, running in its own process group.
struct Run {
    child: std::process::Child,
}

enum Outcome {
    Passed,
    Failed(i32),
    TimedOut,
}

impl Run {
    fn start(tmp: &Path, work: &Path) -> Run {
        use std::os::unix::process::CommandExt;
        let acc = Path::new(env!("CARGO_BIN_EXE_acc"));
        let path =
            format!("{}:{}", acc.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
        let child = Command::new("bash")
            .arg(tmp.join("docs.sh"))
            .current_dir(work)
            .env_clear()
            .env("PATH", path)
            .env("HOME", tmp)
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(tmp.join("stdout")).unwrap())
            .stderr(std::fs::File::create(tmp.join("stderr")).unwrap())
            .process_group(0)
            .spawn()
            .expect("cannot run bash");
        Run { child }
    }

    /// Waits for the script (polling, within `deadline`), then stops what it left running.
    fn wait(mut self, deadline: Duration) -> Outcome {
        let end = Instant::now() + deadline;
        let outcome = loop {
            if let Some(status) = self.child.try_wait().expect("wait for bash") {
                break if status.success() {
                    Outcome::Passed
                } else {
                    Outcome::Failed(status.code().unwrap_or(-1))
                };
            }
            if Instant::now() > end {
                break Outcome::TimedOut;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        self.stop_group();
        outcome
    }

    /// SIGTERM to the group (servers stop gracefully), SIGKILL to what is left after 10 s.
    fn stop_group(&mut self) {
        let group = format!("-{}", self.child.id());
        let signal = |sig: &str| {
            Command::new("kill")
                .args([sig, "--", &group])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if signal("-TERM") {
            let end = Instant::now() + Duration::from_secs(10);
            while signal("-0") && Instant::now() < end {
                let _ = self.child.try_wait();
                std::thread::sleep(Duration::from_millis(50));
            }
            signal("-KILL");
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What went wrong, where: `LINE (block N at line F): WHAT`, the command, its block's
/// standard error, and the end of the logs in the work directory.
fn report(
    script: &markdown::Script,
    text: &str,
    stderr: &str,
    stdout: &str,
    work: &Path,
    what: &str,
) -> String {
    let failed_at = stderr
        .lines()
        .filter_map(|l| l.strip_prefix("::docs-failed "))
        .filter_map(|l| l.split_whitespace().next()?.parse::<usize>().ok())
        .filter_map(|script_line| script.origin.get(script_line.checked_sub(1)?).copied().flatten())
        .next_back();
    let block = stderr.lines().filter_map(|l| l.strip_prefix("::docs-block ")).next_back().unwrap_or("0");
    let block: usize = block.trim().parse().unwrap_or(0);
    let (line, block) =
        failed_at.unwrap_or((script.fences.get(block.wrapping_sub(1)).copied().unwrap_or(0), block));
    let fence = script.fences.get(block.wrapping_sub(1)).copied().unwrap_or(0);
    let mut command = Vec::new();
    for l in text.lines().skip(line.saturating_sub(1)) {
        command.push(l);
        if !l.trim_end().ends_with('\\') {
            break;
        }
    }
    let command = command.join("\n    ");
    let since_block = |s: &str| {
        let from = s
            .rfind(&format!("::docs-block {block}\n"))
            .map_or(0, |i| i + format!("::docs-block {block}\n").len());
        s[from..].lines().filter(|l| !l.starts_with("::docs-")).collect::<Vec<_>>().join("\n")
    };
    let tail = |s: &str, n: usize| {
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    };
    let mut out = format!(
        "{line} (```sh block {block}, at line {fence}): {what}\n  $ {command}\n--- standard error of the block:\n{}\n--- end of standard output:\n{}",
        tail(&since_block(stderr), 40),
        tail(stdout, 15)
    );
    let mut logs: Vec<PathBuf> =
        walk(work).into_iter().filter(|p| p.extension().is_some_and(|e| e == "log")).collect();
    logs.sort();
    for log in logs {
        let body = std::fs::read_to_string(&log).unwrap_or_default();
        let name = log.strip_prefix(work).unwrap_or(&log).display().to_string();
        out.push_str(&format!("\n--- end of {name}:\n{}", tail(&body, 15)));
    }
    out
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

/// The harness itself, on small documents.
mod harness {
    use super::*;

    fn run(doc: &str) -> Result<(), String> {
        run_blocks(&markdown::blocks(doc).expect("a valid document"), doc)
    }

    #[test]
    fn a_failing_command_is_reported_with_its_line_block_and_error() {
        let doc = "# t\n\n```sh\nexport GREETING=hello\n```\n\n```sh\necho \"$GREETING\"\nls no-such-file \\\n  -l\necho never\n```\n";
        let e = run(doc).unwrap_err();
        assert!(e.starts_with("9 (```sh block 2, at line 7): exit 2"), "{e}");
        assert!(e.contains("$ ls no-such-file \\\n      -l"), "the whole command: {e}");
        assert!(e.contains("No such file or directory"), "its error: {e}");
        assert!(e.contains("hello") && !e.contains("never"), "the blocks ran in order and stopped: {e}");
        assert!(run("```sh\necho fine\n```\n").is_ok());
    }

    #[test]
    fn background_processes_are_stopped_when_the_file_ends() {
        let dir = tempfile::tempdir().unwrap();
        let pid_file = dir.path().join("pid");
        let doc = format!("```sh\nsleep 1000 &\necho $! > {}\n```\n", pid_file.display());
        run(&doc).unwrap();
        let pid = std::fs::read_to_string(&pid_file).unwrap();
        let alive = Command::new("kill").args(["-0", pid.trim()]).stderr(Stdio::null()).status().unwrap();
        assert!(!alive.success(), "sleep {} is still running", pid.trim());
    }

    #[test]
    fn documented_ports_are_free_ones_and_a_documented_failure_must_fail() {
        // The port in `grep` is written in two halves, or it would be replaced as well.
        let doc = "```sh\necho 127.0.0.1:8443 > port\n! grep -q ':84''43$' port\n! true\n```\n";
        let e = run(doc).unwrap_err();
        assert!(e.starts_with("4 (```sh block 1, at line 1)"), "{e}");
        assert!(e.contains("documented to fail and succeeded"), "{e}");
    }
}
