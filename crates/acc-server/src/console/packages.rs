//! Packages (`/ui/packages`): each version with its size, digest, uploader and
//! assignment, and each assigned site's replication (state, bytes, last contact, error),
//! from the same `Server` methods as `/v1/packages`. Operators upload a file as a new
//! version: a plain multipart form, streamed to a temporary file while it is hashed, then
//! stored through `package_begin`/`package_chunk`/`package_commit` (the flow of
//! `acc ctl package add`); `assets/packages.js` sends the same form with a `<progress>`
//! that follows the bytes sent. Admins assign a version to all or chosen sites
//! (`acc ctl package assign`, a revision). Viewers see.

use std::io::{Read, Seek, SeekFrom, Write};
use std::sync::Arc;

use acc_proto::admin::{AssignedTo, ReplicaStatus, UploadStatus};
use acc_proto::{PackageFile, PackageManifest};
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};

use super::session::Session;
use super::{Console, Form, PageError, PageUser, Posted, render, utc};
use crate::packages::{MAX_CHUNK, PackageError};
use crate::server::{SaveError, Server};
use crate::tokens::Role;

/// The largest upload through the console, bytes (larger: `acc ctl package add`).
pub const MAX_UPLOAD: usize = 1024 * 1024 * 1024;

/// The routes.
pub fn routes() -> Router<Arc<Console>> {
    Router::new()
        .route("/ui/packages", get(show))
        .route("/ui/packages/upload", post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD)))
        .route("/ui/packages/assign", post(assign))
}

/// One assigned site's replica.
struct ReplicaRow {
    site: String,
    state: &'static str,
    bytes: u64,
    last_contact: String,
    error: String,
}

/// One package version.
struct PackageRow {
    name: String,
    version: String,
    share: String,
    size: u64,
    digest: String,
    author: String,
    uploaded: String,
    committed: bool,
    assigned: String,
    replicated: usize,
    replicas: Vec<ReplicaRow>,
}

/// What the upload form was given, shown again with its errors.
#[derive(Default)]
struct UploadForm {
    share: String,
    name: String,
    version: String,
    share_errors: Vec<String>,
    name_errors: Vec<String>,
    version_errors: Vec<String>,
    file_errors: Vec<String>,
}

#[derive(askama::Template, Default)]
#[template(path = "packages.html")]
struct PackagesPage {
    user: Option<PageUser>,
    can_upload: bool,
    can_assign: bool,
    max_upload: usize,
    shares: Vec<String>,
    sites: Vec<String>,
    packages: Vec<PackageRow>,
    form: UploadForm,
    notices: Vec<String>,
    errors: Vec<String>,
}

fn state_word(s: ReplicaStatus) -> &'static str {
    match s {
        ReplicaStatus::Pending => "pending",
        ReplicaStatus::Replicated => "replicated",
        ReplicaStatus::Replicating => "replicating",
        ReplicaStatus::Failed => "failed",
    }
}

/// The page as `s` sees it now.
fn page(server: &Server, s: &Session) -> PackagesPage {
    let (_, doc) = server.in_force();
    let sites = server.sites();
    let mut packages: Vec<PackageRow> = server
        .package_list()
        .into_iter()
        .map(|p| {
            let digest = match server.package_manifest(&p.name, &p.version) {
                Some(m) if m.files.len() == 1 => format!("SHA-256 {}", m.files[0].sha256),
                Some(m) => format!("{} files", m.files.len()),
                None => String::new(),
            };
            let replicas: Vec<ReplicaRow> = p
                .replicas
                .iter()
                .map(|r| {
                    let record = sites.iter().find(|s| s.name == r.site);
                    let bytes = record
                        .and_then(|s| s.packages.iter().find(|x| x.name == p.name && x.wanted == p.version))
                        .map_or(0, |x| x.bytes);
                    ReplicaRow {
                        site: r.site.clone(),
                        state: state_word(r.status),
                        bytes,
                        last_contact: record.map_or_else(|| "-".to_string(), |s| utc(s.last_contact)),
                        error: r.message.clone().unwrap_or_default(),
                    }
                })
                .collect();
            PackageRow {
                assigned: match &p.assigned_to {
                    None => "not assigned".to_string(),
                    Some(AssignedTo::All(_)) => "all sites".to_string(),
                    Some(AssignedTo::Sites(list)) => list.join(", "),
                },
                replicated: replicas.iter().filter(|r| r.state == "replicated").count(),
                name: p.name,
                version: p.version,
                share: p.share,
                size: p.bytes,
                digest,
                author: p.author,
                uploaded: utc(p.created_at),
                committed: p.committed,
                replicas,
            }
        })
        .collect();
    packages.sort_by(|a, b| a.name.cmp(&b.name).then(b.uploaded.cmp(&a.uploaded)));
    PackagesPage {
        user: Some(s.into()),
        can_upload: s.role >= Role::Operator,
        can_assign: s.role >= Role::Admin,
        max_upload: MAX_UPLOAD / (1024 * 1024),
        shares: doc.shares.iter().map(|x| x.name().as_str().to_string()).collect(),
        sites: sites.into_iter().map(|s| s.0.name).collect(),
        packages,
        ..PackagesPage::default()
    }
}

async fn show(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let s = console.viewing(req.headers()).await?;
    render(&page(&console.server, &s))
}

/// The page with its errors, answered 422.
fn refused(p: &PackagesPage) -> Result<Response, PageError> {
    let mut resp = render(p)?;
    *resp.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    Ok(resp)
}

/// The last component of a browser's file name (some send a whole Windows path).
fn file_name(raw: &str) -> String {
    raw.rsplit(['/', '\\']).next().unwrap_or_default().trim().to_string()
}

/// Puts a message of `check_manifest` or `package_begin` next to the field it names.
fn place(form: &mut UploadForm, message: String) {
    let list = if message.starts_with("package name") {
        &mut form.name_errors
    } else if message.starts_with("version") || message.contains("already exists") {
        &mut form.version_errors
    } else if message.starts_with("share") {
        &mut form.share_errors
    } else {
        &mut form.file_errors
    };
    list.push(message);
}

/// A multipart failure: too large, or a broken body.
/// A form field's text, read a chunk at a time and refused once past
/// [`super::MAX_FORM`], so a field never holds more than that in memory.
async fn field_text(field: &mut axum::extract::multipart::Field<'_>) -> Result<String, PageError> {
    let key = field.name().unwrap_or_default().to_string();
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        if bytes.len() + chunk.len() > super::MAX_FORM {
            return Err(PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("The field {key} is too long."),
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| PageError::new(StatusCode::BAD_REQUEST, format!("The field {key} is not UTF-8 text.")))
}

fn multipart_error(e: &axum::extract::multipart::MultipartError) -> PageError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        PageError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "The file is too large: the console takes up to {} MiB; use acc ctl package add.",
                MAX_UPLOAD / (1024 * 1024)
            ),
        )
    } else {
        PageError::new(StatusCode::BAD_REQUEST, format!("The upload was cut short or malformed: {e}."))
    }
}

/// A file received and hashed, in a temporary file.
struct Received {
    file: tempfile::NamedTempFile,
    name: String,
    size: u64,
    sha256: String,
}

/// Streams the form's file field into a temporary file next to the uploads, hashing it.
async fn receive(
    server: &Server,
    field: &mut axum::extract::multipart::Field<'_>,
) -> Result<Received, PageError> {
    let name = file_name(field.file_name().unwrap_or_default());
    let dir = server.layout().package_staging(".console", "");
    std::fs::create_dir_all(&dir).map_err(|e| PageError::from(crate::ServerError::io(&dir, e)))?;
    let mut file = tempfile::NamedTempFile::new_in(&dir)
        .map_err(|e| PageError::from(crate::ServerError::io(&dir, e)))?;
    let mut hash = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    let mut size = 0u64;
    while let Some(bytes) = field.chunk().await.map_err(|e| multipart_error(&e))? {
        hash.update(&bytes);
        size += bytes.len() as u64;
        file.write_all(&bytes).map_err(|e| PageError::from(crate::ServerError::io(file.path(), e)))?;
    }
    file.flush().map_err(|e| PageError::from(crate::ServerError::io(file.path(), e)))?;
    let sha256 = hash.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Received { file, name, size, sha256 })
}

/// Stores a received file as the one file of `manifest`: begin, the chunks the server does
/// not hold yet, commit. Whether the version existed already with this content.
async fn store(
    server: &Server,
    manifest: PackageManifest,
    received: &Received,
    author: &str,
) -> Result<bool, PackageError> {
    let (name, version, path) =
        (manifest.name.clone(), manifest.version.clone(), manifest.files[0].path.clone());
    let begun = server.package_begin(manifest, author).await?;
    if begun.status == UploadStatus::Exists {
        return Ok(true);
    }
    let mut offset = begun.received.get(&path).copied().unwrap_or(0);
    let mut f = received
        .file
        .reopen()
        .map_err(|e| PackageError::Server(crate::ServerError::io(received.file.path(), e)))?;
    let io = |e| PackageError::Server(crate::ServerError::io(received.file.path(), e));
    f.seek(SeekFrom::Start(offset)).map_err(io)?;
    let mut buf = vec![0u8; MAX_CHUNK];
    while offset < received.size {
        let mut filled = 0;
        while filled < buf.len() {
            let n = f.read(&mut buf[filled..]).map_err(io)?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            break;
        }
        let bytes = axum::body::Bytes::copy_from_slice(&buf[..filled]);
        offset = server.package_chunk(&name, &version, &path, offset, bytes).await?;
    }
    server.package_commit(&name, &version).await?;
    Ok(false)
}

async fn upload(
    State(console): State<Arc<Console>>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Result<Response, PageError> {
    let server = &console.server;
    // Signed in before a byte of the body is read: a client without a session costs no
    // parsing, however large the body it announces.
    if console.session(&headers).await.is_none() {
        return Err(PageError::SignIn);
    }
    let mut fields = Form::default();
    let mut session = None;
    let mut received = None;
    while let Some(mut field) = multipart.next_field().await.map_err(|e| multipart_error(&e))? {
        let key = field.name().unwrap_or_default().to_string();
        if key != "file" {
            let text = field_text(&mut field).await?;
            fields.0.push((key, text));
            continue;
        }
        // The session, token and role before a byte of the file is kept.
        session = Some(console.form_session(&headers, &fields, Role::Operator).await?.1);
        received = Some(receive(server, &mut field).await?);
    }
    let s = match session {
        Some(s) => s,
        None => console.form_session(&headers, &fields, Role::Operator).await?.1,
    };
    let mut p = page(server, &s);
    p.form.share = fields.get("share").trim().to_string();
    p.form.name = fields.get("name").trim().to_string();
    p.form.version = fields.get("version").trim().to_string();
    let received = match received {
        Some(r) if !r.name.is_empty() => r,
        _ => {
            p.form.file_errors.push("file: choose the file to upload".to_string());
            return refused(&p);
        }
    };
    if p.form.name.is_empty() {
        p.form.name_errors.push("package name: give a name".to_string());
    }
    if p.form.version.is_empty() {
        p.form.version_errors.push("version: give a version".to_string());
    }
    if !p.form.name_errors.is_empty() || !p.form.version_errors.is_empty() {
        return refused(&p);
    }
    let manifest = PackageManifest {
        share: p.form.share.clone(),
        name: p.form.name.clone(),
        version: p.form.version.clone(),
        files: vec![PackageFile {
            path: received.name.clone(),
            size: received.size,
            sha256: received.sha256.clone(),
        }],
    };
    let author = format!("{} (console)", s.user);
    let outcome = store(server, manifest, &received, &author).await;
    let mut p = PackagesPage { form: std::mem::take(&mut p.form), ..page(server, &s) };
    match outcome {
        Ok(existed) => {
            let what = format!(
                "{} {} ({}, {} bytes, SHA-256 {})",
                p.form.name, p.form.version, received.name, received.size, received.sha256
            );
            tracing::info!(user = %s.user, package = %p.form.name, version = %p.form.version, "Package uploaded in the console.");
            p.notices.push(if existed {
                format!("Already stored: {what}.")
            } else {
                format!("Uploaded {what}.")
            });
            p.form = UploadForm { share: p.form.share.clone(), ..UploadForm::default() };
            render(&p)
        }
        Err(PackageError::Server(e)) => Err(e.into()),
        Err(e) => {
            place(&mut p.form, e.to_string());
            refused(&p)
        }
    }
}

async fn assign(State(console): State<Arc<Console>>, req: Request) -> Result<Response, PageError> {
    let Posted { form: f, session: s, .. } = console.posted(req, Role::Admin).await?;
    let server = &console.server;
    let mut p = page(server, &s);
    let Some((name, version)) = f.get("package").split_once(' ') else {
        p.errors.push("package: choose the version to assign".to_string());
        return refused(&p);
    };
    let all = f.ticked("all");
    let sites: Vec<String> = f.values("site").map(|x| x.to_ascii_uppercase()).collect();
    if all != sites.is_empty() {
        p.errors.push("sites: tick All sites or the sites to assign to, not both".to_string());
        return refused(&p);
    }
    let outcome = server.package_assign(name, Some(version), sites, &format!("{} (console)", s.user)).await;
    let mut p = page(server, &s);
    match outcome {
        Ok(saved) => {
            p.notices.push(format!("Saved as policy revision {}: {}", saved.revision, saved.summary));
            render(&p)
        }
        Err(SaveError::Refused(problems)) => {
            p.errors.extend(problems.into_iter().map(|x| x.message));
            refused(&p)
        }
        Err(SaveError::Server(e)) => Err(e.into()),
    }
}
