//! Package replication on a joined site server: the packages its policy assigns are
//! fetched from the management server (which checks the package source's ACLs for the
//! connectivity credential: the site reads as the ACC), in chunks appended to a staging
//! copy so an interrupted transfer resumes where it stopped, verified file by file against
//! the manifest's SHA-256, then swapped into `shares/SHARE/NAME/` in one rename. A refresh
//! that fails (an Access Denied naming principal, share and level; a bad digest; the
//! server away) keeps the previous version in place and is reported to the server.
//!
//! ```text
//! DIR/management/packages.json            the assigned manifests (the last policy's)
//! DIR/management/installed/SHARE/NAME     the version in place
//! DIR/staging/SHARE/NAME/VERSION/…         transfers in progress
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use acc_net::client::Connection;
use acc_pki::fsutil::{self, PUBLIC_MODE};
use acc_proto::package::encode_query;
use acc_proto::{PackageManifest, PackageReport, PackageState, ReplicationStatus};
use bytes::Bytes;
use tokio::sync::watch;

use crate::error::SiteError;
use crate::layout::Layout;
use crate::management::{Nodes, connect, refused};
use crate::site::Site;

/// The longest pause between two attempts at a failed refresh.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// Why one package did not replicate.
#[derive(Debug)]
enum Failure {
    /// The server refused (the message says why: 403 is the 5.6 refresh error).
    Refused(String),
    /// Anything else: the server away, a bad digest, the disk.
    Other(String),
}

impl Failure {
    fn message(&self) -> &str {
        match self {
            Failure::Refused(m) | Failure::Other(m) => m,
        }
    }
}

fn wanted_path(layout: &Layout) -> PathBuf {
    layout.management_dir().join("packages.json")
}

fn installed_path(layout: &Layout, share: &str, name: &str) -> PathBuf {
    layout.management_dir().join("installed").join(share).join(name)
}

fn staging_dir(layout: &Layout, m: &PackageManifest) -> PathBuf {
    layout.root().join("staging").join(&m.share).join(&m.name).join(&m.version)
}

/// The assigned manifests stored with the last policy (none when never assigned).
pub fn load_wanted(layout: &Layout) -> Vec<PackageManifest> {
    std::fs::read(wanted_path(layout)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

/// Stores the assigned manifests of a policy just applied.
pub fn store_wanted(layout: &Layout, wanted: &[PackageManifest]) -> Result<(), SiteError> {
    let json = serde_json::to_vec(wanted).unwrap_or_default();
    fsutil::write_file(&wanted_path(layout), &json, PUBLIC_MODE, true)?;
    Ok(())
}

/// The version of `share/name` in place, if any.
pub fn installed(layout: &Layout, share: &str, name: &str) -> Option<String> {
    std::fs::read_to_string(installed_path(layout, share, name)).ok().map(|s| s.trim().to_string())
}

/// Brings every assigned package to its version, then reports; again whenever the policy
/// is applied (`wanted` changes) and, while something failed, with a growing pause.
pub async fn replicate_loop(
    site: Arc<Site>,
    nodes: Nodes,
    mut wanted: watch::Receiver<Vec<PackageManifest>>,
) {
    let mut retry = Duration::from_secs(2);
    loop {
        let packages = wanted.borrow_and_update().clone();
        let states = replicate_all(&site, &nodes, &packages).await;
        let failed = states.iter().any(|s| s.status == ReplicationStatus::Failed);
        if let Err(e) = report(&site, &nodes, states).await {
            tracing::warn!(error = %e, "The package report did not reach the management server.");
        }
        let pause = if failed { retry } else { Duration::MAX };
        retry = if failed { (retry * 2).min(MAX_RETRY) } else { Duration::from_secs(2) };
        let changed = tokio::time::timeout(pause, wanted.changed()).await;
        if matches!(changed, Ok(Err(_))) {
            return;
        }
    }
}

async fn report(site: &Site, nodes: &Nodes, packages: Vec<PackageState>) -> Result<(), SiteError> {
    let mut conn = connect(site.layout(), nodes).await?;
    let body = Bytes::from(serde_json::to_vec(&PackageReport { packages }).unwrap_or_default());
    let resp = conn
        .send("POST", "/v1/site/packages", &[("content-type", "application/json")], body)
        .await
        .map_err(|e| SiteError::Management(e.to_string()))?;
    if !resp.status.is_success() {
        return Err(refused("the package report", &resp));
    }
    Ok(())
}

async fn replicate_all(site: &Site, nodes: &Nodes, packages: &[PackageManifest]) -> Vec<PackageState> {
    let layout = site.layout();
    let mut states = Vec::new();
    let mut conn: Option<Connection> = None;
    for m in packages {
        let before = installed(layout, &m.share, &m.name);
        let outcome = if before.as_deref() == Some(m.version.as_str()) {
            Ok(())
        } else {
            tracing::info!(package = %m.name, version = %m.version, share = %m.share, "Package refresh.");
            replicate(site, nodes, &mut conn, m).await
        };
        let bytes = m.files.iter().map(|f| f.size).sum();
        states.push(match outcome {
            Ok(()) => PackageState {
                share: m.share.clone(),
                name: m.name.clone(),
                wanted: m.version.clone(),
                version: Some(m.version.clone()),
                status: ReplicationStatus::Replicated,
                message: None,
                bytes,
            },
            Err(f) => {
                tracing::warn!(package = %m.name, version = %m.version, "{}", f.message());
                if matches!(f, Failure::Other(_)) {
                    conn = None;
                }
                PackageState {
                    share: m.share.clone(),
                    name: m.name.clone(),
                    wanted: m.version.clone(),
                    version: before,
                    status: ReplicationStatus::Failed,
                    message: Some(f.message().to_string()),
                    bytes: 0,
                }
            }
        });
    }
    states
}

async fn replicate(
    site: &Site,
    nodes: &Nodes,
    conn: &mut Option<Connection>,
    m: &PackageManifest,
) -> Result<(), Failure> {
    let layout = site.layout();
    // A package source the server added later: the site creates the share, readable by
    // its agents, as `acc site shares add --agents-read` would.
    if !site.shares().list().iter().any(|v| v.name == m.share) {
        site.shares()
            .add(site.writer(), &m.share, true)
            .await
            .map_err(|e| Failure::Other(format!("package refresh: share '{}': {e}", m.share)))?;
        tracing::info!(share = %m.share, "Share created for a package source of the management server.");
    }
    let staging = staging_dir(layout, m);
    for f in &m.files {
        let target = staging.join(&f.path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Failure::Other(format!("{}: {e}", dir.display())))?;
        }
        let mut held = std::fs::metadata(&target).map(|md| md.len()).unwrap_or(0);
        if held > f.size {
            let _ = std::fs::remove_file(&target);
            held = 0;
        }
        while held < f.size {
            let chunk = fetch(site, nodes, conn, m, &f.path, held).await?;
            if chunk.is_empty() {
                return Err(Failure::Other(format!("file '{}': the server sent no data at {held}", f.path)));
            }
            let target = target.clone();
            held = tokio::task::spawn_blocking(move || append(&target, &chunk))
                .await
                .map_err(|e| Failure::Other(e.to_string()))?
                .map_err(|e| Failure::Other(format!("{}: {e}", f.path)))?;
        }
        let t = target.clone();
        let (_, sha) = tokio::task::spawn_blocking(move || acc_proto::package::hash_file(&t))
            .await
            .map_err(|e| Failure::Other(e.to_string()))?
            .map_err(|e| Failure::Other(format!("{}: {e}", f.path)))?;
        if sha != f.sha256 {
            let _ = std::fs::remove_file(&target);
            return Err(Failure::Other(format!(
                "package refresh: file '{}' of {} {} has SHA-256 {sha}, the manifest says {}; it will be fetched again",
                f.path, m.name, m.version, f.sha256
            )));
        }
    }
    swap_in(layout, m, &staging).map_err(|e| Failure::Other(format!("package refresh: {e}")))
}

fn append(target: &Path, chunk: &[u8]) -> std::io::Result<u64> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(target)?;
    f.write_all(chunk)?;
    f.sync_data()?;
    Ok(f.metadata()?.len())
}

/// Moves the verified staging copy to `shares/SHARE/NAME`; the previous version goes
/// away only after the new one is in place.
fn swap_in(layout: &Layout, m: &PackageManifest, staging: &Path) -> Result<(), SiteError> {
    let target = layout.share_dir(&m.share).join(&m.name);
    let old = layout.root().join("staging").join(format!(".old-{}-{}", m.share, m.name));
    let _ = std::fs::remove_dir_all(&old);
    if target.exists() {
        std::fs::rename(&target, &old).map_err(|e| SiteError::io(&target, e))?;
    }
    std::fs::rename(staging, &target).map_err(|e| SiteError::io(&target, e))?;
    let _ = std::fs::remove_dir_all(&old);
    let marker = installed_path(layout, &m.share, &m.name);
    if let Some(dir) = marker.parent() {
        std::fs::create_dir_all(dir).map_err(|e| SiteError::io(dir, e))?;
    }
    fsutil::write_file(&marker, m.version.as_bytes(), PUBLIC_MODE, true)?;
    tracing::info!(package = %m.name, version = %m.version, share = %m.share, "Package replicated.");
    Ok(())
}

/// One chunk of `path` from `offset`, on the kept connection (opened when needed).
async fn fetch(
    site: &Site,
    nodes: &Nodes,
    conn: &mut Option<Connection>,
    m: &PackageManifest,
    path: &str,
    offset: u64,
) -> Result<Bytes, Failure> {
    if conn.is_none() {
        *conn = Some(connect(site.layout(), nodes).await.map_err(|e| Failure::Other(e.to_string()))?);
    }
    let Some(c) = conn.as_mut() else {
        return Err(Failure::Other("no connection".into()));
    };
    let request = format!(
        "/v1/site/packages/{}/{}/file?path={}&offset={offset}",
        encode_query(&m.name),
        encode_query(&m.version),
        encode_query(path)
    );
    let resp = match c.send("GET", &request, &[], Bytes::new()).await {
        Ok(r) => r,
        Err(e) => {
            *conn = None;
            return Err(Failure::Other(format!(
                "package refresh: the management server is unreachable ({e})"
            )));
        }
    };
    if resp.status.is_success() {
        return Ok(resp.body);
    }
    let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
    let message = v["message"].as_str().unwrap_or("refused").to_string();
    Err(if resp.status.is_client_error() { Failure::Refused(message) } else { Failure::Other(message) })
}
