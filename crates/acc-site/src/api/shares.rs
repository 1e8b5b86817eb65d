//! `GET|HEAD /v1/shares/{share}/{path}`: a file of a share, to an authenticated caller
//! that may read it at both ACL levels.
//!
//! Order of checks: authentication; the raw path (acc-core `share_path`: 400/414); the
//! share (404); the ACL on the requested path, before the disk is touched, so that a
//! denied caller learns nothing about what exists (403 + 5145); the file on disk
//! (canonicalised: 404 missing or folder, 403 when it resolves outside the share; reused
//! from the open-file cache for up to a second, `shares::open_cache`); the ACL again on the
//! canonical path when a symlink led elsewhere in the share; then a 5145 `Audit Success`,
//! durable before the response, once per logon session and object (`api::session`);
//! every denial is audited. Then conditionals, `Range`, and the body: small files from memory, large ones
//! streamed in 256 KiB positioned reads.

use std::sync::Arc;

use acc_core::acl::{self, AccessDenied, AccessMask, Caller, CertIdentity, SHARE_ACCESS_EVENT_ID};
use acc_core::event::{Event, EventId, Keywords};
use acc_core::name::AccountName;
use acc_core::share_path::{PathError, ShareName, SharePath, ShareRequest};
use axum::Extension;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::ApiPeer;
use super::auth;
use super::error::ApiError;
use super::principal::Principal;
use super::session;
use crate::shares::files::{self, Opened, Resolved};
use crate::shares::range::{self, Selection};
use crate::shares::{ShareEntry, ShareTable};
use crate::site::Site;

pub(super) async fn get_file(
    State(site): State<Arc<Site>>,
    Extension(peer): Extension<ApiPeer>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Response, ApiError> {
    let principal = auth::authenticate(&site, &headers, &peer).await?;
    // A download attributed to an agent id must be that agent's.
    auth::acting_agent(&site, &headers, &peer)?;
    let request = ShareRequest::from_uri_path(uri.path()).map_err(path_error)?;
    let entry = find_share(&site.shares().snapshot(), &request.share)?;
    let caller = session::caller(&peer.session, || caller_of(&principal))?;
    let ip = peer.remote.ip();
    authorise(&site, &entry, &caller, &request.path, ip).await?;
    let opened = open(&site, entry.clone(), &request).await?;
    if opened.canonical != request.path {
        authorise(&site, &entry, &caller, &opened.canonical, ip).await?;
    }
    if !session::success_audited(&peer.session, &request.share, &opened.canonical) {
        audit(&site, &request.share, &request.path, &caller, &ip.to_string(), &Ok(())).await?;
        session::note_success_audited(&peer.session, &request.share, &opened.canonical);
    }
    Ok(respond(&site, &headers, opened).await)
}

/// The share named in a request, or 404.
pub(super) fn find_share(table: &ShareTable, name: &ShareName) -> Result<Arc<ShareEntry>, ApiError> {
    table
        .get(name)
        .cloned()
        .ok_or_else(|| not_found(format!("share '{name}' does not exist on this site server")))
}

/// The principals an authenticated caller holds, for the ACL check.
pub(super) fn caller_of(principal: &Principal) -> Result<Caller, ApiError> {
    match principal {
        Principal::Account { name, .. } => Ok(Caller::local_account(AccountName::new(name.as_str()))),
        Principal::Certificate { cn } => {
            CertIdentity::parse(&format!("CN={}", escape_rdn(cn))).map(Caller::certificate).map_err(|e| {
                ApiError::new(StatusCode::FORBIDDEN, "access_denied", format!("client certificate: {e}"))
            })
        }
    }
}

/// RFC 4514 escaping of an attribute value, so that a CN holding `,` or `=` cannot pose as
/// another subject in `cert:` ACEs.
fn escape_rdn(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for (i, c) in value.chars().enumerate() {
        if matches!(c, ',' | '+' | '"' | '\\' | '<' | '>' | ';' | '=') || (i == 0 && matches!(c, '#' | ' ')) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The Read check on `path`; a denial writes its 5145 and becomes the 403.
pub(super) async fn authorise(
    site: &Site,
    entry: &ShareEntry,
    caller: &Caller,
    path: &SharePath,
    ip: std::net::IpAddr,
) -> Result<(), ApiError> {
    let outcome = acl::check_read(entry.acl(), caller, path);
    if let Err(denied) = &outcome {
        audit(site, entry.acl().name(), path, caller, &ip.to_string(), &outcome).await?;
        return Err(access_denied(denied));
    }
    Ok(())
}

/// The 403 of a denial: acc-core's one-line message (principal, object, level, right).
pub(super) fn access_denied(denied: &AccessDenied) -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "access_denied", denied.to_string())
}

/// Writes the 5145 of one check, durable before the response.
pub(super) async fn audit(
    site: &Site,
    share: &ShareName,
    path: &SharePath,
    caller: &Caller,
    ip: &str,
    outcome: &Result<(), Box<AccessDenied>>,
) -> Result<(), ApiError> {
    let fields = acl::share_access_event(share, path, AccessMask::READ_DATA, caller, Some(ip), outcome);
    let keywords = if outcome.is_ok() { Keywords::AuditSuccess } else { Keywords::AuditFailure };
    site.write_events(|t| {
        let mut event = Event::new(EventId::Windows(SHARE_ACCESS_EVENT_ID), t, keywords);
        // `Keywords` is part of the envelope.
        for (name, value) in fields.into_iter().filter(|(n, _)| *n != "Keywords") {
            event = event.with(name, value);
        }
        vec![event]
    })
    .await
    .map_err(|e| {
        tracing::error!(error = %e, "The 5145 of a share access check could not be written.");
        ApiError::internal("the site server could not record the access check; retry later")
    })
}

/// The file of a request: from the open-file cache, or found and opened off the async
/// threads (and then cached).
async fn open(site: &Site, entry: Arc<ShareEntry>, request: &ShareRequest) -> Result<Arc<Opened>, ApiError> {
    let cache = site.shares().open_files();
    if let Some(opened) = cache.get(&request.share, &request.path, std::time::Instant::now()) {
        return Ok(opened);
    }
    let opened = Arc::new(resolve(entry, request).await?);
    cache.put(&request.share, &request.path, opened.clone(), std::time::Instant::now());
    Ok(opened)
}

/// Finds and opens the file off the async threads.
async fn resolve(entry: Arc<ShareEntry>, request: &ShareRequest) -> Result<Opened, ApiError> {
    let path = request.path.clone();
    let target = if path.is_root() { request.share.to_string() } else { format!("{}/{path}", request.share) };
    let resolved = tokio::task::spawn_blocking(move || {
        let root = entry.canonical_root()?;
        files::open(&root, &path)
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))
    .and_then(|r| r);
    match resolved {
        Ok(Resolved::File(opened)) => Ok(*opened),
        Ok(Resolved::Missing) => Err(not_found(format!("'{target}' does not exist"))),
        Ok(Resolved::Folder) => Err(not_found(format!(
            "'{target}' is a folder; shares serve files (GET /v1/packages/{{name}} lists a package's files)"
        ))),
        Ok(Resolved::Special) => Err(not_found(format!("'{target}' is not a regular file"))),
        Ok(Resolved::Refused(PathError::LeavesShare)) => {
            tracing::warn!(path = %target, "A share path resolves outside its share; refused.");
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "access_denied",
                format!(
                    "'{target}' resolves outside the share (a symbolic link leaves it); nothing is served"
                ),
            ))
        }
        Ok(Resolved::Refused(e)) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            format!("'{target}' resolves to a name acc does not serve: {e}"),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(not_found(format!("share '{}' has no folder on this site server", request.share)))
        }
        Err(e) => {
            tracing::error!(path = %target, error = %e, "A share file could not be opened.");
            Err(ApiError::internal(format!("'{target}' cannot be read on the site server")))
        }
    }
}

/// 404 `not_found`.
pub(super) fn not_found(message: String) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
}

/// The refusal of a malformed or hostile path (status from acc-core).
pub(super) fn path_error(e: PathError) -> ApiError {
    let (status, code) = match e.status() {
        414 => (StatusCode::URI_TOO_LONG, "uri_too_long"),
        403 => (StatusCode::FORBIDDEN, "access_denied"),
        _ => (StatusCode::BAD_REQUEST, "malformed"),
    };
    ApiError::new(status, code, format!("share path: {e}"))
}

/// Conditionals, range, headers and body of an authorised file.
async fn respond(site: &Site, headers: &HeaderMap, opened: Arc<Opened>) -> Response {
    let v = opened.validators();
    let etag = v.etag.to_str().unwrap_or_default();
    let last_modified = v.last_modified.to_str().unwrap_or_default();
    let text = |h: header::HeaderName| headers.get(h).and_then(|v| v.to_str().ok());
    let not_modified = match (text(header::IF_NONE_MATCH), text(header::IF_MODIFIED_SINCE)) {
        (Some(inm), _) => range::none_match(inm, etag),
        (None, Some(ims)) => range::parse_http_date(ims).is_some_and(|since| v.mtime <= since),
        (None, None) => false,
    };
    let mut out = HeaderMap::with_capacity(8);
    out.insert(header::ETAG, v.etag.clone());
    out.insert(header::LAST_MODIFIED, v.last_modified.clone());
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if not_modified {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    let version = v.version;
    let len = version.size;
    let selection = range::select(text(header::RANGE), text(header::IF_RANGE), etag, last_modified, len);
    if selection == Selection::Unsatisfiable {
        let mut resp = ApiError::new(
            StatusCode::RANGE_NOT_SATISFIABLE,
            "range_not_satisfiable",
            format!("the requested range is outside the file ({len} bytes)"),
        )
        .into_response();
        put(resp.headers_mut(), header::CONTENT_RANGE, &format!("bytes */{len}"));
        return resp;
    }
    let repr_digest = match opened.repr_digest() {
        Some(known) => Some(known.clone()),
        None => site
            .shares()
            .digests()
            .sha256(version, opened.file.clone())
            .await
            .map(|sha| opened.set_sha256(&sha).clone()),
    };
    if let Some(value) = repr_digest {
        out.insert(header::HeaderName::from_static("repr-digest"), value);
    }
    out.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    let (status, start, count) = match selection {
        Selection::Partial { start, end } => {
            put(&mut out, header::CONTENT_RANGE, &format!("bytes {start}-{end}/{len}"));
            (StatusCode::PARTIAL_CONTENT, start, end - start + 1)
        }
        _ => (StatusCode::OK, 0, len),
    };
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(count));
    crate::metrics::package_bytes_served(count);
    let body = match &opened.small {
        Some(all) if (start + count) as usize <= all.len() => {
            Body::from(all.slice(start as usize..(start + count) as usize))
        }
        // The file grew or shrank since it was opened: stream what is there now.
        _ => Body::from_stream(files::stream(opened.file.clone(), start, count)),
    };
    (status, out, body).into_response()
}

fn put(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}
