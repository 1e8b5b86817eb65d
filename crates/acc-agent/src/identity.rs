//! The agent's mTLS identity: `key-file` and `cert-file` checked before any connection.
//! On Unix the key must be owned by the user the agent runs as and unreadable by group
//! and others (the seed's `chown` and `chmod 0400`); on Windows its DACL must give access
//! to nobody but the agent's account, SYSTEM and Administrators (`acc_windows::acl`); the
//! refusal prints the exact commands (`chown`/`chmod`, `icacls`). The certificate must be
//! X.509 v3 (v1 is refused by TLS; the refusal says how to re-sign it), within its
//! validity, with a key that matches. [`Identity::load`] reads each file once; the running
//! agent keeps what it read.

use std::path::Path;

use acc_core::time::{Clock as _, SystemClock};
use acc_net::client::ClientTls;
use time::OffsetDateTime;

/// Why the identity cannot be used, one line with the fix.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A file cannot be read.
    #[error("{path}: cannot read ({reason})")]
    Read {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The key file's owner or mode.
    #[error("{0}")]
    KeyFile(String),
    /// The certificate.
    #[error("{path}: {detail}")]
    Certificate {
        /// The file.
        path: String,
        /// What is wrong and what to do.
        detail: String,
    },
}

/// The numeric user id this process runs as (from `/proc/self/status`, no `unsafe`).
pub fn current_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The name of user `uid` from `/etc/passwd`, or the number.
pub fn user_name(uid: u32) -> String {
    std::fs::read_to_string("/etc/passwd")
        .ok()
        .and_then(|p| {
            p.lines().find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)?.parse::<u32>().ok()? == uid).then(|| name.to_string())
            })
        })
        .unwrap_or_else(|| uid.to_string())
}

/// Checks the key file's owner and mode against the user `uid` the agent runs as.
pub fn check_key_file(path: &Path, uid: u32) -> Result<(), IdentityError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path)
            .map_err(|e| IdentityError::Read { path: path.display().to_string(), reason: e.to_string() })?;
        let user = user_name(uid);
        let shown = path.display();
        if meta.uid() != uid {
            return Err(IdentityError::KeyFile(format!(
                "{shown}: the key file is owned by {}, not by {user} that the agent runs as; run `chown {user}:{user} {shown}` and `chmod 0400 {shown}`",
                user_name(meta.uid())
            )));
        }
        let mode = meta.mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::KeyFile(format!(
                "{shown}: mode {mode:04o} lets others read the agent's private key; run `chmod 0400 {shown}` (and `chown {user}:{user} {shown}`)"
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = (path, uid);
    Ok(())
}

/// Checks the key file's DACL against the account this process runs as (Windows).
#[cfg(windows)]
pub fn check_key_dacl(path: &Path) -> Result<(), IdentityError> {
    let read =
        |e: std::io::Error| IdentityError::Read { path: path.display().to_string(), reason: e.to_string() };
    let sid = acc_windows::sys::current_user_sid()
        .map_err(|e| IdentityError::KeyFile(format!("cannot tell which account the agent runs as ({e})")))?;
    let sddl = acc_windows::sys::file_dacl_sddl(path).map_err(read)?;
    let dacl = acc_windows::acl::parse_dacl(&sddl)
        .map_err(|e| IdentityError::KeyFile(format!("{}: {e}", path.display())))?;
    acc_windows::acl::check_key_dacl(&path.display().to_string(), &dacl, &sid)
        .map_err(|e| IdentityError::KeyFile(e.to_string()))
}

/// The agent certificate's CN and issuer, for logs and status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertSummary {
    /// `CN=acclinux`, or the whole subject without a CN.
    pub subject_cn: String,
    /// `CN=Lab CA`, or the whole issuer.
    pub issuer_cn: String,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// notBefore.
    pub not_before: OffsetDateTime,
}

impl CertSummary {
    /// notAfter as logs and status show times: RFC 3339 UTC with milliseconds.
    pub fn expires(&self) -> String {
        let ms = i64::try_from(self.not_after.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX);
        acc_core::time::Timestamp(ms).to_rfc3339()
    }
}

fn cn_part(line: &str) -> String {
    line.split(", ").filter(|p| p.starts_with("CN=")).last().unwrap_or(line).to_string()
}

fn read(path: &Path) -> Result<Vec<u8>, IdentityError> {
    std::fs::read(path)
        .map_err(|e| IdentityError::Read { path: path.display().to_string(), reason: e.to_string() })
}

/// Reads and checks the certificate at `path` at time `now`.
pub fn check_certificate(path: &Path, now: OffsetDateTime) -> Result<CertSummary, IdentityError> {
    summarize(path, &read(path)?, now)
}

/// Checks the certificate `bytes` read from `path` at time `now`.
fn summarize(path: &Path, bytes: &[u8], now: OffsetDateTime) -> Result<CertSummary, IdentityError> {
    let bad = |detail: String| IdentityError::Certificate { path: path.display().to_string(), detail };
    let der = acc_pki::x509::certificates(bytes)
        .map_err(|e| bad(format!("{e}; give the agent's certificate in PEM")))?
        .into_iter()
        .next()
        .ok_or_else(|| bad("no certificate in it".into()))?;
    let summary = match acc_pki::inspect::summarize(&der) {
        Ok(acc_pki::inspect::Summary::Certificate(s)) => s,
        _ => return Err(bad("the certificate does not parse".into())),
    };
    if summary.version == 1 {
        return Err(bad(acc_pki::verify::V1_RESIGN_HINT.to_string()));
    }
    let parse = |t: &str| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok();
    let (Some(not_before), Some(not_after)) = (parse(&summary.not_before), parse(&summary.not_after)) else {
        return Err(bad("its validity dates do not parse".into()));
    };
    if now > not_after {
        return Err(bad(format!(
            "expired on {}; renew it (acc agent enroll --token T, or sign a new one)",
            summary.not_after
        )));
    }
    if now < not_before {
        return Err(bad(format!(
            "not valid before {}: this machine's clock or the CA's is wrong (clock skew); check the clocks",
            summary.not_before
        )));
    }
    Ok(CertSummary {
        subject_cn: cn_part(&summary.subject),
        issuer_cn: cn_part(&summary.issuer),
        not_after,
        not_before,
    })
}

/// The agent's mTLS identity as read from `key-file` and `cert-file`, checked.
pub struct Identity {
    /// The certificate file.
    pub cert_path: std::path::PathBuf,
    key_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    /// The certificate's summary.
    pub summary: CertSummary,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity")
            .field("cert_path", &self.cert_path)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Reads the key (its owner and mode checked against `uid` when known) and the
    /// certificate (checked now), each once.
    pub fn load(key: &Path, cert: &Path, uid: Option<u32>) -> Result<Identity, IdentityError> {
        if let Some(uid) = uid {
            check_key_file(key, uid)?;
        }
        #[cfg(windows)]
        check_key_dacl(key)?;
        let cert_pem = read(cert)?;
        let summary = summarize(cert, &cert_pem, SystemClock.now_utc())?;
        let key_pem = read(key)?;
        Ok(Identity { cert_path: cert.to_path_buf(), key_pem, cert_pem, summary })
    }

    /// Certificate and key (PEM), as a client TLS presents them.
    pub fn pair(&self) -> (&[u8], &[u8]) {
        (&self.cert_pem, &self.key_pem)
    }
}

/// The client TLS of an agent: trusts `ca_pem`, presents `identity` when given.
pub fn client_tls(ca_pem: &[u8], identity: Option<&Identity>) -> Result<ClientTls, IdentityError> {
    let Some(identity) = identity else {
        return ClientTls::new(ca_pem, None)
            .map_err(|e| IdentityError::Certificate { path: "ca-file".into(), detail: e.to_string() });
    };
    ClientTls::new(ca_pem, Some(identity.pair())).map_err(|e| IdentityError::Certificate {
        path: identity.cert_path.display().to_string(),
        detail: format!("{e}; key-file and cert-file must be a pair"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_identity_never_shows_its_key() {
        let identity = Identity {
            cert_path: "/etc/acc/acc.crt".into(),
            key_pem: b"-----BEGIN PRIVATE KEY-----\nS3cretKeyMaterial\n".to_vec(),
            cert_pem: b"-----BEGIN CERTIFICATE-----\n".to_vec(),
            summary: CertSummary {
                subject_cn: "CN=web01".into(),
                issuer_cn: "CN=Lab CA".into(),
                not_after: OffsetDateTime::UNIX_EPOCH,
                not_before: OffsetDateTime::UNIX_EPOCH,
            },
        };
        let shown = format!("{identity:?}");
        assert!(shown.contains("CN=web01") && !shown.contains("S3cretKeyMaterial"), "{shown}");
        assert_eq!(identity.pair().1, identity.key_pem.as_slice());
    }

    #[cfg(unix)]
    #[test]
    fn a_key_readable_by_others_or_owned_by_another_user_is_refused_with_the_commands() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("acc.key");
        std::fs::write(&key, "k").unwrap();
        let uid = current_uid().unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = check_key_file(&key, uid).unwrap_err().to_string();
        assert!(e.contains("mode 0644") && e.contains(&format!("chmod 0400 {}", key.display())), "{e}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o400)).unwrap();
        check_key_file(&key, uid).unwrap();
        let e = check_key_file(&key, uid + 1).unwrap_err().to_string();
        assert!(e.contains("chown") && e.contains("not by"), "{e}");
    }
}
