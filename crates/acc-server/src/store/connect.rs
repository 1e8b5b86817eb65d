//! Where the store lives and how a pool reaches it: a SQLite file in the data directory
//! (the zero-setup default) or a PostgreSQL database named by a `postgres://` URL. Both are
//! opened as one sqlx `AnyPool`, so every statement of the store serves both backends.
//!
//! The PostgreSQL URL is kept without its password: the password comes from the file
//! `--database-password-file` names, or from `PGPASSFILE` (libpq's `~/.pgpass` format), and
//! never appears in `server.json`, an error or a log line. TLS to the database follows the
//! URL's `sslmode` as libpq reads it (`disable`, `allow`, `prefer`, `require`, `verify-ca`,
//! `verify-full`; unset: `prefer`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Connection};

use crate::error::ServerError;

/// The `sslmode` words libpq knows.
const SSL_MODES: [&str; 6] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

/// How long a pool waits for a connection before the store reports the database unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The two backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file (WAL, `synchronous=FULL`).
    Sqlite,
    /// A PostgreSQL database.
    Postgres,
}

/// The backend a pool talks to.
pub fn backend(pool: &AnyPool) -> Backend {
    match pool.connect_options().database_url.scheme() {
        "sqlite" => Backend::Sqlite,
        _ => Backend::Postgres,
    }
}

/// A PostgreSQL database as `server.json` keeps it (`"database"`): the URL without a
/// password, and where the password is read from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresTarget {
    /// `postgres://USER@HOST[:PORT]/DB[?sslmode=…]`, without a password.
    pub url: String,
    /// A file holding the password (its first line); unset: `PGPASSFILE` or none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
}

impl PostgresTarget {
    /// Checks `--database URL` (and the password file, read once to fail early): a
    /// `postgres://` or `postgresql://` URL with a user, a host and a database, no
    /// password in it, and an `sslmode` libpq knows.
    pub fn parse(url: &str, password_file: Option<&Path>) -> Result<PostgresTarget, ServerError> {
        let bad = |what: &str| ServerError::Invalid(format!("--database {}: {what}", redacted(url)));
        let parsed = url::Url::parse(url).map_err(|e| bad(&format!("not a URL ({e})")))?;
        if !matches!(parsed.scheme(), "postgres" | "postgresql") {
            return Err(bad(
                "give postgres://USER@HOST[:PORT]/DATABASE (or leave --database out for SQLite)",
            ));
        }
        if parsed.password().is_some() {
            return Err(bad("holds a password; put it in --database-password-file or PGPASSFILE instead"));
        }
        if parsed.username().is_empty() {
            return Err(bad("names no user; give postgres://USER@HOST/DATABASE"));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("names no host; give postgres://USER@HOST/DATABASE"));
        }
        if parsed.path().trim_start_matches('/').is_empty() {
            return Err(bad("names no database; give postgres://USER@HOST/DATABASE"));
        }
        for (key, value) in parsed.query_pairs() {
            if key == "sslmode" && !SSL_MODES.contains(&value.as_ref()) {
                return Err(bad(&format!("sslmode '{value}' is not one of {}", SSL_MODES.join(", "))));
            }
            if key == "password" {
                return Err(bad(
                    "holds a password; put it in --database-password-file or PGPASSFILE instead",
                ));
            }
        }
        let target =
            PostgresTarget { url: url.to_string(), password_file: password_file.map(Path::to_path_buf) };
        target.password()?;
        Ok(target)
    }

    /// The password from the password file (its first line), if one is set.
    fn password(&self) -> Result<Option<String>, ServerError> {
        let Some(path) = &self.password_file else { return Ok(None) };
        let text = std::fs::read_to_string(path).map_err(|e| ServerError::io(path, e))?;
        let line = text.lines().next().unwrap_or_default();
        if line.is_empty() {
            return Err(ServerError::Invalid(format!(
                "--database-password-file {}: the first line is empty; write the password on it",
                path.display()
            )));
        }
        Ok(Some(line.to_string()))
    }

    /// The URL a change-feed listener connects with (the password put in: never show it).
    pub(crate) fn listener_url(&self) -> Result<String, ServerError> {
        Ok(self.connect_url()?.to_string())
    }

    /// The URL to connect with: the password file's password put in.
    fn connect_url(&self) -> Result<url::Url, ServerError> {
        let mut url = url::Url::parse(&self.url)
            .map_err(|e| ServerError::Invalid(format!("database URL {}: {e}", redacted(&self.url))))?;
        if let Some(password) = self.password()? {
            url.set_password(Some(&password)).map_err(|()| {
                ServerError::Invalid(format!("database URL {}: takes no password", self.url))
            })?;
        }
        Ok(url)
    }
}

/// A URL as it may be shown: any password replaced by `***`.
pub fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(_) => url.to_string(),
        Err(_) => "(the URL given)".to_string(),
    }
}

/// Where a store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The SQLite file at this path.
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(PostgresTarget),
}

impl Target {
    /// How messages name the store: the file, or the URL (which holds no password).
    pub fn describe(&self) -> String {
        match self {
            Target::Sqlite(path) => path.display().to_string(),
            Target::Postgres(pg) => pg.url.clone(),
        }
    }
}

/// Opens a pool on `target`. SQLite: the file is created (0600) when `create`, and every
/// connection runs in WAL with `synchronous=FULL` and a 5 s busy timeout, and refreshes
/// the statistics the query planner picks indexes by when they are missing or stale
/// (`PRAGMA optimize=0x10002`, SQLite's advice for long-lived connections; the pool
/// replaces its connections at least every 30 minutes). Without statistics SQLite walks
/// the first index that fits: a count of one machine's failures at one site then reads the
/// site's whole index instead of the machine's few rows (10 ms instead of 0.1 ms at a
/// million events). PostgreSQL's autovacuum keeps its statistics itself. PostgreSQL: one
/// connection is tried at once, so an unreachable database is one clear line here.
pub(super) async fn pool(target: &Target, create: bool) -> Result<AnyPool, ServerError> {
    sqlx::any::install_default_drivers();
    match target {
        Target::Sqlite(path) => {
            if create || path.exists() {
                acc_pki::fsutil::private_database(path)?;
            }
            let url = SqliteConnectOptions::new().filename(path).create_if_missing(create).to_url_lossy();
            let options = AnyConnectOptions::from_url(&url)?;
            let pool = AnyPoolOptions::new()
                .max_connections(4)
                .after_connect(|conn, _| {
                    Box::pin(async move {
                        sqlx::raw_sql(
                            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA busy_timeout = 5000; \
                             PRAGMA optimize = 0x10002;",
                        )
                        .execute(&mut *conn)
                        .await?;
                        Ok(())
                    })
                })
                .connect_with(options)
                .await?;
            Ok(pool)
        }
        Target::Postgres(pg) => {
            let unreachable = |e: sqlx::Error| ServerError::DatabaseUnreachable {
                url: pg.url.clone(),
                detail: one_line(&e.to_string()),
            };
            let options = AnyConnectOptions::from_url(&pg.connect_url()?).map_err(unreachable)?;
            // A first connection with a deadline: refused, unknown host, wrong password or
            // TLS refused are reported before the pool exists.
            let first = tokio::time::timeout(CONNECT_TIMEOUT, sqlx::AnyConnection::connect_with(&options))
                .await
                .map_err(|_| unreachable(sqlx::Error::PoolTimedOut))?
                .map_err(unreachable)?;
            first.close().await.map_err(unreachable)?;
            Ok(AnyPoolOptions::new()
                .max_connections(8)
                .acquire_timeout(CONNECT_TIMEOUT)
                .connect_lazy_with(options))
        }
    }
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_postgres_url_is_checked_and_never_shown_with_a_password() {
        let ok = PostgresTarget::parse("postgres://acc@db.example:5433/fleet?sslmode=require", None).unwrap();
        assert_eq!(ok.url, "postgres://acc@db.example:5433/fleet?sslmode=require");
        let err = |url: &str| PostgresTarget::parse(url, None).unwrap_err().to_string();
        let e = err("postgres://acc:hunter2@db/fleet");
        assert!(e.contains("holds a password") && !e.contains("hunter2"), "{e}");
        assert!(err("mysql://acc@db/fleet").contains("give postgres://"));
        assert!(err("postgres://db/fleet").contains("names no user"));
        assert!(err("postgres://acc@db").contains("names no database"));
        assert!(
            err("postgres://acc@db/fleet?sslmode=sometimes").contains("sslmode 'sometimes' is not one of")
        );
        assert!(err("not a url").contains("not a URL"));
        let e = err("postgres://acc@db/fleet?password=hunter2");
        assert!(e.contains("holds a password"), "{e}");
    }

    #[test]
    fn the_password_file_is_read_once_at_parse_and_put_in_the_connect_url_only() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("pw");
        std::fs::write(&file, "s3cr:t@/\nignored\n").unwrap();
        let t = PostgresTarget::parse("postgres://acc@127.0.0.1:5432/fleet", Some(&file)).unwrap();
        assert!(!format!("{t:?}").contains("s3cr"), "Debug holds the path, never the password");
        let url = t.connect_url().unwrap();
        assert_eq!(
            url.password().map(|p| percent_encoding::percent_decode_str(p).decode_utf8_lossy().into_owned()),
            Some("s3cr:t@/".into())
        );
        std::fs::write(&file, "\n").unwrap();
        assert!(
            PostgresTarget::parse(&t.url, Some(&file))
                .unwrap_err()
                .to_string()
                .contains("first line is empty")
        );
        let missing = tmp.path().join("none");
        assert!(PostgresTarget::parse(&t.url, Some(&missing)).unwrap_err().to_string().contains("none"));
    }
}
