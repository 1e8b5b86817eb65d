//! What the acc-site integration tests share: an initialised data directory, and one
//! request through the API's router as a given peer.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use acc_site::Site;
use acc_site::api::auth::TlsIdentity;
use acc_site::api::{ApiPeer, router};
use acc_site::init::{InitOptions, init};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

/// `acc site init --data-dir DIR --name SITE-01 --listen 127.0.0.1:0`.
pub fn init_site(dir: &Path) {
    init(&InitOptions {
        data_dir: dir.to_path_buf(),
        name: Some("SITE-01".into()),
        listen: "127.0.0.1:0".parse().unwrap(),
        tls: None,
        hostname: "h".into(),
        max_unauthenticated_per_address: None,
    })
    .unwrap();
}

/// Sends `req` through the site's router as a connection from `remote` presenting `tls`:
/// (status, the JSON answer or `Null`).
#[allow(dead_code)] // not every test file sends requests
pub async fn send(
    site: &Arc<Site>,
    mut req: Request<Body>,
    remote: SocketAddr,
    tls: TlsIdentity,
) -> (StatusCode, Value) {
    req.extensions_mut().insert(ApiPeer {
        remote,
        tls,
        session: Default::default(),
        admission: Default::default(),
        durability: Default::default(),
    });
    let resp = router(site.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}
