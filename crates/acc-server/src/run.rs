//! `acc server run`: locks the data directory, opens the server and serves the REST API
//! and the web console (`/ui/`) over HTTPS (acc-net, rustls) until shutdown. On
//! PostgreSQL it follows the change feed of the other nodes, and runs the once-only jobs
//! while it holds their leases (see [`crate::cluster`]).

use acc_net::datadir::RoleConfig as _;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use acc_net::{LiveConfig, ServeOptions, TlsInputs};
use tokio::net::TcpListener;

use crate::error::ServerError;
use crate::layout::Layout;
use crate::server::Server;

/// The lock a running server holds on its data directory.
#[derive(Debug)]
pub struct DirLock(#[allow(dead_code)] std::fs::File);

impl DirLock {
    /// Takes the data directory's lock, or says that a server holds it.
    pub fn acquire(layout: &Layout) -> Result<DirLock, ServerError> {
        let path = layout.lock();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| ServerError::io(&path, e))?;
        match file.try_lock() {
            Ok(()) => Ok(DirLock(file)),
            Err(std::fs::TryLockError::WouldBlock) => {
                Err(ServerError::Busy(layout.root().display().to_string()))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(ServerError::io(&path, e)),
        }
    }
}

/// A management server ready to serve: data directory locked, state loaded, port bound.
#[derive(Debug)]
pub struct Running {
    server: Arc<Server>,
    listener: TcpListener,
    live: LiveConfig,
    /// The change feed of the other nodes (PostgreSQL).
    feed: Option<crate::cluster::Feed>,
    _lock: DirLock,
}

/// Locks the data directory, opens the server and binds `listen` (or the configured address).
pub async fn start(layout: Layout, listen: Option<SocketAddr>) -> Result<Running, ServerError> {
    if !layout.config().exists() {
        return Err(ServerError::NotInitialised(layout.root().display().to_string()));
    }
    let lock = DirLock::acquire(&layout)?;
    let server = Arc::new(Server::open(layout.clone()).await?);
    // Subscribed before serving, and what another node saved since the server opened read.
    let feed = crate::cluster::Feed::subscribe(&server).await?;
    if feed.is_some() {
        server.reload_all().await?;
    }
    let live = LiveConfig::new(&tls_inputs(&layout, &server.current().1)?)
        .map_err(|e| ServerError::Invalid(e.to_string()))?;
    let addr = listen.unwrap_or(server.config().listen);
    let listener =
        TcpListener::bind(addr).await.map_err(|e| ServerError::Bind(addr.to_string(), e.to_string()))?;
    let bound = listener.local_addr().map_err(|e| ServerError::Bind(addr.to_string(), e.to_string()))?;
    server.set_bound(bound);
    Ok(Running { server, listener, live, feed, _lock: lock })
}

/// The listener's TLS: the server certificate, then the fleet CA, so that a joining site
/// can pin it by the join token's fingerprint; client certificates verify against the
/// fleet CA (site servers, enrolled agents) and the operator CAs of `doc` (agents with a
/// certificate made by hand).
fn tls_inputs(layout: &Layout, doc: &crate::document::PolicyDocument) -> Result<TlsInputs, ServerError> {
    let read = |p: std::path::PathBuf| std::fs::read(&p).map_err(|e| ServerError::io(&p, e));
    let ca = read(layout.ca_cert())?;
    let mut chain = read(layout.tls_cert())?;
    chain.extend_from_slice(&ca);
    let mut client_cas = ca;
    for t in &doc.trust {
        client_cas.extend_from_slice(t.pem.as_bytes());
    }
    Ok(TlsInputs::new(chain, read(layout.tls_key())?).client_ca(client_cas))
}

/// Rebuilds the listener's TLS whenever a revision changes the operator CAs.
async fn follow_trust(server: Arc<Server>, live: LiveConfig) {
    let mut revisions = server.revisions();
    let mut trusted = server.current().1.trust;
    while revisions.changed().await.is_ok() {
        let doc = server.current().1;
        if doc.trust == trusted {
            continue;
        }
        match tls_inputs(server.layout(), &doc)
            .and_then(|i| live.reload(&i).map_err(|e| ServerError::Invalid(e.to_string())))
        {
            Ok(_) => tracing::info!(anchors = doc.trust.len(), "Client trust reloaded."),
            Err(e) => tracing::error!(error = %e, "The client trust could not be reloaded."),
        }
        trusted = doc.trust;
    }
}

impl Running {
    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(|e| ServerError::Bind(String::new(), e.to_string()))
    }

    /// The server.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// What `GET /readyz` checks (see [`crate::metrics::readiness`]).
    pub fn readiness(&self) -> acc_net::health::Readiness {
        crate::metrics::readiness(self.server.clone())
    }

    /// What reloads the listener's TLS from the data directory and the policy in force
    /// (the server certificate and key, the fleet CA, the operator CAs): new connections
    /// use it, and a configuration that does not load leaves the running one in place.
    pub fn tls_reloader(&self) -> impl Fn() -> Result<(), ServerError> + Send + Sync + 'static {
        let (server, live) = (self.server.clone(), self.live.clone());
        move || {
            let inputs = tls_inputs(server.layout(), &server.current().1)?;
            live.reload(&inputs).map(drop).map_err(|e| ServerError::Invalid(e.to_string()))
        }
    }

    /// Serves until `shutdown` completes; then answers waiting long-polls at once and lets
    /// requests in flight finish.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) -> Result<(), ServerError> {
        let ticker = self.server.clone();
        let tick = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(1));
            loop {
                every.tick().await;
                if !ticker.holds_lease(crate::cluster::TICK_JOB).await {
                    continue;
                }
                ticker.tick().await;
                ticker.push_crl_if_due().await;
                ticker.report_stalled().await;
                ticker.retire_if_adopted().await;
            }
        });
        let trust = tokio::spawn(follow_trust(self.server.clone(), self.live.clone()));
        let feed = self.feed.map(|f| tokio::spawn(f.follow(self.server.clone())));
        let retention = tokio::spawn(crate::event_log::retention_loop(self.server.clone()));
        let nodes = tokio::spawn(crate::nodes::heartbeat_loop(self.server.clone()));
        let app = app(self.server.clone());
        let stopping = self.server.clone();
        let shutdown = async move {
            shutdown.await;
            tracing::info!("Stopping: waiting long-polls are answered now.");
            stopping.begin_stop();
        };
        acc_net::serve(
            self.listener,
            self.live,
            app,
            ServeOptions::new(self.server.config().listener_limits()).body_limits(crate::api::body_limit),
            shutdown,
        )
        .await;
        tick.abort();
        retention.abort();
        nodes.abort();
        trust.abort();
        if let Some(feed) = feed {
            feed.abort();
        }
        Ok(())
    }
}

/// Everything the HTTPS listener serves: the API, the console, `/healthz` and `/readyz`.
pub fn app(server: Arc<Server>) -> axum::Router {
    crate::api::router(server.clone())
        .merge(crate::console::router(server.clone()))
        .merge(crate::metrics::health_routes(crate::metrics::readiness(server)))
}
