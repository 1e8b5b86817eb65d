//! The site server and agent inventories: one JSON record per name.

use sqlx::Row;

use super::Pool;
use super::changes::{self, Change};

use crate::error::ServerError;

/// An inventory table: one JSON record per site server or agent, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inventory {
    /// `sites`.
    Sites,
    /// `agents`.
    Agents,
}

impl Inventory {
    /// The upsert and the listing of this inventory (static SQL: the table is no input).
    fn statements(self) -> (&'static str, &'static str) {
        match self {
            Inventory::Sites => (
                "INSERT INTO sites (name, record) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET record = $2",
                "SELECT name, record FROM sites ORDER BY name",
            ),
            Inventory::Agents => (
                "INSERT INTO agents (name, record) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET record = $2",
                "SELECT name, record FROM agents ORDER BY name",
            ),
        }
    }
}

/// Writes a record (JSON) of an inventory, announced on the change feed.
pub async fn put_record(
    pool: &Pool,
    inventory: Inventory,
    name: &str,
    record: &str,
) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    sqlx::query(inventory.statements().0).bind(name).bind(record).execute(&mut *tx).await?;
    let change = match inventory {
        Inventory::Sites => Change::Site(name.to_string()),
        Inventory::Agents => Change::Agent(name.to_string()),
    };
    changes::notify(&mut tx, &change).await?;
    tx.commit().await?;
    Ok(())
}

/// One record (JSON) of an inventory, if there is one.
pub async fn record(pool: &Pool, inventory: Inventory, name: &str) -> Result<Option<String>, ServerError> {
    let select = match inventory {
        Inventory::Sites => "SELECT record FROM sites WHERE name = $1",
        Inventory::Agents => "SELECT record FROM agents WHERE name = $1",
    };
    Ok(sqlx::query_scalar(select).bind(name).fetch_optional(pool).await?)
}

/// Names per query of [`records_named`].
const NAMES_PER_READ: usize = 500;

/// The records (name, JSON) of an inventory among `names` (those that exist), read
/// [`NAMES_PER_READ`] to a query.
pub async fn records_named(
    pool: &Pool,
    inventory: Inventory,
    names: &[String],
) -> Result<Vec<(String, String)>, ServerError> {
    let table = match inventory {
        Inventory::Sites => "sites",
        Inventory::Agents => "agents",
    };
    let mut out = Vec::with_capacity(names.len());
    for chunk in names.chunks(NAMES_PER_READ) {
        let sql =
            format!("SELECT name, record FROM {table} WHERE name IN {}", super::value_rows(1, chunk.len()));
        // Safe: the table is one of two fixed names; every name is bound.
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
        for name in chunk {
            q = q.bind(name.as_str());
        }
        out.extend(q.fetch_all(pool).await?.iter().map(|r| (r.get(0), r.get(1))));
    }
    Ok(out)
}

/// Every record of an inventory, by name.
pub async fn records(pool: &Pool, inventory: Inventory) -> Result<Vec<(String, String)>, ServerError> {
    let rows = sqlx::query(inventory.statements().1).fetch_all(pool).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// Writes many records (name, JSON) of an inventory in one transaction.
pub async fn put_records(
    pool: &Pool,
    inventory: Inventory,
    records: &[(String, String)],
) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    for (name, record) in records {
        sqlx::query(inventory.statements().0).bind(name).bind(record).execute(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}
