//! The directory's domain accounts (the App ID, domain ACCs) with their Argon2id hashes.

use sqlx::Row;

use super::Pool;

use crate::error::ServerError;

/// One directory account.
#[derive(Debug, Clone)]
pub struct DirectoryAccount {
    /// Lower-case account name: the key.
    pub name_key: String,
    /// The name as created.
    pub name: String,
    /// Enabled in the directory.
    pub enabled: bool,
    /// argon2id PHC hash of its password.
    pub password_hash: String,
}

/// Creates a directory account; refuses an existing name.
pub async fn add_directory_account(pool: &Pool, a: &DirectoryAccount) -> Result<(), ServerError> {
    let result = sqlx::query(
        "INSERT INTO directory_accounts (name_key, name, enabled, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name_key) DO NOTHING",
    )
    .bind(&a.name_key)
    .bind(&a.name)
    .bind(i64::from(a.enabled))
    .bind(&a.password_hash)
    .execute(pool)
    .await?;
    if result.rows_affected() == 0 {
        return Err(ServerError::Invalid(format!("directory account '{}' already exists", a.name)));
    }
    Ok(())
}

/// Every directory account.
pub async fn directory_accounts(pool: &Pool) -> Result<Vec<DirectoryAccount>, ServerError> {
    let rows = sqlx::query(
        "SELECT name_key, name, enabled, password_hash FROM directory_accounts ORDER BY name_key",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| DirectoryAccount {
            name_key: r.get(0),
            name: r.get(1),
            enabled: r.get::<i64, _>(2) != 0,
            password_hash: r.get(3),
        })
        .collect())
}
