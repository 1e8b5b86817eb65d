//! Where a management server keeps its state inside its data directory.
//!
//! ```text
//! DIR/server.json       identity, directory names, listen address (acc server init)
//! DIR/server.db         SQLite (WAL): policy revisions, sealed secrets, tokens, directory
//! DIR/vault.key         the vault's master key (0600): secrets at rest are sealed under it
//! DIR/admin-token       the first admin's bearer token (0600), written once by init
//! DIR/admin-password    the console user admin's first password (0600), written once by init
//! DIR/tls/ca.crt        the fleet CA: what site servers, agents and `acc ctl` trust
//! DIR/tls/ca.key        its key (0400)
//! DIR/tls/server.crt    the server's TLS certificate (and server.key, 0400)
//! DIR/server.lock       held while a server runs
//! DIR/packages/NAME/VERSION/…           package content, immutable once committed
//! DIR/packages/.staging/NAME/VERSION/…  uploads in progress (resumable)
//! ```

use std::path::{Path, PathBuf};

/// The paths of one management server data directory.
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    /// The layout rooted at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Layout { root: dir.into() }
    }

    /// The data directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `server.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("server.json")
    }

    /// `packages/NAME/VERSION`: a committed package version's files.
    pub fn package_dir(&self, name: &str, version: &str) -> PathBuf {
        self.root.join("packages").join(name).join(version)
    }

    /// `packages/.staging/NAME/VERSION`: an upload in progress.
    pub fn package_staging(&self, name: &str, version: &str) -> PathBuf {
        self.root.join("packages").join(".staging").join(name).join(version)
    }

    /// `server.db`.
    pub fn database(&self) -> PathBuf {
        self.root.join("server.db")
    }

    /// `vault.key`.
    pub fn vault_key(&self) -> PathBuf {
        self.root.join("vault.key")
    }

    /// `admin-token`.
    pub fn admin_token(&self) -> PathBuf {
        self.root.join("admin-token")
    }

    /// `admin-password`: the console user `admin`'s first password.
    pub fn admin_password(&self) -> PathBuf {
        self.root.join("admin-password")
    }

    /// `tls/`.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// `tls/ca.crt`: the fleet CA certificate.
    pub fn ca_cert(&self) -> PathBuf {
        self.tls_dir().join("ca.crt")
    }

    /// `tls/ca.key`.
    pub fn ca_key(&self) -> PathBuf {
        self.tls_dir().join("ca.key")
    }

    /// `tls/server.crt`.
    pub fn tls_cert(&self) -> PathBuf {
        self.tls_dir().join("server.crt")
    }

    /// `tls/server.key`.
    pub fn tls_key(&self) -> PathBuf {
        self.tls_dir().join("server.key")
    }

    /// `server.lock`.
    pub fn lock(&self) -> PathBuf {
        self.root.join("server.lock")
    }
}
