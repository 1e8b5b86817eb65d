//! Adding a management server node to a fleet on PostgreSQL: `acc ctl node-token create`
//! (a join token of kind `node`, one use), `POST /v1/nodes/join` (the token's secret is
//! the credential; the answer is the [`NodeBundle`] sealed under a key derived from that
//! secret, so it is sealed in transit beyond TLS), and `acc server join` ([`join`]), which
//! pins the fleet CA by the token, opens the bundle and writes a data directory as `acc
//! server init` does, with the node's own TLS certificate from the fleet CA and its own
//! name, listen address and URL. A SQLite store serves one node only: both ends refuse it.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use acc_net::client::{ClientTls, Connection, sha256_hex};
use acc_pki::bundle;
use acc_pki::csr::San;
use acc_pki::fsutil;
use acc_pki::sealed::{KEY_FILE_MODE, SealingKey};
use acc_proto::{JoinToken, NodeBundle, NodeJoinRequest, NodeJoinResponse, TokenKind};
use axum::body::Bytes;
use base64::Engine as _;

use crate::config::ServerConfig;
use crate::error::ServerError;
use crate::fleet::JoinError;
use crate::init;
use crate::layout::Layout;
use crate::server::Server;
use crate::store::{self, Backend, PostgresTarget};
use crate::tokens;

/// The associated data of a sealed bundle.
const BUNDLE_NAME: &str = "acc.node-bundle";

/// Why a SQLite server makes no node token and takes no node.
const SQLITE_ONE_NODE: &str = "this management server keeps its store in SQLite, which one node only can serve; move it to PostgreSQL first (acc server migrate --to postgres://…)";

/// The key a bundle for node `name` is sealed with: HKDF-SHA256 of the token's secret,
/// salted with the fleet CA's fingerprint, for this node's join.
fn bundle_key(secret: &str, ca_sha256: &str, name: &str) -> Result<SealingKey, ServerError> {
    Ok(SealingKey::derive(secret.as_bytes(), ca_sha256.as_bytes(), &format!("acc node join v1 {name}"))?)
}

/// Seals `bundle` for the holder of `secret` (base64 text).
pub fn seal_bundle(
    bundle: &NodeBundle,
    secret: &str,
    ca_sha256: &str,
    name: &str,
) -> Result<String, ServerError> {
    let json = serde_json::to_vec(bundle).unwrap_or_default();
    let sealed = bundle_key(secret, ca_sha256, name)?.seal(BUNDLE_NAME, &json)?;
    Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
}

/// Opens what [`seal_bundle`] made.
pub fn open_bundle(
    sealed: &str,
    secret: &str,
    ca_sha256: &str,
    name: &str,
) -> Result<NodeBundle, ServerError> {
    let damaged = || {
        ServerError::Invalid("the node bundle does not open with this token (damaged in transit?); create a new token with acc ctl node-token create".into())
    };
    let bytes = base64::engine::general_purpose::STANDARD.decode(sealed.trim()).map_err(|_| damaged())?;
    let json = bundle_key(secret, ca_sha256, name)?.open_sealed(BUNDLE_NAME, &bytes).ok_or_else(damaged)?;
    serde_json::from_slice(&json).map_err(|_| damaged())
}

impl Server {
    /// A one-use node token valid for `ttl_secs`; refused unless the store is on PostgreSQL.
    pub async fn create_node_token(&self, ttl_secs: u64) -> Result<String, ServerError> {
        if store::backend(&self.pool) != Backend::Postgres {
            return Err(ServerError::Invalid(SQLITE_ONE_NODE.into()));
        }
        self.create_join_token(TokenKind::Node, ttl_secs, 1, false).await
    }

    /// Joins a node: spends its token and answers the sealed bundle; the node is
    /// registered (it shows in `acc ctl node list` before it first runs).
    pub async fn join_node(&self, req: &NodeJoinRequest) -> Result<NodeJoinResponse, JoinError> {
        if !crate::sites::valid_site_name(&req.name) {
            return Err(JoinError::Invalid(format!(
                "node name '{}': use 1 to 15 upper-case letters, digits or '-'",
                req.name.escape_debug()
            )));
        }
        if !req.url.starts_with("https://") || req.url.len() > 300 {
            return Err(JoinError::Invalid(format!(
                "node url '{}': give https://host:port",
                req.url.escape_debug()
            )));
        }
        let Some(database) =
            self.config().database.as_ref().filter(|_| store::backend(&self.pool) == Backend::Postgres)
        else {
            return Err(JoinError::Invalid(SQLITE_ONE_NODE.into()));
        };
        if let Some(taken) = store::nodes(&self.pool).await?.into_iter().find(|n| n.name == req.name) {
            return Err(JoinError::Conflict(format!(
                "node name '{}' is in use by the node at {}; join with another --name, or remove that node first (acc ctl node remove {})",
                taken.name, taken.url, taken.name
            )));
        }
        if !store::use_join_token(
            &self.pool,
            TokenKind::Node.as_str(),
            &tokens::digest_hex(&req.secret),
            self.now_ms(),
        )
        .await?
        {
            return Err(JoinError::Token);
        }
        let layout = self.layout();
        let read = |p: PathBuf| std::fs::read(&p).map_err(|e| ServerError::io(&p, e));
        let text = |p: PathBuf| std::fs::read_to_string(&p).map_err(|e| ServerError::io(&p, e));
        let config = self.config();
        let bundle = NodeBundle {
            vault_key: base64::engine::general_purpose::STANDARD.encode(read(layout.vault_key())?),
            ca_cert_pem: text(layout.ca_cert())?,
            ca_key_pem: text(layout.ca_key())?,
            domain: config.domain.clone(),
            dns_domain: config.dns_domain.clone(),
            app_id: config.app_id.clone(),
            organisation: config.organisation.clone(),
            database_url: database.url.clone(),
            max_unauthenticated_per_address: config.max_unauthenticated_per_address,
        };
        let sealed_bundle =
            seal_bundle(&bundle, &req.secret, &sha256_hex(&self.fleet_ca().cert_der), &req.name)?;
        store::touch_node(&self.pool, &req.name, &req.url, self.now_ms()).await?;
        self.node_event("joined", &req.name, &req.url, "node token").await;
        tracing::info!(node = %req.name, url = %req.url, "Management server node joined.");
        Ok(NodeJoinResponse { sealed_bundle })
    }
}

/// What `acc server join` was asked for.
#[derive(Debug, Clone)]
pub struct JoinOptions {
    /// The new node's data directory (absent or empty).
    pub data_dir: PathBuf,
    /// The node token's text.
    pub token: String,
    /// Where the node listens.
    pub listen: SocketAddr,
    /// Where sites, agents and `acc ctl` reach it (`--url`; default from `listen`).
    pub url: Option<String>,
    /// Its name (`--name`; default from the host name).
    pub name: Option<String>,
    /// The machine's host name.
    pub hostname: String,
    /// The file with the database password (`--database-password-file`), if any.
    pub database_password_file: Option<PathBuf>,
}

/// Joins the fleet of the node token and writes the new node's data directory; a failure
/// leaves nothing behind.
pub async fn join(opts: &JoinOptions) -> Result<ServerConfig, ServerError> {
    let layout = Layout::new(&opts.data_dir);
    let existed = opts.data_dir.exists();
    if existed && !is_empty_dir(&opts.data_dir)? {
        return Err(ServerError::Invalid(format!(
            "--data-dir {}: is not empty; acc server join writes a new data directory",
            opts.data_dir.display()
        )));
    }
    let token = JoinToken::decode(&opts.token).map_err(|e| ServerError::Invalid(e.to_string()))?;
    if token.kind != TokenKind::Node {
        return Err(ServerError::Invalid(format!(
            "the token is a {} token; acc server join needs a node token (acc ctl node-token create)",
            token.kind
        )));
    }
    let name = opts.name.clone().unwrap_or_else(|| init::server_name(&opts.hostname));
    let url = opts.url.clone().unwrap_or_else(|| format!("https://{}", init::url_authority(opts.listen)));
    let endpoint = acc_net::client::Endpoint::parse(&url)
        .map_err(|e| ServerError::Invalid(format!("--url {url}: {e}")))?;
    let req = NodeJoinRequest { secret: token.secret.clone(), name: name.clone(), url: url.clone() };
    // The pinned connection to the first of the token's nodes that answers, as `acc site
    // join` opens it.
    let tls = ClientTls::pinned(&token.ca_sha256).map_err(|e| ServerError::Invalid(e.to_string()))?;
    let nodes = token.nodes();
    let (mut conn, joined) = Connection::open_first(&tls, &nodes)
        .await
        .map_err(|e| ServerError::Invalid(format!("{}: {e}", nodes.join(", "))))?;
    let body = Bytes::from(serde_json::to_vec(&req).unwrap_or_default());
    let resp = conn
        .send("POST", "/v1/nodes/join", &[("content-type", "application/json")], body)
        .await
        .map_err(|e| ServerError::Invalid(format!("{joined}: {e}")))?;
    if !resp.status.is_success() {
        let message = serde_json::from_slice::<acc_proto::admin::ApiErrorBody>(&resp.body)
            .map(|b| b.message)
            .unwrap_or_else(|_| format!("the join was refused ({})", resp.status));
        return Err(ServerError::Invalid(message));
    }
    let answer: NodeJoinResponse = serde_json::from_slice(&resp.body)
        .map_err(|e| ServerError::Invalid(format!("{joined}: the join's answer does not parse: {e}")))?;
    let bundle = open_bundle(&answer.sealed_bundle, &token.secret, &token.ca_sha256, &name)?;
    let ca_der = acc_pki::x509::first_certificate(bundle.ca_cert_pem.as_bytes())?;
    if sha256_hex(&ca_der) != token.ca_sha256 {
        return Err(ServerError::Invalid(
            "the CA the server sent is not the one the node token names".into(),
        ));
    }
    let database = PostgresTarget::parse(&bundle.database_url, opts.database_password_file.as_deref())?;
    // The store must be the fleet's: reachable from here and holding its revisions.
    let pool = store::open(&store::Target::Postgres(database.clone()), false, &name).await?;
    let has_store = store::latest_revision(&pool).await?.is_some();
    pool.close().await;
    if !has_store {
        return Err(ServerError::Invalid(format!(
            "the database {} holds no management server's store",
            store::redacted(&database.url)
        )));
    }
    let config = ServerConfig {
        name,
        domain: bundle.domain.clone(),
        dns_domain: bundle.dns_domain.clone(),
        app_id: bundle.app_id.clone(),
        listen: opts.listen,
        url,
        organisation: bundle.organisation.clone(),
        max_unauthenticated_per_address: bundle.max_unauthenticated_per_address,
        database: Some(database),
    };
    let written = write_node(&layout, &bundle, &config, &opts.hostname, endpoint.host());
    if written.is_err() {
        init::undo(&layout, existed);
    }
    written.map(|()| config)
}

fn is_empty_dir(dir: &Path) -> Result<bool, ServerError> {
    let mut entries = std::fs::read_dir(dir).map_err(|e| ServerError::io(dir, e))?;
    Ok(entries.next().is_none())
}

/// The node's data directory: the fleet CA, its own server certificate (for its listen
/// address, its host name and its URL's host), the vault key, then `server.json`.
fn write_node(
    layout: &Layout,
    bundle: &NodeBundle,
    config: &ServerConfig,
    hostname: &str,
    url_host: &str,
) -> Result<(), ServerError> {
    let vault_key = base64::engine::general_purpose::STANDARD
        .decode(&bundle.vault_key)
        .map_err(|_| ServerError::Invalid("the node bundle's vault key is damaged".into()))?;
    let ca_key = acc_pki::key::PrivateKey::from_bytes(bundle.ca_key_pem.as_bytes())?;
    let ca = acc_pki::x509::Ca::new(bundle.ca_cert_pem.as_bytes(), ca_key)?;
    let mut sans = bundle::listen_names(config.listen, hostname);
    let url_san = match url_host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        Ok(ip) => San::Ip(ip),
        Err(_) => San::Dns(url_host.to_ascii_lowercase()),
    };
    if !sans.contains(&url_san) {
        sans.push(url_san);
    }
    let host = if hostname.is_empty() { "localhost".to_string() } else { hostname.to_ascii_lowercase() };
    let now = acc_core::time::Clock::now_utc(&acc_core::time::SystemClock);
    let (cert_pem, key_pem) =
        bundle::server_certificate(&ca, &init::server_subject(&host), &sans, init::SERVER_DAYS, now)?;
    init::make_dirs(layout)?;
    init::write_tls(layout, &bundle.ca_key_pem, &bundle.ca_cert_pem, &key_pem, &cert_pem)?;
    fsutil::write_file(&layout.vault_key(), &vault_key, KEY_FILE_MODE, false)?;
    // The key opens as the vault does, or nothing is kept.
    crate::vault::Vault::open(&layout.vault_key())?;
    init::write_config(layout, config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle() -> NodeBundle {
        NodeBundle {
            vault_key: "a2V5".into(),
            ca_cert_pem: "-----BEGIN CERTIFICATE-----".into(),
            ca_key_pem: "-----BEGIN PRIVATE KEY----- secret".into(),
            domain: "CORP".into(),
            dns_domain: "corp.local".into(),
            app_id: "svc_acc_app".into(),
            organisation: String::new(),
            database_url: "postgres://acc@db/fleet".into(),
            max_unauthenticated_per_address: None,
        }
    }

    #[test]
    fn a_bundle_opens_with_its_token_and_node_name_only() {
        let ca = "ab".repeat(32);
        let sealed = seal_bundle(&bundle(), "node_s3cret", &ca, "NODE2").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD.decode(&sealed).unwrap();
        assert!(!bytes.windows(4).any(|w| w == b"CORP"), "sealed, not only encoded");
        assert_eq!(open_bundle(&sealed, "node_s3cret", &ca, "NODE2").unwrap(), bundle());
        for (secret, ca_fp, name) in [
            ("node_other", ca.as_str(), "NODE2"),
            ("node_s3cret", "cd", "NODE2"),
            ("node_s3cret", ca.as_str(), "NODE3"),
        ] {
            let e = open_bundle(&sealed, secret, ca_fp, name).unwrap_err().to_string();
            assert!(e.contains("does not open with this token") && !e.contains('\n'), "{e}");
        }
        assert!(open_bundle("!!", "node_s3cret", &ca, "NODE2").is_err());
        let shown = format!("{:?}", bundle());
        assert!(!shown.contains("secret") && !shown.contains("a2V5"), "{shown}");
    }
}
