//! API bearer tokens, by the SHA-256 of their text.

use sqlx::Row;

use super::Pool;

use crate::error::ServerError;
use crate::tokens::Role;

/// One API token (its digest, never the token).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenRow {
    /// SHA-256 of the token, hex.
    #[serde(skip)]
    pub digest: String,
    /// Its role.
    pub role: Role,
    /// What it is for.
    pub description: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds; `None`: no expiry.
    pub expires_at: Option<i64>,
}

/// Stores a token, announced on the change feed.
pub async fn put_token(pool: &Pool, t: &TokenRow) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO tokens (digest, role, description, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&t.digest)
    .bind(t.role.as_str())
    .bind(&t.description)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(&mut *tx)
    .await?;
    super::changes::notify(&mut tx, &super::changes::Change::Tokens).await?;
    tx.commit().await?;
    Ok(())
}

/// Every token.
pub async fn tokens(pool: &Pool) -> Result<Vec<TokenRow>, ServerError> {
    let rows = sqlx::query("SELECT digest, role, description, created_at, expires_at FROM tokens")
        .fetch_all(pool)
        .await?;
    rows.iter()
        .map(|r| {
            Ok(TokenRow {
                digest: r.get(0),
                role: Role::parse(r.get::<String, _>(1).as_str())?,
                description: r.get(2),
                created_at: r.get(3),
                expires_at: r.get(4),
            })
        })
        .collect()
}
