//! Where a site server keeps its state inside its data directory.
//!
//! ```text
//! DIR/site.json        identity and listen address (written by `acc site init`)
//! DIR/site.db          SQLite (WAL): accounts, lockout state, events, agents, tasks, shares
//! DIR/tls/ca.crt       the site's own CA: what clients trust for this site's TLS
//! DIR/tls/ca.key       its key (0400)
//! DIR/tls/server.crt   the site's TLS server certificate (and .key, 0400)
//! DIR/shares/NAME/     the files each share serves
//! DIR/trust/*.pem      client CAs agents' certificates may chain to
//! DIR/crl.pem          the CRL enforced for agents' certificates
//! DIR/admin.sock       local administration socket (0600) while the server runs
//! DIR/management/      after `acc site join`: server.json (the management server's URL),
//!                      ca.crt (the fleet CA), client.crt and client.key (0400),
//!                      trust/*.pem and crl.pem (agent trust from the management server)
//! ```

use std::path::{Path, PathBuf};

/// The paths of one site data directory.
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

    /// `site.json`.
    pub fn config(&self) -> PathBuf {
        self.root.join("site.json")
    }

    /// `site.db`.
    pub fn database(&self) -> PathBuf {
        self.root.join("site.db")
    }

    /// `tls/`.
    pub fn tls_dir(&self) -> PathBuf {
        self.root.join("tls")
    }

    /// `tls/ca.crt`: what clients trust.
    pub fn tls_ca_cert(&self) -> PathBuf {
        self.tls_dir().join("ca.crt")
    }

    /// `tls/ca.key`.
    pub fn tls_ca_key(&self) -> PathBuf {
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

    /// `management/`: present once the site has joined a management server.
    pub fn management_dir(&self) -> PathBuf {
        self.root.join("management")
    }

    /// `management/server.json`.
    pub fn management_config(&self) -> PathBuf {
        self.management_dir().join("server.json")
    }

    /// `management/ca.crt`: the fleet CA.
    pub fn management_ca(&self) -> PathBuf {
        self.management_dir().join("ca.crt")
    }

    /// `management/client.crt`: the site's certificate from the fleet CA.
    pub fn management_cert(&self) -> PathBuf {
        self.management_dir().join("client.crt")
    }

    /// `management/client.key` (0400).
    pub fn management_key(&self) -> PathBuf {
        self.management_dir().join("client.key")
    }

    /// `management/trust/`: CAs the management server trusts for agents (fleet CA first).
    pub fn management_trust_dir(&self) -> PathBuf {
        self.management_dir().join("trust")
    }

    /// `management/crl.pem`: the fleet CA's CRL.
    pub fn management_crl(&self) -> PathBuf {
        self.management_dir().join("crl.pem")
    }

    /// `shares/`.
    pub fn shares_dir(&self) -> PathBuf {
        self.root.join("shares")
    }

    /// `shares/NAME/`.
    pub fn share_dir(&self, name: &str) -> PathBuf {
        self.shares_dir().join(name)
    }

    /// `trust/`: client CAs whose certificates agents may present (one PEM per CA).
    pub fn trust_dir(&self) -> PathBuf {
        self.root.join("trust")
    }

    /// `crl.pem`: the CRL enforced for agent certificates.
    pub fn crl(&self) -> PathBuf {
        self.root.join("crl.pem")
    }

    /// `admin.sock`.
    pub fn admin_socket(&self) -> PathBuf {
        self.root.join("admin.sock")
    }
}
