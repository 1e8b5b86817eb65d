//! The management server's database. SQLite (WAL, `synchronous=FULL`) by default; every
//! statement is written in the SQL both SQLite and PostgreSQL accept (`$n` parameters,
//! `BIGINT`, `TEXT`, `BOOLEAN`, no `AUTOINCREMENT`, binary data as base64 text), so that a
//! PostgreSQL backend is a connection string away.
//!
//! - `revisions`: one row per policy revision, the whole document as JSON;
//! - `secrets`: vault entries, sealed (see `vault`);
//! - `tokens`: API bearer tokens by SHA-256;
//! - `directory_accounts`: the directory's domain accounts (the App ID, domain ACCs);
//! - `join_tokens`: site join and agent enrollment tokens by SHA-256, with expiry and uses left;
//! - `certificates`: every certificate the fleet CA issued (sites and agents);
//! - `sites`, `agents`: the site server and agent inventories, one JSON record each;
//! - `state`: the server's own small state by key (the directory's lockout counters);
//! - `packages`: package versions (manifest JSON), uploads in progress not yet committed;
//! - `events`: every site's security events and the server's own (see `event_store`).

use std::path::Path;
use std::str::FromStr;

use base64::Engine as _;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Row, SqlitePool};

use crate::error::ServerError;
use crate::tokens::Role;

const SCHEMA: [&str; 10] = [
    "CREATE TABLE IF NOT EXISTS revisions (
        number BIGINT PRIMARY KEY, created_at BIGINT NOT NULL, author TEXT NOT NULL,
        summary TEXT NOT NULL, document TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS secrets (name TEXT PRIMARY KEY, sealed TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tokens (
        digest TEXT PRIMARY KEY, role TEXT NOT NULL, description TEXT NOT NULL,
        created_at BIGINT NOT NULL, expires_at BIGINT)",
    "CREATE TABLE IF NOT EXISTS directory_accounts (
        name_key TEXT PRIMARY KEY, name TEXT NOT NULL, enabled BOOLEAN NOT NULL, password_hash TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS join_tokens (
        digest TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,
        uses_left BIGINT NOT NULL, supersede BOOLEAN NOT NULL DEFAULT FALSE)",
    "CREATE TABLE IF NOT EXISTS certificates (
        serial TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL, subject TEXT NOT NULL,
        issued_at BIGINT NOT NULL, not_after BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS sites (name TEXT PRIMARY KEY, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS agents (name TEXT PRIMARY KEY, record TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS packages (
        name TEXT NOT NULL, version TEXT NOT NULL, manifest TEXT NOT NULL, created_at BIGINT NOT NULL,
        author TEXT NOT NULL, committed BOOLEAN NOT NULL, PRIMARY KEY (name, version))",
];

/// Opens (creating if needed) the database and its tables; the files are the owner's
/// only (0600).
pub async fn open(path: &Path, create: bool) -> Result<SqlitePool, ServerError> {
    if create || path.exists() {
        acc_pki::fsutil::private_database(path)?;
    }
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
        .create_if_missing(create)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new().max_connections(4).connect_with(options).await?;
    for statement in SCHEMA {
        sqlx::query(statement).execute(&pool).await?;
    }
    Ok(pool)
}

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
    pool: &SqlitePool,
    row: &RevisionRow,
    document: &str,
    secrets: &[SealedSecret],
) -> Result<(), ServerError> {
    let mut tx = pool.begin().await?;
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
    tx.commit().await?;
    Ok(())
}

/// The latest revision's number and document, if any.
pub async fn latest_revision(pool: &SqlitePool) -> Result<Option<(i64, String)>, ServerError> {
    let row = sqlx::query("SELECT number, document FROM revisions ORDER BY number DESC LIMIT 1")
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|r| (r.get(0), r.get(1))))
}

/// Revision `number`'s row and document.
pub async fn revision(pool: &SqlitePool, number: i64) -> Result<Option<(RevisionRow, String)>, ServerError> {
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
pub async fn revisions(pool: &SqlitePool, limit: i64) -> Result<Vec<RevisionRow>, ServerError> {
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
pub async fn put_secret(pool: &SqlitePool, secret: &SealedSecret) -> Result<(), ServerError> {
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
pub async fn secrets(pool: &SqlitePool, prefix: &str) -> Result<Vec<SealedSecret>, ServerError> {
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

/// Stores a token.
pub async fn put_token(pool: &SqlitePool, t: &TokenRow) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO tokens (digest, role, description, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&t.digest)
    .bind(t.role.as_str())
    .bind(&t.description)
    .bind(t.created_at)
    .bind(t.expires_at)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every token.
pub async fn tokens(pool: &SqlitePool) -> Result<Vec<TokenRow>, ServerError> {
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
pub async fn add_directory_account(pool: &SqlitePool, a: &DirectoryAccount) -> Result<(), ServerError> {
    let result = sqlx::query(
        "INSERT INTO directory_accounts (name_key, name, enabled, password_hash) VALUES ($1, $2, $3, $4)
         ON CONFLICT (name_key) DO NOTHING",
    )
    .bind(&a.name_key)
    .bind(&a.name)
    .bind(a.enabled)
    .bind(&a.password_hash)
    .execute(pool)
    .await?;
    if result.rows_affected() == 0 {
        return Err(ServerError::Invalid(format!("directory account '{}' already exists", a.name)));
    }
    Ok(())
}

/// Every directory account.
pub async fn directory_accounts(pool: &SqlitePool) -> Result<Vec<DirectoryAccount>, ServerError> {
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
            enabled: r.get(2),
            password_hash: r.get(3),
        })
        .collect())
}

/// Stores a join token's digest.
pub async fn put_join_token(
    pool: &SqlitePool,
    kind: &str,
    digest: &str,
    t: &TokenTerms,
) -> Result<(), ServerError> {
    sqlx::query(
        "INSERT INTO join_tokens (digest, kind, created_at, expires_at, uses_left, supersede)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(digest)
    .bind(kind)
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.uses)
    .bind(t.supersede)
    .execute(pool)
    .await?;
    Ok(())
}

/// The terms of a join or enrollment token.
#[derive(Debug, Clone, Copy)]
pub struct TokenTerms {
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds.
    pub expires_at: i64,
    /// Joins or enrollments it allows.
    pub uses: i64,
    /// An enrollment may replace the certificate of an agent already enrolled with the
    /// same host name (a rebuilt machine).
    pub supersede: bool,
}

/// Whether the token with `digest` allows superseding (false when unknown).
pub async fn token_supersedes(pool: &SqlitePool, digest: &str) -> Result<bool, ServerError> {
    let v: Option<bool> = sqlx::query_scalar("SELECT supersede FROM join_tokens WHERE digest = $1")
        .bind(digest)
        .fetch_optional(pool)
        .await?;
    Ok(v.unwrap_or(false))
}

/// Uses a join token once: true when it existed, had not expired at `now` and had a use
/// left (atomically: two joins never share the last use).
pub async fn use_join_token(
    pool: &SqlitePool,
    kind: &str,
    digest: &str,
    now: i64,
) -> Result<bool, ServerError> {
    let result = sqlx::query(
        "UPDATE join_tokens SET uses_left = uses_left - 1
         WHERE digest = $1 AND kind = $2 AND expires_at > $3 AND uses_left > 0",
    )
    .bind(digest)
    .bind(kind)
    .bind(now)
    .execute(pool)
    .await?;
    Ok(result.rows_affected() == 1)
}

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
pub async fn put_cert(pool: &SqlitePool, c: &IssuedCert) -> Result<(), ServerError> {
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
pub async fn certs(pool: &SqlitePool) -> Result<Vec<IssuedCert>, ServerError> {
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
    pool: &SqlitePool,
    inventory: Inventory,
    name: &str,
    record: &str,
) -> Result<(), ServerError> {
    sqlx::query(inventory.statements().0).bind(name).bind(record).execute(pool).await?;
    Ok(())
}

/// Every record of an inventory, by name.
pub async fn records(pool: &SqlitePool, inventory: Inventory) -> Result<Vec<(String, String)>, ServerError> {
    let rows = sqlx::query(inventory.statements().1).fetch_all(pool).await?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn revisions_and_their_secrets_are_saved_together() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = open(&tmp.path().join("s.db"), true).await.unwrap();
        assert!(latest_revision(&pool).await.unwrap().is_none());
        let row = |n| RevisionRow { number: n, created_at: 5, author: "admin".into(), summary: "s".into() };
        let secret = SealedSecret { name: "acc.generation.1".into(), sealed: vec![1, 2, 3] };
        save_revision(&pool, &row(1), "{\"a\":1}", std::slice::from_ref(&secret)).await.unwrap();
        // A second revision 1 fails and leaves its secret unwritten.
        let other = SealedSecret { name: "acc.generation.2".into(), sealed: vec![9] };
        assert!(save_revision(&pool, &row(1), "{}", &[other]).await.is_err());
        assert_eq!(secrets(&pool, "acc.generation.").await.unwrap().len(), 1);
        save_revision(&pool, &row(2), "{\"a\":2}", &[]).await.unwrap();
        assert_eq!(latest_revision(&pool).await.unwrap(), Some((2, "{\"a\":2}".to_string())));
        assert_eq!(revisions(&pool, 10).await.unwrap().iter().map(|r| r.number).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(revision(&pool, 1).await.unwrap().unwrap().1, "{\"a\":1}");
        let acc = DirectoryAccount {
            name_key: "svc".into(),
            name: "svc".into(),
            enabled: true,
            password_hash: "h".into(),
        };
        add_directory_account(&pool, &acc).await.unwrap();
        assert!(add_directory_account(&pool, &acc).await.unwrap_err().to_string().contains("already exists"));
        assert!(directory_accounts(&pool).await.unwrap()[0].enabled);
    }

    #[tokio::test]
    async fn join_tokens_expire_and_run_out() {
        let tmp = tempfile::tempdir().unwrap();
        let pool = open(&tmp.path().join("s.db"), true).await.unwrap();
        let terms = TokenTerms { created_at: 0, expires_at: 100, uses: 2, supersede: true };
        put_join_token(&pool, "site", "d", &terms).await.unwrap();
        assert!(token_supersedes(&pool, "d").await.unwrap() && !token_supersedes(&pool, "x").await.unwrap());
        assert!(!use_join_token(&pool, "site", "other", 1).await.unwrap());
        assert!(
            !use_join_token(&pool, "agent", "d", 1).await.unwrap(),
            "a site token does not enroll agents"
        );
        assert!(!use_join_token(&pool, "site", "d", 100).await.unwrap(), "expired at 100");
        assert!(use_join_token(&pool, "site", "d", 1).await.unwrap());
        assert!(use_join_token(&pool, "site", "d", 2).await.unwrap());
        assert!(!use_join_token(&pool, "site", "d", 3).await.unwrap(), "two uses only");
    }
}

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

/// Writes a package version's row.
pub async fn put_package(pool: &SqlitePool, row: &PackageRow) -> Result<(), ServerError> {
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
    .bind(row.committed)
    .execute(pool)
    .await?;
    Ok(())
}

/// Every package version, oldest first.
pub async fn packages(pool: &SqlitePool) -> Result<Vec<PackageRow>, ServerError> {
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
                committed: r.get(3),
            })
        })
        .collect()
}

/// The value stored under `key` in `state`.
pub async fn state_value(pool: &SqlitePool, key: &str) -> Result<Option<String>, ServerError> {
    let row = sqlx::query("SELECT value FROM state WHERE key = $1").bind(key).fetch_optional(pool).await?;
    Ok(row.map(|r| r.get(0)))
}

/// Stores `value` under `key` in `state`.
pub async fn put_state_value(pool: &SqlitePool, key: &str, value: &str) -> Result<(), ServerError> {
    sqlx::query("INSERT INTO state (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2")
        .bind(key)
        .bind(value)
        .execute(pool)
        .await?;
    Ok(())
}
