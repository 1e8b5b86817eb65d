//! The management server as a joined site knows it, in its data directory
//! (`management/`): the configuration file ([`ManagementConfig`], [`config`]), the nodes
//! and the one in use ([`Nodes`]), the mTLS connection to it with the site's certificate
//! (`connect`), its refusals as errors (`refused`), and the agent trust a site policy
//! brings (`management/trust/`, `management/crl.pem`). What runs over the connection is
//! elsewhere: the join and the policy and event loops (`managed`), package replication
//! (`replicate`), domain logons (`directory`).

use std::sync::{Arc, Mutex};

use acc_core::failover::NodeList;
use acc_net::client::{ClientTls, Connection};
use acc_pki::fsutil::{self, PUBLIC_MODE};
use serde::{Deserialize, Serialize};

use crate::error::SiteError;
use crate::layout::Layout;

/// `management/server.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManagementConfig {
    /// The management server's URL (the node joined).
    pub url: String,
    /// Every management server node, in the order to try them (absent from a site that
    /// joined before: `url` alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub urls: Vec<String>,
}

impl ManagementConfig {
    /// The nodes to try, in order: `urls`, or `url` alone.
    pub fn nodes(&self) -> Vec<String> {
        if self.urls.is_empty() { vec![self.url.clone()] } else { self.urls.clone() }
    }
}

/// The management server nodes this site knows and the one in use, shared by all its
/// connections (policy, acknowledgements, events, replication, the directory). A policy's
/// list replaces it and is written to `management/server.json`, so a restart keeps it.
#[derive(Clone)]
pub struct Nodes {
    path: std::path::PathBuf,
    state: Arc<Mutex<(ManagementConfig, NodeList)>>,
}

impl std::fmt::Debug for Nodes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.lock().1.nodes()).finish()
    }
}

impl Nodes {
    /// The nodes of `config` (as read from `layout`), starting on the first.
    pub fn new(layout: &Layout, config: ManagementConfig) -> Result<Nodes, SiteError> {
        let path = layout.management_config();
        let list = NodeList::new(config.nodes()).ok_or_else(|| SiteError::Config {
            path: path.display().to_string(),
            detail: "url: empty; give the management server's https://HOST:PORT".into(),
        })?;
        Ok(Nodes { path, state: Arc::new(Mutex::new((config, list))) })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (ManagementConfig, NodeList)> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The node in use.
    pub fn current(&self) -> String {
        self.lock().1.current().to_string()
    }

    /// The node in use cannot serve (502, 503, 504): the next is tried first.
    pub fn skip(&self) {
        self.lock().1.skip();
    }

    /// Takes a policy's node list (an empty one, from an older server, changes nothing);
    /// writes it when it changed.
    pub fn replace(&self, servers: Vec<String>) -> Result<(), SiteError> {
        let mut state = self.lock();
        if !state.1.replace(servers) {
            return Ok(());
        }
        state.0.urls = state.1.nodes().to_vec();
        tracing::info!(nodes = %state.0.urls.join(","), "The management server nodes changed.");
        let json = serde_json::to_string_pretty(&state.0).unwrap_or_default();
        fsutil::write_file(&self.path, json.as_bytes(), PUBLIC_MODE, true)?;
        Ok(())
    }
}

pub(crate) fn failed(e: impl std::fmt::Display) -> SiteError {
    SiteError::Management(e.to_string())
}

/// The `message` of the management server's JSON error body.
pub(crate) fn reason(body: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct ErrorMessage {
        message: String,
    }
    serde_json::from_slice::<ErrorMessage>(body).ok().map(|e| e.message)
}

/// The management server's refusal of `what`: its status and its reason.
pub(crate) fn refused(what: &'static str, resp: &acc_net::client::Response) -> SiteError {
    let message =
        reason(&resp.body).unwrap_or_else(|| String::from_utf8_lossy(&resp.body).chars().take(200).collect());
    SiteError::Refused { what, status: resp.status, message }
}

/// Writes the agent trust of a site policy (`management/trust/NN.pem`, `management/crl.pem`)
/// when it differs from what is there; returns whether it changed (the TLS configuration
/// must then be rebuilt).
pub fn write_trust(layout: &Layout, pems: &[String], crl: Option<&str>) -> Result<bool, SiteError> {
    let dir = layout.management_trust_dir();
    let mut wanted: Vec<(std::path::PathBuf, &[u8])> =
        pems.iter().enumerate().map(|(i, p)| (dir.join(format!("{i:02}.pem")), p.as_bytes())).collect();
    if let Some(c) = crl {
        wanted.push((layout.management_crl(), c.as_bytes()));
    }
    let mut present: Vec<std::path::PathBuf> =
        std::fs::read_dir(&dir).map(|e| e.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    if layout.management_crl().exists() {
        present.push(layout.management_crl());
    }
    let same = present.len() == wanted.len()
        && wanted.iter().all(|(p, bytes)| std::fs::read(p).is_ok_and(|have| have == *bytes));
    if same {
        return Ok(false);
    }
    for p in &present {
        let _ = std::fs::remove_file(p);
    }
    std::fs::create_dir_all(&dir).map_err(|e| SiteError::io(&dir, e))?;
    for (p, bytes) in &wanted {
        fsutil::write_file(p, bytes, PUBLIC_MODE, true)?;
    }
    Ok(true)
}

/// thisUpdate and nextUpdate (Unix milliseconds) of the fleet CRL this site enforces.
pub fn crl_times(layout: &Layout) -> (Option<i64>, Option<i64>) {
    let Ok(bytes) = std::fs::read(layout.management_crl()) else {
        return (None, None);
    };
    let Ok(crl) = acc_pki::crl::Crl::from_bytes(&bytes) else {
        return (None, None);
    };
    let ms = |t: time::OffsetDateTime| i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok();
    (ms(crl.this_update), crl.next_update.and_then(ms))
}

/// The management server's configuration, when this site has joined one.
pub fn config(layout: &Layout) -> Result<Option<ManagementConfig>, SiteError> {
    let path = layout.management_config();
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map(Some)
            .map_err(|e| SiteError::Config { path: path.display().to_string(), detail: e.to_string() }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SiteError::io(&path, e)),
    }
}

/// The client TLS of a joined site: the fleet CA and the site's certificate.
fn client_tls(layout: &Layout) -> Result<ClientTls, SiteError> {
    let read = |p: std::path::PathBuf| std::fs::read(&p).map_err(|e| SiteError::io(&p, e));
    ClientTls::new(
        &read(layout.management_ca())?,
        Some((&read(layout.management_cert())?, &read(layout.management_key())?)),
    )
    .map_err(failed)
}

/// Opens the site's mTLS connection to the management server: the node in use, else the
/// next that answers, which is the node in use from then on.
pub(crate) async fn connect(layout: &Layout, nodes: &Nodes) -> Result<Connection, SiteError> {
    let tls = client_tls(layout)?;
    let order = nodes.lock().1.order();
    let (conn, url) = Connection::open_first(&tls, &order).await.map_err(failed)?;
    nodes.lock().1.answered(&url);
    Ok(conn)
}
