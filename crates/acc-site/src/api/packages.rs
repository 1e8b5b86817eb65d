//! `GET /v1/packages` and `GET /v1/packages/{name}`: the packages of the
//! `software-library` share (its top-level folders) and their manifests (files, sizes,
//! SHA-256 and download URLs), to an authenticated caller.
//!
//! The listing shows the packages whose folder the caller may Read at both ACL levels,
//! each with the number and total size of the files it may read; nothing is audited
//! (nothing was asked for by name). A manifest checks, in order: authentication; the name
//! (acc-core `share_path` rules, one component: 400/414); the share (404); Read on the
//! package folder before the disk is touched (403 + 5145 Audit Failure); the folder on disk
//! (404 missing or not a folder, 403 when it resolves outside the share; Read again on its
//! canonical path when a symlink led elsewhere); the walk (422 `package_too_large` beyond
//! [`MAX_FILES`] files); then a 5145 Audit Success once per logon session and package.
//! Files the caller may not read are left out; digests come from the site's digest cache,
//! computed off the async threads.

use std::sync::Arc;

use acc_core::acl::{self, Caller};
use acc_core::share_path::{ShareName, SharePath};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::{Extension, Json};
use serde_json::{Value, json};

use super::ApiPeer;
use super::auth;
use super::error::ApiError;
use super::session;
use super::shares::{audit, authorise, caller_of, find_share, not_found, path_error};
use crate::shares::ShareEntry;
use crate::shares::packages::{self, Folder, Found, MAX_FILES, PACKAGE_SHARE, Walk};
use crate::site::Site;

/// The route prefix of a manifest.
const PREFIX: &str = "/v1/packages/";

/// `GET /v1/packages`.
pub(super) async fn list(
    State(site): State<Arc<Site>>,
    Extension(peer): Extension<ApiPeer>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let principal = auth::authenticate(&site, &headers, &peer).await?;
    // A download attributed to an agent id must be that agent's.
    auth::acting_agent(&site, &headers, &peer)?;
    let (share, entry) = package_share(&site)?;
    let caller = caller_of(&principal)?;
    let listed = blocking(move || {
        let root = match entry.canonical_root() {
            Ok(root) => root,
            // No folder yet: no packages.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let readable = |p: &SharePath| acl::check_read(entry.acl(), &caller, p).is_ok();
        let mut out = Vec::new();
        for name in packages::names(&root)? {
            if !readable(&name) {
                continue;
            }
            let Folder::Found { canonical, fs } = packages::resolve(&root, &name)? else { continue };
            if canonical != name && !readable(&canonical) {
                continue;
            }
            out.push(match packages::walk(&root, &name, &fs, &readable)? {
                Walk::Files(files) => json!({
                    "name": name.to_string(),
                    "files": files.len(),
                    "size": files.iter().map(|f| f.version.size).sum::<u64>(),
                }),
                Walk::TooMany => json!({
                    "name": name.to_string(),
                    "files": null,
                    "size": null,
                    "error": too_many(&name).message,
                }),
            });
        }
        Ok(out)
    })
    .await?;
    Ok(Json(json!({ "share": share.to_string(), "packages": listed })))
}

/// `GET /v1/packages/{name}`.
pub(super) async fn manifest(
    State(site): State<Arc<Site>>,
    Extension(peer): Extension<ApiPeer>,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, ApiError> {
    let principal = auth::authenticate(&site, &headers, &peer).await?;
    // A download attributed to an agent id must be that agent's.
    auth::acting_agent(&site, &headers, &peer)?;
    let name = package_name(uri.path())?;
    let (share, entry) = package_share(&site)?;
    let caller = session::caller(&peer.session, || caller_of(&principal))?;
    let ip = peer.remote.ip();
    authorise(&site, &entry, &caller, &name, ip).await?;
    let (canonical, files) = walk(&site, entry, &caller, &name, ip).await?;
    let mut listed = Vec::with_capacity(files.len());
    let mut total = 0u64;
    for found in files {
        let Some((size, sha)) = digest(&site, &found).await? else { continue };
        total += size;
        let rel = SharePath::from_components(found.path.components()[1..].to_vec()).unwrap_or_default();
        listed.push(json!({
            "path": rel.to_string(),
            "size": size,
            "sha256": hex::encode(sha),
            "url": format!("/v1/shares/{share}/{}", packages::url_path(&found.path)),
        }));
    }
    if !session::success_audited(&peer.session, &share, &canonical) {
        audit(&site, &share, &name, &caller, &ip.to_string(), &Ok(())).await?;
        session::note_success_audited(&peer.session, &share, &canonical);
    }
    // The version replicated from the management server, when the package came that way.
    let version = crate::replicate::installed(site.layout(), share.as_str(), &name.to_string());
    Ok(Json(json!({
        "name": name.to_string(),
        "share": share.to_string(),
        "version": version,
        "size": total,
        "files": listed,
    })))
}

/// The package named by the request path: one valid component, or 400 (414 when long).
fn package_name(uri_path: &str) -> Result<SharePath, ApiError> {
    let raw = uri_path.strip_prefix(PREFIX).unwrap_or_default();
    let name = SharePath::from_url(raw).map_err(path_error)?;
    if name.depth() != 1 {
        return Err(ApiError::malformed(format!(
            "package name '{}': a package is one top-level folder of '{PACKAGE_SHARE}'",
            raw.chars().take(64).flat_map(char::escape_debug).collect::<String>()
        )));
    }
    Ok(name)
}

/// The package share, or 404.
fn package_share(site: &Site) -> Result<(ShareName, Arc<ShareEntry>), ApiError> {
    let share = ShareName::parse(PACKAGE_SHARE).map_err(path_error)?;
    let entry = find_share(&site.shares().snapshot(), &share)?;
    Ok((share, entry))
}

/// Finds the package folder, checks Read on where it really is, and walks it: the files
/// the caller may read.
async fn walk(
    site: &Site,
    entry: Arc<ShareEntry>,
    caller: &Caller,
    name: &SharePath,
    ip: std::net::IpAddr,
) -> Result<(SharePath, Vec<Found>), ApiError> {
    let (e, n) = (entry.clone(), name.clone());
    let folder = blocking(move || match e.canonical_root() {
        Ok(root) => packages::resolve(&root, &n).map(|f| (root, f)),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok((Default::default(), Folder::Missing)),
        Err(err) => Err(err),
    })
    .await?;
    let (root, canonical, fs) = match folder {
        (root, Folder::Found { canonical, fs }) => (root, canonical, fs),
        (_, Folder::Missing | Folder::NotFolder) => {
            return Err(not_found(format!("package '{name}' does not exist in '{PACKAGE_SHARE}'")));
        }
        (_, Folder::Refused(e)) => {
            tracing::warn!(package = %name, error = %e, "A package folder resolves outside its share; refused.");
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "access_denied",
                format!("package '{name}' resolves outside the share '{PACKAGE_SHARE}'; nothing is served"),
            ));
        }
    };
    if &canonical != name {
        authorise(site, &entry, caller, &canonical, ip).await?;
    }
    let (n, c) = (name.clone(), caller.clone());
    let walked = blocking(move || {
        packages::walk(&root, &n, &fs, &|p: &SharePath| acl::check_read(entry.acl(), &c, p).is_ok())
    })
    .await?;
    match walked {
        Walk::Files(files) => Ok((canonical, files)),
        Walk::TooMany => Err(too_many(name)),
    }
}

/// The size and SHA-256 of one found file (cached per version; computed off the async
/// threads), or `None` when it vanished since the walk.
async fn digest(site: &Site, found: &Found) -> Result<Option<(u64, [u8; 32])>, ApiError> {
    let digests = site.shares().digests();
    if let Some(sha) = digests.cached(&found.version) {
        return Ok(Some((found.version.size, sha)));
    }
    // A file rewritten while it is hashed gets another try, then a retryable error.
    for _ in 0..3 {
        let f = found.clone();
        let Some((file, version)) = blocking(move || packages::open(&f)).await? else { return Ok(None) };
        if let Some(sha) = digests.sha256(version, file).await {
            return Ok(Some((version.size, sha)));
        }
    }
    Err(ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "busy",
        format!("'{PACKAGE_SHARE}/{}' kept changing while it was hashed; retry later", found.path),
    ))
}

/// The refusal of a package with more than [`MAX_FILES`] files.
fn too_many(name: &SharePath) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "package_too_large",
        format!("package '{name}' has more than {MAX_FILES} files; manifests list at most {MAX_FILES}"),
    )
}

/// Runs file-system work off the async threads; an I/O failure is a logged 500.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))
        .and_then(|r| r)
        .map_err(|e| {
            tracing::error!(error = %e, "A package folder could not be read.");
            ApiError::internal(format!("'{PACKAGE_SHARE}' cannot be read on the site server"))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn package_names_are_one_valid_component() {
        assert_eq!(package_name("/v1/packages/7zip").unwrap().to_string(), "7zip");
        assert_eq!(package_name("/v1/packages/a%20b").unwrap().to_string(), "a b");
        for bad in ["..", "%2e%2e", "a%2fb", "a%5cb", "a%00", "a/b", ""] {
            let e = package_name(&format!("{PREFIX}{bad}")).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{bad}: {e:?}");
        }
    }
}
