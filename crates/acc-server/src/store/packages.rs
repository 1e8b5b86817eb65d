//! Package versions (manifest JSON); uploads in progress not yet committed.

use sqlx::Row;

use super::Pool;

use crate::error::ServerError;

/// A package version as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PackageRow {
    /// The manifest.
    pub manifest: acc_proto::PackageManifest,
    /// When the upload began (Unix milliseconds).
    pub created_at: i64,
    /// Who uploaded it.
    pub author: String,
    /// Whether every file arrived and verified.
    pub committed: bool,
}

/// Writes a package version's row, announced on the change feed.
pub async fn put_package(pool: &Pool, row: &PackageRow) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    let manifest = serde_json::to_string(&row.manifest).map_err(|e| ServerError::Invalid(e.to_string()))?;
    sqlx::query(
        "INSERT INTO packages (name, version, manifest, created_at, author, committed) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (name, version) DO UPDATE SET manifest = $3, created_at = $4, author = $5, committed = $6",
    )
    .bind(&row.manifest.name)
    .bind(&row.manifest.version)
    .bind(manifest)
    .bind(row.created_at)
    .bind(&row.author)
    .bind(i64::from(row.committed))
    .execute(&mut *tx)
    .await?;
    super::changes::notify(&mut tx, &super::changes::Change::Packages).await?;
    tx.commit().await?;
    Ok(())
}

/// Every package version, oldest first.
pub async fn packages(pool: &Pool) -> Result<Vec<PackageRow>, ServerError> {
    let rows = sqlx::query(
        "SELECT manifest, created_at, author, committed FROM packages ORDER BY created_at, name, version",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            let text: String = r.get(0);
            Ok(PackageRow {
                manifest: serde_json::from_str(&text)
                    .map_err(|e| ServerError::Invalid(format!("a stored package manifest: {e}")))?,
                created_at: r.get(1),
                author: r.get(2),
                committed: r.get::<i64, _>(3) != 0,
            })
        })
        .collect()
}
