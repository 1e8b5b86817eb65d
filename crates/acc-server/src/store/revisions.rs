//! Policy revisions (the whole document as JSON each) and the vault's sealed secrets, saved together.

use base64::Engine as _;
use sqlx::Row;

use super::Pool;

use crate::error::ServerError;

/// One row of the revision history.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RevisionRow {
    /// 1, 2, 3 …
    pub number: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Who saved it (`admin`, a token description, `acc server init`).
    pub author: String,
    /// What changed, in one line.
    pub summary: String,
}

/// A secret to store with a revision, already sealed.
#[derive(Debug, Clone)]
pub struct SealedSecret {
    /// The vault name.
    pub name: String,
    /// The sealed bytes.
    pub sealed: Vec<u8>,
}

/// Saves revision `row` with `document` and `secrets` in one transaction: all or nothing.
pub async fn save_revision(
    pool: &Pool,
    row: &RevisionRow,
    document: &str,
    secrets: &[SealedSecret],
) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    save_revision_in(&mut tx, row, document, secrets).await?;
    tx.commit().await?;
    Ok(())
}

/// [`save_revision`] inside the caller's transaction (the save's, which holds the
/// database's save lock), announcing the revision on the change feed at commit.
pub async fn save_revision_in(
    tx: &mut sqlx::AnyConnection,
    row: &RevisionRow,
    document: &str,
    secrets: &[SealedSecret],
) -> Result<(), ServerError> {
    for s in secrets {
        sqlx::query(
            "INSERT INTO secrets (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET sealed = $2",
        )
        .bind(&s.name)
        .bind(base64::engine::general_purpose::STANDARD.encode(&s.sealed))
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query(
        "INSERT INTO revisions (number, created_at, author, summary, document) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(row.number)
    .bind(row.created_at)
    .bind(&row.author)
    .bind(&row.summary)
    .bind(document)
    .execute(&mut *tx)
    .await?;
    super::changes::notify(tx, &super::changes::Change::Revision).await?;
    Ok(())
}

/// The number of the latest revision (0: none).
pub async fn latest_number(conn: &mut sqlx::AnyConnection) -> Result<i64, ServerError> {
    let n: Option<i64> =
        sqlx::query_scalar("SELECT MAX(number) FROM revisions").fetch_one(&mut *conn).await?;
    Ok(n.unwrap_or(0))
}

/// The latest revision's number and document, if any.
pub async fn latest_revision(pool: &Pool) -> Result<Option<(i64, String)>, ServerError> {
    let row = sqlx::query("SELECT number, document FROM revisions ORDER BY number DESC LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Revision `number`'s row and document.
pub async fn revision(pool: &Pool, number: i64) -> Result<Option<(RevisionRow, String)>, ServerError> {
    let row =
        sqlx::query("SELECT number, created_at, author, summary, document FROM revisions WHERE number = $1")
            .bind(number)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|r| {
        (
            RevisionRow { number: r.get(0), created_at: r.get(1), author: r.get(2), summary: r.get(3) },
            r.get(4),
        )
    }))
}

/// The revision history, newest first.
pub async fn revisions(pool: &Pool, limit: i64) -> Result<Vec<RevisionRow>, ServerError> {
    let rows = sqlx::query(
        "SELECT number, created_at, author, summary FROM revisions ORDER BY number DESC LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| RevisionRow { number: r.get(0), created_at: r.get(1), author: r.get(2), summary: r.get(3) })
        .collect())
}

/// Stores one sealed secret (outside a revision: the App ID's password at init).
pub async fn put_secret(pool: &Pool, secret: &SealedSecret) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO secrets (name, sealed) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET sealed = $2",
    )
    .bind(&secret.name)
    .bind(base64::engine::general_purpose::STANDARD.encode(&secret.sealed))
    .execute(pool)
    .await?;
    Ok(())
}

/// Every sealed secret whose name starts with `prefix`.
pub async fn secrets(pool: &Pool, prefix: &str) -> Result<Vec<SealedSecret>, ServerError> {
    let rows = sqlx::query("SELECT name, sealed FROM secrets WHERE name LIKE $1 ORDER BY name")
        .bind(format!("{prefix}%"))
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            let name: String = r.get(0);
            let text: String = r.get(1);
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(text)
                .map_err(|_| ServerError::Vault(format!("'{name}' is not base64 in the database")))?;
            Ok(SealedSecret { name, sealed })
        })
        .collect()
}
