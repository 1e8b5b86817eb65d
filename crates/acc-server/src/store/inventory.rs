//! The site server and agent inventories: one JSON record per name.

use sqlx::Row;

use super::Pool;

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

/// Writes a record (JSON) of an inventory.
pub async fn put_record(
    pool: &Pool,
    inventory: Inventory,
    name: &str,
    record: &str,
) -> Result<(), ServerError> {
    sqlx::query(inventory.statements().0).bind(name).bind(record).execute(pool).await?;
    Ok(())
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
