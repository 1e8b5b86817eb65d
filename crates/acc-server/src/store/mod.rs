//! The management server's database: a SQLite file (WAL, `synchronous=FULL`) by default, or
//! a PostgreSQL database (`acc server init --database postgres://…`), both through one sqlx
//! `AnyPool` ([`Pool`]). Every statement is written once in the SQL both accept (`$n`
//! parameters, `BIGINT`, `TEXT`, flags as `BIGINT` 0/1, no `AUTOINCREMENT`, binary data as
//! base64 text); only the schema has a dialect per backend (`migrations/sqlite/`,
//! `migrations/postgres/`, the same versions), and the event store's measure of its size.
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
//! - `nodes`: the management server nodes serving this store, with when each was last seen;
//! - `events`: every site's security events and the server's own (see `event_store`);
//! - `leases`: which management server runs each once-only job, until when (see [`leases`]);
//! - `schema_migrations`: the schema versions applied (see [`migrations`]).
//!
//! Between management servers sharing a PostgreSQL database, writes others must see are
//! announced on a change feed ([`changes`]).
//!
//! One module per area below.

use crate::error::ServerError;

mod certs;
pub mod changes;
mod connect;
mod directory;
mod inventory;
mod join_tokens;
mod leases;
mod legacy_events;
pub mod migrations;
mod nodes;
mod packages;
mod revisions;
mod sessions;
mod state;
#[cfg(any(test, feature = "pg-test-cluster"))]
pub mod test_cluster;
#[cfg(test)]
mod tests;
mod tokens;
pub mod transfer;
mod users;

pub use certs::*;
pub use connect::{Backend, PostgresTarget, Target, backend, redacted};
pub use directory::*;
pub use inventory::*;
pub use join_tokens::*;
pub use leases::*;
pub use nodes::*;
pub use packages::*;
pub use revisions::*;
pub use sessions::*;
pub use state::*;
pub use tokens::*;
pub use users::*;

/// The store's connection pool, on either backend.
pub type Pool = sqlx::AnyPool;

/// Opens (creating a SQLite file if `create`) the store at `target` and brings its schema
/// to this acc's version. `server_name` is the server's name (`server.json`), which the
/// conversion of an old event store needs.
pub async fn open(target: &Target, create: bool, server_name: &str) -> Result<Pool, ServerError> {
    let pool = connect::pool(target, create).await?;
    let migrations = migrations::for_backend(backend(&pool));
    migrations::migrate(&pool, &target.describe(), server_name, migrations).await?;
    Ok(pool)
}

/// `rows` groups of `columns` numbered placeholders, `($1, $2), ($3, $4)`: the `VALUES` of
/// a multi-row `INSERT` (numbered, which SQLite and PostgreSQL both read; sqlx's `Any`
/// query builder writes `?`, which PostgreSQL does not).
pub fn value_rows(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let row: Vec<String> = (1..=columns).map(|c| format!("${}", r * columns + c)).collect();
            format!("({})", row.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}
