//! A site server under a management server: `acc site join` (a key made here, a client
//! certificate from the fleet CA, the CA pinned by the join token's fingerprint) and the
//! loop that long-polls the site policy over mTLS, applies it and acknowledges it, and the
//! event forwarding; both reconnect at the pace of [`RETRY`] and say why they retry.
//! Every connection goes to the management server node in use, or the next that answers
//! ([`Nodes`]): the list comes from the join token, then from each policy, and is kept in
//! `management/server.json` (see `management`).

use std::sync::Arc;
use std::time::Duration;

use acc_core::failover::{jittered, random_unit};
use acc_core::retry::{Ended, Retry, RetryPolicy};

use acc_net::client::{ClientTls, Connection, sha256_hex};
use acc_pki::fsutil::{self, KEY_MODE, PUBLIC_MODE};
use acc_pki::key::{Curve, PrivateKey};
use acc_proto::{JoinRequest, JoinResponse, JoinToken, SitePolicy};
use bytes::Bytes;

use crate::error::SiteError;
use crate::layout::Layout;
use crate::management::{ManagementConfig, Nodes, connect, failed, reason, refused};
use crate::site::Site;

/// How long one policy long-poll waits on the server.
const POLL_WAIT_SECS: u64 = 25;
/// Events per forwarded batch.
const EVENT_BATCH: i64 = 1000;
/// How often the event forwarder looks for new events when it has caught up.
const FORWARD_IDLE: Duration = Duration::from_millis(500);

/// What a join did.
#[derive(Debug, Clone)]
pub struct Joined {
    /// The management server's configuration, as written.
    pub config: ManagementConfig,
    /// The site a deliberate re-join (`replace`) replaced under this name, if any.
    pub replaced: Option<acc_proto::ReplacedSite>,
}

/// Joins the management server of `token` as site `name`, reachable by agents at
/// `site_url`; writes `management/`. A site joins once (a rebuilt site gets a new data
/// directory and a new token). A name another site joined under is refused unless
/// `replace` (a deliberate re-join, which the answer reports).
pub async fn join(
    layout: &Layout,
    token_text: &str,
    name: &str,
    site_url: &str,
    replace: bool,
) -> Result<Joined, SiteError> {
    if layout.management_config().exists() {
        return Err(SiteError::Management(format!(
            "{} has already joined a management server; use a new data directory to join again (with --replace to take over its name)",
            layout.root().display()
        )));
    }
    let token = JoinToken::decode(token_text).map_err(failed)?;
    let key = PrivateKey::generate(Curve::P256)?;
    let subject = acc_pki::subject::Subject::parse(&format!("/CN={name}"))?;
    let csr = acc_pki::csr::build(&key, &subject, &[])?;
    let req = JoinRequest {
        secret: token.secret.clone(),
        name: name.to_string(),
        url: site_url.to_string(),
        csr_pem: acc_pki::pem::encode("CERTIFICATE REQUEST", &csr),
        replace,
    };
    let tls = ClientTls::pinned(&token.ca_sha256).map_err(failed)?;
    let nodes = token.nodes();
    let (mut conn, joined_url) = Connection::open_first(&tls, &nodes).await.map_err(failed)?;
    let body = Bytes::from(serde_json::to_vec(&req).unwrap_or_default());
    let resp = conn
        .send("POST", "/v1/sites/join", &[("content-type", "application/json")], body)
        .await
        .map_err(failed)?;
    if !resp.status.is_success() {
        return Err(SiteError::Management(
            reason(&resp.body).unwrap_or_else(|| "the join was refused".into()),
        ));
    }
    let joined: JoinResponse = serde_json::from_slice(&resp.body).map_err(failed)?;
    let ca_der =
        acc_pki::x509::certificates(joined.ca_pem.as_bytes())?.into_iter().next().unwrap_or_default();
    if sha256_hex(&ca_der) != token.ca_sha256 {
        return Err(SiteError::Management(
            "the CA the server returned is not the one the join token names".into(),
        ));
    }
    std::fs::create_dir_all(layout.management_dir())
        .map_err(|e| SiteError::io(&layout.management_dir(), e))?;
    fsutil::write_file(&layout.management_key(), key.to_pkcs8_pem()?.as_bytes(), KEY_MODE, false)?;
    fsutil::write_file(&layout.management_cert(), joined.certificate_pem.as_bytes(), PUBLIC_MODE, false)?;
    fsutil::write_file(&layout.management_ca(), joined.ca_pem.as_bytes(), PUBLIC_MODE, false)?;
    let config = ManagementConfig { url: joined_url, urls: nodes };
    let json = serde_json::to_string_pretty(&config).unwrap_or_default();
    fsutil::write_file(&layout.management_config(), json.as_bytes(), PUBLIC_MODE, false)?;
    Ok(Joined { config, replaced: joined.replaced })
}

/// One round: wait for a newer revision (or an update-config), apply it, acknowledge it;
/// `first`: the first round on this connection. `Ok(false)`: nothing new.
async fn round(
    site: &Site,
    nodes: &Nodes,
    conn: &mut Connection,
    site_url: &str,
    force: &mut u64,
    first: bool,
    packages: &tokio::sync::watch::Sender<Vec<acc_proto::PackageManifest>>,
) -> Result<bool, SiteError> {
    let after = site.applied_revision().unwrap_or(0);
    let path = format!("/v1/site/policy?after={after}&force={force}&wait={POLL_WAIT_SECS}");
    let resp = conn.send("GET", &path, &[], Bytes::new()).await.map_err(failed)?;
    match resp.status.as_u16() {
        204 => return Ok(false),
        200 => {}
        _ => return Err(refused("the policy long-poll", &resp)),
    }
    let policy: SitePolicy = serde_json::from_slice(&resp.body).map_err(failed)?;
    let revision = policy.revision;
    if let Err(e) = nodes.replace(policy.servers.clone()) {
        tracing::warn!(error = %e, "The management server nodes of this revision could not be kept.");
    }
    // The server checked the size before saving the revision; a failure here is the site's.
    if let Err(e) = site.apply_event_log_max_size(policy.event_log_max_size).await {
        tracing::warn!(error = %e, revision, "The event log's maximum size of this revision was not applied.");
    }
    *force = policy.force;
    crate::replicate::store_wanted(site.layout(), &policy.packages)?;
    packages.send_replace(policy.packages.clone());
    // The first answer on a new connection brings the server's update-config counter; a
    // revision this site already has comes with it only to sync that counter.
    let mut ack = site.apply_site_policy(policy, !first).await?;
    ack.url = Some(site_url.to_string());
    tracing::info!(revision, acks = %serde_json::to_string(&ack.generations).unwrap_or_default(), "Site policy applied.");
    let body = Bytes::from(serde_json::to_vec(&ack).unwrap_or_default());
    let resp = conn
        .send("POST", "/v1/site/ack", &[("content-type", "application/json")], body)
        .await
        .map_err(failed)?;
    if !resp.status.is_success() {
        return Err(refused("the acknowledgement", &resp));
    }
    Ok(true)
}

/// Sends the events after the last forwarded one, a batch at a time, until caught up;
/// the position is stored after each acknowledged batch (at least once: a batch resent
/// after a crash is de-duplicated by the server). Returns how many were sent.
async fn forward(site: &Site, conn: &mut Connection) -> Result<usize, SiteError> {
    let mut sent = 0;
    loop {
        let after: i64 =
            crate::store::meta(site.pool(), "forwarded_seq").await?.and_then(|v| v.parse().ok()).unwrap_or(0);
        let events = crate::event_log::forward_batch(site.pool(), after, EVENT_BATCH).await?;
        let Some(last) = events.last().map(|e| e.seq) else {
            return Ok(sent);
        };
        let n = events.len();
        let body = Bytes::from(serde_json::to_vec(&acc_proto::EventBatch { events }).unwrap_or_default());
        let resp = conn
            .send("POST", "/v1/site/events", &[("content-type", "application/json")], body)
            .await
            .map_err(failed)?;
        if !resp.status.is_success() {
            return Err(refused("the events", &resp));
        }
        sqlx::query("INSERT INTO meta (key, value) VALUES ('forwarded_seq', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
            .bind(last.to_string())
            .execute(site.pool())
            .await?;
        crate::metrics::events_forwarded(n);
        sent += n;
    }
}

/// How the site retries its connections to the management server: an unreachable server
/// from 0.2 s doubling to 30 s, a refusal (it is reachable and says no) from 1 s doubling
/// to 5 minutes; a connection that worked starts over.
pub const RETRY: RetryPolicy = RetryPolicy {
    unreachable_first: Duration::from_millis(200),
    unreachable_max: Duration::from_secs(30),
    refused_first: Duration::from_secs(1),
    refused_max: Duration::from_secs(300),
};

/// A wait as logs show it: `0.4 s`, `8 s`.
pub fn seconds(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{:.1} s", d.as_secs_f64())
    } else {
        format!("{} s", d.as_secs())
    }
}

/// Runs `session` again and again: each returns why it ended and whether it got anything
/// done first; the pause between two follows [`RETRY`] (jittered; a session only ends
/// unreachable once every node was tried), and the log says what happened: unreachable,
/// refused (with the status and the server's reason), or ended after working. A node that
/// answers 502, 503 or 504 is left for the next.
async fn keep_running<F, Fut>(what: &'static str, nodes: &Nodes, mut session: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = (bool, SiteError)>,
{
    let mut retry = Retry::new(RETRY);
    loop {
        let (progressed, e) = session().await;
        let url = nodes.current();
        if matches!(&e, SiteError::Refused { status, .. } if acc_net::client::node_unavailable(status.as_u16()))
        {
            nodes.skip();
        }
        let ended = if e.is_refusal() {
            Ended::Refused
        } else if progressed {
            Ended::AfterProgress
        } else {
            Ended::Unreachable
        };
        let wait = jittered(retry.after(ended), random_unit());
        let retry_in = seconds(wait);
        match ended {
            Ended::Refused => tracing::warn!(error = %e, server = %url,
                "{what}: the management server is reachable but refused this site; retrying in {retry_in}."),
            Ended::AfterProgress => tracing::warn!(error = %e, server = %url,
                "{what}: the connection to the management server ended; reconnecting in {retry_in}."),
            Ended::Unreachable => tracing::warn!(error = %e, server = %url,
                "{what}: the management server is unreachable; retrying in {retry_in}."),
        }
        tokio::time::sleep(wait).await;
    }
}

/// Forwards the site's security events to the management server until the task is
/// dropped; keeps its position across outages and restarts, so nothing is lost.
pub async fn forward_loop(site: Arc<Site>, nodes: Nodes) {
    keep_running("event forwarding", &nodes, || async {
        let mut conn = match connect(site.layout(), &nodes).await {
            Ok(c) => c,
            Err(e) => return (false, e),
        };
        let mut progressed = false;
        loop {
            if let Err(e) = forward(&site, &mut conn).await {
                return (progressed, e);
            }
            progressed = true;
            tokio::time::sleep(FORWARD_IDLE).await;
        }
    })
    .await;
}

/// Long-polls, applies and acknowledges the site policy until the task is dropped;
/// reconnects with backoff while the management server is unreachable. `site_url` is
/// where agents reach this site (reported with each acknowledgement); each policy's
/// packages go to `packages`, which the replication follows.
pub async fn poll_loop(
    site: Arc<Site>,
    nodes: Nodes,
    site_url: String,
    packages: tokio::sync::watch::Sender<Vec<acc_proto::PackageManifest>>,
) {
    keep_running("policy", &nodes, || async {
        let mut conn = match connect(site.layout(), &nodes).await {
            Ok(c) => c,
            Err(e) => return (false, e),
        };
        let mut force = 0;
        let mut first = true;
        let mut progressed = false;
        loop {
            if let Err(e) = round(&site, &nodes, &mut conn, &site_url, &mut force, first, &packages).await {
                return (progressed, e);
            }
            first = false;
            progressed = true;
        }
    })
    .await;
}
