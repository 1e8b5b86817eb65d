//! Agent identities on this site (issue 14): an agent id belongs to the agent that
//! registered it. This module owns the in-memory bindings (every registered id, loaded at
//! open), the token a registration answers (256 random bits, base64url; only its SHA-256
//! is kept), and the operations on a [`Site`]: register, check a request's claim to an id,
//! forget an id, list. The rules are `acc_core::agent_binding`; [`store`] owns the rows.
//! The HTTP side (headers, refusals) is in `api::auth` and `api::register`.
//!
//! [`Site`]: crate::site::Site

pub mod store;

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use acc_core::agent_binding::{self, Binding, CertificateIdentity, Proof, Registration};
use acc_proto::agent_site::AgentToken;
use base64::Engine as _;
use sqlx::SqlitePool;

use crate::error::SiteError;
use crate::site::Site;
use crate::store::{AgentRow, Write};
use store::AgentWrite;

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

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Binding>> {
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
fn new_token() -> Result<AgentToken, SiteError> {
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

fn bound_to(b: Option<&Binding>) -> &'static str {
    match b {
        Some(Binding::Bound { certificate: Some(_), .. }) => "token+certificate",
        Some(Binding::Bound { certificate: None, .. }) => "token",
        _ => "unbound",
    }
}

impl Site {
    /// Registers an agent: decides under the bindings' lock whether the id may be
    /// registered by this caller, binds it (a new token, or the one presented), and
    /// returns the agent's token once the registration and its binding are durable.
    pub async fn register_agent(&self, r: Registering<'_>) -> Result<AgentToken, RegisterError> {
        let id = r.row.agent_id.clone();
        let (pending, token, bound, previous) = {
            let mut map = self.agent_bindings().lock();
            let current = map.get(&id);
            let decision = agent_binding::register(current, &r.proof);
            let token = match (&decision, r.presented) {
                (Registration::Refuse, _) => return Err(RegisterError::Taken(id)),
                (Registration::Keep, Some(t)) => AgentToken::new(t),
                _ => new_token()?,
            };
            let bound =
                agent_binding::bound_after(current, &decision, &r.proof, token_sha256(token.expose()))
                    .ok_or(RegisterError::Taken(id.clone()))?;
            let write = AgentWrite::registered(r.row, &bound).ok_or(RegisterError::Taken(id.clone()))?;
            let previous = map.insert(id.clone(), bound.clone());
            (self.writer().submit(vec![Write::Agent(write)]), token, bound, previous)
        };
        if let Err(e) = pending.durable().await {
            // Not stored: memory goes back to what the database still says.
            let mut map = self.agent_bindings().lock();
            if map.get(&id) == Some(&bound) {
                match previous {
                    Some(p) => map.insert(id, p),
                    None => map.remove(&id),
                };
            }
            return Err(SiteError::from(e).into());
        }
        if previous.as_ref().is_some_and(|p| p != &bound) {
            // Long-polls waiting under the old binding end (they check it when woken).
            self.task_queue().wake(&id);
        }
        Ok(token)
    }

    /// Checks that a request presenting `claim` may act for `agent_id` (its tasks,
    /// results, downloads): the id is registered here and bound to this token or
    /// certificate.
    pub fn check_claim(&self, agent_id: &str, claim: &Claim) -> Result<(), NotBound> {
        if agent_binding::may_act(self.agent_bindings().lock().get(agent_id), &claim.proof()) {
            Ok(())
        } else {
            Err(NotBound(agent_id.to_string()))
        }
    }

    /// `acc site agents forget ID`: removes the registration and its binding; the next
    /// registration of the id binds it anew (the agent that held it registers again when
    /// the site refuses its token). Open tasks stay, for whoever registers the id next.
    pub async fn forget_agent(&self, agent_id: &str) -> Result<(), SiteError> {
        let pending = {
            let mut map = self.agent_bindings().lock();
            if map.remove(agent_id).is_none() {
                return Err(SiteError::UnknownAgent(agent_id.to_string()));
            }
            let forget = AgentWrite::Forgotten { agent_id: agent_id.to_string() };
            self.writer().submit(vec![Write::Agent(forget)])
        };
        pending.durable().await.map_err(SiteError::from)?;
        self.task_queue().wake(agent_id);
        tracing::info!(
            agent = agent_id,
            "Agent registration forgotten; the id binds at its next registration."
        );
        Ok(())
    }

    /// Registered agents, most recently seen first, with what each id is bound to.
    pub async fn agents(&self) -> Result<Vec<AgentView>, SiteError> {
        let rows = crate::store::agents(self.pool()).await?;
        let map = self.agent_bindings().lock();
        Ok(rows
            .into_iter()
            .map(|row| {
                let b = map.get(&row.agent_id);
                AgentView {
                    bound_to: bound_to(b),
                    binding: b.map_or_else(|| "unbound".to_string(), Binding::describe),
                    row,
                }
            })
            .collect())
    }
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
