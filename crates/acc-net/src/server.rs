//! The accept loop: TCP → TLS (with the configuration current at accept time) →
//! HTTP/1.1 or HTTP/2 → the application's service, under [`Limits`], until shutdown.
//!
//! Per connection there is nothing but the handshake and one task: the rustls
//! configuration is shared (`Arc`), the hyper builder is shared, and the identity comes
//! from the verifier's verdict. The caller binds the listener and owns the service and
//! the shutdown signal; this module owns the connections.
//!
//! It records `acc_connections_total` (by result), `acc_connections_open` and
//! `acc_tls_handshakes_total` (by result) through the `metrics` facade.
//!
//! When the listener is full, a new client is let in by closing the oldest
//! unauthenticated connection of the address holding the most (see `admission`), and a
//! connection from an address already holding its cap of unauthenticated connections is
//! closed at accept.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Body;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

use crate::accept::Acceptor;
use crate::admission::{Admission, Registry};
use crate::body::RequestBody;
use crate::identity::{PeerIdentity, PeerInfo, PeerRejection, SessionSlot};
use crate::service::{BodyLimit, BodyRules, BoxError, ConnService};
use crate::tls::{LiveConfig, TlsGeneration};
use crate::watchdog::{Activity, Watchdog};

/// Unauthenticated connections one address may hold by default: generous for agents
/// behind one NAT (they authenticate on their first request), small against the listener.
pub const MAX_UNAUTHENTICATED_PER_ADDRESS: usize = 1024;

/// Largest request body by default (a route may allow more or less, see
/// [`ServeOptions::body_limits`]).
pub const MAX_BODY_BYTES: u64 = 64 * 1024;

/// Connections served at once by default. Each takes a file descriptor: `ulimit -n` must
/// allow more (the packaged service units set `LimitNOFILE=65536`).
pub const MAX_CONNECTIONS: usize = 16_384;

/// Resource limits of the listener; the defaults suit a site server or management server
/// with 10,000 agents.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Connections served at once; further clients wait in the TCP backlog. The default,
    /// [`MAX_CONNECTIONS`], holds a fleet of 10,000 agents each with a long-poll, their
    /// site servers and operators, with room for a storm of new connections.
    pub max_connections: usize,
    /// Time from accept to a finished TLS handshake.
    pub handshake_timeout: Duration,
    /// Time for a request header to arrive, from its first byte (for the first
    /// request: from the end of the handshake).
    pub header_timeout: Duration,
    /// Time a connection with no request in flight stays open.
    pub idle_timeout: Duration,
    /// Time a request body may take, from when the application first reads it, before
    /// [`Limits::body_min_rate`] counts: past `body_timeout + received / body_min_rate`
    /// the request is answered 408 and the connection closes.
    pub body_timeout: Duration,
    /// The rate, bytes/s, at which a request body's received bytes extend its deadline.
    pub body_min_rate: u64,
    /// Largest request body of a route without a limit of its own, bytes.
    pub max_body_bytes: u64,
    /// Connections one address may hold before one of its requests authenticated; a new
    /// one beyond that is closed at accept.
    pub max_unauthenticated_per_address: usize,
    /// Largest HTTP/1 request head and HTTP/2 header list, in bytes (at least 8192).
    pub max_header_bytes: usize,
    /// Most header fields in one HTTP/1 request.
    pub max_headers: usize,
    /// Most concurrent HTTP/2 streams per connection.
    pub max_streams: u32,
    /// After shutdown is signalled, how long in-flight requests may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: MAX_CONNECTIONS,
            handshake_timeout: Duration::from_secs(10),
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(75),
            body_timeout: Duration::from_secs(10),
            body_min_rate: 8 * 1024,
            max_body_bytes: MAX_BODY_BYTES,
            max_unauthenticated_per_address: MAX_UNAUTHENTICATED_PER_ADDRESS,
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_streams: 128,
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// The defaults, with `cap` unauthenticated connections per address (`None`: the
    /// default, [`MAX_UNAUTHENTICATED_PER_ADDRESS`]).
    pub fn with_unauthenticated_cap(cap: Option<usize>) -> Limits {
        Limits {
            max_unauthenticated_per_address: cap.unwrap_or(MAX_UNAUTHENTICATED_PER_ADDRESS),
            ..Limits::default()
        }
    }
}

/// The callback told about every connection whose client certificate was refused.
pub type RejectionHook = Arc<dyn Fn(&PeerRejection) + Send + Sync>;

/// How [`serve`] runs: its limits and the application's hooks.
#[derive(Clone, Default)]
pub struct ServeOptions {
    /// Resource limits.
    pub limits: Limits,
    /// Called once per connection with a refused client certificate (the site server
    /// writes its 4625 event here). Without it, refusals are logged at `info`.
    pub on_rejected: Option<RejectionHook>,
    /// The largest request body of each route; without it, [`Limits::max_body_bytes`].
    pub body_limits: Option<BodyLimit>,
}

impl std::fmt::Debug for ServeOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeOptions")
            .field("limits", &self.limits)
            .field("on_rejected", &self.on_rejected.is_some())
            .field("body_limits", &self.body_limits.is_some())
            .finish()
    }
}

impl ServeOptions {
    /// Options with these limits and no hooks.
    pub fn new(limits: Limits) -> Self {
        ServeOptions { limits, on_rejected: None, body_limits: None }
    }

    /// Sets the largest request body of each route (from its method and path): a
    /// declared `Content-Length` over it is answered 413 before the body is read.
    pub fn body_limits(mut self, limit: impl Fn(&http::Method, &str) -> u64 + Send + Sync + 'static) -> Self {
        self.body_limits = Some(Arc::new(limit));
        self
    }

    /// Sets the rejection hook.
    pub fn on_rejected(mut self, hook: impl Fn(&PeerRejection) + Send + Sync + 'static) -> Self {
        self.on_rejected = Some(Arc::new(hook));
        self
    }
}

/// What every connection task shares.
struct Shared<S> {
    service: S,
    builder: auto::Builder<TokioExecutor>,
    options: ServeOptions,
    bodies: Arc<BodyRules>,
}

/// Serves HTTPS on `listener` until `shutdown` completes, then stops accepting, lets
/// requests in flight finish within `limits.shutdown_grace`, and drops what is left.
///
/// `service` is any tower service over `http::Request<RequestBody>` (an `axum::Router`
/// is one); each request carries the connection's `Arc<PeerInfo>` in its extensions.
pub async fn serve<S, B>(
    listener: TcpListener,
    tls: LiveConfig,
    service: S,
    options: ServeOptions,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let limits = options.limits.clone();
    let bodies = Arc::new(BodyRules {
        timeout: limits.body_timeout,
        min_rate: limits.body_min_rate,
        default_limit: limits.max_body_bytes,
        per_route: options.body_limits.clone(),
    });
    let shared = Arc::new(Shared { service, builder: http_builder(&limits), options, bodies });
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let registry = Registry::new(limits.max_unauthenticated_per_address);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    let mut acceptor = Acceptor::new(&listener, "https");

    loop {
        while tasks.try_join_next().is_some() {}
        let Some((tcp, addr)) = acceptor.next(shutdown.as_mut()).await else { break };
        if registry.at_cap(addr.ip()) {
            // Before any TLS work: an address that keeps trying costs an accept and a close.
            tracing::debug!(%addr, "Address at its cap of unauthenticated connections; connection closed.");
            metrics::counter!("acc_connections_total", "result" => "closed_address_cap").increment(1);
            drop(tcp);
            continue;
        }
        let permit = match permits.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                // Full: close an unauthenticated connection to let this client in; when
                // every connection has authenticated, it waits for one to end.
                registry.evict_one();
                tokio::select! {
                    biased;
                    () = &mut shutdown => break,
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(p) => p,
                        Err(_) => break, // never closed; nothing to serve with
                    },
                }
            }
        };
        let (admission, evicted) = registry.admit(addr.ip());
        metrics::counter!("acc_connections_total", "result" => "accepted").increment(1);
        let generation = tls.current();
        let task = connection(tcp, addr, generation, shared.clone(), stop_rx.clone(), admission, permit);
        tasks.spawn(async move {
            tokio::select! {
                () = task => {}
                () = evicted.wait() => tracing::debug!(%addr, "Unauthenticated connection closed to make room."),
            }
        });
    }

    drop(listener);
    let _ = stop_tx.send(true);
    let open = tasks.len();
    if open > 0 {
        tracing::info!(connections = open, "Shutting down; waiting for requests in flight.");
    }
    let drain = async { while tasks.join_next().await.is_some() {} };
    if tokio::time::timeout(limits.shutdown_grace, drain).await.is_err() {
        tracing::warn!(
            connections = tasks.len(),
            "Shutdown grace period over; closing the remaining connections."
        );
        tasks.abort_all();
        while tasks.join_next().await.is_some() {}
    }
}

fn http_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        // The watchdog times headers; hyper's timer would also close idle keep-alive
        // connections at the header timeout.
        .header_read_timeout(None)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .max_headers(limits.max_headers)
        .keep_alive(true);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX));
    builder
}

/// Counts a finished (or failed) TLS handshake by its result.
fn handshake_result(result: &'static str) {
    metrics::counter!("acc_tls_handshakes_total", "result" => result).increment(1);
}

/// The gauge of open connections, up while this guard lives.
struct OpenConnection;

impl OpenConnection {
    fn new() -> OpenConnection {
        metrics::gauge!("acc_connections_open").increment(1.0);
        OpenConnection
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        metrics::gauge!("acc_connections_open").decrement(1.0);
    }
}

/// Waits until the stop flag is raised.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

async fn connection<S, B>(
    tcp: TcpStream,
    addr: SocketAddr,
    generation: Arc<TlsGeneration>,
    shared: Arc<Shared<S>>,
    mut stop: watch::Receiver<bool>,
    admission: Admission,
    _permit: OwnedSemaphorePermit,
) where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let limits = &shared.options.limits;
    let _open = OpenConnection::new();
    let _ = tcp.set_nodelay(true);
    let handshake = tokio::time::timeout(limits.handshake_timeout, generation.acceptor().accept(tcp));
    let tls = tokio::select! {
        result = handshake => match result {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                tracing::debug!(%addr, error = %e, "TLS handshake failed.");
                handshake_result("failed");
                return;
            }
            Err(_) => {
                tracing::debug!(%addr, "TLS handshake timed out.");
                handshake_result("timed_out");
                return;
            }
        },
        () = stopped(&mut stop) => return,
    };

    let info = {
        let (_, conn) = tls.get_ref();
        Arc::new(PeerInfo {
            identity: generation.identity_of(conn),
            remote_addr: addr,
            tls_version: conn.protocol_version().and_then(|v| v.as_str()).unwrap_or("unknown"),
            cipher_suite: conn
                .negotiated_cipher_suite()
                .and_then(|s| s.suite().as_str())
                .unwrap_or("unknown"),
            alpn: match conn.alpn_protocol() {
                Some(b"h2") => Some("h2"),
                Some(b"http/1.1") => Some("http/1.1"),
                _ => None,
            },
            resumed: matches!(conn.handshake_kind(), Some(rustls::HandshakeKind::Resumed)),
            session: SessionSlot::default(),
            admission,
        })
    };
    handshake_result(match info.identity {
        PeerIdentity::Rejected { .. } => "certificate_refused",
        _ => "ok",
    });
    if let PeerIdentity::Rejected { reason, subject, issuer, serial_hex } = &info.identity {
        let rejection = PeerRejection {
            remote_addr: addr,
            subject: subject.clone(),
            issuer: issuer.clone(),
            serial_hex: serial_hex.clone(),
            reason: reason.clone(),
        };
        match &shared.options.on_rejected {
            Some(hook) => hook(&rejection),
            None => tracing::info!(
                %addr,
                reason = reason.code(),
                subject = subject.as_deref().unwrap_or("-"),
                "Client certificate refused."
            ),
        }
    }

    let activity = Arc::new(Activity::default());
    let io = Watchdog::new(tls, activity.clone(), limits.header_timeout, limits.idle_timeout);
    let service = ConnService {
        inner: shared.service.clone(),
        info,
        activity: activity.clone(),
        bodies: shared.bodies.clone(),
    };
    let conn = shared.builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        result = conn.as_mut() => result,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
        () = activity.close_requested() => {
            // A body was cut short: finish the responses under way, then close (HTTP/2:
            // GOAWAY).
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%addr, error = %e, "Connection ended with an error.");
    }
}
