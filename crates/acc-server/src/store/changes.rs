//! The change feed between management servers sharing one PostgreSQL database: every write
//! another node must see (a revision, a site or agent record, the tokens, the packages, an
//! `update-config`) sends `pg_notify('acc_changes', '<kind>:<key>')` inside its own
//! transaction, so the notice is delivered when, and only if, the write commits. Each node
//! follows the channel (see `crate::cluster`) and reloads the piece named. On SQLite
//! nothing is sent: one process holds the data directory's lock and the database.

use sqlx::AnyConnection;

/// The PostgreSQL channel of the feed.
pub const CHANNEL: &str = "acc_changes";

/// What changed, as a notice names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new policy revision (`revision`).
    Revision,
    /// A site server's record (`site:NAME`).
    Site(String),
    /// An agent's record (`agent:HOST`).
    Agent(String),
    /// The API tokens (`tokens`).
    Tokens,
    /// The package versions (`package`).
    Packages,
    /// `update-config` sent by node `from` to sites, agents or both
    /// (`update-config:sites|agents|all:NODE`).
    UpdateConfig {
        /// To the site servers.
        sites: bool,
        /// To the agents.
        agents: bool,
        /// The node that sent it (which has already woken its own long-polls).
        from: String,
    },
}

impl Change {
    /// The notice's text.
    pub fn payload(&self) -> String {
        match self {
            Change::Revision => "revision".into(),
            Change::Site(name) => format!("site:{name}"),
            Change::Agent(host) => format!("agent:{host}"),
            Change::Tokens => "tokens".into(),
            Change::Packages => "package".into(),
            Change::UpdateConfig { sites, agents, from } => {
                let to = match (sites, agents) {
                    (true, true) => "all",
                    (true, false) => "sites",
                    _ => "agents",
                };
                format!("update-config:{to}:{from}")
            }
        }
    }

    /// Reads a notice's text; `None` for one this acc does not know (a newer node's).
    pub fn parse(payload: &str) -> Option<Change> {
        let (kind, key) = payload.split_once(':').unwrap_or((payload, ""));
        Some(match (kind, key) {
            ("revision", "") => Change::Revision,
            ("tokens", "") => Change::Tokens,
            ("package", "") => Change::Packages,
            ("site", name) if !name.is_empty() => Change::Site(name.into()),
            ("agent", host) if !host.is_empty() => Change::Agent(host.into()),
            ("update-config", rest) => {
                let (to, from) = rest.split_once(':')?;
                let (sites, agents) = match to {
                    "all" => (true, true),
                    "sites" => (true, false),
                    "agents" => (false, true),
                    _ => return None,
                };
                Change::UpdateConfig { sites, agents, from: from.into() }
            }
            _ => return None,
        })
    }
}

/// Whether `conn` is a PostgreSQL connection (which carries the feed).
pub(super) fn carries_feed(conn: &AnyConnection) -> bool {
    conn.backend_name() == <sqlx::Postgres as sqlx::Database>::NAME
}

/// Sends `change` on the feed from inside the caller's transaction (PostgreSQL; nothing on
/// SQLite). PostgreSQL delivers it at commit, and drops it on rollback.
pub async fn notify(conn: &mut AnyConnection, change: &Change) -> Result<(), sqlx::Error> {
    if carries_feed(conn) {
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(change.payload())
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Sends `change` on the feed on its own (a change with no row, as `update-config`).
pub async fn announce(pool: &super::Pool, change: &Change) -> Result<(), crate::error::ServerError> {
    let mut conn = pool.acquire().await?;
    notify(&mut conn, change).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notice_reads_back_as_written_and_unknown_ones_are_none() {
        let all = [
            Change::Revision,
            Change::Site("SITE-A".into()),
            Change::Agent("pc1.corp.example".into()),
            Change::Tokens,
            Change::Packages,
            Change::UpdateConfig { sites: true, agents: false, from: "MGMT".into() },
            Change::UpdateConfig { sites: false, agents: true, from: "MGMT2".into() },
            Change::UpdateConfig { sites: true, agents: true, from: "M:3".into() },
        ];
        for c in all {
            assert_eq!(Change::parse(&c.payload()), Some(c.clone()), "{}", c.payload());
        }
        for bad in ["", "site:", "agent:", "revisionx", "update-config:none:M", "update-config", "nodes:x"] {
            assert_eq!(Change::parse(bad), None, "{bad}");
        }
    }
}
