//! Every certificate the fleet CA issued (sites and agents).

use sqlx::Row;

use super::Pool;

use crate::error::ServerError;

/// A certificate the fleet CA issued.
#[derive(Debug, Clone, serde::Serialize)]
pub struct IssuedCert {
    /// Serial, upper-case hex.
    pub serial: String,
    /// `site` or `agent`.
    pub kind: String,
    /// The site's or agent's name (the CN).
    pub name: String,
    /// The subject on one line.
    pub subject: String,
    /// Unix milliseconds.
    pub issued_at: i64,
    /// Unix milliseconds.
    pub not_after: i64,
}

/// Records an issued certificate.
pub async fn put_cert(pool: &Pool, c: &IssuedCert) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO certificates (serial, kind, name, subject, issued_at, not_after) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&c.serial)
    .bind(&c.kind)
    .bind(&c.name)
    .bind(&c.subject)
    .bind(c.issued_at)
    .bind(c.not_after)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every issued certificate, oldest first.
pub async fn certs(pool: &Pool) -> Result<Vec<IssuedCert>, ServerError> {
    let rows = sqlx::query(
        "SELECT serial, kind, name, subject, issued_at, not_after FROM certificates ORDER BY issued_at",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| IssuedCert {
            serial: r.get(0),
            kind: r.get(1),
            name: r.get(2),
            subject: r.get(3),
            issued_at: r.get(4),
            not_after: r.get(5),
        })
        .collect())
}
