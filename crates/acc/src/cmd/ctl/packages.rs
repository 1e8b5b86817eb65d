//! `acc ctl package add|assign|list`: package versions on the management server. `add`
//! hashes the folder into a manifest, begins the upload, sends each file in chunks from
//! where the server stands (an interrupted `add` resumes when run again) and commits,
//! which the server verifies against every SHA-256.

use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::process::ExitCode;

use acc_proto::admin::{
    AssignedTo, PackageAssign, PackageCommitted, PackageList, PackageView, UploadBegun, UploadStatus,
};
use acc_proto::package::encode_query;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::{Args, Subcommand};

use super::Ctl;
use super::settings::{JsonFlag, print_saved, time_text};
use crate::output::Table;

/// Bytes per upload request.
const CHUNK: usize = 4 * 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum PackageCommand {
    /// Upload a folder as a package version (a SHA-256 manifest of its files).
    #[command(disable_version_flag = true)]
    Add(AddArgs),
    /// Assign a package version to site servers, which replicate it (a revision).
    #[command(disable_version_flag = true)]
    Assign(AssignArgs),
    /// Package versions, their assignment and each site's replication.
    List(JsonFlag),
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// The package source: software-library, nscap or patch-downloads.
    #[arg(long)]
    share: String,
    /// The package's name (its folder in the share).
    #[arg(long)]
    name: String,
    /// The version.
    #[arg(long)]
    version: String,
    /// The folder to upload.
    dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct AssignArgs {
    /// The package.
    name: String,
    /// The version (default: the newest).
    #[arg(long)]
    version: Option<String>,
    /// A site server (repeat for several).
    #[arg(long = "site", required_unless_present = "all", conflicts_with = "all")]
    sites: Vec<String>,
    /// Every site server.
    #[arg(long)]
    all: bool,
}

/// `acc ctl package …`.
pub async fn package(ctl: &mut Ctl, c: PackageCommand) -> Result<ExitCode> {
    match c {
        PackageCommand::Add(a) => add(ctl, a).await?,
        PackageCommand::Assign(a) => {
            let body = PackageAssign { version: a.version, sites: a.sites, all: a.all };
            print_saved(
                &ctl.exchange("POST", &format!("/v1/packages/{}/assign", encode_query(&a.name)), &body)
                    .await?,
            );
        }
        PackageCommand::List(j) => {
            let v: PackageList = ctl.fetch("GET", "/v1/packages").await?;
            if j.json {
                outln!("{}", serde_json::to_string_pretty(&v.packages)?);
            } else {
                print_list(&v.packages);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn add(ctl: &mut Ctl, a: AddArgs) -> Result<()> {
    if !a.dir.is_dir() {
        bail!("{}: not a folder; give the folder that holds the package's files", a.dir.display());
    }
    let dir = a.dir.clone();
    let files = tokio::task::spawn_blocking(move || acc_proto::package::manifest_files(&dir)).await??;
    let manifest = acc_proto::PackageManifest {
        share: a.share.clone(),
        name: a.name.clone(),
        version: a.version.clone(),
        files: files.clone(),
    };
    let begun: UploadBegun = ctl.exchange("POST", "/v1/packages", &manifest).await?;
    if begun.status == UploadStatus::Exists {
        outln!("package {} {} is already on the server with this content", a.name, a.version);
        return Ok(());
    }
    let base = format!("/v1/packages/{}/{}", encode_query(&a.name), encode_query(&a.version));
    let mut sent = 0u64;
    for f in &files {
        let mut offset = begun.received.get(&f.path).copied().unwrap_or(0);
        let path = a.dir.join(&f.path);
        let mut file =
            std::fs::File::open(&path).with_context(|| format!("{}: cannot read", path.display()))?;
        file.seek(SeekFrom::Start(offset))?;
        while offset < f.size {
            let mut buf = vec![0u8; CHUNK.min(usize::try_from(f.size - offset).unwrap_or(CHUNK))];
            file.read_exact(&mut buf)
                .with_context(|| format!("{}: changed while uploading", path.display()))?;
            let n = buf.len() as u64;
            let url = format!("{base}/file?path={}&offset={offset}", encode_query(&f.path));
            ctl.send("PUT", &url, Some("application/octet-stream"), Bytes::from(buf)).await?;
            offset += n;
            sent += n;
        }
    }
    let done: PackageCommitted = ctl.fetch("POST", &format!("{base}/commit")).await?;
    outln!(
        "package {} {} added to {}: {} files, {} bytes sent, every SHA-256 verified by the server",
        a.name,
        a.version,
        a.share,
        done.files,
        sent
    );
    Ok(())
}

fn print_list(list: &[PackageView]) {
    let mut table =
        Table::new(["package", "version", "share", "files", "bytes", "added", "assigned", "replicas"])
            .right(&[3, 4]);
    for p in list {
        let replicas: Vec<String> = p
            .replicas
            .iter()
            .map(|r| match &r.message {
                Some(m) => format!("{} {}: {m}", r.site, r.status.as_str()),
                None => format!("{} {}", r.site, r.status.as_str()),
            })
            .collect();
        let assigned = match &p.assigned_to {
            Some(AssignedTo::All(_)) => "all".into(),
            Some(AssignedTo::Sites(sites)) => sites.join(", "),
            None => "-".into(),
        };
        table.row([
            p.name.clone(),
            p.version.clone(),
            p.share.clone(),
            p.files.to_string(),
            p.bytes.to_string(),
            if p.committed { time_text(Some(p.created_at)) } else { "uploading".into() },
            assigned,
            replicas.join("; "),
        ]);
    }
    table.print();
}
