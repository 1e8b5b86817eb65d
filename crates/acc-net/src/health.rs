//! Health and readiness, answered the same way on a role's HTTPS listener and on its
//! plain-HTTP metrics listener: `GET /healthz` (the process serves: always 200) and
//! `GET /readyz` (ready to serve: the role's [`Readiness`] check, 200 or 503 with the
//! reason). [`serve_metrics`] is that metrics listener (`--metrics-listen`), which adds
//! `GET /metrics`, the Prometheus text the role's [`Render`] produces.
//!
//! The metrics listener is plain HTTP for a scraper on a trusted network (loopback in
//! the docs); it answers these three routes only and never reads a request body.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;

use crate::accept::Acceptor;
use tokio::task::JoinSet;

/// A boxed future that can move between threads.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// The role's readiness check: `Err(reason)` while it cannot serve (database
/// unreachable, no policy loaded yet, stopping).
pub type Readiness = Arc<dyn Fn() -> BoxFuture<Result<(), NotReady>> + Send + Sync>;

/// Why a role cannot serve now: the `reason` of `/readyz`'s 503.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotReady(pub String);

/// Renders the role's metrics in the Prometheus text format.
pub type Render = Arc<dyn Fn() -> BoxFuture<String> + Send + Sync>;

/// The content type of the Prometheus text format.
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Connections the metrics listener serves at once (a scraper and a load balancer).
const MAX_METRICS_CONNECTIONS: usize = 64;

fn answer(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(body.into()));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_str(content_type)
            .unwrap_or(header::HeaderValue::from_static("application/octet-stream")),
    );
    resp.headers_mut().insert(header::CACHE_CONTROL, header::HeaderValue::from_static("no-store"));
    resp
}

fn json(status: StatusCode, value: serde_json::Value) -> Response<Full<Bytes>> {
    answer(status, "application/json", value.to_string())
}

/// `GET /healthz`: 200 `{"status":"ok"}` while the process answers.
pub fn healthz() -> Response<Full<Bytes>> {
    json(StatusCode::OK, serde_json::json!({ "status": "ok" }))
}

/// `GET /readyz`: 200 `{"status":"ready"}`, or 503 `{"status":"not_ready","reason":…}`.
pub async fn readyz(ready: &Readiness) -> Response<Full<Bytes>> {
    match ready().await {
        Ok(()) => json(StatusCode::OK, serde_json::json!({ "status": "ready" })),
        Err(reason) => json(
            StatusCode::SERVICE_UNAVAILABLE,
            serde_json::json!({ "status": "not_ready", "reason": reason.to_string() }),
        ),
    }
}

/// One request of the metrics listener.
async fn route(method: &Method, path: &str, render: &Render, ready: &Readiness) -> Response<Full<Bytes>> {
    let known = matches!(path, "/metrics" | "/healthz" | "/readyz");
    if !known {
        return json(
            StatusCode::NOT_FOUND,
            serde_json::json!({ "error": "not_found", "message": "this listener serves /metrics, /healthz and /readyz" }),
        );
    }
    if method != Method::GET && method != Method::HEAD {
        let mut resp = json(
            StatusCode::METHOD_NOT_ALLOWED,
            serde_json::json!({ "error": "method_not_allowed", "message": "only GET" }),
        );
        resp.headers_mut().insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return resp;
    }
    match path {
        "/metrics" => answer(StatusCode::OK, PROMETHEUS_TEXT, render().await),
        "/healthz" => healthz(),
        _ => readyz(ready).await,
    }
}

/// Serves `GET /metrics`, `/healthz` and `/readyz` over plain HTTP/1.1 on `listener`
/// until `shutdown` completes; connections still open then are closed.
pub async fn serve_metrics(
    listener: TcpListener,
    render: Render,
    ready: Readiness,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_METRICS_CONNECTIONS));
    let mut tasks = JoinSet::new();
    tokio::pin!(shutdown);
    let mut acceptor = Acceptor::new(&listener, "metrics");
    loop {
        while tasks.try_join_next().is_some() {}
        let Some((tcp, addr)) = acceptor.next(shutdown.as_mut()).await else { break };
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            tracing::debug!(%addr, "Metrics listener full; connection closed.");
            continue;
        };
        let (render, ready) = (render.clone(), ready.clone());
        tasks.spawn(async move {
            let _permit = permit;
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let (render, ready) = (render.clone(), ready.clone());
                async move {
                    Ok::<_, std::convert::Infallible>(
                        route(req.method(), req.uri().path(), &render, &ready).await,
                    )
                }
            });
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(10));
            let conn = builder.serve_connection(TokioIo::new(tcp), service);
            // A scrape is one short request; a connection that lingers is dropped.
            if let Ok(Err(e)) = tokio::time::timeout(Duration::from_secs(60), conn).await {
                tracing::debug!(%addr, error = %e, "Metrics connection ended with an error.");
            }
        });
    }
    tasks.abort_all();
    while tasks.join_next().await.is_some() {}
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render() -> Render {
        Arc::new(|| Box::pin(async { "acc_up 1\n".to_string() }))
    }

    fn ready(r: Result<(), &'static str>) -> Readiness {
        Arc::new(move || Box::pin(async move { r.map_err(|m| NotReady(m.to_string())) }))
    }

    async fn body(resp: Response<Full<Bytes>>) -> (u16, String) {
        use http_body_util::BodyExt;
        let status = resp.status().as_u16();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    #[tokio::test]
    async fn routes_answer_health_readiness_and_metrics() {
        let ok = ready(Ok(()));
        assert_eq!(
            body(route(&Method::GET, "/healthz", &render(), &ok).await).await,
            (200, r#"{"status":"ok"}"#.into())
        );
        assert_eq!(
            body(route(&Method::GET, "/readyz", &render(), &ok).await).await,
            (200, r#"{"status":"ready"}"#.into())
        );
        let (code, text) =
            body(route(&Method::GET, "/readyz", &render(), &ready(Err("no policy yet"))).await).await;
        assert_eq!((code, text.contains("no policy yet")), (503, true));
        assert_eq!(
            body(route(&Method::GET, "/metrics", &render(), &ok).await).await,
            (200, "acc_up 1\n".into())
        );
        assert_eq!(body(route(&Method::GET, "/v1/health", &render(), &ok).await).await.0, 404);
        assert_eq!(body(route(&Method::POST, "/metrics", &render(), &ok).await).await.0, 405);
    }
}
