//! `acc site run`: the HTTPS listener (acc-net) serving the `/v1` API, the local admin
//! socket, and the 4625 of every refused client certificate, until shutdown.

use acc_net::datadir::RoleConfig as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use acc_core::event::catalogue::CertificateRefusal;
use acc_net::{LiveConfig, PeerIdentity, PeerInfo, RejectReason, ServeOptions};
use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::Response;
use tokio::net::TcpListener;

use crate::admin::{self, DirLock};
use crate::api::auth::TlsIdentity;
use crate::api::{self, ApiPeer};
use crate::error::SiteError;
use crate::layout::Layout;
use crate::site::{CertificateFailure, Site, SystemClock};
use crate::tls;

/// A site server ready to serve: data directory locked, state loaded, port bound.
pub struct Running {
    site: Arc<Site>,
    listener: TcpListener,
    live: LiveConfig,
    _lock: DirLock,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running").field("site", &self.site).finish_non_exhaustive()
    }
}

/// Locks the data directory (waiting up to [`admin::LOCK_WAIT`] for an `acc site` command
/// that holds it), opens the site and binds `listen` (or the configured address).
pub async fn start(layout: Layout, listen: Option<SocketAddr>) -> Result<Running, SiteError> {
    let lock = DirLock::acquire_for_server(layout.root(), &layout.admin_socket(), admin::LOCK_WAIT).await?;
    let site = Site::open(layout.clone(), Arc::new(SystemClock)).await?;
    let addr = listen.unwrap_or(site.config().listen);
    let listener =
        TcpListener::bind(addr).await.map_err(|e| SiteError::Bind(addr.to_string(), e.to_string()))?;
    let live =
        LiveConfig::new(&tls::inputs(&layout)?).map_err(|e| SiteError::Invalid(vec![e.to_string()]))?;
    site.attach_tls(live.clone());
    Ok(Running { site, listener, live, _lock: lock })
}

impl Running {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, SiteError> {
        self.listener.local_addr().map_err(|e| SiteError::Bind(String::new(), e.to_string()))
    }

    /// The site.
    pub fn site(&self) -> &Arc<Site> {
        &self.site
    }

    /// What `GET /readyz` checks (see [`crate::metrics::readiness`]).
    pub fn readiness(&self) -> acc_net::health::Readiness {
        crate::metrics::readiness(self.site.clone())
    }

    /// Serves until `shutdown` completes; then answers waiting long-polls at once, lets
    /// requests in flight finish and stops the admin socket.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), SiteError> {
        let admin_socket = admin::serve(self.site.clone())?;
        let refresh_task = tokio::spawn(self.site.clone().refresh_loop());
        let crl_task = tokio::spawn(crate::crl_watch::watch_loop(self.site.clone()));
        let retention_task = tokio::spawn(crate::retention::retention_loop(self.site.clone()));
        let mut managed_tasks = Vec::new();
        if let Some(m) = crate::management::config(self.site.layout())? {
            let nodes = crate::management::Nodes::new(self.site.layout(), m)?;
            self.site.attach_directory(nodes.clone());
            let site_url = format!("https://{}", self.local_addr()?);
            let (packages, wanted) =
                tokio::sync::watch::channel(crate::replicate::load_wanted(self.site.layout()));
            managed_tasks.push(tokio::spawn(crate::managed::poll_loop(
                self.site.clone(),
                nodes.clone(),
                site_url,
                packages,
            )));
            managed_tasks.push(tokio::spawn(crate::replicate::replicate_loop(
                self.site.clone(),
                nodes.clone(),
                wanted,
            )));
            managed_tasks.push(tokio::spawn(crate::managed::forward_loop(self.site.clone(), nodes)));
        }
        let hook_site = self.site.clone();
        // Every route takes JSON of at most MAX_JSON_BODY (the listener answers 413 to more).
        let options = ServeOptions::new(self.site.config().listener_limits())
            .body_limits(|_, _| api::MAX_JSON_BODY as u64)
            .on_rejected(move |r| {
            let site = hook_site.clone();
            let failure = CertificateFailure {
                remote: r.remote_addr,
                cn: r.subject.as_deref().and_then(cn_of),
                subject: r.subject.clone(),
                reason: r.reason.to_string(),
                refusal: refusal_of(&r.reason),
            };
            tracing::warn!(ip = %r.remote_addr, subject = %r.subject.as_deref().unwrap_or("-"), reason = %r.reason, "Client certificate refused.");
            tokio::spawn(async move {
                if let Err(e) = site.certificate_refused(&failure).await {
                    tracing::error!(error = %e, "The 4625 of a refused certificate could not be written.");
                }
            });
        });
        let app = api::router(self.site.clone())
            .merge(crate::metrics::health_routes(self.readiness()))
            .layer(middleware::from_fn(peer_to_api));
        let stopping = self.site.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!(
                long_polls = stopping.task_waiters(),
                "Stopping: waiting long-polls are answered now."
            );
            stopping.begin_stop();
        };
        acc_net::serve(self.listener, self.live, app, options, shutdown).await;
        refresh_task.abort();
        crl_task.abort();
        retention_task.abort();
        for t in managed_tasks {
            t.abort();
        }
        admin_socket.stop().await;
        Ok(())
    }
}

/// The kind of a certificate refusal, for its 4625's Status and SubStatus.
fn refusal_of(reason: &RejectReason) -> CertificateRefusal {
    match reason {
        RejectReason::UnknownIssuer | RejectReason::CaAsEndEntity | RejectReason::BadSignature => {
            CertificateRefusal::Untrusted
        }
        RejectReason::Revoked => CertificateRefusal::Revoked,
        RejectReason::Expired | RejectReason::NotYetValid => CertificateRefusal::Expired,
        // Not for client authentication, X.509 v1, malformed, anything else.
        _ => CertificateRefusal::Invalid,
    }
}

/// The CN of a one-line subject (`…, CN=acclinux, …`).
fn cn_of(subject: &str) -> Option<String> {
    subject.split(", ").filter_map(|p| p.strip_prefix("CN=")).last().map(str::to_string)
}

/// Turns acc-net's connection facts into what the API reads.
async fn peer_to_api(mut req: Request, next: Next) -> Response {
    if let Some(info) = req.extensions().get::<Arc<PeerInfo>>().cloned() {
        let tls = match &info.identity {
            PeerIdentity::Certificate { cn, subject, issuer, .. } => {
                TlsIdentity::Certificate { cn: cn.clone(), subject: subject.clone(), issuer: issuer.clone() }
            }
            // acc-net answers refused certificates itself; anything else is anonymous.
            _ => TlsIdentity::Anonymous,
        };
        req.extensions_mut().insert(ApiPeer {
            remote: info.remote_addr,
            tls,
            session: info.session.clone(),
            admission: info.admission.clone(),
            durability: Default::default(),
        });
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn common_names_are_found_in_subjects() {
        assert_eq!(super::cn_of("C=US, O=Example, CN=acclinux, emailAddress=a@b"), Some("acclinux".into()));
        assert_eq!(super::cn_of("O=Example"), None);
    }
}
