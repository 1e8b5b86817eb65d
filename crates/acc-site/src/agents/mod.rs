//! Agent identities on this site (issue 14): an agent id belongs to the agent that
//! registered it. This module owns the in-memory bindings (every registered id, loaded at
//! open), the token a registration answers (256 random bits, base64url; only its SHA-256
//! is kept), and what the operations on a site take and answer (register, check a
//! request's claim to an id, forget an id, list: `site/agents.rs`). The rules are
//! `acc_core::agent_binding`; [`store`] owns the rows. The HTTP side (headers, refusals) is
//! in `api::auth` and `api::register`.

pub mod store;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use acc_core::agent_binding::{Binding, CertificateIdentity, Proof};
use acc_proto::agent_site::AgentToken;
use base64::Engine as _;
use sqlx::SqlitePool;

use crate::error::SiteError;
use store::AgentRow;

/// Bytes of randomness in an agent token (256 bits).
pub const TOKEN_BYTES: usize = 32;

/// Every registered id and what it is bound to.
#[derive(Debug, Default)]
pub struct Bindings(Mutex<HashMap<String, Binding>>);

impl Bindings {
    /// The bindings of the database's registrations.
    pub async fn load(pool: &SqlitePool) -> Result<Bindings, SiteError> {
        Ok(Bindings(Mutex::new(store::load(pool).await?.into_iter().collect())))
    }

    /// The map of every registered id to its binding.
    pub(crate) fn lock(&self) -> MutexGuard<'_, HashMap<String, Binding>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// SHA-256 of a token's text, as bindings keep it.
pub fn token_sha256(token: &str) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// A new token: 256 random bits, base64url without padding (43 characters).
pub(crate) fn new_token() -> Result<AgentToken, SiteError> {
    let bytes = acc_pki::sealed::random_bytes(TOKEN_BYTES)?;
    Ok(AgentToken::new(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
}

/// A request names an agent id without its binding (token or certificate). Says nothing
/// about the id's tasks, nor whether it is registered here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "agent id '{0}' is not bound to this caller on this site: present the Acc-Agent-Token that POST /v1/register answered for it (or the client certificate it registered with), or register it first"
)]
pub struct NotBound(pub String);

/// What a request presented for an id, kept to check it again later (a long-poll checks
/// at every wake that the id is still bound to it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Claim {
    /// SHA-256 of the token presented.
    pub token_sha256: Option<[u8; 32]>,
    /// The connection's certificate.
    pub certificate: Option<CertificateIdentity>,
}

impl Claim {
    /// As the rules take it.
    pub fn proof(&self) -> Proof<'_> {
        Proof { token_sha256: self.token_sha256, certificate: self.certificate.as_ref() }
    }
}

/// Why a registration was not stored.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The id is bound to another agent.
    #[error(
        "agent id '{0}' is registered to another agent on this site: present its Acc-Agent-Token or the client certificate it registered with; an operator can release the id with `acc site agents forget {0}`"
    )]
    Taken(String),
    /// The site failed.
    #[error(transparent)]
    Site(#[from] SiteError),
}

/// A registration as the site stores it.
pub struct Registering<'a> {
    /// The agent's row (id, host, OS, version, principal, address, times).
    pub row: AgentRow,
    /// What the request presented.
    pub proof: Proof<'a>,
    /// The token presented (its text), answered again when it stands.
    pub presented: Option<&'a str>,
}

impl std::fmt::Debug for Registering<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registering")
            .field("row", &self.row)
            .field("certificate", &self.proof.certificate)
            .field("presented", &self.presented.map(|_| "[REDACTED]"))
            .finish()
    }
}

/// A registered agent as administrators see it (`acc site agents`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentView {
    /// The registration.
    #[serde(flatten)]
    pub row: AgentRow,
    /// `token`, `token+certificate` or `unbound`.
    pub bound_to: &'static str,
    /// What the id is bound to, in words.
    pub binding: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_s_debug_hides_the_token() {
        let row = AgentRow {
            agent_id: "a1".into(),
            host: "h".into(),
            os: "linux".into(),
            version: "1".into(),
            principal: "ACC_user".into(),
            ip: "10.0.0.1".into(),
            registered_at: 0,
            last_seen: 0,
        };
        let r = Registering { row, proof: Proof::default(), presented: Some("s3cret-token") };
        let shown = format!("{r:?}");
        assert!(!shown.contains("s3cret") && shown.contains("REDACTED") && shown.contains("a1"), "{shown}");
    }

    #[test]
    fn tokens_are_256_random_bits_in_base64url() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_ne!(a, b);
        assert_ne!(token_sha256(a.expose()), token_sha256(b.expose()));
    }
}
