//! The management server's database. SQLite (WAL, `synchronous=FULL`) by default; every
//! statement is written in the SQL both SQLite and PostgreSQL accept (`$n` parameters,
//! `BIGINT`, `TEXT`, `BOOLEAN`, no `AUTOINCREMENT`, binary data as base64 text), so that a
//! PostgreSQL backend is a connection string away.
//!
//! - `revisions`: one row per policy revision, the whole document as JSON;
//! - `secrets`: vault entries, sealed (see `vault`);
//! - `tokens`: API bearer tokens by SHA-256;
//! - `directory_accounts`: the directory's domain accounts (the App ID, domain ACCs);
//! - `join_tokens`: site join and agent enrollment tokens by SHA-256, with expiry and uses left;
//! - `certificates`: every certificate the fleet CA issued (sites and agents);
//! - `sites`, `agents`: the site server and agent inventories, one JSON record each;
//! - `state`: the server's own small state by key (the directory's lockout counters);
//! - `packages`: package versions (manifest JSON), uploads in progress not yet committed;
//! - `console_users`: the web console's users, role and Argon2id hash;
//! - `events`: every site's security events and the server's own (see `event_store`).
//!
//! One module per area below; the schema is versioned, one migration per file of
//! `migrations/` (see [`MIGRATIONS`]).

use std::path::Path;
use std::str::FromStr;

use acc_core::migrate::Migration;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::error::ServerError;

mod certs;
mod directory;
mod inventory;
mod join_tokens;
mod packages;
mod revisions;
mod state;
#[cfg(test)]
mod tests;
mod tokens;
mod users;

pub use certs::*;
pub use directory::*;
pub use inventory::*;
pub use join_tokens::*;
pub use packages::*;
pub use revisions::*;
pub use state::*;
pub use tokens::*;
pub use users::*;

/// The schema, one [`Migration`] per file of `migrations/`, applied in order to a database
/// of an older version (`PRAGMA user_version`; 0: a new database, or one made before
/// schema versions, whose tables migration 1 leaves as they are).
pub const MIGRATIONS: [Migration; 2] = [
    Migration {
        version: 1,
        name: "the tables of revisions, secrets, tokens, directory, join tokens, certificates, inventories, state and packages",
        sql: include_str!("../../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "the console's users",
        sql: include_str!("../../migrations/0002_console_users.sql"),
    },
];

/// Opens (creating if needed) the database and its tables.
pub async fn open(path: &Path, create: bool) -> Result<SqlitePool, ServerError> {
    if create || path.exists() {
        acc_pki::fsutil::private_database(path)?;
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    migrate(&pool, path, &MIGRATIONS).await?;
    Ok(pool)
}

/// Brings the database at `path` to the last of `migrations` ([`MIGRATIONS`]): each pending
/// migration and its version number in one transaction; a database of a newer acc is
/// refused.
async fn migrate(pool: &SqlitePool, path: &Path, migrations: &[Migration]) -> Result<(), ServerError> {
    let config_error = |detail: String| ServerError::Config { path: path.display().to_string(), detail };
    let found: i64 = sqlx::query_scalar("PRAGMA user_version").fetch_one(pool).await?;
    for m in acc_core::migrate::pending(found, migrations).map_err(|e| config_error(e.to_string()))? {
        // A failed step drops the transaction: the database stays at the version before.
        let mut tx = pool.begin().await?;
        let step = sqlx::raw_sql(sqlx::AssertSqlSafe(m.sqlite_script())).execute(&mut *tx).await;
        step.map_err(|e| config_error(format!("migration {} ({}) failed: {e}", m.version, m.name)))?;
        tx.commit().await?;
    }
    Ok(())
}
