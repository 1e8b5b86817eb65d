//! The console's static files, embedded in the binary: its style sheet, the Packages
//! page's upload script and htmx 2.0.11
//! (`assets/README.md` says where it comes from). Cached for a day; they change only with
//! the binary.

use std::sync::Arc;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::{Console, PageError};

/// Name, content type, bytes.
const FILES: &[(&str, &str, &[u8])] = &[
    ("console.css", "text/css; charset=utf-8", include_bytes!("../../assets/console.css")),
    ("packages.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/packages.js")),
    ("htmx.min.js", "text/javascript; charset=utf-8", include_bytes!("../../assets/htmx-2.0.11.min.js")),
];

/// `GET /ui/assets/{name}`.
pub fn routes() -> Router<Arc<Console>> {
    Router::new().route("/ui/assets/{name}", get(asset))
}

async fn asset(Path(name): Path<String>) -> Response {
    match FILES.iter().find(|(n, _, _)| *n == name) {
        Some((_, kind, bytes)) => {
            let mut resp = bytes.into_response();
            resp.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            resp.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
            resp
        }
        None => {
            PageError::new(StatusCode::NOT_FOUND, "There is no such file in the console.").into_response()
        }
    }
}
