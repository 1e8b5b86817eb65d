//! The console's users: name, role and Argon2id hash (never the password).

use sqlx::Row;

use super::Pool;

use crate::error::ServerError;
use crate::tokens::Role;

/// One console user.
#[derive(Clone)]
pub struct UserRow {
    /// The name, lower case: the key.
    pub name_key: String,
    /// The name as created.
    pub name: String,
    /// Its role.
    pub role: Role,
    /// The Argon2id PHC string.
    pub password_hash: String,
    /// Unix milliseconds.
    pub created_at: i64,
    /// When the password was last set, Unix milliseconds.
    pub password_changed_at: i64,
}

impl std::fmt::Debug for UserRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserRow").field("name", &self.name).field("role", &self.role).finish_non_exhaustive()
    }
}

/// Stores a new user; `false` when the name is taken.
pub async fn add_user(pool: &Pool, u: &UserRow) -> Result<bool, ServerError> {
    let done = sqlx::query(
        "INSERT INTO console_users (name_key, name, role, password_hash, created_at, password_changed_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name_key) DO NOTHING",
    )
    .bind(&u.name_key)
    .bind(&u.name)
    .bind(u.role.as_str())
    .bind(&u.password_hash)
    .bind(u.created_at)
    .bind(u.password_changed_at)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Every user, by name.
pub async fn users(pool: &Pool) -> Result<Vec<UserRow>, ServerError> {
    let rows = sqlx::query(
        "SELECT name_key, name, role, password_hash, created_at, password_changed_at FROM console_users \
         ORDER BY name_key",
    )
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(UserRow {
                name_key: r.get(0),
                name: r.get(1),
                role: Role::parse(r.get::<String, _>(2).as_str())?,
                password_hash: r.get(3),
                created_at: r.get(4),
                password_changed_at: r.get(5),
            })
        })
        .collect()
}

/// Replaces a user's password hash; `false` when there is no such user.
pub async fn set_user_password(
    pool: &Pool,
    name_key: &str,
    hash: &str,
    at: i64,
) -> Result<bool, ServerError> {
    let done = sqlx::query(
        "UPDATE console_users SET password_hash = $1, password_changed_at = $2 WHERE name_key = $3",
    )
    .bind(hash)
    .bind(at)
    .bind(name_key)
    .execute(pool)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Removes a user; `false` when there was none.
pub async fn remove_user(pool: &Pool, name_key: &str) -> Result<bool, ServerError> {
    let done =
        sqlx::query("DELETE FROM console_users WHERE name_key = $1").bind(name_key).execute(pool).await?;
    Ok(done.rows_affected() == 1)
}
