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

use std::path::PathBuf;

acc_net::role_layout!(
    /// The paths of one site data directory: those of every server's
    /// [`acc_net::datadir::DataDir`] (root, `tls/`), `site.json`, `site.db`, and the site's
    /// own.
    Layout,
    "site"
);

impl Layout {
    /// `management/`: present once the site has joined a management server.
    pub fn management_dir(&self) -> PathBuf {
        self.root().join("management")
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
        self.root().join("shares")
    }

    /// `shares/NAME/`.
    pub fn share_dir(&self, name: &str) -> PathBuf {
        self.shares_dir().join(name)
    }

    /// `trust/`: client CAs whose certificates agents may present (one PEM per CA).
    pub fn trust_dir(&self) -> PathBuf {
        self.root().join("trust")
    }

    /// `crl.pem`: the CRL enforced for agent certificates.
    pub fn crl(&self) -> PathBuf {
        self.root().join("crl.pem")
    }

    /// `admin.sock`.
    pub fn admin_socket(&self) -> PathBuf {
        self.root().join("admin.sock")
    }
}
