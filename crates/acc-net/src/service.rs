//! The per-connection service between hyper and the application's tower service: puts
//! the connection's [`PeerInfo`] into every request, answers every request on a
//! connection with a refused client certificate with 403 and the reason (the
//! application never sees those, so a Basic header cannot turn them into a password
//! login), and keeps the watchdog's in-flight count until a response body is done.
//!
//! It also bounds request bodies (see `body`): a declared `Content-Length` over the
//! route's limit is answered 413 before the body is read (so `100 Continue` is never sent
//! for it), and a body that was cut short (too large, or late) is answered 413 or 408
//! here, in the JSON error format of acc's servers, whatever the application made of the
//! error; after either an HTTP/1 connection closes (an HTTP/2 stream is reset).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, Version, header};
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tower::ServiceExt;

use crate::body::{Bounds, Cut, RequestBody, Verdict};
use crate::identity::{PeerIdentity, PeerInfo, RejectReason};
use crate::watchdog::{Activity, InFlight};

/// Errors a service may return, as hyper takes them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

pin_project_lite::pin_project! {
    /// A response body that holds its request's in-flight mark until it ends.
    pub struct TrackedBody<B> {
        #[pin]
        inner: B,
        guard: Option<InFlight>,
    }
}

impl<B: Body> Body for TrackedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let Poll::Ready(None) = polled {
            this.guard.take();
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The largest request body of a route, in bytes, from its method and path (the
/// application's own limits, given to [`crate::ServeOptions::body_limits`]).
pub type BodyLimit = Arc<dyn Fn(&Method, &str) -> u64 + Send + Sync>;

/// How the request bodies of a listener are bounded.
#[derive(Clone)]
pub(crate) struct BodyRules {
    pub(crate) timeout: std::time::Duration,
    pub(crate) min_rate: u64,
    pub(crate) default_limit: u64,
    pub(crate) per_route: Option<BodyLimit>,
}

impl BodyRules {
    fn bounds(&self, method: &Method, path: &str) -> Bounds {
        let limit = self.per_route.as_ref().map_or(self.default_limit, |f| f(method, path));
        Bounds { limit, timeout: self.timeout, min_rate: self.min_rate }
    }
}

/// The service hyper runs for one connection.
#[derive(Clone)]
pub(crate) struct ConnService<S> {
    pub(crate) inner: S,
    pub(crate) info: Arc<PeerInfo>,
    pub(crate) activity: Arc<Activity>,
    pub(crate) bodies: Arc<BodyRules>,
}

type Reply<B> = Response<TrackedBody<Either<B, Full<Bytes>>>>;

impl<S, B> hyper::service::Service<Request<Incoming>> for ConnService<S>
where
    S: tower::Service<Request<RequestBody>, Response = Response<B>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Response = Reply<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Reply<B>, BoxError>> + Send>>;

    fn call(&self, mut req: Request<Incoming>) -> Self::Future {
        let guard = InFlight::enter(&self.activity);
        let own = |reply: Response<Full<Bytes>>, guard| {
            reply.map(|b| TrackedBody { inner: Either::Right(b), guard: Some(guard) })
        };
        let version = req.version();
        if let PeerIdentity::Rejected { reason, subject, serial_hex, .. } = &self.info.identity {
            let reply =
                own(rejected_response(reason, subject.as_deref(), serial_hex.as_deref(), version), guard);
            // Read what the client sent before answering and closing: closing a socket
            // with unread data makes the kernel reset it, and the client then loses the
            // 403 that explains the refusal.
            return Box::pin(async move {
                drain(req.into_body()).await;
                Ok(reply)
            });
        }
        let bounds = self.bodies.bounds(req.method(), req.uri().path());
        let declared = req.body().size_hint().lower();
        if declared > bounds.limit {
            // Refused on its head: the body is not asked for (no 100 Continue), and read
            // only when the client sends it anyway, so that it sees the 413.
            close_after(&self.activity, version);
            let expects = req.headers().get(header::EXPECT).is_some();
            let reply = own(cut_response(Cut::TooLarge, bounds.limit, version), guard);
            return Box::pin(async move {
                if !expects {
                    drain(req.into_body()).await;
                }
                Ok(reply)
            });
        }
        req.extensions_mut().insert(self.info.clone());
        let verdict = Arc::new(Verdict::default());
        let (parts, body) = req.into_parts();
        let req = Request::from_parts(parts, RequestBody::new(body, bounds, verdict.clone()));
        let inner = self.inner.clone();
        let activity = self.activity.clone();
        Box::pin(async move {
            let reply = inner.oneshot(req).await.map_err(Into::into)?;
            match verdict.get() {
                Cut::None => Ok(reply.map(|b| TrackedBody { inner: Either::Left(b), guard: Some(guard) })),
                cut => {
                    close_after(&activity, version);
                    Ok(own(cut_response(cut, bounds.limit, version), guard))
                }
            }
        })
    }
}

/// After a refused body, an HTTP/1 connection closes (what follows on it is the rest of
/// that body); on HTTP/2 only the stream ends (hyper resets it), and the connection's
/// other streams go on.
fn close_after(activity: &Activity, version: Version) {
    if version <= Version::HTTP_11 {
        activity.request_close();
    }
}

/// Most request body read (and thrown away) before a refusal is sent.
const DRAIN_MAX_BYTES: usize = 256 * 1024;
/// Longest time spent reading it.
const DRAIN_MAX_TIME: std::time::Duration = std::time::Duration::from_secs(2);

/// Reads and discards a request body, up to [`DRAIN_MAX_BYTES`] and [`DRAIN_MAX_TIME`].
async fn drain(mut body: Incoming) {
    use http_body_util::BodyExt;
    let read = async {
        let mut seen = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, Bytes::len);
            if seen > DRAIN_MAX_BYTES {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_MAX_TIME, read).await;
}

/// What to do about a refused certificate, in one sentence.
fn advice(reason: &RejectReason) -> &'static str {
    match reason {
        RejectReason::Expired => "renew it (acc pki sign, or ask for a new one)",
        RejectReason::NotYetValid => {
            "its validity starts after this server's clock: clock skew between this server, the client or its CA; check their clocks (NTP), or wait until it is valid"
        }
        RejectReason::Revoked => "it was revoked by its CA; enroll again for a new certificate",
        RejectReason::UnknownIssuer => {
            "it was signed by a CA this site server does not trust; add that CA to the trusted client CAs or use a certificate from the fleet CA"
        }
        RejectReason::BadSignature => "it was not signed by the CA it names; re-issue it",
        RejectReason::CaAsEndEntity => {
            "make a key and CSR for the client and sign it with a CA this server trusts (acc pki sign --profile client)"
        }
        RejectReason::WrongPurpose => "re-sign it with the client profile (acc pki sign --profile client)",
        RejectReason::Version1 => "re-sign it as shown above",
        RejectReason::Malformed(_) | RejectReason::Other(_) => {
            "re-issue it with acc pki sign --profile client"
        }
    }
}

/// 403 with a JSON body saying why the connection's client certificate was refused.
fn rejected_response(
    reason: &RejectReason,
    subject: Option<&str>,
    serial_hex: Option<&str>,
    version: Version,
) -> Response<Full<Bytes>> {
    let who = match (subject, serial_hex) {
        (Some(s), Some(n)) => format!("the client certificate '{s}' (serial {n})"),
        _ => "the client certificate".to_string(),
    };
    let body = serde_json::json!({
        "error": "client_certificate_rejected",
        "reason": reason.code(),
        "message": format!("{who} was refused: {reason}; {}", advice(reason)),
    });
    closing_json(StatusCode::FORBIDDEN, &body, version)
}

/// 408 or 413 for a body cut short, in the JSON error format of acc's servers.
fn cut_response(cut: Cut, limit: u64, version: Version) -> Response<Full<Bytes>> {
    let (status, code, message) = match cut {
        Cut::TooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("the request body is larger than this route accepts ({limit} bytes); send less"),
        ),
        _ => (
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the request body did not arrive in time; send it at once after the request's head".to_string(),
        ),
    };
    closing_json(status, &serde_json::json!({ "error": code, "message": message }), version)
}

/// A JSON response after which the connection closes (HTTP/1: `Connection: close`).
fn closing_json(status: StatusCode, body: &serde_json::Value, version: Version) -> Response<Full<Bytes>> {
    let mut bytes = body.to_string().into_bytes();
    bytes.push(b'\n');
    let mut resp = Response::new(Full::new(Bytes::from(bytes)));
    *resp.status_mut() = status;
    resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if version <= Version::HTTP_11 {
        // Nothing else can succeed on this connection.
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    resp
}
