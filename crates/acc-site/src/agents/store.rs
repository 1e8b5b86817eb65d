//! The `agents` table's rows as registrations and bindings: each registered id with what
//! it is bound to (its token's SHA-256, and the certificate it registered with), in the same
//! row, so a registration is one row written. A row without a token predates binding
//! (`Binding::Legacy`). A row's registration facts are an [`AgentRow`].

use acc_core::agent_binding::{Binding, CertificateIdentity};
use sqlx::{Row, SqlitePool};

use crate::error::SiteError;

/// A registered agent.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AgentRow {
    /// The agent's id (`Acc-Agent-Id` or the body's `agent_id`).
    pub agent_id: String,
    /// Its host name.
    pub host: String,
    /// Its operating system.
    pub os: String,
    /// Its version.
    pub version: String,
    /// Who it authenticated as (`ACC_user`, `cert:CN=…`).
    pub principal: String,
    /// The socket's address.
    pub ip: String,
    /// First registration (Unix ms).
    pub registered_at: i64,
    /// Last registration (Unix ms).
    pub last_seen: i64,
}

/// Registered agents, most recently seen first.
pub async fn list(pool: &SqlitePool) -> Result<Vec<AgentRow>, SiteError> {
    let rows = sqlx::query("SELECT agent_id, host, os, version, principal, ip, registered_at, last_seen FROM agents ORDER BY last_seen DESC")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| AgentRow {
            agent_id: r.get("agent_id"),
            host: r.get("host"),
            os: r.get("os"),
            version: r.get("version"),
            principal: r.get("principal"),
            ip: r.get("ip"),
            registered_at: r.get("registered_at"),
            last_seen: r.get("last_seen"),
        })
        .collect())
}

/// Gives a database made before binding the two columns of a binding (its registrations
/// are then legacy, until their agents register again). Idempotent.
pub async fn migrate(pool: &SqlitePool) -> Result<(), sqlx::Error> {
    let has: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM pragma_table_info('agents') WHERE name = 'token_sha256'")
            .fetch_one(pool)
            .await?;
    if has == 0 {
        sqlx::raw_sql("ALTER TABLE agents ADD COLUMN token_sha256 TEXT; ALTER TABLE agents ADD COLUMN certificate TEXT;")
            .execute(pool)
            .await?;
    }
    Ok(())
}

/// One durable change of a registration, carried by the group-commit writer as
/// `store::Write::Agent`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentWrite {
    /// An agent registered (or registered again), bound as it now is.
    Registered {
        /// The registration.
        row: AgentRow,
        /// SHA-256 of its token, lower-case hex.
        token_sha256: String,
        /// The certificate (JSON of [`CertificateIdentity`]), if any.
        certificate: Option<String>,
    },
    /// `acc site agents forget`: the registration and its binding go.
    Forgotten {
        /// The id.
        agent_id: String,
    },
}

impl AgentWrite {
    /// The write that stores `row`, bound as `binding` (only bound ids are registered).
    pub fn registered(row: AgentRow, binding: &Binding) -> Option<AgentWrite> {
        let Binding::Bound { token_sha256, certificate } = binding else { return None };
        Some(AgentWrite::Registered {
            row,
            token_sha256: hex::encode(token_sha256),
            certificate: certificate.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default()),
        })
    }
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// Applies one change inside the writer's transaction.
pub async fn apply(tx: &mut sqlx::SqliteConnection, w: &AgentWrite) -> Result<(), sqlx::Error> {
    match w {
        AgentWrite::Registered { row: a, token_sha256, certificate } => {
            sqlx::query(
                "INSERT INTO agents (agent_id, host, os, version, principal, ip, registered_at, last_seen, token_sha256, certificate) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (agent_id) DO UPDATE SET host = excluded.host, os = excluded.os, version = excluded.version, \
                 principal = excluded.principal, ip = excluded.ip, last_seen = excluded.last_seen, \
                 token_sha256 = excluded.token_sha256, certificate = excluded.certificate",
            )
            .bind(&a.agent_id)
            .bind(&a.host)
            .bind(&a.os)
            .bind(&a.version)
            .bind(&a.principal)
            .bind(&a.ip)
            .bind(a.registered_at)
            .bind(a.last_seen)
            .bind(token_sha256)
            .bind(certificate)
            .execute(&mut *tx)
            .await?;
        }
        AgentWrite::Forgotten { agent_id } => {
            sqlx::query("DELETE FROM agents WHERE agent_id = ?").bind(agent_id).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// Every registered id with its binding: a row with a token is `Bound`; one without
/// predates binding and is `Legacy` (a certificate one keeps its CN).
pub async fn load(pool: &SqlitePool) -> Result<Vec<(String, Binding)>, sqlx::Error> {
    let rows = sqlx::query("SELECT agent_id, principal, token_sha256, certificate FROM agents")
        .fetch_all(pool)
        .await?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id: String = r.get("agent_id");
            let token: Option<String> = r.get("token_sha256");
            let certificate: Option<String> = r.get("certificate");
            let binding = match token.as_deref().and_then(unhex) {
                Some(token_sha256) => Binding::Bound {
                    token_sha256,
                    certificate: certificate
                        .and_then(|c| serde_json::from_str::<CertificateIdentity>(&c).ok()),
                },
                None => {
                    let principal: String = r.get("principal");
                    Binding::Legacy { certificate_cn: principal.strip_prefix("cert:CN=").map(str::to_string) }
                }
            };
            (id, binding)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_round_trip_as_hex() {
        let h: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
        assert_eq!(hex::encode(h).len(), 64);
        assert_eq!(unhex(&hex::encode(h)), Some(h));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
    }
}
