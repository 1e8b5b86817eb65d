//! `acc site tasks send|list|show`: the operator's side of the task server. Requests go
//! to the running site server (its admin socket) or to the data directory when none runs;
//! a send to a running server wakes the agent's waiting long-poll at once.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use acc_site::admin::Request;
use acc_site::tasks::store::TaskQuery;
use acc_site::tasks::{MAX_PAYLOAD_BYTES, TaskState, payload_text};
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use serde_json::Value;

use super::data_dir::{DataDir, call};
use crate::output::{Table, pairs};

#[derive(Debug, Subcommand)]
pub enum TasksCommand {
    /// Send a task to a registered agent; prints the task id.
    Send(SendArgs),
    /// List tasks, most recent first.
    List(ListArgs),
    /// Show one task with its payload and result.
    Show(ShowArgs),
}

#[derive(Debug, Args)]
pub struct SendArgs {
    /// The agent's id (as `acc site agents` lists it).
    #[arg(long, value_name = "AGENT")]
    agent: String,
    /// What to do: 1 to 64 printable characters (inventory, run-script …).
    #[arg(long = "type", value_name = "TYPE")]
    task_type: String,
    /// The task's input, JSON (at most 32 KiB).
    #[arg(long, value_name = "JSON", conflicts_with = "payload_file")]
    payload: Option<String>,
    /// Read the input (JSON) from this file.
    #[arg(long, value_name = "FILE")]
    payload_file: Option<PathBuf>,
    #[command(flatten)]
    dir: DataDir,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only this agent's tasks.
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    /// Only tasks in this state: pending, delivered, completed, failed, expired.
    #[arg(long, value_name = "STATE", value_parser = parse_state)]
    state: Option<TaskState>,
    /// At most the N most recent.
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: u32,
    #[command(flatten)]
    dir: DataDir,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The task id (a UUID, as `send` printed it).
    id: String,
    #[command(flatten)]
    dir: DataDir,
}

fn parse_state(text: &str) -> Result<TaskState, String> {
    TaskState::parse(text).ok_or_else(|| "use pending, delivered, completed, failed or expired".to_string())
}

/// Runs one `acc site tasks` command.
pub async fn run(command: TasksCommand) -> Result<ExitCode> {
    match command {
        TasksCommand::Send(a) => {
            let payload = payload(a.payload.as_deref(), a.payload_file.as_ref())?;
            let request = Request::TasksSend { agent: a.agent, task_type: a.task_type, payload };
            let v = call(&a.dir.data_dir, request).await?;
            if a.dir.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                outln!("{}", v["id"].as_str().unwrap_or_default());
            }
        }
        TasksCommand::List(a) => {
            let query = TaskQuery { agent: a.agent, state: a.state, limit: Some(i64::from(a.limit)) };
            let v = call(&a.dir.data_dir, Request::TasksList(query)).await?;
            if a.dir.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                let mut table = Table::new(["ID", "AGENT", "TYPE", "STATE", "CREATED", "RESULT"]);
                for t in v.as_array().into_iter().flatten() {
                    let s = |k: &str| t[k].as_str().unwrap_or("-").to_string();
                    let exit = t["result"]["exit_code"].as_i64().map(|c| format!("exit {c}"));
                    table.row([
                        s("id"),
                        s("agent_id"),
                        s("type"),
                        s("state"),
                        s("created_at"),
                        exit.unwrap_or_else(|| "-".into()),
                    ]);
                }
                table.print();
            }
        }
        TasksCommand::Show(a) => {
            let v = call(&a.dir.data_dir, Request::TasksShow { id: a.id }).await?;
            if a.dir.json {
                outln!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                show(&v);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Largest `--payload-file` read: room for the indentation of a pretty-printed payload
/// whose compact form is within the limit, without reading a huge file whole.
const MAX_PAYLOAD_FILE_BYTES: u64 = 1024 * 1024;

/// The payload from `--payload` or `--payload-file`, checked to be JSON within the limit
/// here, before anything is sent to the site server.
fn payload(text: Option<&str>, file: Option<&PathBuf>) -> Result<Option<Value>> {
    let (text, what) = match (text, file) {
        (Some(t), _) => (t.to_string(), "--payload".to_string()),
        (None, Some(f)) => (read_payload_file(f)?, f.display().to_string()),
        (None, None) => return Ok(None),
    };
    let v: Value = serde_json::from_str(&text).with_context(|| format!("{what}: not valid JSON"))?;
    payload_text(Some(&v)).with_context(|| what.clone())?;
    Ok(Some(v))
}

fn read_payload_file(f: &Path) -> Result<String> {
    use std::io::Read;
    let file = std::fs::File::open(f).with_context(|| format!("{}: cannot read", f.display()))?;
    let mut text = String::new();
    file.take(MAX_PAYLOAD_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{}: cannot read as UTF-8 text", f.display()))?;
    if text.len() as u64 > MAX_PAYLOAD_FILE_BYTES {
        bail!(
            "{}: larger than {MAX_PAYLOAD_FILE_BYTES} bytes; a task payload is at most {MAX_PAYLOAD_BYTES} bytes of compact JSON",
            f.display()
        );
    }
    Ok(text)
}

fn show(t: &Value) {
    let s = |k: &str| t[k].as_str().unwrap_or("-").to_string();
    let compact = |k: &str| if t[k].is_null() { "-".to_string() } else { t[k].to_string() };
    pairs(&[
        ("id:", s("id")),
        ("agent:", s("agent_id")),
        ("type:", s("type")),
        ("state:", s("state")),
        ("created:", s("created_at")),
        ("delivered:", format!("{} (deliveries: {})", s("delivered_at"), t["deliveries"])),
        ("completed:", s("completed_at")),
        ("payload:", compact("payload")),
        ("result:", compact("result")),
    ]);
}
