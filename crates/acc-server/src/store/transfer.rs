//! Copying a store into an empty one (`acc server migrate --to postgres://…`): every table
//! of the schema, row by row with the values as they are, then verified: the same number
//! of rows and the same checksum per table on both sides. The checksum is the SHA-256 of
//! the sorted SHA-256s of the rows (each row: its values, typed, in column order), so it
//! does not depend on either backend's order or collation. A target holding any row is
//! refused before anything is written; the copy is one transaction on the target.

use acc_net::datadir::RoleConfig as _;
use aws_lc_rs::digest::{Context, SHA256};
use sqlx::any::{AnyRow, AnyTypeInfoKind};
use sqlx::{Column, Row, ValueRef};

use super::{Backend, Pool, backend};
use crate::error::ServerError;

/// The tables of the schema (its last version), each copied whole.
pub const TABLES: [&str; 14] = [
    "revisions",
    "secrets",
    "tokens",
    "directory_accounts",
    "join_tokens",
    "certificates",
    "sites",
    "agents",
    "state",
    "packages",
    "console_users",
    "nodes",
    "events",
    "leases",
];

/// What was copied of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableCopy {
    /// The table.
    pub table: &'static str,
    /// Its rows (the same on both sides).
    pub rows: u64,
    /// Its checksum, hex (the same on both sides).
    pub checksum: String,
}

/// One value as stored: the schema has only `BIGINT` and `TEXT` columns.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
}

fn values(row: &AnyRow) -> Result<Vec<Value>, sqlx::Error> {
    (0..row.columns().len())
        .map(|i| {
            let declared = row.column(i).type_info().kind();
            let raw = row.try_get_raw(i)?;
            let kind = if raw.is_null() { declared } else { raw.type_info().kind() };
            Ok(match kind {
                AnyTypeInfoKind::Text => Value::Text(row.try_get(i)?),
                AnyTypeInfoKind::Null => Value::Text(None),
                _ => Value::Int(row.try_get(i)?),
            })
        })
        .collect()
}

fn row_digest(values: &[Value]) -> Vec<u8> {
    let mut h = Context::new(&SHA256);
    for v in values {
        match v {
            Value::Int(None) | Value::Text(None) => h.update(&[0u8]),
            Value::Int(Some(n)) => {
                h.update(&[1u8]);
                h.update(&n.to_be_bytes());
            }
            Value::Text(Some(t)) => {
                h.update(&[2u8]);
                h.update(&(t.len() as u64).to_be_bytes());
                h.update(t.as_bytes());
            }
        }
    }
    h.finish().as_ref().to_vec()
}

/// The rows and checksum of `table` in `pool`, reading its `columns`.
async fn measure(pool: &Pool, table: &'static str, columns: &str) -> Result<TableCopy, ServerError> {
    let sql = format!("SELECT {columns} FROM {table}");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await?;
    let mut digests = Vec::with_capacity(rows.len());
    for r in &rows {
        digests.push(row_digest(&values(r)?));
    }
    digests.sort_unstable();
    let mut h = Context::new(&SHA256);
    for d in &digests {
        h.update(d);
    }
    Ok(TableCopy { table, rows: digests.len() as u64, checksum: hex::encode(h.finish()) })
}

/// The column names of `table` in the source, in order.
async fn columns(pool: &Pool, table: &str) -> Result<Vec<String>, ServerError> {
    let sql = format!("SELECT * FROM {table} LIMIT 1");
    let probe = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_optional(pool).await?;
    if let Some(row) = probe {
        return Ok(row.columns().iter().map(|c| c.name().to_string()).collect());
    }
    let names: Vec<String> = match backend(pool) {
        Backend::Sqlite => {
            sqlx::query_scalar("SELECT name FROM pragma_table_info($1) ORDER BY cid").bind(table).fetch_all(pool).await?
        }
        Backend::Postgres => {
            sqlx::query_scalar(
                "SELECT column_name::TEXT FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position",
            )
            .bind(table)
            .fetch_all(pool)
            .await?
        }
    };
    Ok(names)
}

/// Copies every table of `from` into `to` (both at the schema's last version) and verifies
/// the copy; refuses a target with any row. `to_name` names the target in messages.
pub async fn copy(from: &Pool, to: &Pool, to_name: &str) -> Result<Vec<TableCopy>, ServerError> {
    for table in TABLES {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_one(to).await?;
        if n > 0 {
            return Err(ServerError::Invalid(format!(
                "{to_name} is not empty (table {table} has {n} rows); give an empty database"
            )));
        }
    }
    let mut tx = to.begin().await?;
    let mut plan = Vec::new();
    for table in TABLES {
        let names = columns(from, table).await?;
        let list = names.join(", ");
        let params: Vec<String> = (1..=names.len()).map(|i| format!("${i}")).collect();
        let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", params.join(", "));
        let sql = format!("SELECT {list} FROM {table}");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(from).await?;
        for r in &rows {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
            for v in values(r)? {
                q = match v {
                    Value::Int(n) => q.bind(n),
                    Value::Text(t) => q.bind(t),
                };
            }
            q.execute(&mut *tx).await?;
        }
        plan.push((table, list));
    }
    if backend(to) == Backend::Postgres {
        // The events' positions were copied as they are: new ones go on after the last.
        sqlx::query(
            "SELECT setval(pg_get_serial_sequence('events', 'n'), COALESCE((SELECT MAX(n) FROM events), 0) + 1, false)",
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    let mut copied = Vec::new();
    for (table, list) in plan {
        let source = measure(from, table, &list).await?;
        let target = measure(to, table, &list).await?;
        if source != target {
            return Err(ServerError::Invalid(format!(
                "the copy of table {table} differs: {} rows (checksum {}) in the source, {} (checksum {}) in {to_name}",
                source.rows, source.checksum, target.rows, target.checksum
            )));
        }
        copied.push(source);
    }
    Ok(copied)
}

/// `acc server migrate --to`: moves the stopped management server in `layout` from its
/// SQLite file to the PostgreSQL database `to` (empty; the schema is made there), verifies
/// every table, then points `server.json` at it. `server.db` stays as it was, a backup.
pub async fn migrate_server(
    layout: &crate::layout::Layout,
    to: super::PostgresTarget,
) -> Result<Vec<TableCopy>, ServerError> {
    let _lock = crate::run::DirLock::acquire(layout)?;
    let mut config = crate::config::ServerConfig::load(&layout.config())?;
    if let Some(pg) = &config.database {
        return Err(ServerError::Invalid(format!(
            "the server in {} is on {} already",
            layout.root().display(),
            pg.url
        )));
    }
    let from = super::open(&super::Target::Sqlite(layout.database()), false, &config.name).await?;
    let target = super::Target::Postgres(to.clone());
    let into = super::open(&target, true, &config.name).await?;
    let copied = copy(&from, &into, &target.describe()).await;
    from.close().await;
    into.close().await;
    let copied = copied?;
    config.database = Some(to);
    acc_pki::fsutil::write_file(
        &layout.config(),
        config.to_json().as_bytes(),
        acc_pki::fsutil::PUBLIC_MODE,
        true,
    )?;
    Ok(copied)
}
