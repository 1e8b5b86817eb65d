//! `acc agent enroll --token T --config DIR/acc.yml`: the second way to a certificate. The
//! key is made here (P-256, written 0400 before anything is sent), a CSR goes to the
//! management server, which the token's fingerprint pins (no CA file to copy), and the
//! certificate, the fleet CA and `acc.yml` are written beside it. Nothing is overwritten:
//! an existing key means the machine is enrolled (a rebuilt one gets a `--reenroll` token
//! and a fresh folder). The state folder starts clean: what an earlier enrollment left
//! there (agent id, policy, site servers, packages) belongs to that one's fleet.

use std::path::{Path, PathBuf};

use acc_net::client::{ClientTls, Connection, sha256_hex};
use acc_pki::fsutil::{self, KEY_MODE, PUBLIC_MODE};
use acc_pki::key::{Curve, PrivateKey};
use acc_proto::{EnrollRequest, JoinResponse, JoinToken, TokenKind};
use bytes::Bytes;

use crate::config::RawConfig;
use crate::proxy::ProxyConfig;

/// Why an enrollment failed.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// A bad input or local file.
    #[error("{0}")]
    Local(String),
    /// The server refused or could not be reached.
    #[error("enrollment: {0}")]
    Server(String),
}

/// What an enrollment wrote.
#[derive(Debug, Clone)]
pub struct Enrolled {
    /// `acc.yml`.
    pub config: PathBuf,
    /// The certificate.
    pub cert: PathBuf,
    /// The host name in the certificate.
    pub host_name: String,
    /// The state folder and the agent id of an earlier enrollment whose state was cleared.
    pub cleared: Option<(PathBuf, String)>,
}

/// Enrolls this machine as `host_name` with `token_text`, writing into the folder of
/// `config_path`. `log_file`, `state_dir` and the proxy keys go into `acc.yml` when given;
/// the enrollment itself goes through that proxy (or the environment's).
pub async fn enroll(
    token_text: &str,
    config_path: &Path,
    host_name: &str,
    log_file: Option<PathBuf>,
    state_dir: Option<PathBuf>,
    proxy: ProxyConfig,
) -> Result<Enrolled, EnrollError> {
    let local = |e: &dyn std::fmt::Display| EnrollError::Local(e.to_string());
    if let Some(u) = &proxy.url {
        crate::proxy::check_url(u).map_err(|e| EnrollError::Local(format!("--proxy-url: {e}")))?;
    }
    let route = crate::proxy::from_env(&proxy).map_err(|e| local(&e))?;
    let token = JoinToken::decode(token_text).map_err(|e| local(&e))?;
    if token.kind != TokenKind::Agent {
        return Err(EnrollError::Local(format!(
            "this is a '{}' token; enroll agents with a token from `acc ctl enroll-token create`",
            token.kind
        )));
    }
    let dir = config_path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let (key_path, cert_path, ca_path) = (dir.join("acc.key"), dir.join("acc.crt"), dir.join("ca.crt"));
    for p in [&key_path, config_path] {
        if p.exists() {
            return Err(EnrollError::Local(format!(
                "{}: exists; this machine is already enrolled (to enroll a rebuilt machine, use a new folder and a token from `acc ctl enroll-token create --reenroll`)",
                p.display()
            )));
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| EnrollError::Local(format!("{}: {e}", dir.display())))?;
    let key = PrivateKey::generate(Curve::P256).map_err(|e| local(&e))?;
    let subject = acc_pki::subject::Subject::parse(&format!("/CN={host_name}")).map_err(|e| local(&e))?;
    let csr = acc_pki::csr::build(&key, &subject, &[]).map_err(|e| local(&e))?;
    fsutil::write_file(&key_path, key.to_pkcs8_pem().map_err(|e| local(&e))?.as_bytes(), KEY_MODE, false)
        .map_err(|e| local(&e))?;
    let result = exchange(&token, host_name, &csr, route).await;
    // The state folder may hold another enrollment's agent id, policy and site servers
    // (perhaps of another management server's fleet): this one starts clean.
    let state = match &state_dir {
        Some(p) if p.is_absolute() => p.clone(),
        Some(p) => dir.join(p),
        None => crate::config::defaults().2,
    };
    let joined = result.and_then(|j| {
        let previous = crate::state::StateStore::clear(&state).map_err(|e| local(&e))?;
        Ok((j, previous.map(|id| (state, id))))
    });
    let (joined, cleared) = match joined {
        Ok(j) => j,
        Err(e) => {
            // Nothing half-made stays behind: the next attempt starts afresh.
            let _ = std::fs::remove_file(&key_path);
            return Err(e);
        }
    };
    fsutil::write_file(&cert_path, joined.certificate_pem.as_bytes(), PUBLIC_MODE, true)
        .map_err(|e| local(&e))?;
    fsutil::write_file(&ca_path, joined.ca_pem.as_bytes(), PUBLIC_MODE, true).map_err(|e| local(&e))?;
    let raw = RawConfig {
        server_url: Some(token.nodes().join(",")),
        ca_file: Some(PathBuf::from("ca.crt")),
        key_file: Some(PathBuf::from("acc.key")),
        cert_file: Some(PathBuf::from("acc.crt")),
        log_file,
        state_dir,
        host_name: Some(host_name.to_string()),
        proxy_url: proxy.url,
        proxy_credentials_file: proxy.credentials_file,
        no_proxy: proxy.no_proxy,
        ..RawConfig::default()
    };
    let yaml = serde_saphyr::to_string(&raw).map_err(|e| local(&e))?;
    let text = format!("# acc agent configuration, written by `acc agent enroll`.\n{yaml}");
    fsutil::write_file(config_path, text.as_bytes(), PUBLIC_MODE, false).map_err(|e| local(&e))?;
    Ok(Enrolled {
        config: config_path.to_path_buf(),
        cert: cert_path,
        host_name: host_name.to_string(),
        cleared,
    })
}

async fn exchange(
    token: &JoinToken,
    host_name: &str,
    csr: &[u8],
    proxy: Option<std::sync::Arc<acc_net::proxy::Proxy>>,
) -> Result<JoinResponse, EnrollError> {
    let server = |e: &dyn std::fmt::Display| EnrollError::Server(e.to_string());
    let req = EnrollRequest {
        secret: token.secret.clone(),
        host_name: host_name.to_string(),
        csr_pem: acc_pki::pem::encode("CERTIFICATE REQUEST", csr),
    };
    let tls = ClientTls::pinned(&token.ca_sha256).map_err(|e| server(&e))?.via(proxy);
    let (mut conn, _) = Connection::open_first(&tls, &token.nodes()).await.map_err(|e| server(&e))?;
    let body = Bytes::from(serde_json::to_vec(&req).unwrap_or_default());
    let resp = conn
        .send("POST", "/v1/agent/enroll", &[("content-type", "application/json")], body)
        .await
        .map_err(|e| server(&e))?;
    if !resp.status.is_success() {
        let v: serde_json::Value = serde_json::from_slice(&resp.body).unwrap_or_default();
        return Err(EnrollError::Server(v["message"].as_str().unwrap_or("refused").to_string()));
    }
    let joined: JoinResponse = serde_json::from_slice(&resp.body).map_err(|e| server(&e))?;
    let ca_der = acc_pki::x509::certificates(joined.ca_pem.as_bytes())
        .map_err(|e| server(&e))?
        .into_iter()
        .next()
        .unwrap_or_default();
    if sha256_hex(&ca_der) != token.ca_sha256 {
        return Err(EnrollError::Server("the CA the server returned is not the one the token names".into()));
    }
    Ok(joined)
}
