//! `acc site init`: makes a data directory usable by `acc site run`: identity, TLS
//! material, default shares and the database. `site.json` is written last, so a directory
//! without it is never mistaken for an initialised one, and a failure removes what was made.

use acc_net::datadir::RoleConfig as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use acc_core::time::{Clock as _, SystemClock};
use acc_pki::bundle::{self, BundleSpec};
use acc_pki::fsutil::{self, KEY_MODE, PUBLIC_MODE};
use acc_pki::key::PrivateKey;
use acc_pki::serial;
use acc_pki::x509;

use crate::config::{self, SiteConfig};
use crate::error::SiteError;
use crate::layout::Layout;

/// The shares every site server has (the seeds' package locations).
pub const DEFAULT_SHARES: [&str; 3] = ["software-library", "nscap", "patch-downloads"];

/// Validity of the site's own CA and server certificate.
const CA_DAYS: u32 = 3650;
const SERVER_DAYS: u32 = 825;

/// What `acc site init` was asked for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The site name (validated), or `None` for one derived from the host name.
    pub name: Option<String>,
    /// The listen address.
    pub listen: SocketAddr,
    /// An existing server certificate and key to use instead of making them.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// The host name, for the default site name and the certificate's names.
    pub hostname: String,
    /// The cap on unauthenticated connections per address; `None`: the default.
    pub max_unauthenticated_per_address: Option<usize>,
}

/// Initialises a data directory and returns its configuration.
pub fn init(opts: &InitOptions) -> Result<SiteConfig, SiteError> {
    let layout = Layout::new(&opts.data_dir);
    if layout.config().exists() {
        return Err(SiteError::AlreadyInitialised(opts.data_dir.display().to_string()));
    }
    let name = match &opts.name {
        Some(n) => config::validate_name(n)?,
        None => config::default_name(&opts.hostname),
    };
    let existed = layout.root().exists();
    let result = make(&layout, opts, name);
    if result.is_err() {
        // Leave nothing half-made: remove what this run created.
        remove_made(&layout, existed);
    }
    result
}

/// Removes what an init made in `layout` (the whole directory unless it `existed` before),
/// e.g. after a join that initialised the directory failed.
pub fn remove_made(layout: &Layout, existed: bool) {
    if existed {
        let db = layout.database().display().to_string();
        let made = [layout.tls_dir(), layout.shares_dir(), layout.database(), layout.config()];
        let sqlite = [format!("{db}-wal"), format!("{db}-shm")].map(PathBuf::from);
        for p in made.into_iter().chain(sqlite).chain([layout.root().join("site.lock")]) {
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
    } else {
        let _ = std::fs::remove_dir_all(layout.root());
    }
}

fn make(layout: &Layout, opts: &InitOptions, name: String) -> Result<SiteConfig, SiteError> {
    create_dir(layout.root())?;
    // The directory holds password hashes and private keys: its owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(layout.root(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| SiteError::io(layout.root(), e))?;
    }
    create_dir(&layout.tls_dir())?;
    match &opts.tls {
        Some((cert, key)) => adopt_tls(layout, cert, key)?,
        None => make_tls(layout, &name, opts.listen, &opts.hostname)?,
    }
    for share in DEFAULT_SHARES {
        create_dir(&layout.share_dir(share))?;
    }
    let config = SiteConfig {
        name,
        site_id: uuid::Uuid::new_v4().to_string(),
        domain_sid: random_domain_sid()?,
        fleet_name: "ACC".to_string(),
        listen: opts.listen,
        max_unauthenticated_per_address: opts.max_unauthenticated_per_address,
    };
    fsutil::write_file(&layout.config(), config.to_json().as_bytes(), PUBLIC_MODE, false)?;
    Ok(config)
}

fn create_dir(p: &Path) -> Result<(), SiteError> {
    std::fs::create_dir_all(p).map_err(|e| SiteError::io(p, e))
}

/// `S-1-5-21-a-b-c` with three random 32-bit sub-authorities, as Windows makes a machine SID.
fn random_domain_sid() -> Result<String, SiteError> {
    let bytes = serial::random()?;
    let part = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    Ok(format!("S-1-5-21-{}-{}-{}", part(0) & 0x7fff_ffff, part(4), part(8)))
}

fn make_tls(layout: &Layout, name: &str, listen: SocketAddr, hostname: &str) -> Result<(), SiteError> {
    let spec = BundleSpec {
        ca_subject: &format!("/O=acc/CN={name} site CA"),
        server_subject: &format!("/O=acc/CN={}", name.to_ascii_lowercase()),
        sans: bundle::listen_names(listen, hostname),
        ca_days: CA_DAYS,
        server_days: SERVER_DAYS,
    };
    let b = bundle::make(&spec, SystemClock.now_utc())?;
    fsutil::write_file(&layout.tls_ca_key(), b.ca_key_pem.as_bytes(), KEY_MODE, false)?;
    fsutil::write_file(&layout.tls_ca_cert(), b.ca_cert_pem.as_bytes(), PUBLIC_MODE, false)?;
    fsutil::write_file(&layout.tls_key(), b.key_pem.as_bytes(), KEY_MODE, false)?;
    fsutil::write_file(&layout.tls_cert(), b.cert_pem.as_bytes(), PUBLIC_MODE, false)?;
    Ok(())
}

fn adopt_tls(layout: &Layout, cert: &Path, key: &Path) -> Result<(), SiteError> {
    let cert_bytes = std::fs::read(cert).map_err(|e| SiteError::io(cert, e))?;
    let key_bytes = std::fs::read(key).map_err(|e| SiteError::io(key, e))?;
    let private = PrivateKey::from_bytes(&key_bytes)
        .map_err(|e| SiteError::Config { path: key.display().to_string(), detail: e.to_string() })?;
    let certs = x509::certificates(&cert_bytes)
        .map_err(|e| SiteError::Config { path: cert.display().to_string(), detail: e.to_string() })?;
    if !x509::key_matches_certificate(&private, &certs[0])? {
        return Err(SiteError::Config {
            path: key.display().to_string(),
            detail: format!("this key does not belong to the certificate {}", cert.display()),
        });
    }
    fsutil::write_file(&layout.tls_key(), &key_bytes, KEY_MODE, false)?;
    fsutil::write_file(&layout.tls_cert(), &cert_bytes, PUBLIC_MODE, false)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(dir: &Path) -> InitOptions {
        InitOptions {
            data_dir: dir.to_path_buf(),
            name: None,
            listen: "127.0.0.1:8444".parse().unwrap(),
            tls: None,
            hostname: "web01.corp".into(),
            max_unauthenticated_per_address: None,
        }
    }

    #[test]
    fn init_makes_identity_tls_and_shares_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        let config = init(&opts(&dir)).unwrap();
        assert_eq!(config.name, "WEB01");
        assert!(config.domain_sid.starts_with("S-1-5-21-"));
        let layout = Layout::new(&dir);
        for share in DEFAULT_SHARES {
            assert!(layout.share_dir(share).is_dir());
        }
        let ca = std::fs::read(layout.tls_ca_cert()).unwrap();
        let server = std::fs::read(layout.tls_cert()).unwrap();
        let opts_verify = acc_pki::verify::Options {
            purpose: Some(acc_pki::verify::Purpose::Server),
            crl: None,
            at: SystemClock.now_utc(),
        };
        assert!(acc_pki::verify::verify(&ca, &server, &opts_verify).unwrap().is_ok());
        assert_eq!(SiteConfig::load(&layout.config()).unwrap(), config);
        assert!(matches!(init(&opts(&dir)), Err(SiteError::AlreadyInitialised(_))));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777, 0o700);
        }
    }

    #[test]
    fn a_failed_init_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("site");
        let mut o = opts(&dir);
        o.tls = Some((tmp.path().join("missing.crt"), tmp.path().join("missing.key")));
        assert!(init(&o).is_err());
        assert!(!dir.exists());
        o.tls = None;
        o.name = Some("bad name".into());
        assert!(matches!(init(&o), Err(SiteError::BadName(_))));
        assert!(!dir.exists());
    }
}
