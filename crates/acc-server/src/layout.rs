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

use std::path::PathBuf;

acc_net::role_layout!(
    /// The paths of one management server data directory: those of every server's
    /// [`acc_net::datadir::DataDir`] (root, `tls/`), `server.json`, `server.db`, and the
    /// management server's own.
    Layout,
    "server"
);

impl Layout {
    /// `packages/NAME/VERSION`: a committed package version's files.
    pub fn package_dir(&self, name: &str, version: &str) -> PathBuf {
        self.root().join("packages").join(name).join(version)
    }

    /// `packages/.staging/NAME/VERSION`: an upload in progress.
    pub fn package_staging(&self, name: &str, version: &str) -> PathBuf {
        self.root().join("packages").join(".staging").join(name).join(version)
    }

    /// `vault.key`.
    pub fn vault_key(&self) -> PathBuf {
        self.root().join("vault.key")
    }

    /// `admin-token`.
    pub fn admin_token(&self) -> PathBuf {
        self.root().join("admin-token")
    }

    /// `admin-password`: the console user `admin`'s first password.
    pub fn admin_password(&self) -> PathBuf {
        self.root().join("admin-password")
    }

    /// `tls/ca.crt`: the fleet CA certificate (it also signs the server's TLS certificate).
    pub fn ca_cert(&self) -> PathBuf {
        self.tls_ca_cert()
    }

    /// `tls/ca.key`: the fleet CA's key.
    pub fn ca_key(&self) -> PathBuf {
        self.tls_ca_key()
    }

    /// `server.lock`.
    pub fn lock(&self) -> PathBuf {
        self.root().join("server.lock")
    }
}
