//! `acc server init`: makes a data directory usable by `acc server run`: the fleet CA, the
//! server's TLS certificate, the vault's master key, the database with the first policy
//! revision, the App ID (a directory account whose random password only the vault holds)
//! and the first admin token, written once to `DIR/admin-token` (0600), and the console's
//! first user `admin`, whose password is written once to `DIR/admin-password` (0600). `server.json` is
//! written last, so a directory without it is never mistaken for an initialised one, and a
//! failure removes what this run made.

use acc_net::datadir::RoleConfig as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use acc_core::password::Secret;
use acc_core::time::{Clock, SystemClock};
use acc_pki::bundle::{self, BundleSpec};
use acc_pki::fsutil::{self, KEY_MODE, PUBLIC_MODE};

use crate::config::{self, ServerConfig};
use crate::document::PolicyDocument;
use crate::error::ServerError;
use crate::layout::Layout;
use crate::store::{self, DirectoryAccount, RevisionRow, SealedSecret, TokenRow};
use crate::tokens::{self, Role};
use crate::vault::{self, Vault};

/// Validity of the fleet CA and of the server's certificate.
const CA_DAYS: u32 = 3650;
pub(crate) const SERVER_DAYS: u32 = 825;

/// What `acc server init` was asked for.
#[derive(Debug, Clone)]
pub struct InitOptions {
    /// The data directory.
    pub data_dir: PathBuf,
    /// The directory's NetBIOS name (`--domain CORP`).
    pub domain: String,
    /// The App ID's account name (`--app-id`, default `svc_acc_app`).
    pub app_id: String,
    /// The listen address.
    pub listen: SocketAddr,
    /// The host name, for the server's name and certificate.
    pub hostname: String,
    /// The organisation's name (`--organisation`; empty: unset).
    pub organisation: String,
    /// The cap on unauthenticated connections per address; `None`: the default.
    pub max_unauthenticated_per_address: Option<usize>,
    /// The PostgreSQL database for the store (`--database`); `None`: SQLite in the data
    /// directory.
    pub database: Option<store::PostgresTarget>,
}

/// The vault name of a directory account's password.
pub fn directory_secret_name(account: &str) -> String {
    format!("directory.{}", account.to_lowercase())
}

/// Initialises a data directory and returns its configuration.
pub async fn init(opts: &InitOptions) -> Result<ServerConfig, ServerError> {
    let layout = Layout::new(&opts.data_dir);
    if layout.config().exists() {
        return Err(ServerError::AlreadyInitialised(opts.data_dir.display().to_string()));
    }
    let domain = config::validate_domain(&opts.domain)?;
    let app_id = config::validate_app_id(&opts.app_id)?;
    config::validate_organisation(&opts.organisation)?;
    let existed = layout.root().exists();
    let result = make(&layout, opts, domain, app_id).await;
    if result.is_err() {
        undo(&layout, existed);
    }
    result
}

/// Removes what an init (or a node join) wrote in `layout`: the files it makes when the
/// directory `existed` before, else the whole directory.
pub(crate) fn undo(layout: &Layout, existed: bool) {
    if existed {
        for p in [layout.tls_dir(), layout.vault_key(), layout.admin_token(), layout.admin_password()] {
            let _ = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", layout.database().display()));
        }
    } else {
        let _ = std::fs::remove_dir_all(layout.root());
    }
}

/// Makes the data directory (0700) and its `tls/`.
pub(crate) fn make_dirs(layout: &Layout) -> Result<(), ServerError> {
    std::fs::create_dir_all(layout.tls_dir()).map_err(|e| ServerError::io(&layout.tls_dir(), e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(layout.root(), std::fs::Permissions::from_mode(0o700))
            .map_err(|e| ServerError::io(layout.root(), e))?;
    }
    Ok(())
}

/// The TLS files: the fleet CA's key (0400) and certificate, the server's key (0400) and
/// certificate.
pub(crate) fn write_tls(
    layout: &Layout,
    ca_key_pem: &str,
    ca_cert_pem: &str,
    key_pem: &str,
    cert_pem: &str,
) -> Result<(), ServerError> {
    fsutil::write_file(&layout.ca_key(), ca_key_pem.as_bytes(), KEY_MODE, false)?;
    fsutil::write_file(&layout.ca_cert(), ca_cert_pem.as_bytes(), PUBLIC_MODE, false)?;
    fsutil::write_file(&layout.tls_key(), key_pem.as_bytes(), KEY_MODE, false)?;
    fsutil::write_file(&layout.tls_cert(), cert_pem.as_bytes(), PUBLIC_MODE, false)?;
    Ok(())
}

/// `server.json`, written last: a directory without it is not an initialised one.
pub(crate) fn write_config(layout: &Layout, config: &ServerConfig) -> Result<(), ServerError> {
    fsutil::write_file(&layout.config(), config.to_json().as_bytes(), PUBLIC_MODE, false)?;
    Ok(())
}

/// The subject of a server's TLS certificate for `host`.
pub(crate) fn server_subject(host: &str) -> String {
    format!("/O=acc/CN={host}")
}

async fn make(
    layout: &Layout,
    opts: &InitOptions,
    domain: String,
    app_id: String,
) -> Result<ServerConfig, ServerError> {
    make_dirs(layout)?;
    let host =
        if opts.hostname.is_empty() { "localhost".to_string() } else { opts.hostname.to_ascii_lowercase() };
    let spec = BundleSpec {
        ca_subject: &format!("/O=acc/OU={domain}/CN=acc fleet CA"),
        server_subject: &server_subject(&host),
        sans: bundle::listen_names(opts.listen, &opts.hostname),
        ca_days: CA_DAYS,
        server_days: SERVER_DAYS,
    };
    let b = bundle::make(&spec, SystemClock.now_utc())?;
    write_tls(layout, &b.ca_key_pem, &b.ca_cert_pem, &b.key_pem, &b.cert_pem)?;
    let vault = Vault::create(&layout.vault_key())?;

    let name = server_name(&opts.hostname);
    let target = match &opts.database {
        Some(pg) => store::Target::Postgres(pg.clone()),
        None => store::Target::Sqlite(layout.database()),
    };
    let pool = store::open(&target, true, &name).await?;
    if store::latest_revision(&pool).await?.is_some() {
        pool.close().await;
        return Err(ServerError::Invalid(format!(
            "--database {} already holds a management server's store; give an empty database",
            target.describe()
        )));
    }
    let now_ms = SystemClock.now().millis();
    // The App ID: a directory account with a password nobody types (the vault has it).
    let password = vault::random_password(24)?;
    let hash = vault::hash_password(&password)?;
    store::add_directory_account(
        &pool,
        &DirectoryAccount {
            name_key: app_id.to_lowercase(),
            name: app_id.clone(),
            enabled: true,
            password_hash: hash,
        },
    )
    .await?;
    let secret = directory_secret_name(&app_id);
    store::put_secret(&pool, &SealedSecret { sealed: vault.seal(&secret, &password)?, name: secret }).await?;
    let document = serde_json::to_string(&PolicyDocument::default()).unwrap_or_default();
    let row = RevisionRow {
        number: 1,
        created_at: now_ms,
        author: "acc server init".into(),
        summary: "initial settings".into(),
    };
    store::save_revision(&pool, &row, &document, &[]).await?;
    let token = tokens::new_token("acc")?;
    store::put_token(
        &pool,
        &TokenRow {
            digest: tokens::digest_hex(&token),
            role: Role::Admin,
            description: "first admin (acc server init)".into(),
            created_at: now_ms,
            expires_at: None,
        },
    )
    .await?;
    // The console's first user; its password is written once, like the token.
    let admin_password = vault::random_password(crate::users::FIRST_PASSWORD_CHARS)?;
    store::add_user(
        &pool,
        &store::UserRow {
            name_key: crate::users::FIRST_USER.into(),
            name: crate::users::FIRST_USER.into(),
            role: Role::Admin,
            password_hash: vault::hash_password(&admin_password)?,
            created_at: now_ms,
            password_changed_at: now_ms,
        },
    )
    .await?;
    pool.close().await;
    fsutil::write_file(&layout.admin_token(), format!("{token}\n").as_bytes(), 0o600, false)?;
    drop(Secret::new(token));
    let text = format!("{}\n", admin_password.expose());
    fsutil::write_file(&layout.admin_password(), text.as_bytes(), 0o600, false)?;

    let url = format!("https://{}", url_authority(opts.listen));
    let config = ServerConfig {
        name,
        dns_domain: format!("{}.local", domain.to_lowercase()),
        domain,
        app_id,
        listen: opts.listen,
        url,
        organisation: opts.organisation.clone(),
        max_unauthenticated_per_address: opts.max_unauthenticated_per_address,
        database: opts.database.clone(),
    };
    write_config(layout, &config)?;
    Ok(config)
}

/// The server's name: the host name's first label, upper case (`ACCSERVER` by default).
pub(crate) fn server_name(hostname: &str) -> String {
    let first = hostname.split('.').next().unwrap_or_default().to_ascii_uppercase();
    let clean: String = first.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-').take(15).collect();
    if clean.is_empty() { "ACCSERVER".to_string() } else { clean }
}

/// `127.0.0.1:8443`, `[::1]:8443`, or the loopback for an unspecified address.
pub(crate) fn url_authority(listen: SocketAddr) -> String {
    let ip = if listen.ip().is_unspecified() { std::net::IpAddr::from([127, 0, 0, 1]) } else { listen.ip() };
    SocketAddr::new(ip, listen.port()).to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The options of a test server's `acc server init` in `dir`.
    pub(crate) fn opts(dir: &std::path::Path) -> InitOptions {
        InitOptions {
            data_dir: dir.to_path_buf(),
            domain: "corp".into(),
            app_id: "svc_acc_app".into(),
            listen: "127.0.0.1:8443".parse().unwrap(),
            hostname: "mgmt01.corp.local".into(),
            organisation: "Examplecorp Industries".into(),
            max_unauthenticated_per_address: None,
            database: None,
        }
    }

    #[tokio::test]
    async fn init_makes_the_ca_the_vault_the_app_id_and_an_admin_token_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server");
        let config = init(&opts(&dir)).await.unwrap();
        assert_eq!((config.name.as_str(), config.domain.as_str()), ("MGMT01", "CORP"));
        assert_eq!(config.url, "https://127.0.0.1:8443");
        assert_eq!(config.organisation, "Examplecorp Industries");
        let stored = ServerConfig::load(&Layout::new(&dir).config()).unwrap();
        assert_eq!(stored.organisation, "Examplecorp Industries", "kept in server.json");
        let layout = Layout::new(&dir);
        let ca = std::fs::read(layout.ca_cert()).unwrap();
        let cert = std::fs::read(layout.tls_cert()).unwrap();
        let o = acc_pki::verify::Options {
            purpose: Some(acc_pki::verify::Purpose::Server),
            crl: None,
            at: SystemClock.now_utc(),
        };
        assert!(acc_pki::verify::verify(&ca, &cert, &o).unwrap().is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(layout.admin_token()), 0o600);
            assert_eq!(mode(layout.admin_password()), 0o600);
            assert_eq!(mode(layout.vault_key()), 0o600);
            assert_eq!(mode(layout.ca_key()), 0o400);
            assert_eq!(mode(dir.clone()), 0o700);
        }
        let token = std::fs::read_to_string(layout.admin_token()).unwrap();
        let pool = store::open(&config.store_target(&layout), false, &config.name).await.unwrap();
        let stored = store::tokens(&pool).await.unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!((stored[0].digest.clone(), stored[0].role), (tokens::digest_hex(&token), Role::Admin));
        let accounts = store::directory_accounts(&pool).await.unwrap();
        assert_eq!(accounts[0].name, "svc_acc_app");
        let vault = Vault::open(&layout.vault_key()).unwrap();
        let sealed = &store::secrets(&pool, "directory.").await.unwrap()[0];
        let password = vault.open_sealed(&sealed.name, &sealed.sealed).unwrap();
        assert_eq!(password.expose().len(), 24);
        assert_eq!(store::latest_revision(&pool).await.unwrap().unwrap().0, 1);
        let users = store::users(&pool).await.unwrap();
        assert_eq!((users.len(), users[0].name.as_str(), users[0].role), (1, "admin", Role::Admin));
        let first = std::fs::read_to_string(layout.admin_password()).unwrap();
        let first = Secret::new(first.trim_end());
        assert!(acc_core::password::verify_password(&users[0].password_hash, &first));
        assert!(matches!(init(&opts(&dir)).await, Err(ServerError::AlreadyInitialised(_))));
    }

    #[tokio::test]
    async fn a_refused_init_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("server");
        let mut o = opts(&dir);
        o.domain = "not a domain".into();
        assert!(init(&o).await.unwrap_err().to_string().contains("--domain"));
        assert!(!dir.exists());
    }
}
