//! The schema's versions: one [`Migration`] per file of `migrations/sqlite/` and
//! `migrations/postgres/` (the same file names, the same versions; a test checks it), applied
//! in order by [`migrate`].
//!
//! Which versions a database has is kept in a table, `schema_migrations`, on both backends:
//! SQLite's `PRAGMA user_version` has no PostgreSQL counterpart, and a table is read and
//! written by the same statements on both, inside the migration's own transaction (both
//! backends change their schema transactionally). A SQLite database of an acc from before
//! the table has its version in `user_version`, which is read once when the table is empty.

use acc_core::migrate::Migration;
use sqlx::AnyPool;

use super::connect::{Backend, backend};
use super::legacy_events;
use crate::error::ServerError;

macro_rules! migrations {
    ($dir:literal) => {
        [
            Migration {
                version: 1,
                name: "the tables of revisions, secrets, tokens, directory, join tokens, certificates, inventories, state and packages",
                sql: include_str!(concat!("../../migrations/", $dir, "/0001_initial.sql")),
            },
            Migration {
                version: 2,
                name: "the event store keyed by origin",
                sql: include_str!(concat!("../../migrations/", $dir, "/0002_events_by_origin.sql")),
            },
            Migration {
                version: 3,
                name: "flags as BIGINT 0/1",
                sql: include_str!(concat!("../../migrations/", $dir, "/0003_flags_as_bigint.sql")),
            },
            Migration {
                version: 4,
                name: "the console's users",
                sql: include_str!(concat!("../../migrations/", $dir, "/0004_console_users.sql")),
            },
            Migration {
                version: 5,
                name: "the management server nodes",
                sql: include_str!(concat!("../../migrations/", $dir, "/0005_nodes.sql")),
            },
            Migration {
                version: 6,
                name: "events searched by machine and address",
                sql: include_str!(concat!("../../migrations/", $dir, "/0006_event_search.sql")),
            },
            Migration {
                version: 7,
                name: "the console's sessions",
                sql: include_str!(concat!("../../migrations/", $dir, "/0007_console_sessions.sql")),
            },
            Migration {
                version: 8,
                name: "the leases of once-only jobs",
                sql: include_str!(concat!("../../migrations/", $dir, "/0008_leases.sql")),
            },
        ]
    };
}

/// The file names of the migrations, in order (the same in both directories).
pub const FILES: [&str; 8] = [
    "0001_initial.sql",
    "0002_events_by_origin.sql",
    "0003_flags_as_bigint.sql",
    "0004_console_users.sql",
    "0005_nodes.sql",
    "0006_event_search.sql",
    "0007_console_sessions.sql",
    "0008_leases.sql",
];

/// The SQLite dialect of the schema.
pub const SQLITE: [Migration; 8] = migrations!("sqlite");

/// The PostgreSQL dialect of the schema.
pub const POSTGRES: [Migration; 8] = migrations!("postgres");

/// The migration that keys events by origin, which converts a SQLite store keyed by name.
const EVENTS_BY_ORIGIN: i64 = 2;

/// The migrations of `backend`.
pub fn for_backend(backend: Backend) -> &'static [Migration] {
    match backend {
        Backend::Sqlite => &SQLITE,
        Backend::Postgres => &POSTGRES,
    }
}

/// The database's schema version: the last migration applied (0: none).
pub async fn version(pool: &AnyPool) -> Result<i64, ServerError> {
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL)",
    )
    .execute(pool)
    .await?;
    let recorded: Option<i64> =
        sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations").fetch_one(pool).await?;
    let before_the_table = match backend(pool) {
        Backend::Sqlite if recorded.is_none() => {
            sqlx::query_scalar::<_, i64>("PRAGMA user_version").fetch_one(pool).await?
        }
        _ => 0,
    };
    Ok(recorded.unwrap_or(0).max(before_the_table))
}

/// Brings the database to the last of `migrations`: each pending migration and its version
/// in one transaction (a failed step leaves the database at the version before); a
/// database of a newer acc is refused. `where_` names the store in messages; `server_name`
/// is what the conversion of an old event store needs (see [`legacy_events`]).
pub async fn migrate(
    pool: &AnyPool,
    where_: &str,
    server_name: &str,
    migrations: &[Migration],
) -> Result<(), ServerError> {
    let config_error = |detail: String| ServerError::Config { path: where_.to_string(), detail };
    let found = version(pool).await?;
    let sqlite = backend(pool) == Backend::Sqlite;
    for m in acc_core::migrate::pending(found, migrations).map_err(|e| config_error(e.to_string()))? {
        let failed =
            |e: sqlx::Error| config_error(format!("migration {} ({}) failed: {e}", m.version, m.name));
        let mut tx = pool.begin().await?;
        let by_name = sqlite && m.version == EVENTS_BY_ORIGIN && legacy_events::set_aside(&mut tx).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(m.sql)).execute(&mut *tx).await.map_err(failed)?;
        if by_name {
            legacy_events::convert(&mut tx, server_name).await.map_err(failed)?;
        }
        sqlx::query("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)")
            .bind(m.version)
            .bind(m.name)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
