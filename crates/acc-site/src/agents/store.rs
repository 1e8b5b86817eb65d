//! The `agent_bindings` table: what each registered agent id is bound to (its token's
//! SHA-256, and the certificate it registered with), beside the `agents` table of
//! registrations. A registration writes both rows in one transaction; a forget removes
//! both. A registration without a binding row predates binding (`Binding::Legacy`).

use acc_core::agent_binding::{Binding, CertificateIdentity};
use sqlx::{Row, SqlitePool};

/// Created by `store::open` next to the site's other tables. Existing databases gain the
/// (empty) table: their registrations are legacy until the agents register again.
pub const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS agent_bindings (
    agent_id TEXT PRIMARY KEY, token_sha256 TEXT NOT NULL, certificate TEXT, bound_at INTEGER NOT NULL);
";

/// One durable change of a binding, carried by the group-commit writer as
/// `store::Write::AgentBinding`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingWrite {
    /// An id bound (or bound again) at a registration.
    Bound {
        /// The id.
        agent_id: String,
        /// SHA-256 of its token, lower-case hex.
        token_sha256: String,
        /// The certificate (JSON of [`CertificateIdentity`]), if any.
        certificate: Option<String>,
        /// When (Unix ms).
        at: i64,
    },
    /// `acc site agents forget`: the registration and its binding go.
    Forgotten {
        /// The id.
        agent_id: String,
    },
}

impl BindingWrite {
    /// The write that stores `binding` for `agent_id` (only bound ids are stored).
    pub fn bound(agent_id: &str, binding: &Binding, at: i64) -> Option<BindingWrite> {
        let Binding::Bound { token_sha256, certificate } = binding else { return None };
        Some(BindingWrite::Bound {
            agent_id: agent_id.to_string(),
            token_sha256: hex(token_sha256),
            certificate: certificate.as_ref().map(|c| serde_json::to_string(c).unwrap_or_default()),
            at,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    if text.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Applies one change inside the writer's transaction.
pub async fn apply(tx: &mut sqlx::SqliteConnection, w: &BindingWrite) -> Result<(), sqlx::Error> {
    match w {
        BindingWrite::Bound { agent_id, token_sha256, certificate, at } => {
            sqlx::query(
                "INSERT INTO agent_bindings (agent_id, token_sha256, certificate, bound_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (agent_id) DO UPDATE SET token_sha256 = excluded.token_sha256, \
                 certificate = excluded.certificate, bound_at = excluded.bound_at",
            )
            .bind(agent_id)
            .bind(token_sha256)
            .bind(certificate)
            .bind(at)
            .execute(&mut *tx)
            .await?;
        }
        BindingWrite::Forgotten { agent_id } => {
            sqlx::query("DELETE FROM agent_bindings WHERE agent_id = ?")
                .bind(agent_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM agents WHERE agent_id = ?").bind(agent_id).execute(&mut *tx).await?;
        }
    }
    Ok(())
}

/// Every registered id with its binding: a row of `agent_bindings` is `Bound`; a
/// registration without one is `Legacy` (a certificate one keeps its CN).
pub async fn load(pool: &SqlitePool) -> Result<Vec<(String, Binding)>, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT a.agent_id, a.principal, b.token_sha256, b.certificate FROM agents a \
         LEFT JOIN agent_bindings b ON b.agent_id = a.agent_id",
    )
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
        let h = [0xa5u8; 32];
        assert_eq!(unhex(&hex(&h)), Some(h));
        assert_eq!(unhex("zz"), None);
        assert_eq!(unhex(&"g".repeat(64)), None);
    }
}
