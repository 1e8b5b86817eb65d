//! The data directory argument of the administrative `acc site` commands, and where their
//! requests go: the running server's admin socket, or the data directory opened (and locked)
//! here when no server runs (see `acc_site::admin`). Used by `acc site` and `acc site shares`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use acc_site::admin::{self, DirLock, Request};
use acc_site::config::SiteConfig;
use acc_site::layout::Layout;
use acc_site::site::{Site, SystemClock};
use anyhow::Result;
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args)]
pub struct DataDir {
    /// The site's data directory.
    #[arg(long, value_name = "DIR")]
    pub(crate) data_dir: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Where administrative requests go: the running server's admin socket, or the data
/// directory opened here (and locked) when no server runs.
pub(crate) enum Admin {
    /// A server runs: its socket.
    Socket(PathBuf),
    /// No server runs: the site, opened by this command, which holds the directory's lock.
    Local { site: Arc<Site>, _lock: DirLock },
}

impl Admin {
    /// Finds the running server of `dir`, or opens the data directory; a server starting
    /// or stopping, or another command holding the directory, is waited for (bounded).
    pub(crate) async fn open(dir: &Path) -> Result<Admin> {
        let layout = Layout::new(dir);
        SiteConfig::load(&layout.config())?;
        match admin::route(dir, &layout.admin_socket(), admin::LOCK_WAIT).await? {
            admin::Route::Socket(socket) => Ok(Admin::Socket(socket)),
            admin::Route::Local(lock) => {
                let site = Site::open(layout, Arc::new(SystemClock)).await?;
                Ok(Admin::Local { site, _lock: lock })
            }
        }
    }

    /// Carries out one request; when the server stopped before the request was sent, on
    /// whatever answers next (the restarted server, or the data directory itself).
    pub(crate) async fn request(&mut self, dir: &Path, request: Request) -> Result<Value> {
        loop {
            match self {
                Admin::Socket(socket) => match admin::call(socket, &request).await? {
                    Some(answer) => return Ok(answer),
                    None => *self = Admin::open(dir).await?,
                },
                Admin::Local { site, .. } => return Ok(admin::handle(site, request).await?),
            }
        }
    }
}

/// Sends `request` to the running server, or carries it out on the data directory.
pub(crate) async fn call(dir: &Path, request: Request) -> Result<Value> {
    Admin::open(dir).await?.request(dir, request).await
}
